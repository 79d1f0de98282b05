"""Redirect and host policy against real servers on 127.0.0.1 / 127.0.0.2 (F12)."""

from __future__ import annotations

import pytest

import zoo.download.fetcher
from zoo.download.urls import check_redirect, check_url
from zoo.errors import UnsafeURLError

from .conftest import payload, sha
from .server import Server

DATA = payload(50_000)


def test_redirects_within_the_limit_are_followed(server: Server) -> None:
    target = server.route("/final.h5", DATA)
    server.route("/r2", location=target)
    server.route("/r1", location=server.url("/r2"))
    assert zoo.download.fetcher.fetch(server.url("/r1"), sha256=sha(DATA)).read_bytes() == DATA


def test_a_redirect_loop_is_refused(server: Server) -> None:
    """F12: more than a few hops (here a loop) is refused."""
    server.route("/a", location=server.url("/b"))
    server.route("/b", location=server.url("/a"))
    with pytest.raises(UnsafeURLError, match="more than 5 redirects"):
        zoo.download.fetcher.fetch(server.url("/a"))
    assert len(server.hits("/a")) + len(server.hits("/b")) == zoo.download.fetcher.MAX_REDIRECTS + 1


def test_a_redirect_to_another_scheme_is_refused(server: Server) -> None:
    """F12: http -> https (and any other scheme change) is refused before connecting."""
    server.route("/up", location=f"https://127.0.0.1:{server.port}/x")
    with pytest.raises(UnsafeURLError, match="another scheme"):
        zoo.download.fetcher.fetch(server.url("/up"))
    server.route("/file", location="file:///etc/passwd")
    with pytest.raises(UnsafeURLError, match="another scheme"):
        zoo.download.fetcher.fetch(server.url("/file"))


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.1/internal",
        "http://192.168.1.1/router",
    ],
)
def test_a_redirect_to_metadata_or_private_addresses_is_refused(
    server: Server, target: str
) -> None:
    """F12: link-local, cloud metadata and private addresses are never redirect targets."""
    server.route("/evil", location=target)
    with pytest.raises(UnsafeURLError, match="refusing"):
        zoo.download.fetcher.fetch(server.url("/evil"), allow_http=True)


def test_https_downgrade_and_public_to_loopback_redirects_are_refused() -> None:
    """F12: the policy for redirects that a loopback-only test cannot stage."""
    with pytest.raises(UnsafeURLError, match="another scheme"):
        check_redirect("https://example.org/a", "http://example.org/a")
    with pytest.raises(UnsafeURLError, match="loopback"):
        check_redirect("https://example.org/a", "https://127.0.0.1/a")
    with pytest.raises(UnsafeURLError, match=r"link-local|metadata"):
        check_redirect("https://example.org/a", "https://169.254.10.10/a")
    check_redirect("https://example.org/a", "https://93.184.215.14/b")  # public: fine


def test_metadata_and_link_local_urls_are_refused_outright() -> None:
    for url in ("https://169.254.169.254/x", "https://metadata.google.internal/x"):
        with pytest.raises(UnsafeURLError):
            check_url(url)


def test_credentials_never_follow_a_redirect_to_another_host(
    server: Server, other_server: Server
) -> None:
    """F12: Authorization and cookies stay with the origin that received them."""
    final = other_server.route("/blob.h5", DATA)
    server.route("/start", location=final, headers={"Set-Cookie": "session=secret; Path=/"})
    secret = {"Authorization": "Bearer top-secret", "Cookie": "sid=also-secret"}
    zoo.download.fetcher.fetch(server.url("/start"), headers=secret)
    first = server.hits("/start")[0].headers
    assert first["authorization"] == "Bearer top-secret"
    assert first["cookie"] == "sid=also-secret"
    second = other_server.hits("/blob.h5")[0].headers
    assert "authorization" not in second
    assert "cookie" not in second


def test_credentials_stay_on_a_same_origin_redirect(server: Server) -> None:
    final = server.route("/same.h5", DATA)
    server.route("/go", location=final)
    zoo.download.fetcher.fetch(server.url("/go"), headers={"Authorization": "Bearer t"})
    assert server.hits("/same.h5")[0].headers["authorization"] == "Bearer t"


def test_a_relative_location_is_resolved(server: Server) -> None:
    server.route("/dir/data.h5", DATA)
    server.route("/dir/start", location="data.h5")
    assert zoo.download.fetcher.fetch(server.url("/dir/start")).read_bytes() == DATA
