"""Loading KerasHub backbones through tfzoo: preset directories, classes, errors, offline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import zoo
from keras_hub_helpers import TINY_RESNET, images, save_tiny_preset
from zoo.plugin_api import (
    FetchError,
    InvalidModelError,
    InvalidOptionError,
    OfflineError,
    SourceNotFoundError,
    ZooWarning,
)
from zoo.testing import check_backbone


def _reference_features(preset: Path, x: np.ndarray) -> np.ndarray:
    """The saved backbone's own output, mean-pooled, on KerasHub's own preprocessing."""
    import keras_hub

    backbone = keras_hub.models.Backbone.from_preset(str(preset))
    converter = keras_hub.layers.ImageConverter.from_preset(str(preset))
    return np.asarray(backbone(converter(x))).mean(axis=(1, 2))


def test_preset_directory_loads_keeps_the_contract_and_the_weights(saved_preset: Path) -> None:
    backbone = zoo.load_backbone(str(saved_preset))
    assert backbone.provider == "keras_hub" and backbone.name == "tiny_resnet"
    spec = backbone.input_spec
    assert spec.shape == (32, 32, 3)  # the converter's image_size, on a free-size ResNet
    assert spec.mode == "torch"  # ImageNet mean/std recognized from the converter's numbers
    assert backbone.feature_dim == 16 and backbone.classifier is None
    result = check_backbone(backbone)
    assert result["feature_maps"] == {"P2": (2, 8, 8, 64), "P3": (2, 4, 4, 16)}
    x = images()
    ours = backbone.extract(x)
    np.testing.assert_allclose(ours, _reference_features(saved_preset, x), rtol=1e-4, atol=1e-4)


def test_random_init_and_input_shape_override(saved_preset: Path) -> None:
    x = images(2)
    trained = zoo.load_backbone(str(saved_preset)).extract(x)
    fresh = zoo.load_backbone(str(saved_preset), weights=None)
    assert fresh.input_spec.mode == "torch"  # the converter still tells the preprocessing
    assert not np.allclose(fresh.extract(x), trained)  # but the weights are new
    bigger = zoo.load_backbone(str(saved_preset), input_shape=(48, 48, 3))
    assert bigger.input_spec.shape == (48, 48, 3)
    assert bigger.extract(images(2, size=48)).shape == (2, 16)


def test_class_with_architecture_arguments(tmp_path: Path) -> None:
    backbone = zoo.load_backbone(
        "keras_hub:ResNetBackbone", weights=None, input_shape=(32, 32, 3), **TINY_RESNET
    )
    assert backbone.input_spec.shape == (32, 32, 3) and backbone.input_spec.mode == "raw"
    assert backbone.feature_dim == 16 and backbone.feature_maps is not None
    check_backbone(backbone)
    # a local weights file loads into the same architecture
    weights = tmp_path / "tiny.weights.h5"
    backbone.model.save_weights(str(weights))  # type: ignore[union-attr]
    again = zoo.load_backbone(
        "keras_hub:ResNetBackbone", weights=str(weights), input_shape=(32, 32, 3), **TINY_RESNET
    )
    np.testing.assert_allclose(again.extract(images(2)), backbone.extract(images(2)), rtol=1e-5)


def test_class_argument_errors_are_clear() -> None:
    with pytest.raises(InvalidOptionError, match="did you mean 'stackwise_num_filters'"):
        zoo.load_backbone(
            "keras_hub:ResNetBackbone",
            weights=None,
            **{**TINY_RESNET, "stackwise_num_filter": [64]},  # not taken by ResNetBackbone
        )
    with pytest.raises(InvalidOptionError, match=r"refused the arguments.*block_type"):
        zoo.load_backbone("keras_hub:ResNetBackbone", weights=None, block_type="basic_block")
    with pytest.raises(SourceNotFoundError, match="did you mean 'ResNetBackbone'"):
        zoo.load_backbone("keras_hub:ResnetBackbone", weights=None)
    with pytest.raises(InvalidOptionError, match="received 'preset'"):
        zoo.load_backbone("keras_hub:ResNetBackbone", weights="preset", **TINY_RESNET)
    with pytest.raises(InvalidOptionError, match="pooling must be one of"):
        zoo.load_backbone("keras_hub:ResNetBackbone", weights=None, pooling="mean")


def test_vit_features_are_the_class_token() -> None:
    vit = {"patch_size": 8, "num_layers": 1, "num_heads": 2, "hidden_dim": 16, "mlp_dim": 16}
    backbone = zoo.load_backbone(
        "keras_hub:ViTBackbone", weights=None, input_shape=(32, 32, 3), **vit
    )
    assert backbone.feature_dim == 16 and backbone.feature_maps is None
    x = backbone.preprocess(images(2))
    tokens = backbone.features.get_layer("class_token").input  # (batch, 1 + patches, dim)
    sequence = keras.Model(backbone.features.inputs, tokens)
    np.testing.assert_allclose(
        np.asarray(backbone.features(x)), np.asarray(sequence(x))[:, 0], rtol=1e-5
    )
    check_backbone(backbone, train_step=False)
    mean = zoo.load_backbone(
        "keras_hub:ViTBackbone", weights=None, input_shape=(32, 32, 3), pooling="avg", **vit
    )
    assert mean.feature_dim == 16
    with pytest.raises(InvalidOptionError, match="pooling='token' needs a token sequence"):
        zoo.load_backbone("keras_hub:ResNetBackbone", weights=None, pooling="token", **TINY_RESNET)


def test_damaged_config_gives_a_clear_error(preset_copy: Path) -> None:
    config = preset_copy / "config.json"
    good = json.loads(config.read_text())
    config.write_text('{"module": "keras_hub", "class_name": ')  # truncated
    with pytest.raises(InvalidModelError, match=r"config\.json is not valid JSON") as info:
        zoo.load_backbone(str(preset_copy))
    assert info.value.provider == "keras_hub"
    config.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(InvalidModelError, match="not a KerasHub preset config"):
        zoo.load_backbone(str(preset_copy))
    config.write_text(json.dumps({**good, "registered_name": "keras_hub>NoSuchBackbone"}))
    with pytest.raises(InvalidModelError, match="'keras_hub>NoSuchBackbone', which is not"):
        zoo.load_backbone(str(preset_copy))
    config.write_text(json.dumps({**good, "config": {**good["config"], "block_type": 7}}))
    with pytest.raises(InvalidModelError, match="cannot be loaded"):
        zoo.load_backbone(str(preset_copy))


def test_damaged_or_missing_weights_and_converter(preset_copy: Path) -> None:
    weights = preset_copy / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:200])  # truncated HDF5
    with pytest.raises(InvalidModelError, match="cannot be loaded"):
        zoo.load_backbone(str(preset_copy))
    assert zoo.load_backbone(str(preset_copy), weights=None).feature_dim == 16  # no weights read
    weights.unlink()
    with pytest.raises(InvalidModelError, match=r"model\.weights\.h5"):
        zoo.load_backbone(f"keras_hub:{preset_copy}")
    (preset_copy / "image_converter.json").write_text("[1, 2")
    with pytest.raises(InvalidModelError, match="image converter is damaged"):
        zoo.load_backbone(str(preset_copy), weights=None)


def test_preset_without_converter_warns_and_takes_raw_pixels(tmp_path: Path) -> None:
    path = tmp_path / "bare"
    save_tiny_preset(path, converter=False)
    with pytest.warns(ZooWarning, match="has no image converter"):
        backbone = zoo.load_backbone(str(path))
    assert backbone.input_spec.mode == "raw" and backbone.input_spec.shape == (None, None, 3)
    given = zoo.load_backbone(str(path), preprocessing="unit", input_shape=(32, 32, 3))
    assert given.input_spec.mode == "unit"  # no warning when the user says it


def test_directory_that_is_not_a_preset(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidModelError, match=r"has no config\.json"):
        zoo.load_backbone(f"keras_hub:{tmp_path / 'empty'}")
    with pytest.raises(SourceNotFoundError, match="no KerasHub preset directory"):
        zoo.load_backbone("keras_hub:./missing_dir")


def test_unknown_and_non_image_preset_names_fail_before_any_download(
    loopback_only: list[str],
) -> None:
    with pytest.raises(SourceNotFoundError, match="did you mean 'resnet_50_imagenet'"):
        zoo.load_backbone("keras_hub:resnet_50_imagnet")
    with pytest.raises(InvalidModelError, match="not of an image backbone"):
        zoo.load_backbone("keras_hub:bert_base_en")
    assert loopback_only == []


def test_offline_mode_refuses_uncached_presets_without_a_socket(
    monkeypatch: pytest.MonkeyPatch, loopback_only: list[str]
) -> None:
    """F9: ZOO_OFFLINE=1 and the preset is not cached: OfflineError, no socket opened."""
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    for source in (
        "resnet_18_imagenet",  # a registry name
        "kaggle://keras/resnetv1/keras/resnet_18_imagenet/3",
        "kaggle://keras/resnetv1/keras/resnet_18_imagenet",  # no version: needs the network
        "hf://keras/resnet_18_imagenet",
    ):
        with pytest.raises(OfflineError, match="not in the local cache") as info:
            zoo.load_backbone(source)
        assert "save_to_preset" in str(info.value)
    assert loopback_only == []


def test_offline_mode_loads_a_cached_kaggle_preset(
    saved_preset: Path, monkeypatch: pytest.MonkeyPatch, loopback_only: list[str]
) -> None:
    """F9: a preset in KerasHub's (kagglehub's) cache loads with no socket opened."""
    from kagglehub.cache import Cache
    from kagglehub.handle import parse_model_handle

    handle = parse_model_handle("keras/tiny/keras/tiny_resnet/1")
    cached = Path(Cache().get_path(handle))
    cached.parent.mkdir(parents=True)
    os.symlink(saved_preset, cached)  # what a download leaves, with kagglehub's markers
    for name in os.listdir(saved_preset):
        Cache().mark_as_complete(handle, name)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    backbone = zoo.load_backbone("kaggle://keras/tiny/keras/tiny_resnet/1")
    assert backbone.name == "tiny_resnet" and backbone.input_spec.mode == "torch"
    np.testing.assert_allclose(
        backbone.extract(images(2)), _reference_features(saved_preset, images(2)), rtol=1e-4
    )
    assert loopback_only == []


def test_download_failure_is_a_fetch_error(
    monkeypatch: pytest.MonkeyPatch, loopback_only: list[str]
) -> None:
    """No network: the proxy on 127.0.0.1 refuses; the error says what to do."""
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    with pytest.raises(FetchError, match="could not download") as info:
        zoo.load_backbone("kaggle://keras/resnetv1/keras/resnet_18_imagenet/3")
    assert "ZOO_OFFLINE=1" in str(info.value) and "save_to_preset" in str(info.value)
    assert loopback_only and all("127.0.0.1" in a for a in loopback_only)


def test_the_engine_fine_tunes_a_loaded_preset_for_one_epoch(saved_preset: Path) -> None:
    """zoo.finetune on a preset directory: one epoch of head, one of the unfrozen backbone."""
    x, y = images(12, seed=1), np.arange(12) % 3
    backbone = zoo.load_backbone(str(saved_preset))
    before = [w.numpy().copy() for w in backbone.features.trainable_weights[-2:]]
    result = zoo.finetune(
        backbone,
        (x, y),
        recipe="classic",
        epochs=1,
        unfreeze_epochs=1,
        batch_size=4,
        learning_rate=1e-2,
        verbose=0,
    )
    assert [p.name for p in result.phases if p.epochs] == ["head", "finetune"]
    assert np.isfinite(result.metrics["loss"]) and result.num_classes == 3
    after = [w.numpy() for w in backbone.features.trainable_weights[-2:]]
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))  # phase 2 ran
    assert result.model.predict(x[:2], verbose=0).shape == (2, 3)


def test_loading_through_the_plugin_never_imports_tf_keras() -> None:
    """KerasHub pulls in tensorflow-text; tfzoo must still run on Keras 3 alone."""
    code = (
        "import sys, zoo; "
        f"zoo.load_backbone('keras_hub:ResNetBackbone', weights=None, **{TINY_RESNET!r}); "
        "print([m for m in ('tf_keras', 'tensorflow_hub') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
