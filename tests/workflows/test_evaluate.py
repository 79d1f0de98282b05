"""zoo.evaluate / zoo evaluate on real exports and real class folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from zoo.errors import DataError

from .conftest import LABELS, colour_image, write_png


def _png_ok(path: Path, min_bytes: int = 2000) -> tuple[int, int]:
    """A real PNG of some size with more than one colour in it; returns (height, width)."""
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > min_bytes
    pixels = matplotlib.image.imread(path)
    assert pixels.reshape(-1, pixels.shape[-1]).std(axis=0).max() > 0.05
    return pixels.shape[0], pixels.shape[1]


@pytest.mark.parametrize("fmt", ["saved_model", "keras", "tflite"])
def test_evaluation_figures_are_the_known_answers(
    exported: tuple[Path, Any], images: Path, tmp_path: Path, fmt: str
) -> None:
    """12 images right, 2 deliberately mislabelled ones wrong: accuracy 12/14, exact matrix."""
    out, _ = exported
    result = zoo.evaluate(
        out,
        images,
        format=fmt,
        batch_size=4,
        confusion_png=tmp_path / "confusion.png",
        mistakes_png=tmp_path / "mistakes.png",
    )
    assert result.count == 14 and result.accuracy == pytest.approx(12 / 14)
    assert result.labels == LABELS
    # rows = true (red, green, blue); the blue image filed as red, the green one as blue
    np.testing.assert_array_equal(result.confusion, [[4, 0, 1], [0, 4, 0], [0, 1, 4]])
    metrics = {m.label: m for m in result.per_class}
    assert metrics["red"].recall == pytest.approx(4 / 5) and metrics["red"].precision == 1.0
    assert metrics["blue"].precision == pytest.approx(4 / 5) and metrics["blue"].support == 5
    assert metrics["green"].f1 == pytest.approx(2 * (4 / 5) * 1 / (4 / 5 + 1))
    worst = result.mistakes[0]
    assert (Path(worst.image).name, worst.true, worst.predicted) == (
        "really_blue.png",
        "red",
        "blue",
    )
    assert worst.confidence > result.mistakes[1].confidence  # most confident first
    _png_ok(result.figures["confusion"])
    _png_ok(result.figures["mistakes"])


def test_classes_the_model_does_not_know_are_refused_listing_both(
    exported: tuple[Path, Any], images: Path, tmp_path: Path
) -> None:
    out, _ = exported
    data = tmp_path / "data"
    shutil.copytree(images, data)
    write_png(data / "purple" / "p.png", colour_image(0, (32, 32), seed=1))
    with pytest.raises(DataError) as info:
        zoo.evaluate(out, data)
    message = str(info.value)
    assert "purple" in message and "The model knows: red, green, blue" in message


def test_the_cli_prints_json_and_writes_pngs(
    exported: tuple[Path, Any], images: Path, tmp_path: Path
) -> None:
    out, _ = exported
    done = subprocess.run(
        [
            sys.executable, "-m", "zoo", "evaluate", str(out), "--data", str(images),
            "--format", "keras", "--confusion", str(tmp_path / "c.png"),
            "--mistakes", str(tmp_path / "m.png"), "--json",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["accuracy"] == pytest.approx(12 / 14) and data["confusion"][0] == [4, 0, 1]
    assert data["mistakes"][0]["predicted"] == "blue"
    assert set(data["figures"]) == {"confusion", "mistakes"}
    assert (tmp_path / "c.png").stat().st_size > 2000 and (tmp_path / "m.png").stat().st_size > 2000


def test_a_model_without_names_takes_numbered_folders_by_number_and_says_so(
    exported: tuple[Path, Any], tmp_path: Path
) -> None:
    """zoo predict names such a model's outputs 0, 1, 2; folders named so are evaluated by
    number, with a warning; named folders and numbers past its outputs are refused."""
    out, _ = exported
    bare = tmp_path / "bare.tflite"  # no labels.txt beside it
    shutil.copy(out / "model.tflite", bare)
    data = tmp_path / "numbered"
    for c in range(3):
        write_png(data / str(c) / "a.png", colour_image(c, (32, 32), seed=c))
    with pytest.warns(zoo.ZooWarning, match="matched to its outputs by number"):
        result = zoo.evaluate(bare, data)
    assert result.accuracy == 1.0 and result.labels == ("0", "1", "2")

    write_png(data / "7" / "a.png", colour_image(0, (32, 32), seed=7))
    with pytest.raises(DataError, match="classes the model does not know: 7"):
        zoo.evaluate(bare, data)
    shutil.rmtree(data / "7")
    write_png(data / "03" / "a.png", colour_image(0, (32, 32), seed=3))  # not a plain number
    with pytest.raises(DataError, match=r"no labels.txt.*matched to the outputs by number"):
        zoo.evaluate(bare, data)
