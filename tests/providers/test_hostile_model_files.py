"""F30 in model files (attack suite, round three): an architecture .yaml holding an alias
bomb (its trust walk visited 10**12 nodes: a hang), and a .keras whose config.json nests
100,000 lists (RecursionError escaped from zoo info --load and zoo predict)."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.workflows.runner import open_model


def test_an_alias_bomb_in_an_architecture_yaml_is_refused_at_once(tmp_path: Path) -> None:
    """F30: the registry's alias bound applies to architecture files too."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines += ["class_name: Sequential", "config: {name: s, layers: [], bomb: *a11}"]
    arch = tmp_path / "arch.yaml"
    arch.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(zoo.InvalidModelError, match="alias bomb"):
        zoo.load_backbone(str(arch), weights=str(tmp_path / "w.h5"))
    assert time.perf_counter() - start < 10  # measured: refused in milliseconds


def test_a_keras_file_nesting_its_config_100000_deep_is_an_invalid_model(tmp_path: Path) -> None:
    """F30: no RecursionError, in the provider (zoo info --load) or in the runner (predict)."""
    deep = "[" * 100_000 + "]" * 100_000
    config = '{"class_name": "Sequential", "config": {"name": "s", "layers": [], "x": ' + deep
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", config + "}}")
        zf.writestr("metadata.json", '{"keras_version": "3.15.1"}')
    with pytest.raises(zoo.InvalidModelError, match="nests too deeply"):
        zoo.load_backbone(str(path))
    with pytest.raises(zoo.InvalidModelError, match="nests too deeply"):
        open_model(path)
    with pytest.raises(zoo.InvalidModelError, match="nests too deeply"):
        zoo.predict(path, np.zeros((1, 8, 8, 3)))
