"""Helpers shared by the benchmarks: interleaved repeats, medians, one report format, data."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Comparison:
    """One measured ratio: ours vs the baseline, with the goal it is held to."""

    name: str
    ours: float  # median seconds (or bytes, per `unit`)
    baseline: float
    goal: str  # e.g. "<= 1.05x" or ">= 10x faster"
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline

    def line(self) -> str:
        if self.unit == "s":
            figures = f"ours {self.ours * 1000:9.1f} ms | baseline {self.baseline * 1000:9.1f} ms"
        else:
            figures = (
                f"ours {self.ours:12.4g} {self.unit} | baseline {self.baseline:12.4g} {self.unit}"
            )
        speedup = self.baseline / self.ours
        return (
            f"{self.name:<44} {figures} | ratio {self.ratio:6.3f}x "
            f"(speed-up {speedup:6.2f}x) | goal {self.goal}"
        )


def interleaved(
    ours: Callable[[], object], baseline: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Median wall time of each, alternating runs so machine noise hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeats):
        for fn, out in ((ours, a), (baseline, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def run_process(argv: Sequence[str], env: dict[str, str] | None = None) -> Callable[[], None]:
    """A callable that runs a fresh process to completion (fails loudly)."""

    def call() -> None:
        subprocess.run(
            argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    return call


def python(code: str) -> list[str]:
    """argv for ``python -c code`` with this interpreter."""
    return [sys.executable, "-c", code]


def digits() -> tuple[Any, Any]:
    """scikit-learn's 1,797 8x8 digits as raw [0, 255] grayscale images (N, 8, 8, 1), labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images * (255.0 / 16.0)).astype("float32")[..., None]
    return x, data.target.astype("int64")
