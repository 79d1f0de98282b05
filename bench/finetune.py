"""The fine-tune engine vs the hand-written Keras code for the same job.

- frozen backbone, 10 epochs: ``zoo.finetune`` (features cached) vs ``trainable = False`` +
  ``fit`` (goal: >= 5x faster, accuracy within 1 point)
- full fine-tune: the engine's training phase vs ``model.fit`` on the same model and data
  (goal: >= 0.95x the throughput)
- peak memory (VmHWM) of each side, each in a fresh process (goal: <= 1.1x)

Model: MobileNetV2 (alpha 0.35, weights=None) at 128x128 (frozen) and 64x64 (full), one fixed
set of weights for both sides (two epochs on the digits, made once, so the features mean
something); data: scikit-learn's digits, upscaled to RGB once and saved before timing.
Timed: building the model and training it (what a user waits for); accuracy is measured
afterwards on held-out digits.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench._common import Comparison, python

FROZEN_SIZE = 128  # big enough that running the backbone dominates, as in real use
FULL_SIZE = 64  # full fine-tuning is ~3x the work per epoch: keep it quick
EPOCHS = 10
FULL_EPOCHS = 1
BATCH = 32
_TMP = os.environ.get("TMPDIR", "/tmp")


def _data(size: int) -> tuple[Any, Any, Any, Any]:
    """Digits upscaled to RGB size x size; kept in a .npz so measured processes only load it."""
    import numpy as np

    path = os.path.join(_TMP, f"zoo-bench-digits-{size}.npz")
    if not os.path.exists(path):
        import tensorflow as tf

        from bench._common import digits

        images, y = digits()
        x = tf.image.resize(np.repeat(images, 3, axis=-1), (size, size)).numpy()
        order = np.random.default_rng(0).permutation(len(y))
        np.savez(path, x=x[order], y=y[order])
    saved = np.load(path)
    x, y = saved["x"], saved["y"]
    split = int(len(y) * 0.8)
    return x[:split], y[:split], x[split:], y[split:]


def _base(x: Any, y: Any) -> Any:
    """MobileNetV2 without top, with the benchmark's fixed weights (made on first use)."""
    import keras

    size = x.shape[1]
    weights = os.path.join(_TMP, f"zoo-bench-mnv2-{size}.weights.h5")
    base = keras.applications.MobileNetV2(
        weights=None, include_top=False, pooling="avg", input_shape=(size, size, 3), alpha=0.35
    )
    if os.path.exists(weights):
        base.load_weights(weights)
        return base
    # "pretrained" weights: two quick epochs on the digits, so features mean something
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9  # statistics settle within these few steps
    model = keras.Sequential([keras.layers.Rescaling(1 / 127.5, offset=-1), base])
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    base.save_weights(weights)
    return _base(x, y)


def _hand_written(data: Any, *, frozen: bool, epochs: int) -> tuple[float, float, float]:
    """The Keras transfer-learning guide's code: (build + fit s, fit s, val accuracy)."""
    import keras

    x, y, xv, yv = data
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    base = _base(x, y)
    base.trainable = not frozen
    inputs = keras.Input(x.shape[1:])
    h = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    h = base(h, training=False)
    keras.utils.set_random_seed(0)  # the head starts from the engine's initial weights
    outputs = keras.layers.Dense(10, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    fit_start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
    end = time.perf_counter()
    accuracy = model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    return end - start, end - fit_start, float(accuracy)


def _engine(data: Any, *, frozen: bool, epochs: int) -> tuple[float, float, float]:
    """zoo.finetune on the same backbone: (whole call s, training s, val accuracy)."""
    import zoo

    x, y, xv, yv = data
    start = time.perf_counter()
    backbone = zoo.Backbone.from_model(
        _base(x, y), name="mobilenet_v2", provider="bench", input_spec=zoo.InputSpec.from_mode("tf")
    )
    result = zoo.finetune(
        backbone,
        (x, y),
        recipe="classic",  # the hand-written side is the classic recipe
        epochs=epochs,
        batch_size=BATCH,
        dropout=0.0,
        shuffle=False,
        freeze="backbone" if frozen else "none",
        train_batchnorm=not frozen,  # the hand-written code's BatchNorm trains when unfrozen
        seed=0,
        verbose=0,
    )
    end = time.perf_counter()
    accuracy = result.model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    train = sum(p.seconds for p in result.phases if p.name in ("features", "head"))
    return end - start, train, float(accuracy)


def side(name: str) -> None:
    """Run one side in this (fresh) process and print its peak RSS as JSON (for memory)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    frozen = name.endswith("frozen")
    data = _data(FROZEN_SIZE if frozen else FULL_SIZE)
    epochs = EPOCHS if frozen else FULL_EPOCHS
    if name.startswith("engine"):
        _engine(data, frozen=frozen, epochs=epochs)
    else:
        _hand_written(data, frozen=frozen, epochs=epochs)
    # VmHWM, not getrusage's ru_maxrss: Linux carries the parent's peak across fork+exec into
    # ru_maxrss, so every child would report the (larger) benchmark process's peak
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"maxrss_mib": kib / 1024}))


def _peak_mib(name: str) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    code = f"from bench.finetune import side; side({name!r})"
    out = subprocess.run(python(code), check=True, capture_output=True, text=True, env=env)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["maxrss_mib"])


def _median_runs(
    sides: dict[str, Any], repeats: int
) -> dict[str, list[tuple[float, float, float]]]:
    """Each side ``repeats`` times, alternating, after one warm-up run each."""
    import keras

    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    for round_ in range(repeats + 1):
        for name, fn in sides.items():
            measured = fn()
            keras.backend.clear_session()
            if round_:
                runs[name].append(measured)
    return runs


def _median(runs: list[tuple[float, float, float]], index: int) -> float:
    return statistics.median(r[index] for r in runs)


def run(repeats: int = 4, full_repeats: int = 2) -> list[Comparison]:
    """The frozen comparison is short and noisy: median of ``repeats`` rounds; the full one
    takes ~40 s a round: ``full_repeats``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    data = _data(FROZEN_SIZE)
    frozen = _median_runs(
        {
            "engine": lambda: _engine(data, frozen=True, epochs=EPOCHS),
            "hand": lambda: _hand_written(data, frozen=True, epochs=EPOCHS),
        },
        repeats,
    )
    acc_engine, acc_hand = _median(frozen["engine"], 2), _median(frozen["hand"], 2)
    results = [
        Comparison(
            f"frozen {FROZEN_SIZE}px, {EPOCHS} epochs, build+train: zoo.finetune (cached) vs "
            "trainable=False+fit "
            f"(val acc {acc_engine:.3f} vs {acc_hand:.3f}, "
            f"{abs(acc_engine - acc_hand) * 100:.1f} pt)",
            _median(frozen["engine"], 0),
            _median(frozen["hand"], 0),
            ">= 5x faster, accuracy within 1 point",
        )
    ]
    data = _data(FULL_SIZE)
    full = _median_runs(
        {
            "engine": lambda: _engine(data, frozen=False, epochs=FULL_EPOCHS),
            "hand": lambda: _hand_written(data, frozen=False, epochs=FULL_EPOCHS),
        },
        full_repeats,
    )
    n = len(data[1]) * FULL_EPOCHS
    engine_fit, hand_fit = _median(full["engine"], 1), _median(full["hand"], 1)
    results.append(
        Comparison(
            f"full fine-tune {FULL_SIZE}px, {FULL_EPOCHS} epoch, fit only ({n / engine_fit:.0f} vs "
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
