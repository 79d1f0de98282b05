"""Offline mode (F9) and a read-only cache (F10)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import zoo.download.fetcher
from zoo.errors import FetchError, OfflineError

from .conftest import make_tar, payload, sha
from .server import Server

DATA = payload(20_000)
ARCHIVE = make_tar({"saved_model.pb": b"graph"})


def test_offline_serves_cached_artifacts_without_a_socket(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F9: cached file and archive load with ZOO_OFFLINE=1 while socket creation fails."""
    url = server.route("/w.h5", DATA)
    arch = server.route("/m.tar.gz", ARCHIVE)
    zoo.download.fetcher.fetch(url)
    zoo.download.fetcher.fetch_archive(arch, sha256=sha(ARCHIVE))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setattr(socket, "socket", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    assert zoo.download.fetcher.fetch(url).read_bytes() == DATA
    extracted = zoo.download.fetcher.fetch_archive(arch, sha256=sha(ARCHIVE))
    assert (extracted / "saved_model.pb").exists()
    requests_before = len(server.requests)
    with pytest.raises(OfflineError) as info:
        zoo.download.fetcher.fetch(server.url("/never.h5"), name="my_net")
    assert "zoo fetch my_net" in str(info.value)
    assert server.url("/never.h5") in str(info.value)
    assert len(server.requests) == requests_before


def _refuse(*args: object, **kwargs: object) -> socket.socket:
    raise AssertionError("a socket was opened in offline mode")


def test_offline_in_a_fresh_process_opens_no_socket(server: Server, isolated: Path) -> None:
    """F9 in a real child process whose socket module refuses to create sockets."""
    url = server.route("/w.h5", DATA)
    zoo.download.fetcher.fetch(url)
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise SystemExit('socket opened')\n"
        "socket.socket = refuse; socket.create_connection = refuse\n"
        "import zoo.download.fetcher\n"
        f"p = zoo.download.fetcher.fetch({url!r})\n"
        f"assert p.read_bytes() == bytes.fromhex({DATA[:64].hex()!r}) + p.read_bytes()[64:]\n"
        "try:\n"
        f"    zoo.download.fetcher.fetch({server.url('/other.h5')!r}, name='my_net')\n"
        "except zoo.download.fetcher.OfflineError as e:\n"
        "    print('OFFLINE:', e)\n"
    )
    env = {
        **os.environ,
        "ZOO_OFFLINE": "1",
        "PYTHONPATH": str(Path(zoo.download.fetcher.__file__).parents[2]),
    }
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "OFFLINE:" in proc.stdout and "zoo fetch my_net" in proc.stdout


def test_offline_with_a_damaged_cache_file_is_an_offline_error(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F5 + F9: damage is detected; offline, that is a clear error, not a broken load."""
    url = server.route("/w.h5", DATA)
    path = zoo.download.fetcher.fetch(url)
    path.write_bytes(DATA[:100])
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(OfflineError):
        zoo.download.fetcher.fetch(url)


def test_read_only_cache_serves_artifacts(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """F10: a cache directory that cannot be written (EROFS on every write) still loads."""
    url = server.route("/w.h5", DATA)
    arch = server.route("/m.tar.gz", ARCHIVE)
    zoo.download.fetcher.fetch(url)
    out = zoo.download.fetcher.fetch_archive(arch, sha256=sha(ARCHIVE))
    root = zoo.download.fetcher.cache_root()
    (root / "blobs" / f"{sha(DATA)}.h5").touch()  # forces a re-hash, which cannot be recorded
    real_open = os.open

    def read_only_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if writing and str(path).startswith(str(root)):
            raise OSError(30, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only_open)
    monkeypatch.setattr(Path, "mkdir", _no_mkdir(root, Path.mkdir))
    assert zoo.download.fetcher.fetch(url).read_bytes() == DATA
    assert zoo.download.fetcher.fetch_archive(arch, sha256=sha(ARCHIVE)) == out
    before = len(server.requests)
    with pytest.raises(FetchError, match="cannot write to the cache"):
        zoo.download.fetcher.fetch(server.route("/new.h5", DATA))
    assert len(server.requests) == before


def _no_mkdir(root: Path, real: object) -> object:
    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if str(self).startswith(str(root)) and not self.exists():
            raise OSError(30, "Read-only file system", str(self))
        real(self, *args, **kwargs)  # type: ignore[operator]

    return mkdir
