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


def test_a_verified_copy_is_checked_and_loaded_as_tfzoos_own_copy(
    hub_model: HubModel, hub_server: HubServer, hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F26 (a directory swapped between the check and the load): the tree digest is taken of
    a private copy under the cache's hub-copies/, and that copy is what loads; the other
    tool's directory, swapped after the check, is never read again."""
    from zoo.savedmodel.handles import resolve

    zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    shutil.rmtree(cache_root() / "extracted")
    shutil.rmtree(cache_root() / "blobs")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    cached = hub_cache_dir(hub_model.url)
    assert cached is not None
    path = resolve(hub_model.url, sha256=hub_model.sha256)
    assert path.is_relative_to(cache_root() / "hub-copies") and not path.is_relative_to(cached)
    original = (cached / "saved_model.pb").read_bytes()
    shutil.rmtree(cached)  # the attacker's swap, after the check
    cached.mkdir()
    (cached / "saved_model.pb").write_bytes(b"another program")
    assert (path / "saved_model.pb").read_bytes() == original
    assert zoo.load_backbone(hub_model.url, sha256=hub_model.sha256).feature_dim == HUB_FEATURE_DIM


def test_the_mirror_is_a_copy_and_its_descriptor_never_follows_a_planted_link(
    hub_model: HubModel, hub_server: HubServer, hub_cache: Path, tmp_path: Path
) -> None:
    """F26: a hard link would make a rewrite in TFHUB_CACHE_DIR a rewrite of tfzoo's own
    extracted archive; a descriptor written through a planted symlink would overwrite the
    file it points to (F13-style: nothing written outside the destination)."""
    cached = hub_cache_dir(hub_model.url)
    assert cached is not None
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    hub_cache.mkdir(parents=True, exist_ok=True)
    (hub_cache / f"{cached.name}.descriptor.txt").symlink_to(victim)
    zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    assert victim.read_text() == "keep me"
    descriptor = hub_cache / f"{cached.name}.descriptor.txt"
    assert not descriptor.is_symlink() and "Downloaded by: tfzoo" in descriptor.read_text()
    ours = cache_root() / "extracted" / hub_model.sha256
    mirrored = cached / "saved_model.pb"
    assert mirrored.stat().st_nlink == 1
    assert not any(p.samefile(mirrored) for p in ours.rglob("saved_model.pb"))


def test_strict_mode_wants_a_pin_for_a_trusted_foreign_copy(
    hub_model: HubModel, hub_server: HubServer, hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F26 + ZOO_REQUIRE_HASHES: trust does not stand in for a pin, for a copy another tool
    left in TFHUB_CACHE_DIR any more than for a download."""
    handle = hub_server.base + "/planted/strict/1"
    _plant(hub_model, handle)
    monkeypatch.setenv("ZOO_REQUIRE_HASHES", "1")
    before = len(hub_server.requests)
    with pytest.raises(zoo.ZooError, match="Pin each with sha256"):
        zoo.load_backbone(handle, trust=True)
    with pytest.raises(zoo.ZooError, match="Pin each with sha256"):
        zoo.HubLayer(handle, trust=True)  # a bare layer: the copy was used (the attack ran)
    assert len(hub_server.requests) == before
