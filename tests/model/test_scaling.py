"""``raw`` preprocessing is a guess when a saved model does not scale its own pixels: said."""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import pytest

import zoo
from zoo.model.scaling import unscaled_entry


def _net(*front: keras.layers.Layer) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            *front,
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax", name="predictions"),
        ]
    )


def test_what_counts_as_scaling_inside() -> None:
    assert unscaled_entry(_net()).name == "conv"
    # moving pixels is not scaling them: walked past
    walked = _net(
        keras.layers.Resizing(8, 8), keras.layers.RandomFlip(), keras.layers.ZeroPadding2D()
    )
    assert unscaled_entry(walked).name == "conv"
    assert unscaled_entry(_net(keras.layers.Rescaling(1 / 255))) is None
    assert unscaled_entry(_net(keras.layers.Normalization(mean=0.5, variance=0.1))) is None
    assert unscaled_entry(_net(keras.layers.BatchNormalization())) is None
    # a nested network (a keras.applications model inside a Sequential) is looked into
    inner = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None)
    outer = keras.Sequential([keras.Input((32, 32, 3)), inner, keras.layers.Dense(2)])
    assert unscaled_entry(outer).name == "Conv1"
    scaled_inner = keras.applications.EfficientNetB0(
        input_shape=(32, 32, 3), include_top=False, weights=None
    )
    assert unscaled_entry(scaled_inner) is None  # Rescaling + Normalization inside


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_unscaled_file_warns_with_the_override(isolated: Path, suffix: str) -> None:
    path = isolated / f"plain{suffix}"
    _net().save(path)
    with pytest.warns(zoo.ZooWarning, match=r"plain: nothing in the model scales.*Conv2D 'conv'"):
        backbone = zoo.load_backbone(str(path))
    assert backbone.input_spec.mode == "raw"
    assert any("preprocessing='unit' for [0, 1]" in note for note in backbone.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        quiet = zoo.load_backbone(str(path), preprocessing="raw")  # said: no guess left
        unit = zoo.load_backbone(str(path), preprocessing="unit")
    assert quiet.input_spec.mode == "raw" and unit.input_spec.mode == "unit"
    assert not any("nothing in the model scales" in note for note in quiet.notes)


def test_scaled_file_and_registry_entry_stay_quiet(isolated: Path) -> None:
    _net(keras.layers.Rescaling(1 / 255)).save(isolated / "scaled.keras")
    _net().save(isolated / "plain.keras")
    (isolated / "zoo.yaml").write_text(
        "models:\n  plain:\n    provider: local\n    source: plain.keras\n    preprocessing: unit\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        zoo.load_backbone(str(isolated / "scaled.keras"))
        assert zoo.load_backbone("plain").input_spec.mode == "unit"
