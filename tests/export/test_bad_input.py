"""zoo.export on bad input: ops a format cannot express, too few calibration images, a file
outside its tolerance, missing optional runtimes, bad names. Never a silent bad model."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import keras
import pytest
import tensorflow as tf

import zoo
from tests.export.conftest import SHAPE, tiny_classifier, write_class_folders
from tests.finetune.util import blobs


@keras.saving.register_keras_serializable(package="tests_export")
class Determinant(keras.layers.Layer):
    """Scales the image by the determinant of a 2x2 patch: tf.linalg.det, which TFLite lacks."""

    def call(self, x: Any) -> Any:
        patch = tf.reshape(x[:, :2, :2, 0], (-1, 2, 2))
        return x * (1.0 + tf.reshape(tf.linalg.det(patch), (-1, 1, 1, 1)))


@keras.saving.register_keras_serializable(package="tests_export")
class Igamma(keras.layers.Layer):
    """tf.math.igamma: tf2onnx has no conversion for it."""

    def call(self, x: Any) -> Any:
        return tf.math.igamma(x + 1.0, x + 1.0)


def test_an_op_tflite_cannot_express_names_it_and_the_other_formats_are_written(
    tmp_path: Path,
) -> None:
    model = tiny_classifier(Determinant())
    out = tmp_path / "out"
    with pytest.raises(zoo.UnsupportedOpError) as info:
        zoo.export(model, out, ["saved_model", "keras", "tflite", "onnx"], timing_runs=0)
    err = info.value
    assert err.ops == ["MatrixDeterminant"] and err.format == "tflite"
    assert err.working == ["saved_model", "keras", "onnx"]
    assert "MatrixDeterminant" in str(err) and "saved_model, keras, onnx" in str(err)
    assert (out / "saved_model" / "saved_model.pb").is_file()
    assert (out / "model.keras").is_file() and (out / "model.onnx").is_file()
    assert not (out / "model.tflite").exists()
    report = json.loads((out / "export_report.json").read_text())
    status = {f["format"]: f["status"] for f in report["formats"]}
    assert status == {"saved_model": "ok", "keras": "ok", "tflite": "error", "onnx": "ok"}
    assert report["ok"] is False and report["failed"] == ["tflite"]


def test_an_op_onnx_cannot_express_is_refused_not_left_in_the_graph(tmp_path: Path) -> None:
    """tf2onnx only logs an op it cannot convert and keeps it: the file would not load."""
    model = tiny_classifier(Igamma())
    with pytest.raises(zoo.UnsupportedOpError, match="onnx cannot express the op Igamma") as info:
        zoo.export(model, tmp_path / "out", ["keras", "onnx"], timing_runs=0)
    assert info.value.ops == ["Igamma"] and info.value.working == ["keras"]
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_too_few_representative_images_for_int8_says_how_many(tiny: Any, tmp_path: Path) -> None:
    x, y = blobs(12, SHAPE)
    with pytest.raises(zoo.ExportError, match="at least 100 representative images") as info:
        zoo.export(tiny, tmp_path / "out", ["tflite", "tflite_int8"], data=(x, y))
    assert "received 12" in str(info.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written
    with pytest.raises(zoo.ExportError, match="received 0"):
        zoo.export(tiny, tmp_path / "out", ["tflite_int8"])  # no data at all
    report = zoo.export(
        tiny, tmp_path / "out", ["tflite_int8"], data=(x, y), representative=12, timing_runs=0
    )
    assert report.representative == 12 and report["tflite_int8"].path


def test_an_undecodable_image_in_the_data_folder_is_skipped_and_named(
    tiny: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """User trial: one damaged file in --data stopped zoo export with "unexpected
    InvalidArgumentError: Unknown image file format" naming no file. It is skipped with a
    warning naming it; int8 calibrates on the rest. The converter's and LiteRT's C++ lines
    ("fully_quantize: 0, ...", "Created TensorFlow Lite XNNPACK delegate") are not printed."""
    data = write_class_folders(tmp_path / "data", 40)
    bad = data / "b" / "damaged.png"
    bad.write_bytes(b"\x89PNG not really")
    capfd.readouterr()
    with pytest.warns(zoo.ZooWarning, match=r"export data: skipping 1 image\(s\).*damaged\.png"):
        report = zoo.export(tiny, tmp_path / "out", ["tflite_int8"], data=str(data), timing_runs=1)
    assert report.representative == 120 and report["tflite_int8"].status == "ok"
    err = capfd.readouterr().err
    assert "fully_quantize" not in err and "XNNPACK delegate" not in err


def test_a_fine_tune_with_too_few_images_for_int8_keeps_its_other_formats(
    tmp_path: Path,
) -> None:
    """120 images, 96 after the validation split, streamed (cache_memory_limit=1: not held as
    arrays): the fine-tune's check before training sees the dataset's upper bound (2 batches
    of 64: 128) and lets it train; the export then
    refuses int8 (96 < 100) but still writes and checks the float file, so the trained model
    is not lost (zoo.export(write_others=True))."""
    from tests.export.conftest import write_class_folders

    folders = write_class_folders(tmp_path / "photos", 40)
    model = tmp_path / "tiny.keras"
    tiny_classifier().save(model)
    out = tmp_path / "out"
    with pytest.warns(zoo.ZooWarning, match="at least 100 representative images"):
        result = zoo.finetune(
            str(model), str(folders), recipe="classic", epochs=1, batch_size=64,
            validation_split=0.2, export_dir=str(out), cache_memory_limit=1,
            export_formats=("tflite", "tflite_int8"), verbose=0,
        )  # fmt: skip
    assert "received 96" in result.export_error and "were written: tflite" in result.export_error
    report = result.export_report
    assert report is not None and report["tflite"].status == "ok"
    assert report["tflite_int8"].status == "error" and report["tflite_int8"].path is None
    assert (out / "model.tflite").is_file() and not (out / "model_int8.tflite").exists()
    with pytest.raises(zoo.ExportError, match="received 12"):  # alone: nothing is written
        zoo.export(str(model), tmp_path / "alone", ["tflite", "tflite_int8"], data=blobs(12, SHAPE))
    assert not (tmp_path / "alone").exists()


def test_outside_tolerance_is_written_marked_failed_and_warned(tiny: Any, tmp_path: Path) -> None:
    x, y = blobs(120, SHAPE)
    with pytest.warns(zoo.ZooWarning, match="verification failed for tflite_int8"):
        report = zoo.export(
            tiny,
            tmp_path / "out",
            ["tflite", "tflite_int8"],
            data=(x, y),
            tolerances={"tflite_int8": {"max_abs_diff": 0.0}},
            timing_runs=0,
        )
    assert not report.ok and report.failed == ["tflite_int8"]
    assert report["tflite"].status == "ok"
    item = report["tflite_int8"]
    assert item.status == "failed" and "max |Δp|" in item.problems[0]
    assert item.tolerance["max_abs_diff"] == 0.0
    assert Path(item.path or "").is_file()  # still written
    assert json.loads((tmp_path / "out" / "export_report.json").read_text())["ok"] is False


def test_bad_names_and_shapes(tiny: Any, tmp_path: Path) -> None:
    with pytest.raises(zoo.InvalidOptionError, match="tflite_int8"):
        zoo.export(tiny, tmp_path / "o", ["tflite8"])
    with pytest.raises(zoo.InvalidOptionError, match="unknown keys"):
        zoo.export(tiny, tmp_path / "o", ["tflite"], tolerances={"tflite": {"diff": 1.0}})
    with pytest.raises(zoo.InvalidOptionError, match=r"shaped \(N, 16, 16, 3\)"):
        zoo.export(tiny, tmp_path / "o", ["tflite"], data=blobs(8, (8, 8, 3))[0])
    with pytest.raises(zoo.InvalidOptionError, match="3 outputs, received 2 names"):
        zoo.export(tiny, tmp_path / "o", ["keras"], class_names=["a", "b"])
    features = keras.Sequential([keras.Input(SHAPE), keras.layers.Conv2D(2, 3)])
    with pytest.raises(zoo.InvalidOptionError, match="one \\(N, K\\) output"):
        zoo.export(features, tmp_path / "o", ["keras"])


_BLOCKED = textwrap.dedent(
    """
    import sys, warnings
    for name in sys.argv[2:]:
        sys.modules[name] = None  # import of it raises ImportError, as if not installed
    import keras, zoo
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    fmt = sys.argv[1]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            report = zoo.export(model, "out", [fmt], timing_runs=0)
        except zoo.MissingDependencyError as exc:
            print("MISSING", exc)
            sys.exit(0)
    print("RUNTIME", report[fmt].runtime, report.ok)
    print("WARNED", [str(w.message) for w in seen if issubclass(w.category, zoo.ZooWarning)])
    """
)


def _blocked(tmp_path: Path, fmt: str, *modules: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _BLOCKED, fmt, *modules],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("module", ["tf2onnx", "onnxruntime"])
def test_a_missing_onnx_runtime_names_the_pip_line(tmp_path: Path, module: str) -> None:
    out = _blocked(tmp_path, "onnx", module)
    assert "MISSING" in out and "pip install 'tfzoo[export]'" in out and module in out
    assert not (tmp_path / "out").exists()  # said before anything was written


def test_without_litert_tflite_is_checked_in_tf_lite_with_a_warning(tmp_path: Path) -> None:
    out = _blocked(tmp_path, "tflite", "ai_edge_litert", "ai_edge_litert.interpreter")
    assert "RUNTIME tf.lite" in out and "True" in out
    assert "ai-edge-litert is not installed" in out and "tfzoo[export]" in out
