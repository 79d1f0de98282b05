"""zoo.export: every format written, run in its own runtime, and reported.

The checks here read the files back by hand (LiteRT, onnxruntime, tf.saved_model), so they
do not trust zoo.export's own verification to judge itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from tests.export.conftest import SHAPE
from tests.finetune.util import blobs
from zoo.export import FORMATS, ExportReport

ALL = list(FORMATS)


@pytest.fixture(scope="module")
def full(tiny: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[ExportReport, Path]:
    """Every format of the tiny classifier, calibrated and checked on labelled arrays."""
    x, y = blobs(160, SHAPE, seed=1)
    out = tmp_path_factory.mktemp("full")
    report = zoo.export(
        tiny, out, ALL, data=(x, y), class_names=["a", "b", "c"], timing_runs=1, samples=64
    )
    return report, out


def test_every_format_is_written_and_verified_in_its_runtime(
    full: tuple[ExportReport, Path],
) -> None:
    report, out = full
    assert report.ok and report.failed == []
    assert [f.format for f in report.formats] == ALL
    runtimes = {f.format: f.runtime.split()[0] for f in report.formats}
    assert runtimes == {
        "saved_model": "tf.saved_model",
        "keras": "keras",
        "tflite": "litert",
        "tflite_float16": "litert",
        "tflite_dynamic": "litert",
        "tflite_int8": "litert",
        "onnx": "onnxruntime",
    }
    for item in report.formats:
        path = out / FORMATS[item.format].filename
        assert item.path == str(path) and path.exists()
        assert item.status == "ok" and item.problems == []
        assert item.size_bytes and item.size_bytes > 1000
        assert 0.99 <= (item.agreement or 0) <= 1.0
        assert item.max_abs_diff is not None and item.max_abs_diff >= 0
        assert item.latency_ms_batch1 and item.latency_ms_batch1 > 0
        assert item.latency_ms_batch32 and item.latency_ms_batch32 > 0
        assert item.accuracy is not None
    for name in ("saved_model", "keras", "tflite", "onnx"):  # float formats: float rounding only
        assert report[name].max_abs_diff < 1e-4, name
    assert report.labels_known and report.samples == 64
    assert report.reference.accuracy is not None and report.reference.accuracy > 0.9
    assert report.representative == 160  # all the images, up to 5x the minimum of 100
    assert (out / "labels.txt").read_text().split() == ["a", "b", "c"]


def test_the_report_file_holds_the_same_figures(full: tuple[ExportReport, Path]) -> None:
    report, out = full
    data = json.loads((out / "export_report.json").read_text())
    assert data == report.to_dict()
    assert data["ok"] is True and data["class_names"] == ["a", "b", "c"]
    assert {f["format"] for f in data["formats"]} == set(ALL)
    assert ExportReport.read(out).to_dict() == data
    row = next(r for r in report.rows() if r[0] == "tflite_int8")
    assert row[1] == "ok" and row[2].endswith("KiB")


def test_tflite_files_are_what_their_names_say(tiny: Any, full: tuple[ExportReport, Path]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    _, out = full
    x, _ = blobs(32, SHAPE, seed=7)
    expected = tiny.predict(x, verbose=0)

    def tensor_types(name: str) -> set[str]:
        interpreter = Interpreter(model_path=str(out / name))
        return {np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}

    assert "int8" in tensor_types("model_int8.tflite")
    assert "float16" in tensor_types("model_float16.tflite")
    assert "int8" in tensor_types("model_dynamic.tflite")
    assert tensor_types("model.tflite") <= {"float32", "int32"}
    interpreter = Interpreter(model_path=str(out / "model_int8.tflite"))
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert np.dtype(inp["dtype"]) == np.float32  # raw pixels in, like every other format
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    probs = interpreter.get_tensor(outp["index"])
    assert np.mean(probs.argmax(1) == expected.argmax(1)) >= 0.9


def test_int8_keeps_the_input_scaling_and_the_softmax_in_float(tmp_path: Path) -> None:
    """Everything with weights is int8; the input's scaling before it (x / 127.5 - 1, whose
    offset the converter cannot fold into the convolution) and the softmax after it run in
    float (formats._int8), so the probabilities are not in steps of 1/256 and sum to 1, and
    zoo predict's runner keeps the float tolerance."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from tests.export.conftest import tiny_classifier
    from zoo.workflows.runner import open_model

    model = tiny_classifier(extra=keras.layers.Rescaling(2.0, offset=-1.0, name="to_unit"))
    x, y = blobs(160, SHAPE, seed=1)
    report = zoo.export(model, tmp_path, ["tflite_int8"], data=(x, y), timing_runs=0)
    assert report["tflite_int8"].status == "ok", report["tflite_int8"].problems
    interpreter = Interpreter(model_path=str(tmp_path / "model_int8.tflite"))
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]

    def dtype(op: dict[str, Any]) -> Any:
        return tensors[int(op["outputs"][0])]["dtype"]

    names = [op["op_name"] for op in ops]
    first = names.index("QUANTIZE")
    assert first >= 1 and set(names[:first]) <= {"MUL", "ADD"}  # the scaling, in float
    assert all(dtype(op) == np.float32 for op in ops[:first])
    assert names[-2:] == ["DEQUANTIZE", "SOFTMAX"] and dtype(ops[-1]) == np.float32
    weighted = [op for op in ops if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED")]
    assert len(weighted) == 2 and all(dtype(op) == np.int8 for op in weighted)
    x, _ = blobs(32, SHAPE, seed=7)
    int8 = open_model(tmp_path / "model_int8.tflite")
    assert int8.tolerance == pytest.approx(1e-3)
    probs = int8(x)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert len(np.unique(np.round(probs * 256, 3) % 1)) > 1  # not on the 1/256 grid
    assert np.abs(probs - model.predict(x, verbose=0)).max() < 0.1


def test_predict_reads_int8_probabilities_as_probabilities(
    tiny: Any, full: tuple[ExportReport, Path], tmp_path: Path
) -> None:
    """A file with an int8 softmax (what a plain TFLite conversion writes) gives steps of
    1/256: its rows may sum to 1 +- classes/512. zoo predict's runner allows that much (a
    float file keeps 1e-3), so it neither warns nor softmaxes the probabilities a second
    time (which turned 0.68 into 0.46)."""
    import warnings

    import tensorflow as tf

    import zoo
    from zoo.workflows.runner import open_model

    _, out = full
    x, _ = blobs(32, SHAPE, seed=7)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(out / FORMATS["saved_model"].filename), signature_keys=["serve"]
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[i : i + 1]] for i in range(len(x)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    path = tmp_path / "plain_int8.tflite"
    path.write_bytes(converter.convert())
    int8 = open_model(path)
    assert int8.tolerance == pytest.approx(3 * (1 / 256) / 2 + 1e-3)
    assert open_model(out / "model.tflite").tolerance == pytest.approx(1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        probs = int8(x)
    np.testing.assert_array_equal(probs, np.asarray(int8.call(x), dtype="float64"))  # as given
    assert np.abs(probs - tiny.predict(x, verbose=0)).max() < 0.1


def test_onnx_file_runs_in_onnxruntime(tiny: Any, full: tuple[ExportReport, Path]) -> None:
    import onnxruntime as ort

    _, out = full
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "image"
    x, _ = blobs(5, SHAPE, seed=3)
    (probs,) = session.run(None, {"image": x})
    np.testing.assert_allclose(probs, tiny.predict(x, verbose=0), atol=1e-4)


def test_saved_model_serves_pixels_and_encoded_images(
    tiny: Any, full: tuple[ExportReport, Path]
) -> None:
    import tensorflow as tf

    _, out = full
    loaded = tf.saved_model.load(str(out / "saved_model"))
    assert {"serving_default", "serving_bytes", "serve"} <= set(loaded.signatures)
    x, _ = blobs(4, SHAPE, seed=4)
    pixels = np.clip(x, 0, 255).astype("uint8")
    served = loaded.signatures["serving_default"](image=tf.constant(pixels.astype("float32")))
    np.testing.assert_allclose(
        served["probabilities"], tiny.predict(pixels.astype("float32"), verbose=0), atol=1e-5
    )
    assert np.asarray(served["classes"]).tolist() == [[b"a", b"b", b"c"]] * 4
    png = [tf.io.encode_png(p).numpy() for p in pixels]
    jpeg = [tf.io.encode_jpeg(p, quality=95).numpy() for p in pixels]
    decoded = np.stack([tf.io.decode_jpeg(j).numpy() for j in jpeg]).astype("float32")
    for encoded, seen in ((png, pixels.astype("float32")), (jpeg, decoded)):
        result = loaded.signatures["serving_bytes"](image_bytes=tf.constant(encoded))
        np.testing.assert_allclose(
            result["probabilities"], tiny.predict(seen, verbose=0), atol=1e-5
        )
        assert np.asarray(result["classes"]).shape == (4, 3)
    # a bigger photo is resized to the model's input inside the signature
    big = tf.io.encode_png(np.full((40, 30, 3), 200, "uint8")).numpy()
    result = loaded.signatures["serving_bytes"](image_bytes=tf.constant([big]))
    assert np.asarray(result["probabilities"]).shape == (1, 3)


def test_class_folders_give_samples_labels_and_names(tiny: Any, tmp_path: Path) -> None:
    from tests.export.conftest import write_class_folders

    photos = write_class_folders(tmp_path / "photos", 6)
    report = zoo.export(tiny, tmp_path / "out", ["keras"], validation_data=photos, timing_runs=0)
    assert report.class_names == ["a", "b", "c"] and report.labels_known
    assert report.samples == 18 and report.sample_source == f"directory {photos}"
    assert report["keras"].latency_ms_batch1 is None  # timing_runs=0: no timing
    assert (tmp_path / "out" / "labels.txt").read_text().split() == ["a", "b", "c"]

    # only training data: the check runs on training images, and the report says so (an
    # accuracy there is not a held-out figure; found on a fine-tune without --val)
    trained_on = zoo.export(tiny, tmp_path / "out2", ["keras"], data=photos, timing_runs=0)
    assert trained_on.sample_source == f"training images, no validation data: directory {photos}"


def test_without_data_the_files_are_compared_on_noise(tiny: Any, tmp_path: Path) -> None:
    report = zoo.export(tiny, tmp_path / "out", ["tflite"], timing_runs=0)
    assert report.ok and not report.labels_known and report["tflite"].accuracy is None
    assert report.sample_source.startswith("uniform noise") and report.samples == 64
    assert report.class_names == ["0", "1", "2"]
    assert not (tmp_path / "out" / "labels.txt").exists()  # nobody named the classes


def test_write_only(tiny: Any, tmp_path: Path) -> None:
    report = zoo.export(tiny, tmp_path / "out", ["tflite", "onnx"], verify=False)
    assert [f.status for f in report.formats] == ["unverified", "unverified"]
    assert report.ok and report["onnx"].agreement is None
    assert (tmp_path / "out" / "model.onnx").stat().st_size > 1000


def test_exports_from_a_finetune_result_and_a_model_file(tiny: Any, tmp_path: Path) -> None:
    """zoo.export takes a model file; labels.txt beside it names the classes."""
    tiny.save(tmp_path / "tiny.keras")
    (tmp_path / "labels.txt").write_text("x\ny\nz\n")
    report = zoo.export(tmp_path / "tiny.keras", tmp_path / "out", "onnx", timing_runs=0)
    assert report.ok and report.class_names == ["x", "y", "z"]


def test_recipe_takes_the_new_format_names() -> None:
    recipe = zoo.Recipe(export_formats=["onnx", "tflite_int8", "tflite_float16"])
    assert recipe.export_formats == ("onnx", "tflite_int8", "tflite_float16")
    with pytest.raises(zoo.InvalidOptionError, match="tflite_int8"):
        zoo.Recipe(export_formats=["tflite8"])


@pytest.mark.parametrize("debugger", ["missing", "fails"])
def test_int8_without_selective_quantization_converts_plainly(
    tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debugger: str
) -> None:
    """A TensorFlow without the quantization debugger, or one where it fails, still writes a
    verified int8 file: the plain conversion's (int8 softmax included)."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    def broken(**kwargs: Any) -> None:
        kwargs["converter"]._experimental_calibrate_only = True  # what the real one sets first
        raise RuntimeError("debugger failed")

    if debugger == "missing":
        monkeypatch.delattr(tf.lite.experimental, "QuantizationDebugger")
    else:
        monkeypatch.setattr(tf.lite.experimental, "QuantizationDebugger", broken)
    x, y = blobs(160, SHAPE, seed=1)
    report = zoo.export(tiny, tmp_path, ["tflite_int8"], data=(x, y), timing_runs=0)
    assert report["tflite_int8"].status == "ok", report["tflite_int8"].problems
    interpreter = Interpreter(model_path=str(tmp_path / "model_int8.tflite"))
    names = [op["op_name"] for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
    assert names[-2:] == ["SOFTMAX", "DEQUANTIZE"]  # the int8 softmax of a plain conversion


def test_a_backbone_exports_with_its_preprocessing(tiny: Any, tmp_path: Path) -> None:
    """Every format takes raw pixels: a Backbone (or a model file) whose input_spec scales
    them is exported with that scaling in front of its model, not its bare model (which
    would read raw pixels as scaled ones, silently)."""
    import keras

    path = tmp_path / "tiny.keras"
    tiny.save(path)
    backbone = zoo.load_backbone(str(path), preprocessing="tf")  # x / 127.5 - 1 first
    assert not backbone.input_spec.is_identity
    x, y = blobs(16, SHAPE, seed=5)
    report = zoo.export(backbone, tmp_path / "out", ["keras"], data=(x, y), timing_runs=0)
    assert report.ok
    exported = keras.saving.load_model(tmp_path / "out" / "model.keras")
    want = np.asarray(backbone.model(backbone.preprocess(x), training=False))
    got = np.asarray(exported(x, training=False))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(np.asarray(backbone.model(x, training=False)) - want).max() > 1e-2
