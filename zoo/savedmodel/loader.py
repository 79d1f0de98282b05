"""SavedModel directories as Backbones, for the ``local`` and ``tfhub`` providers.

Three kinds of TF2 SavedModel arrive here:

- **Reusable SavedModels** (TF Hub models, ``tf.Module``/Keras 2 models with ``__call__``):
  wrapped whole in a :class:`~zoo.savedmodel.hub_layer.HubLayer`; its output is the feature
  (pooled when
  it is a feature map), as with ``hub.KerasLayer``.
- **Signature-only SavedModels** (``model.export(...)`` in Keras 3, ``tf.saved_model.save`` with
  ``signatures=``): the ``local`` provider cuts the signature's graph before its final Dense
  (:mod:`zoo.savedmodel.graph_split`), so the features are what fed the classifier and the
  classifier
  is rebuilt as a Keras Dense with the saved weights. When the graph ends in no Dense, or for
  the ``tfhub`` provider, the chosen signature output is the feature.
- Dict outputs: ``output_key`` chooses one; a missing or wrong key lists the available ones.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

from zoo.errors import InvalidModelError, InvalidOptionError
from zoo.savedmodel.hub_layer import (
    HubLayer,
    embedded_program_error,
    keras_safe_mode,
    load_saved_model,
    output_keys,
    pick_output,
    select_signature,
    wrap_variable,
)
from zoo.spec import InputSpec, ModelSpec

if TYPE_CHECKING:
    from zoo.model.backbone import Backbone
    from zoo.savedmodel.graph_split import GraphSplit

__all__ = ["SavedModelFeatures", "backbone_from_saved_model"]


@keras.saving.register_keras_serializable(package="zoo")
class SavedModelFeatures(keras.layers.Layer):  # type: ignore[misc]
    """The features of an exported SavedModel's signature, cut before its classifier.

    Args:
        directory: the SavedModel directory.
        signature: the signature to cut (default ``serving_default``).
        output_key: the signature output to follow, when it returns several.
        feature_layer: name of the Keras layer whose output is the feature (default: the input
            of the final Dense).
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(
        self,
        directory: str,
        signature: str = "serving_default",
        output_key: str | None = None,
        feature_layer: str | None = None,
        **kwargs: Any,
    ) -> None:
        loaded = kwargs.pop("_loaded", None)  # internal: what the provider already loaded
        precomputed = kwargs.pop("_split", None)
        super().__init__(**kwargs)
        self.directory = str(directory)
        self.signature = signature
        self.output_key = output_key
        self.feature_layer = feature_layer
        obj = (
            loaded
            if loaded is not None
            else load_saved_model(directory, source=self.directory, provider=None)
        )
        split = precomputed or _split(
            select_signature(obj, signature, self.directory)[1],
            signature,
            output_key,
            feature_layer,
            self.directory,
            None,
        )
        if split is None:
            raise InvalidModelError(
                f"{self.directory}: signature {signature!r} ends in no Dense classifier; name the "
                "feature layer with feature_layer='<layer name>'",
                source=self.directory,
            )
        self.split: GraphSplit = split
        self._obj = obj  # keeps the restored variables alive
        self._fn = split.function
        self._feature_variables = [
            wrap_variable(v, t) for v, t in zip(split.variables, split.trainable, strict=True)
        ]
        for variable in self._feature_variables:
            self._track_variable(variable)
        self.built = True

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SavedModelFeatures:
        """Rebuild from a saved config, refused in a safe-mode load (F25, see HubLayer)."""
        if keras_safe_mode():
            raise embedded_program_error(
                "SavedModelFeatures", str(config.get("directory")), str(config.get("name", "?"))
            )
        return super().from_config(config)  # type: ignore[no-any-return]

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = tf.cast(inputs, self.split.input_spec.dtype)
        return self._fn(x, *[tf.convert_to_tensor(v) for v in self._feature_variables])

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], *self.split.feature_shape[1:])

    def expected_input(self) -> tuple[tuple[int | None, ...], str]:
        """(shape without batch, dtype) of the image input of the cut graph."""
        spec = self.split.input_spec
        return tuple(spec.shape.as_list()[1:]), spec.dtype.name

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            directory=self.directory,
            signature=self.signature,
            output_key=self.output_key,
            feature_layer=self.feature_layer,
        )
        return config


def _output_index(fn: Any, output_key: str | None, described: str) -> int:
    """The flat output ``output_key`` names (a dict flattens in sorted key order)."""
    keys = output_keys(fn)
    return 0 if keys is None else keys.index(pick_output(keys, output_key, described))


def _split(
    fn: Any,
    signature: str,
    output_key: str | None,
    feature_layer: str | None,
    source: str,
    provider: str | None,
) -> Any:
    from zoo.savedmodel.graph_split import split_signature

    return split_signature(
        fn,
        output_index=_output_index(fn, output_key, f"signature {signature!r} of {source}"),
        feature_layer=feature_layer,
        source=source,
        provider=provider,
    )


def backbone_from_saved_model(
    path: Path,
    spec: ModelSpec,
    *,
    provider: str,
    handle: str,
    split: bool,
    preprocessing: str = "raw",
    hub_options: Mapping[str, Any] | None = None,
) -> Backbone:
    """Load the SavedModel at ``path`` and normalize it into a Backbone.

    Args:
        path: the directory holding ``saved_model.pb``.
        spec: the ModelSpec (``signature``, ``output_key``, ``pooling`` in its options).
        provider: the calling provider's name.
        handle: what to record in the layers' configs (the user's handle or the path).
        split: cut signature graphs before their classifier (the ``local`` provider); a
            named ``feature_layer`` cuts there whatever ``split`` says.
        preprocessing: the preprocessing mode when the spec names none ("unit" for Hub).
        hub_options: ``sha256``, ``trust``, ``allow_http`` for HubLayer's config.
    """
    from zoo.model.backbone import Backbone

    options = dict(spec.options)
    signature = options.get("signature")
    output_key = options.get("output_key")
    obj = load_saved_model(path, source=handle, provider=provider)
    notes: list[str] = []
    if signature is None and split and (path / "keras_metadata.pb").is_file():
        # Keras 2 model.save(): its __call__ gives the class scores; the serving signature's
        # graph can be cut before the classifier like an export's
        signature = "serving_default"
        notes.append("a Keras 2 SavedModel (model.save): its serving_default signature is cut")
    feature_layer = spec.feature_layer
    if isinstance(feature_layer, int):
        raise InvalidOptionError(
            f"{handle} is a SavedModel, which has no list of layers to index; give "
            "feature_layer as a layer name",
            provider=provider,
        )
    chosen, fn = select_signature(obj, signature, handle, provider=provider)
    if chosen is None and feature_layer is not None:
        raise InvalidOptionError(
            f"{handle} is a reusable SavedModel (called through __call__), whose graph cannot "
            "be cut at a layer; leave feature_layer unset, or pick a signature with signature=",
            provider=provider,
        )
    layer: HubLayer | SavedModelFeatures | None = None
    classifier = None
    if chosen is not None and (split or feature_layer is not None):
        features = _try_split(obj, chosen, fn, output_key, feature_layer, path, handle, provider)
        if features is not None:
            layer, classifier = features, features.split.classifier
    if layer is None:
        layer = HubLayer(
            handle,
            signature=signature,
            output_key=output_key,
            name="hub_layer",
            _loaded=obj,
            **dict(hub_options or {}),
        )
    shape, dtype = _input_shape(layer, spec, handle, provider)
    inputs = keras.Input(shape=shape, dtype=dtype, name="image")
    x = layer(inputs)
    if classifier is not None:
        x = _classifier_layer(classifier)(x)
    model = keras.Model(inputs, x, name=_model_name(spec.name))
    base = InputSpec.from_mode(preprocessing, shape=shape, dtype=dtype)
    backbone = Backbone.from_model(
        model,
        name=spec.name,
        provider=provider,
        input_spec=spec.input_spec(base),
        classifier_layer=-1 if classifier is not None else None,
        # a Hub model's output is its feature by definition (hub.KerasLayer semantics), and
        # a graph cut at a named feature_layer ends in that feature
        headless=classifier is None and (not split or feature_layer is not None),
        labels=spec.labels,
        spec=spec,
        pooling=str(options.get("pooling", "avg")),
    )
    if isinstance(layer, SavedModelFeatures) and layer.split.feature_scope:
        # the layer inside the graph, not the wrapper's name: a new Backbone, not a patch
        backbone = dataclasses.replace(backbone, feature_layer=layer.split.feature_scope)
    what = f"signature {chosen!r}" if chosen is not None else "__call__"
    if classifier is not None:
        kernel, _, activation, scope = classifier
        notes.append(
            f"classifier {scope!r}: the final Dense in the graph of {what} (MatMul with a "
            f"{int(kernel.shape[-1])}-wide kernel, {activation}); feature "
            f"{backbone.feature_layer!r}: the tensor feeding it"
        )
    elif feature_layer is not None:
        notes.append(f"feature {feature_layer!r}: given with feature_layer=, cut in {what}")
    elif not split:
        notes.append(f"feature: the output of {what} (a Hub model's output is its feature)")
    else:
        notes.extend(backbone.notes)
    return dataclasses.replace(backbone, notes=tuple(notes))


def _try_split(
    obj: Any,
    signature: str,
    fn: Any,
    output_key: str | None,
    feature_layer: str | None,
    path: Path,
    handle: str,
    provider: str,
) -> SavedModelFeatures | None:
    split = _split(fn, signature, output_key, feature_layer, handle, provider)
    if split is None:
        return None  # no classifier at the end: the whole signature output is the feature
    return SavedModelFeatures(
        os.fspath(path),
        signature=signature,
        output_key=output_key,
        feature_layer=feature_layer,
        name="saved_model_features",
        _loaded=obj,
        _split=split,
    )


def _input_shape(
    layer: HubLayer | SavedModelFeatures, spec: ModelSpec, handle: str, provider: str
) -> tuple[tuple[int | None, int | None, int | None], str]:
    found = layer.expected_input()
    shape, dtype = found if found is not None else ((None, None, 3), "float32")
    if spec.input_shape is not None:
        shape = spec.input_shape
    if len(shape) != 3:
        raise InvalidModelError(
            f"{handle}: tfzoo needs an image input shaped (height, width, channels); the "
            f"SavedModel takes {shape}",
            provider=provider,
            source=handle,
        )
    h, w, c = shape
    return (h, w, c if c is not None else 3), dtype


def _classifier_layer(classifier: tuple[Any, Any, str, str]) -> keras.layers.Dense:
    """The saved classifier as a Keras Dense with its weights (a copy)."""
    kernel, bias, activation, scope = classifier
    dense = keras.layers.Dense(
        int(kernel.shape[-1]), activation=activation, use_bias=bias is not None, name=scope
    )
    dense.build((None, int(kernel.shape[0])))
    dense.set_weights([kernel.numpy()] + ([bias.numpy()] if bias is not None else []))
    return dense


def _model_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "saved_model"
