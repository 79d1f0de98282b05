"""F26: a model in TFHUB_CACHE_DIR gets the pin and trust rules of a download.

tensorflow_hub's cache may be filled by another tool, a colleague or an attacker; tfzoo
uses a copy there only with the caller's trust, or when it is exactly the tree tfzoo
extracted from the archive the pin names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import zoo
from tests.providers.conftest import HUB_FEATURE_DIM, HubModel, HubServer
from zoo.download.fetcher import cache_root
from zoo.errors import IntegrityError, UntrustedModelError
from zoo.savedmodel.handles import hub_cache_dir

PATH = "/google/tiny/feature_vector/1"


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    return tmp_path / "tfhub"


def _plant(hub_model: HubModel, handle: str) -> Path:
    """Another tool's copy of a model under ``handle`` in TFHUB_CACHE_DIR."""
    cached = hub_cache_dir(handle)
    assert cached is not None
    shutil.copytree(hub_model.directory, cached)
    return cached


def test_a_foreign_copy_without_pin_or_trust_is_refused(
    hub_model: HubModel, hub_server: HubServer, hub_cache: Path
) -> None:
    handle = hub_server.base + "/planted/model/1"
    _plant(hub_model, handle)
    before = len(hub_server.requests)
    with pytest.raises(UntrustedModelError, match=r"TFHUB_CACHE_DIR.*was not used"):
        zoo.load_backbone(handle)
    assert len(hub_server.requests) == before
    assert zoo.load_backbone(handle, trust=True).feature_dim == HUB_FEATURE_DIM
    assert len(hub_server.requests) == before  # trusted: used with no request


def test_a_foreign_copy_does_not_satisfy_a_wrong_pin(
    hub_model: HubModel, hub_server: HubServer, hub_cache: Path
) -> None:
    _plant(hub_model, hub_model.url)
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        zoo.load_backbone(hub_model.url, sha256="0" * 64)


def test_a_tampered_copy_is_replaced_by_the_pinned_archive(
    hub_model: HubModel, hub_server: HubServer, hub_cache: Path
) -> None:
    zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    cached = hub_cache_dir(hub_model.url)
    assert cached is not None
    planted = cached / "variables" / "planted.txt"
    planted.write_text("not from the archive")
    zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    assert not planted.exists() and (cached / "saved_model.pb").is_file()


def test_the_recorded_tree_serves_a_pinned_handle_offline(
    hub_model: HubModel, hub_server: HubServer, hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tfzoo's own copy (tree digest recorded at extraction) needs no network."""
    zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    shutil.rmtree(cache_root() / "extracted")
    shutil.rmtree(cache_root() / "blobs")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    before = len(hub_server.requests)
    backbone = zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    assert backbone.feature_dim == HUB_FEATURE_DIM and len(hub_server.requests) == before
