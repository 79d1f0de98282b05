"""F25: a model file cannot vouch for the SavedModel program its tfzoo layers name.

A ``.keras`` file may hold a ``HubLayer`` (a handle: a remote archive or a directory) or a
``SavedModelFeatures`` (a directory). Whatever its config says (``trust: true``, a
``sha256`` the attacker chose, a local path), loading it in safe mode fetches nothing and
runs nothing: trust comes from the caller only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import zoo
from tests.providers.conftest import HubModel, HubServer
from zoo.errors import UntrustedModelError

PATH = "/google/tiny/feature_vector/1"


def _rewrite(path: Path, edit: Any) -> None:
    """Apply ``edit`` to the config of every tfzoo layer in a .keras file (as an attacker)."""
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if str(layer.get("registered_name", "")).startswith("zoo>"):
            edit(layer["config"])
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def _hub_file(hub_model: HubModel, tmp_path: Path, **config: Any) -> Path:
    """A .keras file with a HubLayer whose saved config is then set to ``config``."""
    hub = zoo.HubLayer(hub_model.directory)
    model = keras.Sequential([keras.Input((16, 16, 3)), hub, keras.layers.Dense(2)])
    path = tmp_path / "planted.keras"
    model.save(path)
    _rewrite(path, lambda c: c.update(config))
    return path


@pytest.mark.parametrize(
    "planted",
    [
        {"trust": True},
        {"sha256": "attacker"},  # replaced by the archive's true hash below
        {"trust": True, "allow_http": True, "sha256": None},
    ],
    ids=["trust-true", "attacker-pin", "trust-and-http"],
)
def test_a_remote_handle_in_a_keras_file_is_refused_before_any_request(
    hub_model: HubModel, hub_server: HubServer, tmp_path: Path, planted: dict[str, Any]
) -> None:
    if planted.get("sha256") == "attacker":
        planted = {"sha256": hub_model.sha256}  # the file pins the program it brings
    path = _hub_file(hub_model, tmp_path, handle=hub_model.url, **planted)
    before = hub_server.count(PATH)
    with pytest.raises(UntrustedModelError, match="embeds a HubLayer") as info:
        zoo.load_backbone(str(path))
    assert hub_model.url in str(info.value) and info.value.source == str(path)
    # Keras's own loader in its default safe mode refuses it too (the layer's from_config)
    with pytest.raises(UntrustedModelError, match="cannot vouch"):
        keras.saving.load_model(path)
    assert hub_server.count(PATH) == before


def test_a_local_directory_in_a_keras_file_is_refused(hub_model: HubModel, tmp_path: Path) -> None:
    path = _hub_file(hub_model, tmp_path, trust=True)  # handle stays the directory
    with pytest.raises(UntrustedModelError, match=str(hub_model.directory)):
        zoo.load_backbone(str(path))
    with pytest.raises(UntrustedModelError):
        keras.saving.load_model(path)


def test_saved_model_features_in_a_keras_file_is_refused(
    signature_model: Path, tmp_path: Path
) -> None:
    from zoo.savedmodel.loader import SavedModelFeatures

    features = SavedModelFeatures(str(signature_model), output_key="logits")
    model = keras.Sequential([keras.Input((8, 8, 3)), features])
    path = tmp_path / "features.keras"
    model.save(path)
    with pytest.raises(UntrustedModelError, match="embeds a SavedModelFeatures"):
        zoo.load_backbone(str(path))
    with pytest.raises(UntrustedModelError):
        keras.saving.load_model(path)
    assert zoo.load_backbone(str(path), trust=True).feature_dim > 0


def test_the_callers_trust_loads_it_and_the_file_pin_is_still_checked(
    hub_model: HubModel, hub_server: HubServer, tmp_path: Path
) -> None:
    path = _hub_file(hub_model, tmp_path, handle=hub_model.url, trust=False)
    backbone = zoo.load_backbone(str(path), trust=True)
    x = np.zeros((1, 16, 16, 3), "float32")
    assert np.asarray(backbone.model(x)).shape == (1, 2)
    reloaded = keras.saving.load_model(path, safe_mode=False)
    assert isinstance(reloaded.layers[0], zoo.HubLayer)


def test_zoo_info_load_refuses_the_planted_file(
    hub_model: HubModel, hub_server: HubServer, tmp_path: Path
) -> None:
    """The CLI path (`zoo info FILE --load`) in a real process."""
    path = _hub_file(hub_model, tmp_path, handle=hub_model.url, trust=True)
    before = hub_server.count(PATH)
    env = {**os.environ, "ZOO_HOME": str(tmp_path / "home"), "ZOO_PROGRESS": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "info", str(path), "--load"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode != 0
    assert "embeds a HubLayer" in done.stderr + done.stdout
    assert hub_server.count(PATH) == before
