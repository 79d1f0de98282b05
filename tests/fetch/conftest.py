"""Fixtures of the download tests: real HTTP servers on 127.0.0.1 and 127.0.0.2."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Iterator

import pytest

import zoo.download.fetcher

from .server import Server


@pytest.fixture
def server() -> Iterator[Server]:
    """An HTTP server on 127.0.0.1."""
    s = Server("127.0.0.1")
    yield s
    s.stop()


@pytest.fixture
def other_server() -> Iterator[Server]:
    """A second server on another loopback host (127.0.0.2): another origin."""
    s = Server("127.0.0.2")
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry without the production backoff, so fault tests stay fast."""
    monkeypatch.setattr(zoo.download.fetcher, "BACKOFF", 0.01)
    monkeypatch.setenv("ZOO_PROGRESS", "0")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic incompressible bytes."""
    out = bytearray()
    block = seed.to_bytes(8, "little")
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def make_tar(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    """A tar archive (gzip by default) of regular files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def blobs(home: str | os.PathLike[str] | None = None) -> list[str]:
    """Names in the cache's blobs directory (partials included)."""
    root = zoo.download.fetcher.cache_root() / "blobs"
    return sorted(os.listdir(root)) if root.is_dir() else []
