"""Downloads against a real HTTP server: integrity, resume, retries, disk full (F1-F5, F11)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

import zoo.download.cache
import zoo.download.fetcher
from zoo.errors import (
    FetchError,
    IntegrityError,
    RemoteNotFoundError,
    SourceNotFoundError,
    UnsafeURLError,
)

from .conftest import blobs, payload, sha
from .server import Server

DATA = payload(300_000)


def test_fetch_stores_by_hash_keeps_the_suffix_and_indexes_the_url(server: Server) -> None:
    url = server.route("/w/net.weights.h5", DATA)
    path = zoo.download.fetcher.fetch(url, sha256=sha(DATA))
    assert path.name == sha(DATA) + ".weights.h5"
    assert path.read_bytes() == DATA
    index = json.loads((zoo.download.fetcher.cache_root() / "index.json").read_text())
    assert index["urls"][url]["sha256"] == sha(DATA)
    assert index["urls"][url]["size"] == len(DATA)
    assert index["blobs"][path.name]["size"] == len(DATA)
    # a second call is served from the cache: no new request
    assert zoo.download.fetcher.fetch(url) == path
    assert len(server.hits("/w/net.weights.h5")) == 1


def test_every_request_sends_identity_encoding_and_a_user_agent(server: Server) -> None:
    url = server.route("/a.bin", DATA)
    zoo.download.fetcher.fetch(url)
    headers = server.hits("/a.bin")[0].headers
    assert headers["accept-encoding"] == "identity"
    assert headers["user-agent"].startswith("tfzoo/")


def test_dropped_connection_is_resumed_with_range(server: Server) -> None:
    """F1: the connection drops half-way; the retry resumes and the hash matches."""
    url = server.route("/drop.bin", DATA, drop_after=100_000, drops=1)
    path = zoo.download.fetcher.fetch(url, sha256=sha(DATA))
    assert path.read_bytes() == DATA
    hits = server.hits("/drop.bin")
    assert len(hits) == 2
    assert "range" not in hits[0].headers
    assert hits[1].headers["range"] == "bytes=100000-"
    assert hits[1].headers["if-range"] == '"v1"'
    assert blobs() == [path.name]  # no partial left


def test_server_ignoring_range_restarts_the_file(server: Server) -> None:
    """F2: the server answers 200 to a resume: the file is restarted, not appended."""
    url = server.route("/norange.bin", DATA, drop_after=120_000, drops=2, ignore_range=True)
    path = zoo.download.fetcher.fetch(url, sha256=sha(DATA))
    assert path.read_bytes() == DATA
    assert path.stat().st_size == len(DATA)
    hits = server.hits("/norange.bin")
    assert len(hits) == 3 and hits[1].headers["range"] == "bytes=120000-"


def test_content_length_longer_than_the_body_is_an_error(server: Server) -> None:
    """F3: Content-Length says more than the body holds: error, nothing under a final name."""
    url = server.route("/lie.bin", DATA, content_length=len(DATA) + 500)
    with pytest.raises(IntegrityError) as info:
        zoo.download.fetcher.fetch(url)
    assert str(len(DATA) + 500) in str(info.value)
    assert info.value.expected == str(len(DATA) + 500)
    assert blobs() == []
    assert zoo.download.fetcher.cache_root().joinpath("index.json").exists() is False


def test_sha256_mismatch_names_both_and_keeps_the_older_copy(server: Server) -> None:
    """F4: a pinned download that does not match; the older good copy stays untouched."""
    url = server.route("/model.h5", DATA)
    good = zoo.download.fetcher.fetch(url, sha256=sha(DATA))
    before = (good.read_bytes(), good.stat().st_mtime_ns)
    tampered = payload(300_000, seed=7)
    server.route("/model.h5", tampered)
    wanted = "ab" * 32  # a new pin that the server's bytes do not meet
    with pytest.raises(IntegrityError) as info:
        zoo.download.fetcher.fetch(url, sha256=wanted)
    assert info.value.expected == wanted
    assert info.value.received == sha(tampered)
    assert wanted in str(info.value) and sha(tampered) in str(info.value)
    assert (good.read_bytes(), good.stat().st_mtime_ns) == before
    assert blobs() == [good.name]
    assert zoo.download.fetcher.fetch(url, sha256=sha(DATA)) == good  # still served


def test_truncated_cache_file_is_detected_and_refetched(server: Server) -> None:
    """F5: a cached file damaged on disk (truncated) is detected before use and refetched."""
    url = server.route("/t.h5", DATA)
    path = zoo.download.fetcher.fetch(url)
    with path.open("r+b") as f:
        f.truncate(1000)
    again = zoo.download.fetcher.fetch(url)
    assert again.read_bytes() == DATA
    assert len(server.hits("/t.h5")) == 2


def test_same_size_corruption_is_caught_by_rehashing_after_an_mtime_change(
    server: Server,
) -> None:
    """F5: bytes flipped in place (size unchanged) change the mtime, so the file is re-hashed."""
    url = server.route("/flip.h5", DATA)
    path = zoo.download.fetcher.fetch(url, sha256=sha(DATA))
    raw = bytearray(path.read_bytes())
    raw[10] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert zoo.download.fetcher.fetch(url, sha256=sha(DATA)).read_bytes() == DATA
    assert len(server.hits("/flip.h5")) == 2


def test_a_verified_file_is_not_hashed_again(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.route("/once.h5", DATA)
    zoo.download.fetcher.fetch(url, sha256=sha(DATA))
    calls: list[object] = []
    monkeypatch.setattr("zoo.download.cache.file_sha256", lambda p: calls.append(p) or "")
    for _ in range(3):
        zoo.download.fetcher.fetch(url, sha256=sha(DATA))
        zoo.download.fetcher.fetch(url)
    assert calls == []


def test_disk_full_leaves_no_partial_file(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """F11: ENOSPC while writing the temp file: a clear error and no partial file left."""
    url = server.route("/big.bin", DATA)
    real = zoo.download.cache.Partial.append

    def append(self: zoo.download.cache.Partial, chunk: bytes) -> None:
        if self.offset >= 64_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, chunk[:64_000])

    monkeypatch.setattr(zoo.download.cache.Partial, "append", append)
    with pytest.raises(FetchError, match="no space left"):
        zoo.download.fetcher.fetch(url)
    assert blobs() == []
    monkeypatch.setattr(zoo.download.cache.Partial, "append", real)
    assert zoo.download.fetcher.fetch(url).read_bytes() == DATA  # the cache still works


def test_not_found_is_not_retried(server: Server) -> None:
    url = server.url("/missing.h5")
    with pytest.raises(SourceNotFoundError, match="404") as info:
        zoo.download.fetcher.fetch(url)
    assert len(server.hits("/missing.h5")) == 1
    # `except FetchError` catches a 404 too; it carries the URL both ways
    assert isinstance(info.value, FetchError) and isinstance(info.value, RemoteNotFoundError)
    assert info.value.url == info.value.source == url


def test_server_errors_are_retried_then_reported(server: Server) -> None:
    url = server.route("/busy", b"", status=503)
    with pytest.raises(FetchError, match="503"):
        zoo.download.fetcher.fetch(url)
    assert len(server.hits("/busy")) == zoo.download.fetcher.RETRIES + 1


def test_plain_http_is_refused_outside_loopback() -> None:
    with pytest.raises(UnsafeURLError, match="only https"):
        zoo.download.fetcher.fetch("http://example.org/w.h5")
    with pytest.raises(UnsafeURLError, match="scheme"):
        zoo.download.fetcher.fetch("ftp://example.org/w.h5")


def test_a_url_fragment_pins_the_hash(server: Server) -> None:
    url = server.route("/frag.h5", DATA)
    assert zoo.download.fetcher.fetch(f"{url}#sha256={sha(DATA)}").read_bytes() == DATA
    with pytest.raises(IntegrityError, match="conflicting"):
        zoo.download.fetcher.fetch(f"{url}#sha256={sha(DATA)}", sha256="0" * 64)


def test_a_stalled_server_hits_the_read_timeout(server: Server) -> None:
    """F12 (timeouts): a server that never answers fails within the timeout, not forever."""
    import time

    url = server.route("/stall", DATA, stall=3.0)
    monkey = zoo.download.fetcher.RETRIES
    start = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        zoo.download.fetcher.fetch(url, timeout=(1.0, 0.3))
    assert time.monotonic() - start < 0.3 * (monkey + 1) + 2.0


def test_progress_is_quiet_off_a_terminal_and_silenced_by_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zoo.download.progress import progress_enabled

    monkeypatch.delenv("ZOO_PROGRESS")
    assert progress_enabled(None) is False  # pytest's stderr is not a terminal
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert progress_enabled(None) is True
    monkeypatch.setenv("ZOO_PROGRESS", "0")
    assert progress_enabled(None) is False
    assert progress_enabled(True) is True


def test_the_progress_bar_follows_the_bytes_through_a_restart(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar gets the total and every byte; a restart (F2) resets it rather than overshoot."""
    seen: dict[str, object] = {"advanced": 0}

    class Recording(zoo.download.fetcher.ProgressBar):
        def restart(self, total: int | None, completed: int = 0) -> None:
            seen.update(total=total, advanced=completed)
            super().restart(total, completed)

        def advance(self, n: int) -> None:
            seen["advanced"] = int(seen["advanced"]) + n  # type: ignore[call-overload]
            super().advance(n)

    monkeypatch.setattr(zoo.download.fetcher, "ProgressBar", Recording)
    url = server.route("/p.bin", DATA, drop_after=50_000, drops=1, ignore_range=True)
    zoo.download.fetcher.fetch(url, progress=True)
    assert seen == {"advanced": len(DATA), "total": len(DATA)}


def test_a_tampered_index_never_points_outside_the_cache(server: Server, tmp_path: Path) -> None:
    """A hand-edited index naming another file is ignored: refetched, the file untouched."""
    url = server.route("/i.h5", DATA)
    zoo.download.fetcher.fetch(url)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    index_path = zoo.download.fetcher.cache_root() / "index.json"
    index = json.loads(index_path.read_text())
    index["urls"][url]["name"] = "../../../victim.txt"
    index_path.write_text(json.dumps(index))
    assert zoo.download.fetcher.fetch(url).read_bytes() == DATA
    assert victim.read_text() == "keep me"
