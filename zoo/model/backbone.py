"""Backbone: the one normalized interface every provider returns and the engine consumes.

A Backbone is a pretrained network without its head, described well enough that a new head
can be put on it without knowing where it came from:

- ``input_spec``: shape, dtype, and how raw [0, 255] pixels become the input (``preprocess``)
- ``features``: a Keras model from the (preprocessed) input to ``(batch, feature_dim)``
- ``classifier`` / ``num_classes`` / ``labels``: the original top, when the model had one;
  ``heads``: every classifier of a multi-head model, in output order
- ``notes`` / ``hints``: how the classifier and feature were found, what was converted to
  load the file, and the ``feature_layer=``/``head=`` to pass when detection was unsure
- ``feature_maps``: optional multi-level feature maps, when the provider knows them

This module imports Keras only inside methods, so ``import zoo`` stays free of TensorFlow.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from zoo.errors import ZooWarning
from zoo.spec import InputSpec, ModelSpec

if TYPE_CHECKING:
    import keras
    import numpy as np

__all__ = ["Backbone", "HeadInfo"]


class HeadInfo(NamedTuple):
    """One classifier of the original model (``Backbone.heads`` values)."""

    classifier: keras.layers.Layer  # the Dense / Conv2D layer that scores the classes
    num_classes: int  # its number of outputs


@dataclass(eq=False)
class Backbone:
    """A pretrained feature extractor with everything needed to fine-tune it.

    Example:
        >>> bb = zoo.load_backbone("mobilenet_v2", weights=None, input_shape=(96, 96, 3))
        >>> bb.feature_dim
        1280
        >>> feats = bb.features(bb.preprocess(images))  # (batch, 1280)
    """

    name: str  # registry name or a name derived from the source
    input_spec: InputSpec  # what the network takes and how to get there from raw pixels
    features: keras.Model  # preprocessed input -> pooled features (batch, feature_dim)
    feature_dim: int  # width of the feature vector
    classifier: keras.layers.Layer | None = None  # the original top layer, if any
    num_classes: int | None = None  # outputs of the original top layer
    labels: tuple[str, ...] | None = None  # class names of the original top, when known
    provider: str = ""  # name of the provider that built it
    model: keras.Model | None = None  # the whole model as loaded, classifier included
    feature_layer: str | None = None  # name of the layer whose output the features are
    spec: ModelSpec | None = None  # the spec it was loaded from
    #: preprocessed input -> {level name: (batch, h, w, channels)}, shallow to deep, when the
    #: provider knows the network's pyramid (timm's ``features_only``); None otherwise
    feature_maps: keras.Model | None = None
    #: every classifier of the original model, output name -> (layer, classes), in output
    #: order; ``classifier``/``num_classes`` describe the first or the one chosen with head=
    heads: dict[str, HeadInfo] = field(default_factory=dict)
    #: how the classifier and the feature were found, and what was converted to load the file
    notes: tuple[str, ...] = ()
    #: overrides to pass when the detection was unsure (``{"feature_layer": ..., "head": ...}``)
    hints: dict[str, str | int] = field(default_factory=dict)

    @classmethod
    def from_model(
        cls,
        model: keras.Model,
        *,
        name: str,
        provider: str,
        input_spec: InputSpec | None = None,
        feature_layer: str | int | None = None,
        classifier_layer: str | int | None = None,
        head: str | int | None = None,
        labels: Sequence[str] | None = None,
        spec: ModelSpec | None = None,
        pooling: str = "avg",
        feature_maps: keras.Model | None = None,
        notes: Sequence[str] = (),
        headless: bool = False,
    ) -> Backbone:
        """Normalize any functional or Sequential Keras model into a Backbone.

        The classifier is found the way users find it by hand, walking back from each
        output past activation / dropout / BatchNorm / pooling / reshape layers: a Dense
        with a softmax, sigmoid or linear activation, or a convolution whose class maps are
        pooled (or 1x1) and then go through a softmax/sigmoid (SqueezeNet, mini-Xception,
        MobileNet). The features are what feeds it (``model.layers[-2].output`` in the
        simple case); with several heads, the last tensor all of them depend on.
        ``feature_layer`` (name or ``model.layers`` index) overrides the choice; spatial
        features are pooled. Class scores are never handed out as features: a model whose
        softmax output has no recognizable classifier is refused (name ``feature_layer=``).

        Args:
            model: a built functional or Sequential model.
            name: name to report.
            provider: name of the provider calling this.
            input_spec: preprocessing and shape; defaults to the model's input shape, "raw".
            feature_layer: layer (name or index into ``model.layers``) giving the features.
            classifier_layer: layer (name or index) that is the classifier, to skip detection.
            head: which head ``classifier``/``num_classes`` describe on a multi-head model
                (output name, classifier name or index); default the first.
            labels: class names of the classifier.
            spec: the ModelSpec it came from.
            pooling: "avg" or "max", for spatial feature maps.
            feature_maps: a model from the same input to a dict of multi-level feature maps;
                found in the graph (``introspect.feature_pyramid``) when not given.
            notes: what the provider converted to load the model (shown by ``describe()``).
            headless: the provider built the model without a classifier (``include_top=False``,
                a Hub feature vector): its output is the feature, with no detection.

        Raises:
            InvalidModelError: no usable graph, a bad ``head=``, several outputs that are not
                all classifiers, or class scores as the only candidate feature.
        """
        from zoo.model import introspect

        found = introspect.split_model(
            model,
            feature_layer=feature_layer,
            classifier_layer=classifier_layer,
            head=head,
            pooling=pooling,
            headless=headless,
            source=name,
            provider=provider,
        )
        model = found.model or model  # a nested model is kept flat: its layer names are cuts
        shape = introspect.image_input_shape(model, source=name, provider=provider)
        dtype = introspect.input_dtype(model)
        if input_spec is None:
            input_spec = InputSpec(shape=shape, dtype=dtype)
        else:
            input_spec = input_spec.with_shape(shape)
        if (
            labels is not None
            and found.num_classes is not None
            and len(labels) != found.num_classes
        ):
            # a label list that does not fit the classifier is not the classifier's
            warnings.warn(
                f"{name}: {len(labels)} class names for a classifier of {found.num_classes}"
                " classes; the names are dropped and the classes are numbered (pass labels="
                " with one name per class)",
                ZooWarning,
                stacklevel=3,
            )
            labels = None
        return cls(
            name=name,
            input_spec=input_spec,
            features=found.features,
            feature_dim=found.feature_dim,
            classifier=found.classifier,
            num_classes=found.num_classes,
            labels=tuple(labels) if labels is not None else None,
            provider=provider,
            model=model,
            feature_layer=found.feature_layer,
            spec=spec,
            feature_maps=feature_maps or introspect.feature_pyramid(model),
            heads={h.name: HeadInfo(h.classifier, h.num_classes) for h in found.heads},
            notes=(*notes, *found.detection),
            hints=dict(found.hints),
        )

    # -- cut points ------------------------------------------------------------------------

    def cut_points(self, limit: int = 4) -> list[str]:
        """Layer names the features may be cut at, deepest first (``feature_layer`` first).

        The classifier's input, the vectors before it (``Flatten``, pooling, hidden Dense)
        and the outputs of the last blocks; empty when the whole model is unknown (a Hub
        or SavedModel backbone): then only :attr:`features` is there.
        """
        if self.model is None or not getattr(self.model, "outputs", None):
            return [self.feature_layer] if self.feature_layer else []
        from zoo.model import introspect

        return introspect.cut_points(self.model, self.feature_layer, limit)

    def cut_features(self, names: Sequence[str]) -> keras.Model:
        """One model from the input to the pooled outputs of the layers ``names`` (one pass)."""
        from zoo.errors import InvalidModelError
        from zoo.model import introspect

        if self.model is None:
            raise InvalidModelError(
                f"{self.name}: its whole Keras model is unknown, so it cannot be cut at "
                f"{list(names)}; only its features ({self.feature_layer}) are there"
            )
        return introspect.cut_model(self.model, list(names))

    def at_cut(self, layer: str) -> Backbone:
        """The same network with features taken at ``layer`` (shares every weight)."""
        if layer == self.feature_layer:
            return self
        if self.model is None:
            self.cut_features([layer])  # raises the error that says why
        assert self.model is not None
        return Backbone.from_model(
            self.model,
            name=self.name,
            provider=self.provider,
            input_spec=self.input_spec,
            feature_layer=layer,
            classifier_layer=getattr(self.classifier, "name", None),
            labels=self.labels,
            spec=self.spec,
            feature_maps=self.feature_maps,
        )

    # -- using it --------------------------------------------------------------------------

    def preprocess(self, x: Any) -> Any:
        """Map raw pixels in [0, 255] to what the network takes (see ``input_spec``)."""
        return self.input_spec.preprocess(x)

    def __call__(self, x: Any, training: bool = False) -> Any:
        """Features of an already preprocessed batch."""
        return self.features(x, training=training)

    def extract(self, images: Any, batch_size: int = 32) -> np.ndarray:
        """Features (NumPy) of raw [0, 255] images shaped like ``input_spec.shape``."""
        import numpy as np

        out = []
        for start in range(0, len(images), batch_size):
            batch = self.preprocess(images[start : start + batch_size])
            out.append(np.asarray(self.features(batch, training=False)))
        if not out:
            return np.zeros((0, self.feature_dim), dtype="float32")
        return np.concatenate(out)

    @property
    def trainable(self) -> bool:
        """Whether the feature extractor's weights are trainable."""
        return bool(self.features.trainable)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.features.trainable = value

    def count_params(self) -> int:
        """Parameters of the feature extractor."""
        return int(self.features.count_params())

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (``zoo info NAME --load``)."""
        return {
            "name": self.name,
            "provider": self.provider,
            "parameters": self.count_params(),
            "input_spec": self.input_spec.to_dict(),
            "feature_layer": self.feature_layer,
            "feature_dim": self.feature_dim,
            "classifier": getattr(self.classifier, "name", None),
            "num_classes": self.num_classes,
            "labels": list(self.labels) if self.labels else None,
            "heads": {
                name: {"classifier": h.classifier.name, "num_classes": h.num_classes}
                for name, h in self.heads.items()
            },
            "notes": list(self.notes),
            "hints": dict(self.hints),
            "feature_maps": (
                {k: list(v.shape) for k, v in self.feature_maps.output.items()}
                if self.feature_maps is not None
                else None
            ),
        }

    def __repr__(self) -> str:
        top = (
            f", classifier={self.classifier.name!r}[{self.num_classes}]" if self.classifier else ""
        )
        return (
            f"Backbone({self.name!r}, provider={self.provider!r}, input={self.input_spec.shape}, "
            f"preprocessing={self.input_spec.mode!r}, feature_dim={self.feature_dim}{top})"
        )
