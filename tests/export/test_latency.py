"""How latency is sampled: the same rule for every format (counts of calls, never times)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.export import verify


def _counting() -> tuple[list[int], verify.Runner]:
    calls: list[int] = []

    def run(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return np.zeros((len(x), 2), "float32")

    return calls, run


def test_times_the_asked_for_runs_after_two_warm_ups_when_no_time_is_asked() -> None:
    calls, run = _counting()
    images = np.zeros((5, 4, 4, 3), "float32")
    assert verify.latency(run, images, 32, 7, min_seconds=0.0) >= 0.0
    assert len(calls) == 2 + 7
    assert set(calls) == {32}  # the batch is filled up to 32 from 5 images


def test_keeps_timing_until_the_time_budget_but_stops_at_the_call_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(verify, "MAX_CALLS", 50)
    calls, run = _counting()
    images = np.zeros((1, 4, 4, 3), "float32")
    # a budget no fast call reaches: it goes on past the 3 runs asked for, up to the cap
    verify.latency(run, images, 1, 3, min_seconds=3600.0)
    assert len(calls) == 2 + 50


def test_several_runtimes_are_timed_in_interleaved_rounds() -> None:
    order: list[str] = []

    def runner(name: str) -> verify.Runner:
        def run(x: np.ndarray) -> np.ndarray:
            order.append(name)
            return np.zeros((len(x), 2), "float32")

        return run

    images = np.zeros((3, 4, 4, 3), "float32")
    runners = {"int8": runner("int8"), "float32": runner("float32")}
    medians = verify.latencies(runners, images, 1, 10, min_seconds=0.0)
    assert set(medians) == {"int8", "float32"}
    assert order[:4] == ["int8", "int8", "float32", "float32"]  # two warm-ups each
    timed = order[4:]
    assert timed.count("int8") == timed.count("float32") == 10
    # a block of each per round, the order reversed every round: a burst of load on the CPU
    # during any one round lands on both
    blocks = [name for i, name in enumerate(timed) if i == 0 or timed[i - 1] != name]
    # (adjacent blocks of one runtime at the turn of a round merge): 5 rounds, 6 blocks
    assert len(blocks) == verify.ROUNDS + 1 and blocks[0] == "int8"
