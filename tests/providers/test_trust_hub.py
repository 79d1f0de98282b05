"""Trust without friction: the seed's HubLayer recipe, verbatim, after `zoo trust PREFIX`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
import zoo.download.fetcher
from tests.providers.conftest import HUB_FEATURE_DIM, HubModel, HubServer
from zoo.errors import IntegrityError, UntrustedModelError


def _zoo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args], capture_output=True, text=True, check=False
    )


def _repacked(model: HubModel, dest: Path) -> bytes:
    """The same SavedModel with one more asset: a valid model whose archive bytes differ."""
    with tarfile.open(dest, "w:gz") as tar:
        for item in sorted(model.directory.iterdir()):
            tar.add(item, arcname=item.name)
        note = dest.parent / "NOTE.txt"
        note.write_text("a new release\n")
        tar.add(note, arcname="assets/NOTE.txt")
    return dest.read_bytes()


def test_seed_hub_layer_works_verbatim_after_zoo_trust(
    hub_server: HubServer, hub_model: HubModel, tmp_path: Path
) -> None:
    """F19 made easy: `zoo trust http://127.0.0.1:PORT/`, then `HubLayer(url, trainable=False)`
    as the classic recipe writes it; a changed archive behind the prefix is then refused."""
    url = hub_server.add("/team/tiny/feature_vector/1", hub_model.archive)
    with pytest.raises(UntrustedModelError, match="zoo trust"):
        zoo.HubLayer(url, trainable=False)
    done = _zoo("trust", hub_server.base + "/")
    assert done.returncode == 0, done.stderr

    model = keras.Sequential([zoo.HubLayer(url, trainable=False), keras.layers.Dense(5)])
    images = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    assert model.predict(images, verbose=0).shape == (2, 5)
    assert model.layers[0](images).shape == (2, HUB_FEATURE_DIM)
    listed = _zoo("trust", "--list")
    assert hub_model.sha256 in listed.stdout  # recorded on first use

    # The publisher swaps the archive; a fresh cache (another machine, a cleaned cache) asks
    # the server again and the store's first-use hash refuses the new bytes.
    changed = _repacked(hub_model, tmp_path / "changed.tar.gz")
    hub_server.archives["/team/tiny/feature_vector/1"] = changed
    shutil.rmtree(zoo.download.fetcher.cache_root())
    with pytest.raises(IntegrityError, match="changed since you first loaded it") as info:
        zoo.HubLayer(url, trainable=False)
    assert info.value.expected == hub_model.sha256
    assert info.value.received is not None and info.value.received != hub_model.sha256
