"""F27: every spelling of a refused address is refused, and so is the address connected to.

Nothing here sends a packet anywhere but 127.0.0.1: a refused spelling must fail before any
connection, which is what these tests assert (the server's request log, and no other host).
"""

from __future__ import annotations

import pytest

from zoo.download.fetcher import fetch
from zoo.download.guard import PeerGuard, guarded_session
from zoo.download.urls import check_url, parse_ip
from zoo.errors import UnsafeURLError

from .conftest import payload, sha
from .server import Server

METADATA_SPELLINGS = [
    "2852039166",  # decimal
    "0251.0376.0251.0376",  # octal
    "0xa9.0xfe.0xa9.0xfe",  # hex per part
    "0xa9fea9fe",  # hex
    "169.254.43518",  # a.b.c with a 16-bit tail
    "0251.254.169.254",  # mixed
    "169.254.169.254.",  # trailing dot
    "[::ffff:169.254.169.254]",  # IPv4-mapped IPv6
    "[::ffff:a9fe:a9fe]",  # the same in hex
    "[64:ff9b::a9fe:a9fe]",  # NAT64
    "[2002:a9fe:a9fe::1]",  # 6to4
    "[fe80::1%25eth0]",  # link-local with a zone id
    "[fd00:ec2::254]",  # AWS IMDS over IPv6
    "0",  # unspecified (0.0.0.0)
]


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
def test_every_spelling_of_a_refused_address_is_refused(host: str) -> None:
    with pytest.raises(UnsafeURLError, match=r"metadata|link-local|unicast"):
        check_url(f"http://{host}/latest/meta-data/", allow_http=True)  # zoo.yaml options path
    with pytest.raises(UnsafeURLError):
        fetch(f"https://{host}/x.bin")


@pytest.mark.parametrize("host", ["2852039166", "[::ffff:169.254.169.254]", "0251.0376.0251.0376"])
def test_a_redirect_to_a_spelled_metadata_address_is_refused(server: Server, host: str) -> None:
    url = server.route("/start", location=f"http://{host}/latest/meta-data/")
    with pytest.raises(UnsafeURLError, match=r"metadata|link-local"):
        fetch(url, allow_http=True)
    assert [r.path for r in server.requests] == ["/start"]


def test_spelled_loopback_is_loopback(server: Server) -> None:
    """The same parser that refuses 2852039166 sees 2130706433 as 127.0.0.1."""
    body = payload(3000)
    server.route("/w.bin", body)
    assert str(parse_ip("2130706433")) == "127.0.0.1"
    assert str(parse_ip("0x7f.1")) == "127.0.0.1"
    path = fetch(f"http://2130706433:{server.port}/w.bin", sha256=sha(body))
    assert path.read_bytes() == body


def test_the_connected_address_is_checked_not_only_the_spelling(server: Server) -> None:
    """After a public origin, a connection to loopback is refused before it is opened."""
    url = server.route("/w.bin", b"secret")
    session = guarded_session(PeerGuard(origin="public"))
    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1.*loopback address, after a public"):
        session.get(url, timeout=5)
    session.close()
    assert server.requests == []
    # "localhost" resolves to loopback too: refused by what it resolves to, not by its name
    with pytest.raises(UnsafeURLError, match="loopback"):
        guarded_session(PeerGuard(origin="public")).get(
            f"http://localhost:{server.port}/w.bin", timeout=5
        )
    assert server.requests == []


def test_after_a_public_origin_private_addresses_are_refused() -> None:
    """Private addresses are checked at connect time (refused before the socket exists)."""
    guard = PeerGuard(origin="public")
    for literal in ("10.0.0.1", "192.168.1.1", "::ffff:10.0.0.1", "fc00::1"):
        ip = parse_ip(literal)
        assert ip is not None
        with pytest.raises(UnsafeURLError, match="private address"):
            guard.check(literal, [ip])
    PeerGuard(origin="private").check("10.0.0.1", [parse_ip("10.0.0.2")])  # type: ignore[list-item]


def test_the_first_connection_fixes_the_origin(server: Server) -> None:
    guard = PeerGuard()
    url = server.route("/w.bin", b"ok")
    assert guarded_session(guard).get(url, timeout=5).content == b"ok"
    assert guard.origin == "loopback"
