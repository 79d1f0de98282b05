"""Which URLs tfzoo fetches, and where a redirect may lead (F12). No network here.

- The first URL must be https. Plain http is allowed from loopback addresses (tests, local
  mirrors) or with an explicit ``allow_http=True``. Link-local and cloud-metadata addresses
  are always refused.
- A redirect keeps the scheme (no https -> http downgrade, no switch to ``file:`` or ``ftp:``)
  and may only lead to a public address; a loopback target is allowed only when the redirect
  itself came from loopback. Host names of redirect targets are resolved and every address
  is checked (best effort: the connection resolves again).
- Credentials (``Authorization``, ``Cookie``, ``Proxy-Authorization``) are dropped as soon as
  a redirect leaves the origin (scheme, host, port).

Example:
    >>> check_url("http://example.org/x")
    Traceback (most recent call last):
    ...
    zoo.errors.UnsafeURLError: refusing http://example.org/x: ...
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import MutableMapping
from urllib.parse import urlsplit

from zoo.errors import UnsafeURLError

__all__ = ["CREDENTIAL_HEADERS", "check_redirect", "check_url", "is_loopback", "strip_credentials"]

CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_METADATA_HOSTS = {
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
}
_METADATA_IPS = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def _refused(url: str, why: str) -> UnsafeURLError:
    return UnsafeURLError(f"refusing {url}: {why}", url=url)


def _forbidden(ip: IPAddress) -> str | None:
    """Why an address is never fetched from, or None."""
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or ip.is_unspecified:
        return "not a unicast address"
    return None


def check_url(url: str, *, allow_http: bool = False) -> None:
    """Refuse anything but https (http only from loopback or with ``allow_http``).

    Raises:
        UnsafeURLError: the scheme or host is refused; the message says why.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise _refused(url, "no host in the URL")
    if parts.scheme == "http":
        if not (allow_http or is_loopback(host)):
            raise _refused(
                url,
                "only https URLs are fetched (plain http only from loopback addresses, or "
                "with allow_http=True)",
            )
    elif parts.scheme != "https":
        raise _refused(url, f"scheme {parts.scheme!r} is not fetched; use an https URL")
    if host.rstrip(".") in _METADATA_HOSTS:
        raise _refused(url, "a cloud metadata host")
    ip = _ip(host)
    if ip is not None and (why := _forbidden(ip)):
        raise _refused(url, why)


def _resolve(host: str, port: int) -> list[IPAddress]:
    ip = _ip(host)
    if ip is not None:
        return [ip]
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return []  # the request itself will fail with a clear connection error
    found = [_ip(str(info[4][0]).split("%", 1)[0]) for info in infos]
    return [a for a in found if a is not None]


def check_redirect(source: str, target: str, *, allow_http: bool = False) -> None:
    """Refuse a redirect from ``source`` to ``target`` that the policy forbids.

    Raises:
        UnsafeURLError: another scheme, a refused address, or loopback from a public host.
    """
    src, dst = urlsplit(source), urlsplit(target)
    if src.scheme != dst.scheme:
        raise _refused(
            target, f"redirected from {source} to another scheme ({src.scheme} -> {dst.scheme})"
        )
    check_url(target, allow_http=allow_http)
    host = (dst.hostname or "").lower()
    from_loopback = is_loopback(src.hostname or "")
    if is_loopback(host):
        if from_loopback:
            return
        raise _refused(target, f"a redirect from {source} to a loopback address")
    port = dst.port or (443 if dst.scheme == "https" else 80)
    for ip in _resolve(host, port):
        if (why := _forbidden(ip)) is not None:
            raise _refused(target, f"redirected from {source} to {why} ({ip})")
        if ip.is_loopback and not from_loopback:
            raise _refused(target, f"redirected from {source} to a loopback address ({ip})")
        if not ip.is_global and not ip.is_loopback:
            raise _refused(target, f"redirected from {source} to a private address ({ip})")


def same_origin(a: str, b: str) -> bool:
    """Same scheme, host and port (the unit that credentials belong to)."""
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"https": 443, "http": 80}
    return (
        pa.scheme == pb.scheme
        and (pa.hostname or "").lower() == (pb.hostname or "").lower()
        and (pa.port or default.get(pa.scheme)) == (pb.port or default.get(pb.scheme))
    )


def strip_credentials(headers: MutableMapping[str, str]) -> None:
    """Remove every credential header (case-insensitively)."""
    for key in [k for k in headers if k.lower() in CREDENTIAL_HEADERS]:
        del headers[key]
