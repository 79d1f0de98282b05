"""Export round trips from zoo.finetune: SavedModel, .keras and TFLite give the model's own
predictions when read back by hand (not through zoo.export's own verification)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import zoo
from tests.finetune.util import FAST, blobs, fixed_backbone, small_cnn


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


_PLAIN_KERAS = """
import sys
import keras
import numpy as np
model = keras.saving.load_model(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
assert not [m for m in sys.modules if m == "zoo" or m.startswith("zoo.")], "tfzoo was imported"
"""


def test_the_keras_file_loads_in_plain_keras_without_tfzoo(tmp_path: Path) -> None:
    """`model.keras` is run "with keras.saving.load_model" (docs/finetune.md): in a process
    that never imports tfzoo. Before, it held tfzoo's Preprocess and ConvertChannels layers,
    and Keras refused it there ("Could not locate class 'Preprocess'"). Grayscale images
    into an RGB network in caffe mode: the channel repeat, the RGB -> BGR swap and the
    per-channel mean all become Keras layers, computing the same numbers."""
    x, y = blobs(48, (12, 12, 1))
    source = tmp_path / "net.keras"
    small_cnn().save(source)
    result = zoo.finetune(
        str(source), (x, y), preprocessing="caffe", epochs=1, export_dir=tmp_path / "out", **FAST
    )
    assert {"channels", "preprocess"} <= {layer.name for layer in result.model.layers}
    probe = tmp_path / "x.npy"
    np.save(probe, x[:8])
    out = tmp_path / "p.npy"
    keras_file = str(result.exports["keras"])
    done = subprocess.run(
        [sys.executable, "-c", _PLAIN_KERAS, keras_file, str(probe), str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(out), result.model.predict(x[:8], verbose=0), atol=1e-6)
    assert result.export_report is not None and result.export_report.ok
    # read back by tfzoo, the frozen 1x1 convolutions are its own channel map and scaling,
    # not a network that takes unscaled pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        backbone = zoo.load_backbone(keras_file)
    assert backbone.input_spec.mode == "raw"


def test_an_export_of_a_model_file_reads_back_with_its_classifier_and_labels(
    tmp_path: Path,
) -> None:
    """`zoo export net.keras out` wrapped the whole file's model as one nested layer, so
    `zoo info --load out/model.keras` said "no classifier found at the output" and gave the
    probabilities as the features (with labels None beside the labels.txt the export wrote).
    The export is now one flat graph of the same layers; its labels.txt is read back."""
    source = tmp_path / "net.keras"
    net = small_cnn(classes=3)
    net.save(source)
    x, _ = blobs(24)
    out = tmp_path / "out"
    report = zoo.export(
        str(source), out, ["keras"], preprocessing="unit", class_names=["ant", "bee", "cat"],
        data=x, timing_runs=0,
    )  # fmt: skip
    assert report.ok
    exported = keras.saving.load_model(out / "model.keras")
    assert not any(isinstance(layer, keras.Model) for layer in exported.layers)  # flat
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)  # no "no classifier found"
        backbone = zoo.load_backbone(str(out / "model.keras"))
    assert backbone.classifier is not None and backbone.classifier.name == "predictions"
    assert backbone.feature_layer == "gap"
    assert backbone.labels == ("ant", "bee", "cat")
    assert backbone.input_spec.mode == "raw"  # the export's Rescaling: it takes raw pixels
    np.testing.assert_allclose(
        exported.predict(x, verbose=0), net.predict(x / 255.0, verbose=0), atol=1e-6
    )


def test_a_labels_file_that_does_not_fit_the_classifier_is_dropped_out_loud(
    tmp_path: Path,
) -> None:
    """A labels.txt beside a model file with another number of names than the classifier
    has classes was dropped with no word: the classes came out numbered and nobody said why."""
    source = tmp_path / "net.keras"
    small_cnn(classes=3).save(source)
    (tmp_path / "labels.txt").write_text("ant\nbee\ncat\ndog\n", encoding="utf8")
    with pytest.warns(zoo.ZooWarning, match="4 class names for a classifier of 3 classes"):
        backbone = zoo.load_backbone(str(source), preprocessing="unit")
    assert backbone.labels is None
    assert backbone.num_classes == 3
