"""Export round trips from zoo.finetune: SavedModel, .keras and TFLite give the model's own
predictions when read back by hand (not through zoo.export's own verification)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import zoo
from tests.finetune.util import FAST, blobs, fixed_backbone


def _tflite_predict(path: Path, x: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_path=str(path))
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(out["index"]))


def test_every_format_reloads_and_predicts_the_same(tmp_path: Path) -> None:
    x, y = blobs(48, (12, 12, 1))  # grayscale at another size: resize and RGB inside
    words = np.array(["a", "b", "c"])[y]
    result = zoo.finetune(
        fixed_backbone(), (x, words), epochs=2, export_dir=tmp_path / "out", **FAST
    )
    paths = result.exports
    assert set(paths) == {"saved_model", "keras", "tflite", "labels", "report"}
    assert result.export_report is not None and result.export_report.ok
    assert paths["labels"].read_text().split() == ["a", "b", "c"]
    probe = x[:6]
    expected = result.model.predict(probe, verbose=0)

    reloaded = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(reloaded.predict(probe, verbose=0), expected, atol=1e-5)
    assert {"resize", "channels", "preprocess"} <= {layer.name for layer in reloaded.layers}

    served = tf.saved_model.load(str(paths["saved_model"]))
    np.testing.assert_allclose(np.asarray(served.serve(tf.constant(probe))), expected, atol=1e-5)

    np.testing.assert_allclose(_tflite_predict(paths["tflite"], probe), expected, atol=1e-4)
    export = result.phase("export")
    assert export is not None and export.seconds > 0


def test_only_the_formats_asked_for(tmp_path: Path) -> None:
    x, y = blobs(32)
    result = zoo.finetune(
        fixed_backbone(),
        (x, y),
        epochs=1,
        export_dir=tmp_path / "out",
        export_formats=["tflite"],
        **FAST,
    )
    assert set(result.exports) == {"tflite", "report"}  # class ids without names: no labels
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "export_report.json",
        "model.tflite",
        "recipe.yaml",
    ]
    np.testing.assert_allclose(
        _tflite_predict(result.exports["tflite"], x[:3]),
        result.model.predict(x[:3], verbose=0),
        atol=1e-4,
    )
