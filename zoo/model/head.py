"""Put a fresh classification head on a Backbone: ``zoo.create`` and the fine-tune engine."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras

from zoo.errors import InvalidOptionError
from zoo.model.graph import inline
from zoo.model.layers import ConvertChannels, Preprocess

if TYPE_CHECKING:
    from zoo.model.backbone import Backbone
    from zoo.spec import InputSpec

__all__ = ["build_classifier", "call_model", "fit_layers", "head_layers", "pixels_model"]


def call_model(model: keras.Model, x: Any) -> Any:
    """``model(x, training=False)``, without Keras's warning for a Keras 2 file's model: it
    takes a list of one input, and the one tensor given is that input ("The structure of
    `inputs` doesn't match the expected structure")."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
        return model(x, training=False)


def head_layers(
    num_classes: int,
    *,
    dropout: float = 0.0,
    hidden_units: Sequence[int] = (),
    activation: str = "relu",
    classifier_activation: str | None = "softmax",
) -> list[keras.layers.Layer]:
    """The new head as a list of fresh layers: [Dropout, Dense(hidden)] ... Dropout, Dense(n).

    The fine-tune engine keeps the list to apply the same layers (same weights) to cached
    features; :func:`build_classifier` makes one when it is not given.
    """
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise InvalidOptionError(
            f"num_classes must be a positive integer, received {num_classes!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise InvalidOptionError(f"dropout must be in [0, 1), received {dropout!r}")
    layers: list[keras.layers.Layer] = []
    for i, units in enumerate(hidden_units):
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"head_dropout_{i}"))
        layers.append(keras.layers.Dense(units, activation=activation, name=f"head_dense_{i}"))
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="head_dropout"))
    # float32 output even under mixed precision: softmax and the loss need the range
    layers.append(
        keras.layers.Dense(
            num_classes, activation=classifier_activation, name="classifier", dtype="float32"
        )
    )
    return layers


def fit_layers(
    spec: InputSpec, shape: Sequence[int | None], *, model: str = "the network"
) -> list[keras.layers.Layer]:
    """The layers that fit ``shape`` images to ``spec``: [resize] + [gray<->RGB], maybe none.

    What :func:`build_classifier` puts between the input and the preprocessing, and what
    ``zoo doctor`` runs an image through, so both see the same pixels: ``Resizing`` with the
    spec's interpolation (named ``resize``), then :class:`~zoo.model.layers.ConvertChannels` (named
    ``channels``; 3 -> 1 takes the BT.601 luma).

    Args:
        spec: the input spec of the network.
        shape: (height, width, channels) of the images; None sizes are not resized.
        model: the network's name, for the error message.

    Raises:
        InvalidOptionError: the channels differ and are not grayscale <-> RGB.
    """
    (h, w, channels), (bh, bw) = tuple(shape), spec.size
    layers: list[keras.layers.Layer] = []
    if bh is not None and bw is not None and (h, w) != (bh, bw):
        layers.append(
            keras.layers.Resizing(bh, bw, interpolation=spec.interpolation, name="resize")
        )
    if channels != spec.channels:
        if {channels, spec.channels} != {1, 3}:
            raise InvalidOptionError(
                f"cannot convert {channels}-channel images to the {spec.channels} channels "
                f"{model} takes; only grayscale <-> RGB is converted"
            )
        layers.append(ConvertChannels(spec.channels, name="channels"))
    return layers


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
    input_shape: Sequence[int | None] | None = None,
    augmentation: Sequence[keras.layers.Layer] = (),
    head: Sequence[keras.layers.Layer] | None = None,
) -> keras.Model:
    """[augmentation] + [resize] + [gray<->RGB] + preprocess + backbone + new head.

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
        input_shape: (H, W, C) of the images the model takes, when they differ from the
            backbone's: they are resized to its size and converted between grayscale and RGB
            inside the model. Defaults to the backbone's input shape.
        augmentation: layers applied to the raw input (active in training only).
        head: the head layers to use (from :func:`head_layers`) instead of new ones; then
            ``dropout``, ``hidden_units``, ``activation`` and ``classifier_activation`` are
            not used.

    Example:
        >>> model = build_classifier(backbone, 5, input_shape=(28, 28, 1))  # MNIST-sized in
    """
    layers = list(head) if head is not None else None
    if layers is None:
        layers = head_layers(
            num_classes,
            dropout=dropout,
            hidden_units=hidden_units,
            activation=activation,
            classifier_activation=classifier_activation,
        )
    spec = backbone.input_spec
    shape = tuple(input_shape) if input_shape is not None else spec.shape
    if len(shape) != 3 or shape[2] is None:
        raise InvalidOptionError(f"input_shape is (height, width, channels), received {shape!r}")
    inputs = keras.Input(shape=shape, dtype=spec.dtype, name="image")
    x = inputs
    for layer in augmentation:
        x = layer(x)
    for layer in fit_layers(spec, shape, model=backbone.name):
        x = layer(x)
    if preprocess and not spec.is_identity:
        x = Preprocess.from_input_spec(spec, name="preprocess")(x)
    x = backbone.features(x, training=backbone_training)
    for layer in layers:
        x = layer(x)
    # Keras names allow no '/' (published names are team/model:2): one safe spelling
    safe = re.sub(r"[^A-Za-z0-9_]", "_", backbone.name)
    model_name = name or f"{safe}_classifier"
    return keras.Model(inputs, x, name=model_name)


def pixels_model(backbone: Backbone) -> keras.Model:
    """The backbone's whole model (its own classifier) taking raw [0, 255] pixels: its
    preprocessing (``input_spec``) as a layer in front, as every export format takes raw
    pixels. ``backbone.model`` alone expects what the preprocessing gives: exported as it is,
    a keras.applications model would silently misread every image.

    Raises:
        InvalidOptionError: the backbone has no whole Keras model (a SavedModel or Hub graph).
    """
    model = backbone.model
    if model is None:
        raise InvalidOptionError(
            f"{backbone.name} has no Keras model of its own to export (a SavedModel or Hub "
            "graph gives only its features): fine-tune it and export the result, or convert "
            "the original file"
        )
    spec = backbone.input_spec
    inputs = keras.Input(shape=spec.shape, dtype=spec.dtype, name="image")
    x = inputs
    if not spec.is_identity:
        x = Preprocess.from_input_spec(spec, name="preprocess")(x)
    name = re.sub(r"[^A-Za-z0-9_]", "_", model.name)
    inlined = inline(model, x)
    if inlined is not None:
        try:
            return keras.Model(inputs, inlined, name=name)
        except ValueError:  # a layer name the wrapper's own layers also use
            pass
    return keras.Model(inputs, call_model(model, x), name=name)
