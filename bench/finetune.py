"""The fine-tune engine vs the hand-written Keras code for the same job.

- frozen backbone, 10 epochs: ``zoo.finetune`` (features cached) vs ``trainable = False`` +
  ``fit`` (goal: >= 5x faster, accuracy within 1 point)
- full fine-tune: the engine's training phase vs ``model.fit`` on the same model and data
  (goal: >= 0.95x the throughput)
- peak memory (max RSS) of each side, each in a fresh process (goal: <= 1.1x)

Model: MobileNetV2 (alpha 0.35, weights=None, one fixed set of random weights for both sides)
at 64x64; data: scikit-learn's digits, upscaled to RGB 64x64 once before timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from bench._common import Comparison, interleaved, python

SIZE = 64
EPOCHS = 10
FULL_EPOCHS = 2
BATCH = 32
_WEIGHTS = os.path.join(os.environ.get("TMPDIR", "/tmp"), "zoo-bench-mnv2.weights.h5")


def _data() -> tuple[Any, Any, Any, Any]:
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).astype("float32")[..., None]
    x = tf.image.resize(np.repeat(images, 3, axis=-1), (SIZE, SIZE)).numpy()
    y = digits.target.astype("int64")
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    split = int(len(y) * 0.8)
    return x[:split], y[:split], x[split:], y[split:]


def _base() -> Any:
    """MobileNetV2 without top, with the benchmark's fixed random weights."""
    import keras

    base = keras.applications.MobileNetV2(
        weights=None, include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3), alpha=0.35
    )
    if os.path.exists(_WEIGHTS):
        base.load_weights(_WEIGHTS)
    else:
        base.save_weights(_WEIGHTS)
    return base


def _hand_written(data: Any, *, frozen: bool, epochs: int) -> tuple[float, float]:
    """The Keras transfer-learning guide's code. Returns (fit seconds, val accuracy)."""
    import keras

    x, y, xv, yv = data
    keras.utils.set_random_seed(0)
    base = _base()
    base.trainable = not frozen
    inputs = keras.Input((SIZE, SIZE, 3))
    h = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    h = base(h, training=False)
    outputs = keras.layers.Dense(10, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    return seconds, float(accuracy)


def _engine(data: Any, *, frozen: bool, epochs: int) -> tuple[float, float, Any]:
    """zoo.finetune on the same backbone. Returns (training seconds, val accuracy, result)."""
    import zoo

    x, y, xv, yv = data
    backbone = zoo.Backbone.from_model(
        _base(), name="mobilenet_v2", provider="bench", input_spec=zoo.InputSpec.from_mode("tf")
    )
    result = zoo.finetune(
        backbone,
        (x, y),
        epochs=epochs,
        batch_size=BATCH,
        dropout=0.0,
        shuffle=False,
        freeze="backbone" if frozen else "none",
        train_batchnorm=not frozen,  # the hand-written code's BatchNorm trains when unfrozen
        seed=0,
        verbose=0,
    )
    accuracy = result.model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    train = sum(p.seconds for p in result.phases if p.name in ("features", "head"))
    return train, float(accuracy), result


def side(name: str) -> None:
    """Run one side in this (fresh) process and print its peak RSS as JSON (for memory)."""
    import resource

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    data = _data()
    frozen = name.endswith("frozen")
    epochs = EPOCHS if frozen else FULL_EPOCHS
    if name.startswith("engine"):
        _engine(data, frozen=frozen, epochs=epochs)
    else:
        _hand_written(data, frozen=frozen, epochs=epochs)
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"maxrss_mib": kib / 1024}))


def _peak_mib(name: str) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    code = f"from bench.finetune import side; side({name!r})"
    out = subprocess.run(python(code), check=True, capture_output=True, text=True, env=env)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["maxrss_mib"])


def run(repeats: int = 3) -> list[Comparison]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    data = _data()
    accuracies: dict[str, float] = {}

    def frozen_engine() -> None:
        start = time.perf_counter()
        _, accuracies["engine"], _ = _engine(data, frozen=True, epochs=EPOCHS)
        accuracies["engine_wall"] = time.perf_counter() - start
        keras.backend.clear_session()

    def frozen_hand() -> None:
        _, accuracies["hand"] = _hand_written(data, frozen=True, epochs=EPOCHS)
        keras.backend.clear_session()

    frozen_engine(), frozen_hand()  # warm up imports, caches and the weights file
    t_engine, t_hand = interleaved(frozen_engine, frozen_hand, repeats)
    gap = abs(accuracies["engine"] - accuracies["hand"]) * 100
    results = [
        Comparison(
            f"frozen, {EPOCHS} epochs: zoo.finetune (cached) vs trainable=False+fit "
            f"(acc {accuracies['engine']:.3f} vs {accuracies['hand']:.3f}, {gap:.1f} pt)",
            t_engine,
            t_hand,
            ">= 5x faster, accuracy within 1 point",
        )
    ]

    fits: dict[str, list[float]] = {"engine": [], "hand": []}

    def full_engine() -> None:
        seconds, _, _ = _engine(data, frozen=False, epochs=FULL_EPOCHS)
        fits["engine"].append(seconds)
        keras.backend.clear_session()

    def full_hand() -> None:
        seconds, _ = _hand_written(data, frozen=False, epochs=FULL_EPOCHS)
        fits["hand"].append(seconds)
        keras.backend.clear_session()

    interleaved(full_engine, full_hand, repeats)
    n = len(data[1]) * FULL_EPOCHS
    engine_fit = sorted(fits["engine"])[len(fits["engine"]) // 2]
    hand_fit = sorted(fits["hand"])[len(fits["hand"]) // 2]
    results.append(
        Comparison(
            f"full fine-tune fit, {FULL_EPOCHS} epochs ({n / engine_fit:.0f} vs "
            f"{n / hand_fit:.0f} img/s): engine vs model.fit",
            engine_fit,
            hand_fit,
            ">= 0.95x throughput (ratio <= 1.053)",
        )
    )
    for kind in ("frozen", "full"):
        results.append(
            Comparison(
                f"peak RSS, {kind}: engine vs hand-written (fresh processes)",
                _peak_mib(f"engine_{kind}"),
                _peak_mib(f"hand_{kind}"),
                "<= 1.1x",
                unit="MiB",
            )
        )
    return results


if __name__ == "__main__":  # python -m bench.finetune engine_frozen
    side(sys.argv[1])
