"""InputSpec: preprocessing presets match keras.applications, value ranges are derived."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.spec import PREPROCESSING_MODES, InputSpec, ModelSpec


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("raw", (0.0, 255.0)),
        ("unit", (0.0, 1.0)),
        ("tf", (-1.0, 1.0)),
        ("caffe", (-123.68, 151.061)),
        ("torch", (-2.117904, 2.64)),
    ],
)
def test_value_range_is_derived_from_the_numbers(mode: str, expected: tuple[float, float]) -> None:
    assert InputSpec.from_mode(mode).value_range == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_presets_match_keras_preprocess_input(mode: str) -> None:
    from keras.applications import imagenet_utils

    images = np.random.default_rng(0).uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    expected = imagenet_utils.preprocess_input(images.copy(), mode=mode)
    got = np.asarray(InputSpec.from_mode(mode, shape=(5, 5, 3)).preprocess(images))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_raw_is_identity_and_unit_divides() -> None:
    images = np.arange(12, dtype="float32").reshape(1, 2, 2, 3) * 20
    assert InputSpec().is_identity
    np.testing.assert_array_equal(np.asarray(InputSpec().preprocess(images)), images)
    np.testing.assert_allclose(
        np.asarray(InputSpec.from_mode("unit").preprocess(images)), images / 255
    )


def test_custom_preprocessing_mapping() -> None:
    spec = InputSpec.from_preprocessing({"mode": "unit", "mean": [0.5], "std": [0.5]})
    assert spec.mode == "custom"
    assert spec.value_range == (-1.0, 1.0)
    with pytest.raises(ValueError, match="unknown preprocessing keys"):
        InputSpec.from_preprocessing({"scael": 2})
    with pytest.raises(ValueError, match="unknown preprocessing mode"):
        InputSpec.from_mode("imagenet")


def test_model_spec_input_spec_layers_registry_over_provider() -> None:
    provider_default = InputSpec.from_mode("tf", shape=(299, 299, 3))
    spec = ModelSpec("m", "keras", "X", input_shape=(96, 96, 3))
    assert spec.input_spec(provider_default).shape == (96, 96, 3)
    assert spec.input_spec(provider_default).mode == "tf"
    spec = ModelSpec("m", "keras", "X", preprocessing="unit")
    assert spec.input_spec(provider_default).mode == "unit"
    assert spec.input_spec(provider_default).shape == (299, 299, 3)


def test_every_mode_is_named() -> None:
    assert set(PREPROCESSING_MODES) == {"raw", "unit", "tf", "torch", "caffe"}


def test_matches_names_and_aliases_case_insensitively() -> None:
    spec = ModelSpec("inception_v3", "keras", "InceptionV3", aliases=("InceptionV3",))
    assert spec.matches("incep*")
    assert spec.matches("INCEPTIONV3")
    assert not spec.matches("res*")
