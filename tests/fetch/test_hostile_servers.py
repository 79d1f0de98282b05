"""Hostile servers on 127.0.0.1: every answer ends in a ZooError within the fetch's limits.

A server that drips its headers (or the framing of a chunked body) one byte at a time never
trips a read timeout; the fetch must still stop at the deadline, or after one rate window
(F28). Headers no parser should trust (``Retry-After: ²``, ``Content-Length: ²``, a
``Location`` with a broken IPv6 literal or a port out of range) must be FetchErrors, never a
ValueError. The drip servers give up after a few seconds, so without the watchdog these
tests fail (the client never hangs up on them) instead of hanging.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner

import zoo.download.fetcher
from zoo.cli import main
from zoo.download.fetcher import cache_root, fetch
from zoo.download.trust import add_prefix
from zoo.errors import FetchError, InvalidOptionError, UnsafeURLError

from .server import Server

GIVE_UP = 6.0  # seconds a drip server drips before it closes the connection itself


class RawServer:
    """A TCP server on 127.0.0.1 that answers each request with ``answer(connection)``:
    byte-level control over the status line and headers, which http.server cannot give."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.answer = answer
        self.hung_up = threading.Event()  # set when a client closed while being answered
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # stopped
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                data = connection.recv(4096)
                if not data:
                    return
                request += data
            try:
                self.answer(connection)
            except OSError:
                self.hung_up.set()

    def stop(self) -> None:
        self._listener.close()


def drip(head: bytes, every: float = 0.2) -> Callable[[socket.socket], None]:
    """Send ``head``, then one more byte every ``every`` seconds, for GIVE_UP seconds."""

    def answer(connection: socket.socket) -> None:
        connection.sendall(head)
        end = time.monotonic() + GIVE_UP
        while time.monotonic() < end:
            time.sleep(every)
            connection.sendall(b"a")

    return answer


@pytest.fixture
def raw() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    started: list[RawServer] = []

    def start(answer: Callable[[socket.socket], None]) -> RawServer:
        started.append(RawServer(answer))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def _nothing_stored() -> bool:
    blobs = cache_root() / "blobs"
    return not blobs.exists() or not [p for p in blobs.iterdir() if not p.name.endswith(".lock")]


HEADER_DRIP = b"HTTP/1.1 200 OK\r\nX-Slow: "
CHUNK_DRIP = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;"  # an endless extension


# -- bytes dripped where no read timeout sees them (F28) --------------------------------------


@pytest.mark.parametrize("head", [HEADER_DRIP, CHUNK_DRIP], ids=["headers", "chunk-framing"])
def test_a_drip_outside_the_body_fails_after_one_rate_window(
    raw: Callable[..., RawServer], monkeypatch: pytest.MonkeyPatch, head: bytes
) -> None:
    monkeypatch.setenv("ZOO_FETCH_MIN_RATE", "1024")
    monkeypatch.setenv("ZOO_FETCH_RATE_WINDOW", "1")  # each byte comes well within it
    monkeypatch.setenv("ZOO_FETCH_DEADLINE", "60")
    server = raw(drip(head))
    with pytest.raises(FetchError, match=r"too slow.*ZOO_FETCH_MIN_RATE") as info:
        fetch(server.url + "/w.bin")
    assert server.url in str(info.value)
    assert server.hung_up.wait(GIVE_UP / 2), "the client never hung up on the drip"
    assert _nothing_stored()


@pytest.mark.parametrize("head", [HEADER_DRIP, CHUNK_DRIP], ids=["headers", "chunk-framing"])
def test_a_drip_outside_the_body_hits_the_deadline(
    raw: Callable[..., RawServer], monkeypatch: pytest.MonkeyPatch, head: bytes
) -> None:
    monkeypatch.setenv("ZOO_FETCH_MIN_RATE", "0")  # only the deadline can fire
    monkeypatch.setenv("ZOO_FETCH_DEADLINE", "1.5")
    server = raw(drip(head))
    with pytest.raises(FetchError, match=r"deadline of 1\.5 s passed \(ZOO_FETCH_DEADLINE\)"):
        fetch(server.url + "/w.bin")
    assert server.hung_up.wait(GIVE_UP / 2), "the client never hung up on the drip"
    assert _nothing_stored()


@pytest.mark.parametrize("scheme", ["http", "https"])  # a forwarded request; a CONNECT tunnel
def test_a_proxy_that_drips_its_answer_is_cut_off_too(
    raw: Callable[..., RawServer], monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """A configured proxy is not address-checked (it is the user's), but its connections
    are watched: before, a dripping proxy held the fetch until it gave up itself."""
    monkeypatch.setenv("ZOO_FETCH_MIN_RATE", "0")  # only the deadline can fire
    monkeypatch.setenv("ZOO_FETCH_DEADLINE", "1.5")
    proxy = raw(drip(HEADER_DRIP))
    monkeypatch.setenv(f"{scheme.upper()}_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "")
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"deadline of 1\.5 s passed \(ZOO_FETCH_DEADLINE\)"):
        fetch(f"{scheme}://models.example.com/w.bin", allow_http=True)
    assert time.monotonic() - started < GIVE_UP - 1
    assert proxy.hung_up.wait(GIVE_UP / 2), "the client never hung up on the proxy"
    assert _nothing_stored()


def test_a_close_delimited_body_cut_at_the_deadline_is_not_stored(
    raw: Callable[..., RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut at the deadline, a body without a length ends as a complete one would: refused."""
    monkeypatch.setenv("ZOO_FETCH_MIN_RATE", "0")
    monkeypatch.setenv("ZOO_FETCH_DEADLINE", "1")

    def stalls(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 1000)
        time.sleep(GIVE_UP)

    server = raw(stalls)
    with pytest.raises(FetchError, match="deadline"):
        fetch(server.url + "/w.bin")
    assert _nothing_stored()


# -- headers no parser should trust -----------------------------------------------------------


def test_a_unicode_digit_in_retry_after_is_ignored(server: Server) -> None:
    url = server.route("/busy", b"", status=503, headers={"Retry-After": "\u00b2"})
    with pytest.raises(FetchError, match="answered HTTP 503"):
        fetch(url)
    assert len(server.hits("/busy")) == zoo.download.fetcher.RETRIES + 1


def test_a_unicode_digit_in_content_length_is_refused(raw: Callable[..., RawServer]) -> None:
    server = raw(lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nab"))
    with pytest.raises(FetchError, match=r"invalid Content-Length header \('\u00b2'\)"):
        fetch(server.url + "/w.bin")
    assert _nothing_stored()


def test_conflicting_content_lengths_are_refused(raw: Callable[..., RawServer]) -> None:
    server = raw(lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nab"))
    with pytest.raises(FetchError):
        fetch(server.url + "/w.bin")
    assert _nothing_stored()


def test_an_answer_that_is_not_http_is_not_called_no_network(
    raw: Callable[..., RawServer],
) -> None:
    """A malformed status line means a server answered: saying "no network" sends the user
    to check a network that works."""
    server = raw(lambda c: c.sendall(b"SSH-2.0-OpenSSH_9.2\x1b[2J\r\n\r\n"))
    with pytest.raises(FetchError) as info:
        fetch(server.url + "/w.bin")
    message = str(info.value)
    assert not message.startswith("no network"), message
    assert "with something that is not HTTP (BadStatusLine:" in message
    assert "\x1b" not in message  # the server's bytes are escaped, not printed
    assert _nothing_stored()


def test_a_hang_up_before_any_answer_says_so(raw: Callable[..., RawServer]) -> None:
    server = raw(lambda c: None)  # reads the request, closes without a byte
    with pytest.raises(FetchError) as info:
        fetch(server.url + "/w.bin")
    message = str(info.value)
    assert "closed the connection without answering the request" in message
    assert not message.startswith("no network"), message


@pytest.mark.parametrize(
    ("location", "reason"),
    [("http://[::1/x", "Invalid IPv6 URL"), ("http://127.0.0.1:99999999/x", "Port out of range")],
)
def test_a_redirect_to_an_unparsable_url_is_refused(
    server: Server, location: str, reason: str
) -> None:
    url = server.route("/moved", location=location)
    with pytest.raises(UnsafeURLError, match=f"redirect from {url} .*not a valid URL.*{reason}"):
        fetch(url)
    assert len(server.hits("/moved")) == 1  # refused, not retried


def test_a_host_name_the_resolver_cannot_encode_does_not_resolve(server: Server) -> None:
    """A 64-character label: the idna codec raises UnicodeError inside getaddrinfo."""
    url = server.route("/moved", location=f"http://{'a' * 64}.localhost:{server.port}/x")
    with pytest.raises(FetchError, match="the host name does not resolve"):
        fetch(url)


@pytest.mark.parametrize("url", ["http://[::1/x", "http://[::1/x#sha256=" + "a" * 64])
def test_an_unparsable_url_is_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="not a valid URL"):
        fetch(url)
    # the require-hashes check of a request (zoo fetch / a Session) reads its pins first
    from zoo.download import Artifact, require_pins

    with pytest.raises(UnsafeURLError, match="not a valid URL"):
        require_pins([Artifact(url)], require=True)


def test_trust_refuses_an_unparsable_prefix() -> None:
    with pytest.raises(InvalidOptionError, match=r"not a valid URL \(Invalid IPv6 URL\)"):
        add_prefix("http://[::1")
    for command in ("trust", "untrust"):
        result = CliRunner().invoke(main, [command, "http://[::1"])
        assert result.exit_code == 1
        assert "not a valid URL" in result.output
        assert "unexpected" not in result.output
