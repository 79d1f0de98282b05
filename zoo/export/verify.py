"""Compare an exported file, run in its own runtime, with the Keras model it came from.

Figures: the largest absolute difference of probabilities, top-1 agreement, accuracy when
labels are known, the file size, and the median latency of one call at batch 1 and batch 32.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zoo.export.names import FORMATS, Tolerance
from zoo.export.report import FormatReport
from zoo.export.runtimes import Runner, load_runner
from zoo.export.samples import Samples

__all__ = ["disk_size", "latencies", "latency", "predict", "reference", "time_all", "verify_file"]

_BATCH = 32
#: latency: time calls until they add up to this many seconds (after the asked-for runs) ...
MIN_SECONDS = 0.25
#: ... but never more calls than this
MAX_CALLS = 2000
#: latency: rounds of interleaved blocks (see latencies)
ROUNDS = 5


def disk_size(path: Path) -> int:
    """Bytes of a file, or of every file under a directory."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def predict(run: Runner, images: np.ndarray) -> np.ndarray:
    """``run`` over ``images`` in batches of 32."""
    outs = [run(images[i : i + _BATCH]) for i in range(0, len(images), _BATCH)]
    return np.concatenate(outs).astype("float32")


def latency(
    run: Runner, images: np.ndarray, batch: int, runs: int, *, min_seconds: float = MIN_SECONDS
) -> float:
    """Median milliseconds of one call on ``batch`` images: :func:`latencies` of one runner."""
    return latencies({"": run}, images, batch, runs, min_seconds=min_seconds)[""]


def latencies(
    runners: Mapping[str, Runner],
    images: np.ndarray,
    batch: int,
    runs: int,
    *,
    min_seconds: float = MIN_SECONDS,
) -> dict[str, float]:
    """Median milliseconds of one call of each runner on ``batch`` images, timed interleaved.

    After two untimed warm-up calls each, :data:`ROUNDS` rounds; in each, every runner in
    turn times a block of calls, so a burst of load on a shared CPU lands on all of them
    alike instead of on whichever file was being timed then (timed one after another, a
    float32 TFLite file's batch-1 median came out 1.5x its interleaved one, and the int8
    file's ratio to it moved with it). Every runner gets the same rule: at least ``runs``
    calls, more until they add up to ``min_seconds``, at most :data:`MAX_CALLS` (a 0.1 ms
    TFLite call timed 20 times is 2 ms of samples, which one burst skews), each round a
    :data:`ROUNDS`-th of it.
    """
    reps = -(-batch // len(images))
    x = np.ascontiguousarray(np.concatenate([images] * reps)[:batch])
    for run in runners.values():
        for _ in range(2):  # warm-up: allocation, tracing, weight packing, first-call caches
            run(x)
    times: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for done in range(1, ROUNDS + 1):
        calls = -(-max(1, runs) * done // ROUNDS)
        seconds, cap = min_seconds * done / ROUNDS, -(-MAX_CALLS * done // ROUNDS)
        for name in order:
            run, timed = runners[name], times[name]
            while len(timed) < calls or (sum(timed) < seconds and len(timed) < cap):
                start = time.perf_counter()
                run(x)
                timed.append(time.perf_counter() - start)
        order.reverse()  # no runner always right after the same one
    return {name: 1000.0 * statistics.median(timed) for name, timed in times.items()}


def _accuracy(probs: np.ndarray, labels: np.ndarray | None) -> float | None:
    if labels is None:
        return None
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def keras_run(model: Any) -> Runner:
    """A Keras model as a :data:`Runner` (``model.head.call_model``: no Keras 2 input warning)."""
    from zoo.model.head import call_model

    return lambda x: np.asarray(call_model(model, x))


def reference(
    model: Any, samples: Samples, probs: np.ndarray | None = None
) -> tuple[np.ndarray, FormatReport, Runner]:
    """The Keras model's own probabilities and figures (what every file is compared with),
    and its runner, for :func:`time_all`; ``probs``: the model's outputs on ``samples``
    when already computed (not run again)."""
    import keras

    run = keras_run(model)
    if probs is None:
        probs = predict(run, samples.images)
    report = FormatReport(
        format="keras (in memory)",
        path=None,
        runtime=f"keras {keras.__version__}",
        status="reference",
        accuracy=_accuracy(probs, samples.labels),
    )
    return probs, report, run


def time_all(timed: list[tuple[FormatReport, Runner]], images: np.ndarray, runs: int) -> None:
    """Fill in every report's batch-1 and batch-32 latency, all timed interleaved."""
    runners = {report.format: run for report, run in timed}  # one report per format
    batch1 = latencies(runners, images, 1, runs)
    batch32 = latencies(runners, images, _BATCH, runs)
    for report, _ in timed:
        report.latency_ms_batch1 = batch1[report.format]
        report.latency_ms_batch32 = batch32[report.format]


def verify_file(
    fmt: str,
    path: Path,
    samples: Samples,
    expected: np.ndarray,
    reference_accuracy: float | None,
    tolerance: Tolerance,
    *,
    class_names: list[str],
) -> tuple[FormatReport, Runner | None]:
    """Run the file at ``path`` in its runtime on ``samples``; judge it against ``expected``.

    Also returns its runner for :func:`time_all` (None when its outputs are shaped wrong)."""
    run, runtime = load_runner(fmt, path)
    probs = predict(run, samples.images)
    report = FormatReport(
        format=fmt,
        path=str(path),
        runtime=runtime,
        status="ok",
        size_bytes=disk_size(path),
        tolerance={
            "max_abs_diff": tolerance.max_abs_diff,
            "min_agreement": tolerance.min_agreement,
            "max_accuracy_drop": tolerance.max_accuracy_drop,
        },
    )
    if probs.shape != expected.shape:
        report.status = "failed"
        report.problems.append(f"outputs shaped {probs.shape}, Keras gives {expected.shape}")
        return report, None
    report.max_abs_diff = float(np.max(np.abs(probs - expected))) if len(probs) else 0.0
    report.agreement = float(np.mean(np.argmax(probs, 1) == np.argmax(expected, 1)))
    report.accuracy = _accuracy(probs, samples.labels)
    if fmt == "saved_model":
        _check_signatures(path, samples, class_names, report)
    _judge(report, tolerance, reference_accuracy)
    return report, run


def _judge(report: FormatReport, tol: Tolerance, reference_accuracy: float | None) -> None:
    if not np.isfinite(report.max_abs_diff or 0.0):
        report.problems.append("outputs are not finite")
    if tol.max_abs_diff is not None and (report.max_abs_diff or 0.0) > tol.max_abs_diff:
        report.problems.append(f"max |Δp| {report.max_abs_diff:.2e} > {tol.max_abs_diff:g}")
    if report.agreement is not None and report.agreement < tol.min_agreement:
        report.problems.append(f"top-1 agreement {report.agreement:.2%} < {tol.min_agreement:.2%}")
    drop = tol.max_accuracy_drop
    if (
        drop is not None
        and report.accuracy is not None
        and reference_accuracy is not None
        and reference_accuracy - report.accuracy > drop + 1e-12
    ):
        report.problems.append(
            f"accuracy {report.accuracy:.2%} is more than {drop:.0%} below Keras's "
            f"{reference_accuracy:.2%}"
        )
    bytes_diff = report.extra.get("bytes_max_abs_diff")
    if bytes_diff is not None and tol.max_abs_diff is not None and bytes_diff > tol.max_abs_diff:
        report.problems.append(f"serving_bytes differs from serving_default by {bytes_diff:.2e}")
    if report.problems:
        report.status = "failed"


def _check_signatures(
    path: Path, samples: Samples, class_names: list[str], report: FormatReport
) -> None:
    """serving_default names the classes; serving_bytes on PNGs matches it on the pixels."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    pixels = np.clip(np.round(samples.images[:8]), 0, 255).astype("uint8")
    out = loaded.signatures["serving_default"](image=tf.constant(pixels.astype("float32")))
    classes = [c.decode() for c in np.asarray(out["classes"])[0]]
    if classes != list(class_names):
        report.problems.append(f"serving_default classes {classes} != {list(class_names)}")
    encoded = tf.constant([tf.io.encode_png(image).numpy() for image in pixels])
    from_bytes = loaded.signatures["serving_bytes"](image_bytes=encoded)["probabilities"]
    diff = float(np.max(np.abs(np.asarray(from_bytes) - np.asarray(out["probabilities"]))))
    report.extra["bytes_max_abs_diff"] = diff
    report.extra["signatures"] = sorted(loaded.signatures.keys())


def default_tolerance(fmt: str) -> Tolerance:
    """The tolerance a format is judged by unless the caller gives another."""
    return FORMATS[fmt].tolerance
