"""F28: one deadline and a minimum rate for a whole fetch; decoded and pinned sizes capped.

Real slow servers on 127.0.0.1 with small limits; no assertion on elapsed time, only on
which limit fired, what was stored and how many requests the server saw.
"""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import pytest

from zoo.download.fetcher import cache_root, fetch
from zoo.errors import FetchError, IntegrityError, InvalidOptionError

from .conftest import payload, sha
from .server import Server


def _nothing_stored() -> bool:
    blobs = cache_root() / "blobs"
    return not blobs.exists() or not [p for p in blobs.iterdir() if not p.name.endswith(".lock")]


def test_a_dripping_server_hits_the_deadline(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOO_FETCH_DEADLINE", "1.5")
    monkeypatch.setenv("ZOO_FETCH_MIN_RATE", "0")  # only the deadline can fire
    url = server.route("/drip.bin", payload(400_000), rate=20_000)  # 20 s of body
    with pytest.raises(FetchError, match=r"deadline of 1\.5 s passed \(ZOO_FETCH_DEADLINE\)"):
        fetch(url)
    assert _nothing_stored()


def test_a_slow_server_fails_the_minimum_rate(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOO_FETCH_MIN_RATE", "50000")
    monkeypatch.setenv("ZOO_FETCH_RATE_WINDOW", "1")
    url = server.route("/slow.bin", payload(400_000), rate=5_000)
    with pytest.raises(FetchError, match=r"too slow.*ZOO_FETCH_MIN_RATE") as info:
        fetch(url)
    assert "deadline" not in str(info.value)
    assert _nothing_stored()


def test_an_unresponsive_server_fails_after_one_window_not_five_timeouts(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server accepts and answers nothing: the rate check spans the retries."""
    monkeypatch.setenv("ZOO_FETCH_RATE_WINDOW", "0.5")
    url = server.route("/mute.bin", b"x", stall=30)
    with pytest.raises(FetchError, match="too slow, 0 bytes"):
        fetch(url)
    assert len(server.hits("/mute.bin")) <= 2  # not 5 attempts of a full read timeout


def test_a_gzip_bomb_stops_at_the_decoded_cap(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOO_MAX_DOWNLOAD_BYTES", "1000000")
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB on the wire
    url = server.route("/bomb.bin", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match=r"ZOO_MAX_DOWNLOAD_BYTES=1000000"):
        fetch(url)
    assert _nothing_stored()


def test_a_gzip_body_shorter_than_its_content_length_is_refused(server: Server) -> None:
    body = gzip.compress(payload(20_000))
    url = server.route(
        "/short.bin", body, headers={"Content-Encoding": "gzip"}, content_length=len(body) + 50
    )
    with pytest.raises(FetchError):
        fetch(url)
    assert _nothing_stored()


def test_an_endless_body_stops_at_the_cap(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_MAX_DOWNLOAD_BYTES", "300000")
    url = server.route("/endless.bin", payload(65536), endless=True)
    with pytest.raises(FetchError, match="above ZOO_MAX_DOWNLOAD_BYTES=300000"):
        fetch(url)
    assert _nothing_stored()


def test_a_zoo_lock_size_stops_the_stream_at_once(server: Server, isolated: Path) -> None:
    body = payload(4000)
    url = server.route("/locked.bin", payload(65536), endless=True)
    entry = {"url": url, "sha256": sha(body), "size": 4000, "kind": "weights", "archive": False}
    (isolated / "zoo.lock").write_text(json.dumps({"version": 1, "artifacts": [entry]}))
    with pytest.raises(IntegrityError, match=r"zoo\.lock says 4000"):
        fetch(url)
    announced = server.route("/announced.bin", payload(10_000))
    entry2 = dict(entry, url=announced)
    (isolated / "zoo.lock").write_text(json.dumps({"version": 1, "artifacts": [entry2]}))
    with pytest.raises(IntegrityError, match=r"announces 10000 bytes, but zoo\.lock says 4000"):
        fetch(announced)
    assert _nothing_stored()


def test_a_bad_limit_setting_is_a_clear_error(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOO_FETCH_DEADLINE", "soon")
    with pytest.raises(InvalidOptionError, match="ZOO_FETCH_DEADLINE=soon"):
        fetch(server.route("/x.bin", b"x"))


def test_no_network_is_a_short_error_with_what_to_do() -> None:
    """The new user's `zoo.create('inception_v3', 5)` offline: one line, with the way out."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError) as info:
        fetch(f"http://127.0.0.1:{port}/inception_v3.h5", name="inception_v3")
    message = str(info.value)
    assert message.startswith("no network: cannot reach 127.0.0.1")
    assert (
        "pass weights=None, a local weights file, or prefetch with `zoo fetch inception_v3`"
        in message
    )
    assert "connection refused" in message and len(message) < 250
