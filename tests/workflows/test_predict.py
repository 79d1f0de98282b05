"""zoo.predict / zoo predict on exported SavedModel, .keras and TFLite, checked against Keras."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import zoo
from zoo.cli import main
from zoo.errors import DataError
from zoo.workflows.images import collect, decode, fit

from .conftest import LABELS, write_png


def _expected(model: Any, paths: list[Path]) -> np.ndarray:
    pixels = np.stack([fit(decode(item), (32, 32, 3)) for item in collect(paths)])
    return np.asarray(model.predict(pixels, verbose=0))


@pytest.mark.parametrize("fmt", ["saved_model", "keras", "tflite"])
def test_predict_matches_model_predict_in_every_export_format(
    exported: tuple[Path, Any], images: Path, fmt: str
) -> None:
    """Same probabilities as model.predict on the same resized pixels; labels from labels.txt."""
    out, model = exported
    report = zoo.predict(out, images, format=fmt, top_k=2, batch_size=3)
    paths = sorted(p for p in images.rglob("*.png"))
    assert [p.source for p in report.predictions] == [str(p) for p in paths]
    got = np.stack([p.probabilities for p in report.predictions])
    np.testing.assert_allclose(got, _expected(model, paths), atol=1e-4)
    assert report.kind == fmt and not report.skipped
    first = next(p for p in report.predictions if p.source.endswith("green_0.png"))
    assert first.label == "green" and len(first.top) == 2
    assert first.top[0][1] >= first.top[1][1] and {n for n, _ in first.top} <= set(LABELS)


def test_predict_opens_a_model_file_directly_and_a_finetune_style_model(
    exported: tuple[Path, Any], images: Path
) -> None:
    out, model = exported
    image = images / "blue" / "blue_1.png"
    from_file = zoo.predict(out / "model.tflite", image, top_k=1)
    in_memory = zoo.predict(model, image, top_k=1)
    assert from_file.predictions[0].label == "blue"  # labels.txt beside the file
    assert in_memory.predictions[0].label == "2"  # a bare keras.Model has no labels
    np.testing.assert_allclose(
        from_file.predictions[0].probabilities, in_memory.predictions[0].probabilities, atol=1e-4
    )


def test_any_size_and_channel_count_is_fitted(exported: tuple[Path, Any], tmp_path: Path) -> None:
    """Gray, gray+alpha, RGBA and odd sizes are converted as the model's input spec says."""
    out, _ = exported
    rng = np.random.default_rng(0)
    write_png(tmp_path / "gray.png", rng.uniform(0, 255, (50, 70, 1)))
    write_png(tmp_path / "gray_alpha.png", rng.uniform(0, 255, (9, 9, 2)))
    rgba = np.zeros((33, 31, 4))
    rgba[..., 0], rgba[..., 3] = 250, 255
    write_png(tmp_path / "rgba.png", rgba)
    np.save(tmp_path / "batch.npy", rng.uniform(0, 255, (2, 16, 16, 3)).astype("float32"))
    report = zoo.predict(out, tmp_path, top_k=3)
    assert len(report.predictions) == 3  # folders are searched for images, not .npy
    assert next(p for p in report.predictions if "rgba" in p.source).label == "red"
    arrays = zoo.predict(out, tmp_path / "batch.npy")
    assert [p.source for p in arrays.predictions] == [
        f"{tmp_path / 'batch.npy'}[0]",
        f"{tmp_path / 'batch.npy'}[1]",
    ]


def test_an_undecodable_image_is_reported_and_skipped_unless_strict(
    exported: tuple[Path, Any], images: Path, tmp_path: Path
) -> None:
    """An undecodable image never kills a batch job: named and skipped (strict: stops)."""
    out, _ = exported
    good = images / "red" / "red_0.png"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    report = zoo.predict(out, [good, broken])
    assert [p.source for p in report.predictions] == [str(good)]
    assert report.skipped[0][0] == str(broken) and "cannot decode" in report.skipped[0][1]
    # what is wrong, without TensorFlow's op wrapping ("{{function_node __wrapped__...}}")
    assert "Unknown image file format" in report.skipped[0][1]
    assert "function_node" not in report.skipped[0][1] and "[Op:" not in report.skipped[0][1]
    assert str(broken) not in report.skipped[0][1]  # named once, in its own column (trial 4)
    with pytest.raises(DataError, match=r"broken\.png"):
        zoo.predict(out, [good, broken], strict=True)


def test_the_cli_prints_json_and_csv(
    exported: tuple[Path, Any], images: Path, tmp_path: Path
) -> None:
    """`zoo predict DIR --json` in a real process, then `--csv` and `--strict`; bad images named."""
    out, _ = exported
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    (tmp_path / "ok.png").write_bytes((images / "green" / "green_2.png").read_bytes())
    run = [sys.executable, "-m", "zoo", "predict", str(out), str(tmp_path), "-k", "2"]
    done = subprocess.run([*run, "--json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["predictions"][0]["top"][0]["label"] == "green"
    assert data["skipped"][0]["image"].endswith("broken.jpg")
    assert "broken.jpg" in done.stderr
    # the other output modes in process: one real interpreter above is enough for the wiring
    done_csv = CliRunner().invoke(main, [*run[3:], "--csv"])
    rows = list(csv.reader(io.StringIO(done_csv.stdout)))
    assert rows[0] == ["image", "rank", "label", "probability"] and len(rows) == 3
    strict = CliRunner().invoke(main, [*run[3:], "--strict"])
    assert strict.exit_code == 1 and "broken.jpg" in strict.stderr


def test_predict_takes_a_finetune_result_with_its_class_names(
    exported: tuple[Path, Any], images: Path
) -> None:
    """A FinetuneResult runs its model and names classes with result.class_names."""
    from zoo.finetune.recipe import Recipe
    from zoo.finetune.result import FinetuneResult

    _, model = exported
    backbone = zoo.Backbone.from_model(model, name="colour", provider="memory")
    result = FinetuneResult(model, backbone, Recipe(), 3, class_names=LABELS)
    report = zoo.predict(result, images / "red", top_k=1)
    labels = {Path(p.source).name: p.label for p in report.predictions}
    assert labels.pop("really_blue.png") == "blue" and set(labels.values()) == {"red"}
    assert report.kind == "keras" and len(report.predictions) == 5


def test_a_model_file_that_scales_nothing_is_said_to_get_raw_pixels(tmp_path: Path) -> None:
    """A .keras file whose image goes straight into a Conv2D does not say what range it was
    trained on: predict feeds it 0-255 and says so (not for one that scales, nor for a
    tfzoo export, whose range was settled when it was made)."""
    import warnings

    import keras

    from tests.workflows.conftest import colour_model
    from zoo.workflows.runner import open_model

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(3, 1, name="first")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    plain = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    plain.save(tmp_path / "plain.keras")
    with pytest.warns(zoo.ZooWarning, match=r"plain.keras: .*Conv2D 'first'.*preprocessing="):
        open_model(tmp_path / "plain.keras")
    colour_model().save(tmp_path / "scaled.keras")
    (tmp_path / "export").mkdir()
    plain.save(tmp_path / "export" / "model.keras")
    (tmp_path / "export" / "export_report.json").write_text("{}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        open_model(tmp_path / "scaled.keras")
        open_model(tmp_path / "export" / "model.keras")


def test_preprocessing_scales_raw_pixels_for_a_model_file_trained_on_scaled_ones(
    tmp_path: Path,
) -> None:
    """fer's emotion model is a Keras 2 file trained on [-1, 1]: ``preprocessing="tf"``
    feeds it what it was trained on, with no warning; exports and bad modes are refused."""
    import warnings

    import keras

    from zoo.workflows.runner import open_model

    inputs = keras.Input((8, 8, 3))
    dense = keras.layers.Dense(2, name="first")  # per pixel, then averaged: linear in the mean
    x = keras.layers.GlobalAveragePooling2D()(dense(inputs))
    model = keras.Model(inputs, keras.layers.Activation("softmax")(x))
    dense.set_weights([np.array([[-10.0, 10.0]] * 3), np.zeros(2)])  # dark: class 0
    model.save(tmp_path / "scaled.keras")
    dark = np.full((1, 8, 8, 3), 40.0, "float32")  # 40 -> -0.69 in [-1, 1]: class 0 ...
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)  # the mode was given: nothing to say
        runner = open_model(tmp_path / "scaled.keras", preprocessing="tf")
    assert np.argmax(runner(dark)) == 0
    with pytest.warns(zoo.ZooWarning, match="nothing in the model scales"):
        raw = open_model(tmp_path / "scaled.keras")
    assert np.argmax(raw(dark)) == 1  # ... but 40 unscaled reads as bright: class 1
    report = zoo.predict(tmp_path / "scaled.keras", dark, preprocessing="tf", top_k=1)
    assert report.predictions[0].top[0][0] == "0"

    with pytest.raises(zoo.InvalidOptionError, match="unknown preprocessing mode 'tff'"):
        open_model(tmp_path / "scaled.keras", preprocessing="tff")
    (tmp_path / "export").mkdir()
    model.save(tmp_path / "export" / "model.keras")
    (tmp_path / "export" / "export_report.json").write_text("{}")
    with pytest.raises(zoo.InvalidOptionError, match=r"tfzoo export.*scale them twice"):
        open_model(tmp_path / "export" / "model.keras", preprocessing="tf")
    with pytest.raises(zoo.InvalidOptionError, match="export is not one"):
        open_model(tmp_path / "export", preprocessing="tf")


def test_an_export_of_a_model_of_unknown_range_keeps_warning_and_takes_preprocessing(
    tmp_path: Path,
) -> None:
    """Trial 4 (fer's emotion model): `zoo export` of a file nothing scales, without
    --preprocessing, wrote files that then ran without a warning and refused the mode that
    would fix them, so every face came out "angry" at 1.000. The report now says the range
    is unknown, and the files behave like the file they came from."""
    import warnings

    import keras

    from zoo.workflows.runner import open_model

    inputs = keras.Input((8, 8, 3))
    dense = keras.layers.Dense(2, name="first")
    x = keras.layers.GlobalAveragePooling2D()(dense(inputs))
    model = keras.Model(inputs, keras.layers.Activation("softmax")(x), name="net")
    dense.set_weights([np.array([[-10.0, 10.0]] * 3), np.zeros(2)])  # dark: class 0 in [-1, 1]
    model.save(tmp_path / "net.keras")
    images = np.random.default_rng(0).uniform(0, 255, (40, 8, 8, 3)).astype("float32")
    dark = np.full((1, 8, 8, 3), 40.0, "float32")
    with pytest.warns(zoo.ZooWarning, match="nothing in the model scales"):
        report = zoo.export(tmp_path / "net.keras", tmp_path / "raw", ["tflite"], data=images)
    assert report.input_scaling == "unknown"
    assert any(n.startswith("input scaling unknown") for n in report.notes)
    assert zoo.ExportReport.read(tmp_path / "raw").input_scaling == "unknown"
    tflite = tmp_path / "raw" / "model.tflite"
    with pytest.warns(zoo.ZooWarning, match="input_scaling: unknown"):
        open_model(tflite)
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        scaled = open_model(tflite, preprocessing="tf")
        assert np.argmax(scaled(dark)) == 0  # 40 -> -0.69: dark, as the model was trained
        open_model(tmp_path / "raw", preprocessing="tf")  # the export directory too

    settled = zoo.export(
        tmp_path / "net.keras", tmp_path / "tf", ["tflite"], data=images, preprocessing="tf"
    )
    assert settled.input_scaling == "known" and not settled.notes
    with pytest.raises(zoo.InvalidOptionError, match=r"tfzoo export.*scale them twice"):
        open_model(tmp_path / "tf" / "model.tflite", preprocessing="tf")
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        assert np.argmax(open_model(tmp_path / "tf" / "model.tflite")(dark)) == 0


def test_arrays_scaled_to_unit_range_get_a_warning(tmp_path: Path) -> None:
    """Trial 4: `zoo predict MODEL arr.npy` with values in [0, 1] ran silently (doctor and
    the fine-tune say so); every runner takes raw 0-255 pixels."""
    import warnings

    import keras

    layers = [keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten()]
    model = keras.Sequential([*layers, keras.layers.Dense(2, activation="softmax")])
    model.save(tmp_path / "net.keras")
    unit = np.random.default_rng(0).uniform(0, 1, (3, 8, 8, 3)).astype("float32")
    np.save(tmp_path / "unit.npy", unit)
    with pytest.warns(zoo.ZooWarning, match=r"arrays lie in \[0.000\d*, 1\], as if scaled"):
        zoo.predict(tmp_path / "net.keras", tmp_path / "unit.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        zoo.predict(tmp_path / "net.keras", unit * 255)  # raw pixels: nothing to say
        zoo.predict(tmp_path / "net.keras", unit, preprocessing="raw")  # said so
