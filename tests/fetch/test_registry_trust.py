"""An unpinned remote registry cannot grant trust; a pinned one or the user can."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zoo
from zoo.errors import SourceNotFoundError, UntrustedModelError

from .conftest import sha
from .server import Server

TEXT = (
    "models:\n"
    "  planted:\n"
    "    provider: local\n"
    "    source: /nonexistent/planted.keras\n"
    "    options:\n"
    "      trust: true\n"
)


def _use(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", url)
    zoo.session.reset()


def test_an_unpinned_remote_registry_may_not_set_trust(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.route("/registry.yaml", TEXT.encode())
    _use(url, monkeypatch)
    with pytest.raises(UntrustedModelError, match="unpinned remote registry") as info:
        zoo.load_backbone("planted")
    assert url in str(info.value)
    # the user's own trust=True is theirs to give: the load goes on (and finds no file)
    with pytest.raises(SourceNotFoundError):
        zoo.load_backbone("planted", trust=True)


def test_a_pinned_remote_registry_may_set_trust(
    server: Server, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    url = server.route("/registry.yaml", TEXT.encode())
    _use(f"{url}#sha256={sha(TEXT.encode())}", monkeypatch)
    with pytest.raises(SourceNotFoundError):  # past the trust check
        zoo.load_backbone("planted")
    entry = {"url": url, "sha256": sha(TEXT.encode()), "size": len(TEXT), "kind": "registry"}
    (isolated / "zoo.lock").write_text(json.dumps({"version": 1, "artifacts": [entry]}))
    _use(url, monkeypatch)  # pinned by zoo.lock instead
    with pytest.raises(SourceNotFoundError):
        zoo.load_backbone("planted")


def test_the_users_own_registry_file_may_set_trust(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = isolated / "mine.yaml"
    own.write_text(TEXT)
    _use(str(own), monkeypatch)
    with pytest.raises(SourceNotFoundError):
        zoo.load_backbone("planted")
