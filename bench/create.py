"""zoo.create vs the hand-written keras.applications + Dense code (goal: <= 1.05x)."""

from __future__ import annotations

import os

from bench._common import Comparison, interleaved


def run(repeats: int = 7) -> list[Comparison]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import zoo

    def ours() -> None:
        zoo.create("mobilenet_v2", 10, weights=None)
        keras.backend.clear_session()

    def hand_written() -> None:
        # the Keras transfer-learning guide's code, preprocessing inside the model as ours is
        inputs = keras.Input((224, 224, 3))
        x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
        base = keras.applications.MobileNetV2(
            weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3)
        )
        outputs = keras.layers.Dense(10, activation="softmax")(base(x))
        keras.Model(inputs, outputs)
        keras.backend.clear_session()

    ours(), hand_written()  # warm up imports and caches
    t_ours, t_base = interleaved(ours, hand_written, repeats)
    return [
        Comparison(
            'zoo.create("mobilenet_v2", 10, weights=None)  vs  hand-written',
            t_ours,
            t_base,
            "<= 1.05x",
        )
    ]
