"""Tiny backbones and learnable image data for the fine-tune engine's tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def blobs(
    n: int = 96, shape: tuple[int, int, int] = (16, 16, 3), classes: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Raw [0, 255] images whose class is where a bright square sits: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    y = rng.integers(0, classes, n)
    x = rng.uniform(0, 60, (n, h, w, c)).astype("float32")
    for i, label in enumerate(y):
        top = (label * h) // classes
        x[i, top : top + max(1, h // classes), :, :] += 180.0
    return x, y


def small_cnn(input_shape: tuple[int, int, int] = (16, 16, 3), classes: int = 5) -> Any:
    """conv -> BN -> relu -> conv -> BN -> relu -> GAP -> Dense: a pretrained net stand-in."""
    import keras

    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def with_bn_statistics(model: Any) -> Any:
    """Move BN statistics away from their initial values, so "unchanged" means something."""
    import numpy as np

    rng = np.random.default_rng(5)
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    return model


_WEIGHTS: list[np.ndarray] = []


def fixed_backbone() -> Any:
    """A fresh small_cnn Backbone with the same weights every call (runs start alike)."""
    import zoo

    model = small_cnn()
    if not _WEIGHTS:
        _WEIGHTS.extend(with_bn_statistics(small_cnn()).get_weights())
    model.set_weights(_WEIGHTS)
    return zoo.Backbone.from_model(
        model, name="small_cnn", provider="memory", input_spec=zoo.InputSpec.from_mode("unit")
    )


#: Recipe overrides that keep tests quiet, seeded and quick.
FAST: dict[str, Any] = {"auto": False, "verbose": 0, "seed": 0, "batch_size": 16}
