"""The plugin's registrations: the offline preset catalogue, claims, and staying TF-free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import zoo

from zoo_keras_hub import generate
from zoo_keras_hub.catalogue import catalogue
from zoo_keras_hub.converter import input_spec_from_converter
from zoo_keras_hub.generate import CATALOGUE_PATH, build_catalogue, render
from zoo_keras_hub.provider import KerasHubProvider


def test_catalogue_is_in_sync_with_the_installed_keras_hub() -> None:
    """presets.json must be what `python -m zoo_keras_hub.generate` writes today."""
    import keras_hub

    fresh = build_catalogue()
    assert fresh["keras_hub_version"] == keras_hub.__version__
    assert render(fresh) == CATALOGUE_PATH.read_text(encoding="utf-8"), (
        "zoo_keras_hub/presets.json is out of date: run python -m zoo_keras_hub.generate"
    )


def test_catalogue_holds_the_image_families_and_no_others() -> None:
    families = {info["family"] for info in catalogue().backbones.values()}
    for family in ("resnet", "efficientnet", "vit", "dinov2", "mobilenet", "densenet"):
        assert family in families
    for not_image in ("bert", "gemma", "clip", "sam", "retinanet", "pali_gemma"):
        assert not_image not in families
    resnet = catalogue().preset("resnet_50_imagenet")
    assert (resnet.backbone, resnet.image_size) == ("ResNetBackbone", (224, 224))
    assert resnet.kaggle_handle and resnet.kaggle_handle.startswith("kaggle://")
    assert catalogue().preset("vit_base_patch16_384_imagenet").image_size == (384, 384)
    assert catalogue().backbones["EfficientNetBackbone"]["shape_argument"] == "input_shape"


def test_installed_plugin_registers_provider_and_models() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zoo", "plugins", "--json"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [info] = [p for p in json.loads(proc.stdout) if p["name"] == "keras_hub"]
    assert info["error"] is None and not info["blocked"] and not info["builtin"]
    assert info["distribution"] == "zoo-keras-hub"
    assert info["providers"] == ["keras_hub"]
    assert len(info["models"]) == len(catalogue()) > 50
    listed = zoo.list_models(provider="keras_hub")
    assert [s.name for s in listed] == sorted(p.name for p in catalogue())
    assert all("keras-hub" in s.tags and s.weights == "preset" for s in listed)
    spec = zoo.get_spec("resnet_50_imagenet")
    assert (spec.provider, spec.source, spec.input_shape) == (
        "keras_hub",
        "resnet_50_imagenet",
        (224, 224, 3),
    )
    assert spec.origin == "plugin keras_hub"
    assert [s.name for s in zoo.list_models("dinov2_*", tag="dinov2")][:1] == ["dinov2_base"]


def test_plugin_model_names_do_not_shadow_packaged_ones() -> None:
    """What `zoo list` shows with this plugin blocked is the packaged catalogue."""
    env = {**os.environ, "ZOO_BLOCK_PLUGINS": "keras_hub"}
    proc = subprocess.run(
        [sys.executable, "-m", "zoo", "list", "--json"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    entries = json.loads(proc.stdout)
    assert len(entries) > 50 and not any(e["provider"] == "keras_hub" for e in entries)
    packaged = {e["name"] for e in entries}
    packaged |= {a.lower() for e in entries for a in e["aliases"]}
    assert not packaged & {p.name for p in catalogue()}


def test_claims_handles_and_preset_directories_only(saved_preset: Path, tmp_path: Path) -> None:
    provider = KerasHubProvider()
    handle = provider.claim("kaggle://keras/resnetv1/keras/resnet_18_imagenet/3")
    assert isinstance(handle, zoo.ModelSpec)
    assert (handle.name, handle.weights) == ("resnet_18_imagenet", "preset")
    hf = provider.claim("hf://someone/my_backbone")
    assert isinstance(hf, zoo.ModelSpec) and hf.name == "my_backbone"
    local = provider.claim(str(saved_preset))
    assert isinstance(local, zoo.ModelSpec) and local.source == str(saved_preset)
    (tmp_path / "not_a_preset").mkdir()
    (tmp_path / "not_a_preset" / "config.json").write_text("{}")  # config alone: not a preset
    for other in (str(tmp_path / "not_a_preset"), "resnet50", "ResNetBackbone", 3, None):
        assert provider.claim(other) is None


def test_listing_and_claiming_never_import_tensorflow_or_keras_hub(saved_preset: Path) -> None:
    code = (
        "import sys, zoo; from zoo_keras_hub.provider import KerasHubProvider; "
        "zoo.list_models(provider='keras_hub'); zoo.get_spec('vit_base_patch16_224_imagenet'); "
        f"assert KerasHubProvider().claim({str(saved_preset)!r}) is not None; "
        "mods = ('tensorflow', 'keras', 'keras_hub', 'tf_keras', 'tensorflow_hub'); "
        "print([m for m in mods if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("scale", "offset", "mode", "value_range"),
    [
        (1 / 255, None, "unit", (0.0, 1.0)),
        (1 / 127.5, -1.0, "tf", (-1.0, 1.0)),
        (None, None, "raw", (0.0, 255.0)),
        (
            [1 / (255 * 0.229), 1 / (255 * 0.224), 1 / (255 * 0.225)],
            [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225],
            "torch",
            (-2.117904, 2.64),
        ),
        (2.0, 1.0, "custom", (1.0, 511.0)),
        ([1.0, 2.0, 4.0], [0.0, 1.0, 2.0], "custom", (0.0, 1022.0)),
    ],
)
def test_converter_numbers_become_an_input_spec(
    scale: object, offset: object, mode: str, value_range: tuple[float, float]
) -> None:
    spec = input_spec_from_converter(
        image_size=(224, 224),
        scale=scale,
        offset=offset,
        interpolation="bicubic",  # type: ignore[arg-type]
    )
    assert spec.mode == mode and spec.shape == (224, 224, 3)
    assert spec.interpolation == "bicubic"
    assert spec.value_range == pytest.approx(value_range, abs=1e-5)


def test_converter_numbers_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 channels"):
        input_spec_from_converter(image_size=None, scale=[1.0, 2.0], offset=None)
    with pytest.raises(ValueError, match="has a zero"):
        input_spec_from_converter(image_size=None, scale=0.0, offset=None)


def test_generator_rewrites_a_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "presets.json"
    data = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))
    del data["presets"]["resnet_50_imagenet"]
    stale.write_text(render(data), encoding="utf-8")
    monkeypatch.setattr(generate, "CATALOGUE_PATH", stale)
    assert generate.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == CATALOGUE_PATH.read_text(encoding="utf-8")
