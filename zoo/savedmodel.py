"""SavedModel directories as Backbones, for the ``local`` and ``tfhub`` providers.

Three kinds of TF2 SavedModel arrive here:

- **Reusable SavedModels** (TF Hub models, ``tf.Module``/Keras 2 models with ``__call__``):
  wrapped whole in a :class:`~zoo.hub_layer.HubLayer`; its output is the feature (pooled when
  it is a feature map), as with ``hub.KerasLayer``.
- **Signature-only SavedModels** (``model.export(...)`` in Keras 3, ``tf.saved_model.save`` with
  ``signatures=``): the ``local`` provider cuts the signature's graph before its final Dense
  (:mod:`zoo.graph_split`), so the features are what fed the classifier and the classifier
  is rebuilt as a Keras Dense with the saved weights. When the graph ends in no Dense, or for
  the ``tfhub`` provider, the chosen signature output is the feature.
- Dict outputs: ``output_key`` chooses one; a missing or wrong key lists the available ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

from zoo.errors import InvalidModelError, InvalidOptionError
from zoo.hub_layer import HubLayer, load_saved_model, wrap_variable
from zoo.spec import InputSpec, ModelSpec

if TYPE_CHECKING:
    from zoo.backbone import Backbone
    from zoo.graph_split import GraphSplit

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
            else load_saved_model(directory, source=self.directory, provider="local")
        )
        split = precomputed or _split(
            signature_function(obj, signature, self.directory),
            output_key,
            feature_layer,
            self.directory,
        )
        if split is None:
            raise InvalidModelError(
                f"{self.directory}: signature {signature!r} ends in no Dense classifier; name the "
                "feature layer with feature_layer='<layer name>'",
                provider="local",
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

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = tf.cast(inputs, self.split.input_spec.dtype)
        return self._fn(x, *[tf.convert_to_tensor(v) for v in self._feature_variables])

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], *self.split.feature_shape[1:])

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            directory=self.directory,
            signature=self.signature,
            output_key=self.output_key,
            feature_layer=self.feature_layer,
        )
        return config


def signature_function(obj: Any, signature: str, source: str) -> Any:
    """``obj.signatures[signature]``, or an error listing the signatures there are."""
    signatures = dict(getattr(obj, "signatures", {}) or {})
    if signature not in signatures:
        raise InvalidOptionError(
            f"{source} has no signature {signature!r}; available: "
            f"{', '.join(sorted(signatures)) or 'none'}"
        )
    return signatures[signature]


def _output_index(fn: Any, output_key: str | None, source: str) -> int:
    outputs = fn.structured_outputs
    if not isinstance(outputs, Mapping):
        return 0
    keys = sorted(outputs)  # the flat order of a dict in tf.nest
    if output_key is None:
        if len(keys) > 1:
            raise InvalidOptionError(
                f"the signature of {source} returns several outputs ({', '.join(keys)}); "
                "choose one with output_key="
            )
        return 0
    if output_key not in outputs:
        raise InvalidOptionError(
            f"the signature of {source} has no output {output_key!r}; available outputs: "
            f"{', '.join(keys)}"
        )
    return keys.index(output_key)


def _split(fn: Any, output_key: str | None, feature_layer: str | None, source: str) -> Any:
    from zoo.graph_split import split_signature

    return split_signature(
        fn,
        output_index=_output_index(fn, output_key, source),
        feature_layer=feature_layer,
        source=source,
        provider="local",
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
    from zoo.backbone import Backbone

    options = dict(spec.options)
    signature = options.get("signature")
    output_key = options.get("output_key")
    obj = load_saved_model(path, source=handle, provider=provider)
    feature_layer = spec.feature_layer
    if isinstance(feature_layer, int):
        raise InvalidOptionError(
            f"{handle} is a SavedModel, which has no list of layers to index; give "
            "feature_layer as a layer name",
            provider=provider,
        )
    reusable = callable(obj) and signature is None
    if reusable and feature_layer is not None:
        raise InvalidOptionError(
            f"{handle} is a reusable SavedModel (called through __call__), whose graph cannot "
            "be cut at a layer; leave feature_layer unset, or pick a signature with signature=",
            provider=provider,
        )
    layer: keras.layers.Layer | None = None
    classifier = None
    if (split or feature_layer is not None) and not reusable:
        sig = signature or _default_signature(obj, handle)
        features = _try_split(obj, sig, output_key, feature_layer, path, handle)
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
    if isinstance(x, Mapping):
        raise InvalidOptionError(
            f"{handle} returns a dict; choose the feature with output_key=", provider=provider
        )
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
        labels=spec.labels,
        spec=spec,
        pooling=str(options.get("pooling", "avg")),
    )
    if isinstance(layer, SavedModelFeatures) and layer.split.feature_scope:
        backbone.feature_layer = layer.split.feature_scope  # the layer inside the graph
    return backbone


def _default_signature(obj: Any, handle: str) -> str:
    signatures: list[str] = [str(k) for k in getattr(obj, "signatures", {}) or {}]
    if "serving_default" in signatures or not signatures:
        return "serving_default"
    if len(signatures) == 1:
        return signatures[0]
    raise InvalidOptionError(
        f"{handle} has several signatures ({', '.join(sorted(signatures))}); choose one with "
        "signature="
    )


def _try_split(
    obj: Any,
    signature: str,
    output_key: str | None,
    feature_layer: str | None,
    path: Path,
    handle: str,
) -> SavedModelFeatures | None:
    split = _split(signature_function(obj, signature, handle), output_key, feature_layer, handle)
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
    layer: Any, spec: ModelSpec, handle: str, provider: str
) -> tuple[tuple[int | None, int | None, int | None], str]:
    if isinstance(layer, SavedModelFeatures):
        tensor_spec = layer.split.input_spec
        found: tuple[tuple[int | None, ...], str] | None = (
            tuple(tensor_spec.shape.as_list()[1:]),
            tensor_spec.dtype.name,
        )
    else:
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
