"""A real exported classifier (SavedModel, .keras, TFLite) and real image folders.

The model says which colour channel dominates an image: raw pixels -> 1x1 conv (identity)
-> global average -> Dense(3, softmax). Its answers are known, so evaluation figures are too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

LABELS = ("red", "green", "blue")


def colour_model() -> Any:
    import keras

    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="scale")(inputs)
    x = keras.layers.Conv2D(3, 1, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="classifier")(x)
    model = keras.Model(inputs, outputs, name="colour")
    model.get_layer("conv").set_weights([np.eye(3).reshape(1, 1, 3, 3), np.zeros(3)])
    model.get_layer("classifier").set_weights([8 * np.eye(3), np.zeros(3)])
    return model


def write_png(path: Path, pixels: np.ndarray) -> Path:
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(pixels.astype("uint8")).numpy())
    return path


def colour_image(
    channel: int, size: tuple[int, int], seed: int, strength: float = 200
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 60, (*size, 3))
    pixels[..., channel] += strength
    return np.clip(pixels, 0, 255)


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """(export directory with saved_model/, model.keras, model.tflite, labels.txt; the model)."""
    from zoo.export.exporter import export as export_model

    model = colour_model()
    out = tmp_path_factory.mktemp("export")
    export_model(model, out, ["saved_model", "keras", "tflite"], class_names=LABELS, verify=False)
    return out, model


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class-folder tree: 4 images per colour of several sizes, plus 2 mislabelled ones."""
    root = tmp_path_factory.mktemp("images")
    sizes = [(32, 32), (40, 24), (17, 50), (64, 64)]
    for channel, name in enumerate(LABELS):
        for i, size in enumerate(sizes):
            write_png(
                root / name / f"{name}_{i}.png", colour_image(channel, size, seed=10 * channel + i)
            )
    # mistakes the model must make: a strong blue image filed as red, a weak green one as blue
    write_png(root / "red" / "really_blue.png", colour_image(2, (32, 32), seed=99))
    write_png(root / "blue" / "really_green.png", colour_image(1, (32, 32), seed=98, strength=60))
    return root
