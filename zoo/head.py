"""Put a fresh classification head on a Backbone: ``zoo.create`` and the fine-tune engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from zoo.errors import InvalidOptionError
from zoo.layers import Preprocess

if TYPE_CHECKING:
    from zoo.backbone import Backbone

__all__ = ["build_classifier"]


def build_classifier(
    backbone: Backbone,
    num_classes: int,
    *,
    dropout: float = 0.0,
    hidden_units: Sequence[int] = (),
    activation: str = "relu",
    classifier_activation: str | None = "softmax",
    preprocess: bool = True,
    backbone_training: bool | None = None,
    name: str | None = None,
) -> keras.Model:
    """Backbone + [Dense(hidden) ...] + Dropout + Dense(num_classes).

    Args:
        backbone: the feature extractor.
        num_classes: outputs of the new classifier.
        dropout: dropout rate before each new Dense layer (0 = none).
        hidden_units: widths of hidden Dense layers between features and classifier.
        activation: activation of the hidden layers.
        classifier_activation: "softmax" (default), "sigmoid" or None for logits.
        preprocess: put the backbone's preprocessing inside the model, so it takes raw
            [0, 255] pixels (True), or take already preprocessed input (False).
        backbone_training: passed as ``training`` to the backbone; ``False`` keeps its
            BatchNorm layers in inference mode even while the head trains.
        name: model name; defaults to ``<backbone>_classifier``.
    """
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise InvalidOptionError(
            f"num_classes must be a positive integer, received {num_classes!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise InvalidOptionError(f"dropout must be in [0, 1), received {dropout!r}")
    spec = backbone.input_spec
    inputs = keras.Input(shape=spec.shape, dtype=spec.dtype, name="image")
    x = inputs
    if preprocess and not spec.is_identity:
        x = Preprocess.from_input_spec(spec, name="preprocess")(x)
    x = backbone.features(x, training=backbone_training)
    for i, units in enumerate(hidden_units):
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"head_dropout_{i}")(x)
        x = keras.layers.Dense(units, activation=activation, name=f"head_dense_{i}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation=classifier_activation, name="classifier", dtype="float32"
    )(x)
    model_name = name or f"{backbone.name.replace('-', '_').replace('.', '_')}_classifier"
    return keras.Model(inputs, outputs, name=model_name)
