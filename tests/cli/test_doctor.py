"""`zoo doctor`: the preprocessing-contract check on a real photo or the user's image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zoo.model.doctor import diagnose, load_image, reference_image

from .conftest import Zoo

TINY = ("-o", "weights=null", "-o", "input_shape=[32,32,3]")


def test_reference_photo_is_real() -> None:
    image, _source = reference_image()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3
    assert image.shape[0] > 100 and image.std() > 20  # a photo, not a blank


def test_doctor_default_image_reports_the_contract(zoo_cli: Zoo) -> None:
    data = zoo_cli.json("doctor", "mobilenet_v2", *TINY)
    assert data["expects"]["mode"] == "tf" and data["expects"]["value_range"] == [-1.0, 1.0]
    assert data["image"]["kind"] == "raw [0, 255]" and data["image"]["dtype"] == "uint8"
    seen = data["network_input"]
    assert seen["shape"] == [32, 32, 3] and -1.0 <= seen["min"] < seen["max"] <= 1.0
    assert data["features"]["dim"] == 1280 and data["features"]["finite"]
    assert [f["level"] for f in data["findings"]].count("warn") == 0
    scaled = next(m for m in data["mistakes"] if "[0, 1]" in m["mistake"])
    assert scaled["network_sees"][1] < -0.99  # [0,1] data into a [-1,1] net is nearly constant
    text = zoo_cli("doctor", "mobilenet_v2", *TINY).stdout
    assert "preprocessing tf" in text and "images scaled to [0, 1]" in text


def test_doctor_warns_on_data_already_scaled(zoo_cli: Zoo, tmp_path: Path) -> None:
    image, _ = reference_image()
    path = tmp_path / "scaled.npy"
    np.save(path, image.astype("float32") / 255.0)
    result = zoo_cli(
        "doctor",
        "inception_v3",
        "-o",
        "weights=null",
        "-o",
        "input_shape=[75,75,3]",
        "--image",
        str(path),
        "--strict",
        code=1,
    )
    assert "unit [0, 1] values" in result.stdout and "warn" in result.stdout


def test_doctor_warns_on_double_preprocessing_of_efficientnet(tmp_path: Path) -> None:
    import zoo

    backbone = zoo.load_backbone("efficientnet_b0", weights=None, input_shape=(32, 32, 3))
    image, _ = reference_image()
    signed = image.astype("float32") / 127.5 - 1.0  # what preprocess_input(mode="tf") gives
    report = diagnose(backbone, signed, "signed")
    assert any("normalizes inside its graph" in w for w in report.warnings)
    assert any("signed [-1, 1]" in w for w in report.warnings)


def test_doctor_caffe_mode_explains_bgr(zoo_cli: Zoo) -> None:
    data = zoo_cli.json("doctor", "vgg16", *TINY)
    assert data["expects"]["channel_order"] == "bgr"
    assert any("BGR" in f["message"] and f["level"] == "info" for f in data["findings"])
    bgr = next(m for m in data["mistakes"] if "BGR" in m["mistake"])
    assert bgr["mean"] != data["network_input"]["mean"]


def test_doctor_with_an_image_file_and_grayscale(zoo_cli: Zoo, tmp_path: Path) -> None:
    import tensorflow as tf

    gray = (np.arange(40 * 50) % 256).astype("uint8").reshape(40, 50, 1)
    path = tmp_path / "gray.png"
    path.write_bytes(tf.io.encode_png(gray).numpy())
    assert load_image(path).shape == (40, 50, 1)
    data = zoo_cli.json("doctor", "resnet50", *TINY, "--image", str(path))
    messages = [f["message"] for f in data["findings"]]
    assert any("grayscale image: replicated" in m for m in messages)
    assert any("resized from 40x50" in m for m in messages)


def test_doctor_bad_inputs(zoo_cli: Zoo, tmp_path: Path) -> None:
    assert (
        "image not found"
        in zoo_cli("doctor", "vgg16", *TINY, "--image", str(tmp_path / "x.png"), code=1).stderr
    )
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    assert "not an image" in zoo_cli("doctor", "vgg16", *TINY, "--image", str(junk), code=1).stderr
    assert "unknown model" in zoo_cli("doctor", "nope", code=1).stderr
    with pytest.raises(Exception, match="channels"):
        import zoo

        diagnose(
            zoo.load_backbone("vgg16", weights=None, input_shape=(32, 32, 3)),
            np.zeros((8, 8, 2), "uint8"),
        )


def test_doctor_strict_fails_a_model_file_of_unknown_range(zoo_cli: Zoo, tmp_path: Path) -> None:
    """Trial 4: `zoo doctor emotion_model.hdf5 --strict` passed (exit 0, "ok" only): the
    one thing doctor is for, a range nothing in the file says, went to stderr alone."""
    import keras

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, name="first")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    keras.Model(inputs, outputs).save(tmp_path / "net.keras")
    result = zoo_cli("doctor", str(tmp_path / "net.keras"), "--strict", "--json", code=1)
    data = json.loads(result.stdout)
    unknown = [f for f in data["findings"] if "scales its input" in f["message"]]
    assert unknown and unknown[0]["level"] == "warn"
    assert "-o preprocessing=unit|tf|torch|caffe" in unknown[0]["message"]
    said = zoo_cli.json("doctor", str(tmp_path / "net.keras"), "-o", "preprocessing=tf")
    assert not [f for f in said["findings"] if "scales its input" in f["message"]]
    text = zoo_cli("doctor", str(tmp_path / "net.keras"), "-o", "preprocessing=tf").stdout
    assert "preprocessing tf (grayscale)" in text  # a 1-channel input is not "(RGB)"
