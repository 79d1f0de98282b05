"""The benchmarks stay runnable: every one imports and its data loaders work (bench/ is not
run by `make test`; a renamed helper they import broke `python -m bench export` once)."""

from __future__ import annotations

import importlib


def test_every_benchmark_imports_and_has_run() -> None:
    from bench.__main__ import BENCHMARKS

    for name in BENCHMARKS:
        assert callable(importlib.import_module(f"bench.{name}").run), name
    assert callable(importlib.import_module("bench.quality").main)


def test_the_benchmark_data_loaders_run() -> None:
    from bench import export, quality

    x_train, y_train, x_test, y_test = export._digits(16)
    assert x_train.shape[1:] == (16, 16, 3) and len(y_train) + len(y_test) == 1797
    assert 200 < x_test.max() <= 255
    x, y = quality._digits()
    assert x.shape == (1797, 16, 16, 1) and set(y.tolist()) == set(range(10))
    mnist, labels = quality._mnist5k()  # the demo's source data, as the bench reads it
    assert mnist.shape == (5000, 28, 28, 1) and set(labels.tolist()) == set(range(10))
    assert quality._seed_cnn((16, 16, 1), 5).output_shape == (None, 5)
    framed, _ = quality._digits28()  # the demo's target data
    assert framed.shape == (1797, 28, 28, 1)
    assert framed[:, :4].max() == 0 and framed[:, -4:].max() == 0  # MNIST's empty border
