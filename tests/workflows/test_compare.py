"""zoo.compare / zoo compare on three real tiny backbones built here, saved as .keras files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo

from .conftest import colour_image


def _backbones(root: Path) -> dict[str, Path]:
    """colour: sees each channel's mean (separates the classes); texture: random 3x3 conv;
    brightness: sees only the mean over all channels (cannot tell the colours apart)."""
    import keras

    def build(name: str, kernel: np.ndarray, size: int) -> Path:
        inputs = keras.Input((32, 32, 3))
        x = keras.layers.Rescaling(1 / 255.0)(inputs)
        conv = keras.layers.Conv2D(kernel.shape[-1], size, name="conv", use_bias=False)
        x = keras.layers.GlobalAveragePooling2D()(conv(x))
        outputs = keras.layers.Dense(4, activation="softmax", name="top")(x)
        model = keras.Model(inputs, outputs, name=name)
        conv.set_weights([kernel])
        path = root / f"{name}.keras"
        model.save(path)
        return path

    rng = np.random.default_rng(0)
    return {
        "colour": build("colour", np.eye(3).reshape(1, 1, 3, 3), 1),
        "texture": build("texture", rng.normal(size=(3, 3, 3, 6)), 3),
        "brightness": build("brightness", np.ones((1, 1, 3, 1)) / 3, 1),
    }


def _data(per_class: int = 12) -> tuple[np.ndarray, np.ndarray]:
    x = np.stack(
        [
            colour_image(c, (32, 32), seed=100 * c + i, strength=120)
            for c in range(3)
            for i in range(per_class)
        ]
    )
    # equal brightness in every class: the colour is the only signal
    x *= 100.0 / x.mean(axis=(1, 2, 3), keepdims=True)
    return x.astype("float32"), np.repeat(np.array(["red", "green", "blue"]), per_class)


def test_compare_ranks_real_backbones_reproducibly_and_reports_failures(tmp_path: Path) -> None:
    paths = _backbones(tmp_path)
    candidates = [str(paths["brightness"]), str(paths["texture"]), str(paths["colour"])]
    candidates += [str(tmp_path / "missing.keras"), "nosuchmodel_*"]
    result = zoo.compare(_data(), candidates, folds=3, plot=tmp_path / "bars.png")
    good = [r for r in result.rows if r.error is None]
    assert Path(good[0].candidate).stem == "colour"
    assert good[0].accuracy == pytest.approx(1.0)
    assert good[-1].candidate.endswith("brightness.keras") and (good[-1].accuracy or 1) < 0.7
    assert [r.accuracy for r in good] == sorted((r.accuracy for r in good), reverse=True)
    colour = good[0]
    assert colour.feature_dim == 3 and colour.parameters == 9 and len(colour.folds) == 3
    assert colour.images_per_second and colour.images_per_second > 0 and colour.seconds > 0
    failed = {r.candidate: r.error for r in result.rows if r.error is not None}
    assert "missing.keras" in str(failed[str(tmp_path / "missing.keras")])
    assert "no registered model matches" in str(failed["nosuchmodel_*"])
    assert result.rows[-2:] == [r for r in result.rows if r.error is not None]
    again = zoo.compare(_data(), candidates[:3], folds=3)
    assert [(r.candidate, r.folds) for r in again.rows] == [(r.candidate, r.folds) for r in good]
    assert result.plot is not None and result.plot.stat().st_size > 2000


def test_a_spent_time_budget_is_reported_per_candidate(tmp_path: Path) -> None:
    paths = _backbones(tmp_path)
    result = zoo.compare(_data(4), [str(paths["colour"])], folds=2, time_budget=0)
    assert result.rows[0].error is not None and "time budget" in result.rows[0].error


def test_the_cli_ranks_a_class_folder_tree_as_json(images: Path, tmp_path: Path) -> None:
    paths = _backbones(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "compare", str(images), str(paths["brightness"]),
         str(paths["colour"]), "--folds", "2", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["images"] == 14 and data["classes"] == ["blue", "green", "red"]
    assert data["rows"][0]["candidate"].endswith("colour.keras")
    assert data["rows"][0]["accuracy"] >= data["rows"][1]["accuracy"]


def test_a_glob_expands_to_every_matching_registry_name(tmp_path: Path, isolated: Path) -> None:
    """'tiny_*' in ./zoo.yaml -> one row per registered model, each ranked."""
    paths = _backbones(tmp_path)
    (isolated / "zoo.yaml").write_text(
        "models:\n"
        f"  tiny_colour: {{provider: local, source: {paths['colour']}}}\n"
        f"  tiny_brightness: {{provider: local, source: {paths['brightness']}}}\n"
    )
    result = zoo.compare(_data(6), ["tiny_*"], folds=2)
    assert [r.candidate for r in result.rows] == ["tiny_colour", "tiny_brightness"]
    assert all(r.error is None for r in result.rows)
