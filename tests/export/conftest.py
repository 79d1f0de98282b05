"""Tiny trained classifiers and image folders for the export tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.finetune.util import blobs

SHAPE = (16, 16, 3)


def tiny_classifier(extra: Any = None) -> Any:
    """raw pixels -> rescale -> conv -> BN -> GAP -> softmax(3), trained a little on blobs."""
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input(SHAPE), keras.layers.Rescaling(1 / 255, name="rescale")]
    if extra is not None:
        layers.append(extra)
    layers += [
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        # 8x8x16 into the Dense: 3072 weights, enough for dynamic-range quantization to act on
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, activation="softmax", name="predictions"),
    ]
    model = keras.Sequential(layers, name="tiny")
    x, y = blobs(192, SHAPE)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    return model


def write_class_folders(root: Path, count: int, seed: int = 0) -> Path:
    """root/{a,b,c}/*.png: blobs images, ``count`` per class."""
    import tensorflow as tf

    x, y = blobs(count * 3 * 2, SHAPE, seed=seed)
    written = dict.fromkeys(range(3), 0)
    for image, label in zip(x, y, strict=True):
        if written[int(label)] >= count:
            continue
        folder = root / "abc"[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(image, 0, 255).astype("uint8")
        (folder / f"{written[int(label)]}.png").write_bytes(tf.io.encode_png(pixels).numpy())
        written[int(label)] += 1
    return root


@pytest.fixture(scope="session")
def tiny() -> Any:
    """One trained tiny classifier shared by the tests (they never change it)."""
    return tiny_classifier()
