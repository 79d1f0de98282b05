"""Model archives are programs: loaded only when pinned, locked or trusted (F19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zoo.download.fetcher
from zoo.errors import IntegrityError, UntrustedModelError

from .conftest import make_tar, sha
from .server import Server

ARCHIVE = make_tar({"saved_model.pb": b"graph", "variables/variables.index": b"idx"})


def test_an_unpinned_model_archive_is_refused_before_downloading(server: Server) -> None:
    """F19: no pin, no lock entry, no trust: refused, and the message names all three ways."""
    url = server.route("/model.tar.gz", ARCHIVE)
    with pytest.raises(UntrustedModelError) as info:
        zoo.download.fetcher.fetch_archive(url)
    message = str(info.value)
    assert "sha256=" in message and "zoo.lock" in message and "trust=True" in message
    assert info.value.source == url
    assert server.hits("/model.tar.gz") == []


def test_a_pinned_model_archive_loads(server: Server) -> None:
    """F19: a pinned hash (call or registry sha256) is enough."""
    url = server.route("/model.tar.gz", ARCHIVE)
    out = zoo.download.fetcher.fetch_archive(url, sha256=sha(ARCHIVE))
    assert (out / "saved_model.pb").read_bytes() == b"graph"
    assert out.name == sha(ARCHIVE)


def test_a_wrongly_pinned_model_archive_is_not_extracted(server: Server) -> None:
    """F19 + F4: a pin that does not match stops the archive before extraction."""
    url = server.route("/model.tar.gz", ARCHIVE)
    with pytest.raises(IntegrityError):
        zoo.download.fetcher.fetch_archive(url, sha256="1" * 64)
    assert not (zoo.download.fetcher.cache_root() / "extracted").exists()


def test_a_lockfile_entry_counts_as_a_pin(server: Server, isolated: Path) -> None:
    """F19: a recorded hash in ./zoo.lock lets the archive load, and is enforced."""
    url = server.route("/model.tar.gz", ARCHIVE)
    entry = {"url": url, "sha256": sha(ARCHIVE), "size": len(ARCHIVE), "kind": "model"}
    (isolated / "zoo.lock").write_text(json.dumps({"version": 1, "artifacts": [entry]}))
    assert (zoo.download.fetcher.fetch_archive(url) / "saved_model.pb").exists()
    server.route("/other.tar.gz", ARCHIVE + b"x")
    entry = {**entry, "url": server.url("/other.tar.gz"), "sha256": "ab" * 32}
    (isolated / "zoo.lock").write_text(json.dumps({"version": 1, "artifacts": [entry]}))
    # the pinned size stops it on the announced length, before the body (F28)
    with pytest.raises(IntegrityError, match=r"announces 145 bytes, but zoo\.lock says 144"):
        zoo.download.fetcher.fetch_archive(server.url("/other.tar.gz"))


def test_explicit_trust_loads_an_unpinned_archive(server: Server) -> None:
    """F19: trust=True is the third way."""
    url = server.route("/model.tar.gz", ARCHIVE)
    assert (zoo.download.fetcher.fetch_archive(url, trust=True) / "saved_model.pb").exists()


def test_data_archives_need_no_pin(server: Server) -> None:
    url = server.route("/data.zip", ARCHIVE)
    assert (zoo.download.fetcher.fetch_archive(url, kind="data") / "saved_model.pb").exists()


def test_a_hub_style_handle_redirecting_to_another_host_works(
    server: Server, other_server: Server
) -> None:
    """The TF Hub provider's call: tfhub.dev-style URL -> redirect to a kaggle-style host."""
    blob = other_server.route("/models/google/mobilenet/5/download.tar.gz", ARCHIVE)
    server.route("/google/imagenet/mobilenet_v2/feature_vector/5", location=blob)
    handle = server.url("/google/imagenet/mobilenet_v2/feature_vector/5?tf-hub-format=compressed")
    out = zoo.download.fetcher.fetch_archive(handle, sha256=sha(ARCHIVE), trust=False)
    assert (out / "variables/variables.index").read_bytes() == b"idx"
    hub_hits = server.hits("/google/imagenet/mobilenet_v2/feature_vector/5")
    assert hub_hits[0].path.endswith("?tf-hub-format=compressed")
    # a second resolve is served from the cache: no request at all
    assert zoo.download.fetcher.fetch_archive(handle, sha256=sha(ARCHIVE)) == out
    assert zoo.download.fetcher.fetch_archive(handle, trust=True) == out
    assert len(server.requests) == 1 and len(other_server.requests) == 1


def test_a_damaged_extraction_is_redone(server: Server) -> None:
    url = server.route("/model.tar.gz", ARCHIVE)
    out = zoo.download.fetcher.fetch_archive(url, sha256=sha(ARCHIVE))
    (out / "saved_model.pb").unlink()
    again = zoo.download.fetcher.fetch_archive(url, sha256=sha(ARCHIVE))
    assert (again / "saved_model.pb").read_bytes() == b"graph"
    assert len(server.hits("/model.tar.gz")) == 1  # re-extracted from the cached archive
