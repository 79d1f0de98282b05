"""Which URLs tfzoo fetches, and where a redirect may lead (F12). No network here.

- The first URL must be https. Plain http is allowed from loopback addresses (tests, local
  mirrors) or with an explicit ``allow_http=True``. Link-local and cloud-metadata addresses
  are always refused.
- A redirect keeps the scheme (no https -> http downgrade, no switch to ``file:`` or ``ftp:``)
  and may only lead to a public address; a loopback target is allowed only when the redirect
  itself came from loopback. Host names of redirect targets are resolved and every address
  is checked (best effort: the connection resolves again).
- Every spelling of an address counts: decimal (``http://2852039166/``), octal and hex
  IPv4 forms, IPv4-mapped / NAT64 / 6to4 IPv6 (``[::ffff:169.254.169.254]``) are checked as
  the IPv4 address they reach (F27). The address actually connected to is checked
  again at connect time by :mod:`zoo.download.guard`, so a DNS answer cannot slip past.
- Credentials (``Authorization``, ``Cookie``, ``Proxy-Authorization``) are dropped as soon as
  a redirect leaves the origin (scheme, host, port).
- A URL that does not parse (a broken IPv6 literal such as ``http://[::1/x``, a port out of
  range), given or sent in a ``Location`` header, is refused as such: an UnsafeURLError,
  never the parser's ValueError.

Example:
    >>> check_url("http://example.org/x")
    Traceback (most recent call last):
    ...
    zoo.errors.UnsafeURLError: refusing http://example.org/x: ...
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import MutableMapping
from urllib.parse import SplitResult, urljoin, urlsplit

from zoo.errors import UnsafeURLError, brief

__all__ = [
    "CREDENTIAL_HEADERS",
    "check_redirect",
    "check_url",
    "forbidden",
    "is_loopback",
    "is_private",
    "loopback_ip",
    "parse_ip",
    "redirect_target",
    "split_url",
    "strip_credentials",
]

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


_NUMERIC_V4 = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_ip(host: str) -> IPAddress | None:
    """The address a host spells, in any form the C resolver accepts, or None for a name.

    ``2852039166``, ``0251.0376.0251.0376``, ``0xa9fea9fe`` and ``169.254.43518`` are all
    169.254.169.254 to ``getaddrinfo`` (``inet_aton`` rules); IPv6 zone ids are dropped.
    """
    host = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_V4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


_ip = parse_ip


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """``ip`` and the IPv4 address it carries (IPv4-mapped, NAT64, 6to4), if any."""
    out: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            out.append(ip.ipv4_mapped)
        if ip in _NAT64:
            out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None:
            out.append(ip.sixtofour)
    return out


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = _ip(host)
    return ip is not None and any(a.is_loopback for a in _embedded(ip))


def _refused(url: str, why: str) -> UnsafeURLError:
    return UnsafeURLError(f"refusing {url}: {why}", url=url)


def forbidden(ip: IPAddress) -> str | None:
    """Why an address is never fetched from (in any spelling), or None."""
    for a in _embedded(ip):
        if a in _METADATA_IPS:
            return "a cloud metadata address"
        if a.is_link_local:
            return "a link-local address"
        if a.is_multicast or a.is_unspecified:
            return "not a unicast address"
    return None


def is_private(ip: IPAddress) -> bool:
    """Not globally routable (private, shared, documentation ranges), loopback excluded."""
    inner = _embedded(ip)[-1]
    return not inner.is_loopback and not inner.is_global


def loopback_ip(ip: IPAddress) -> bool:
    """A loopback address, in any spelling (``::ffff:127.0.0.1`` included)."""
    return _embedded(ip)[-1].is_loopback


_forbidden = forbidden


def split_url(url: str) -> SplitResult:
    """``urlsplit(url)``, with its port checked.

    Raises:
        UnsafeURLError: ``url`` does not parse (a broken IPv6 literal, a port that is no
            number or out of range, a host that changes under NFKC normalization).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise UnsafeURLError(
            f"refusing {brief(url, 200)}: not a valid URL ({exc})", url=url
        ) from None
    return parts


def redirect_target(source: str, location: str) -> str:
    """The absolute URL a ``Location`` header sent in answer to ``source`` points to.

    Raises:
        UnsafeURLError: the header is no valid URL.
    """
    try:
        target = urljoin(source, location)
        urlsplit(target).port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise UnsafeURLError(
            f"refusing the redirect from {source} to {brief(location, 200)}: not a valid URL "
            f"({exc})",
            url=location,
        ) from None
    return target


def check_url(url: str, *, allow_http: bool = False) -> None:
    """Refuse anything but https (http only from loopback or with ``allow_http``).

    Raises:
        UnsafeURLError: the URL does not parse, or its scheme or host is refused; the message
            says why.
    """
    parts = split_url(url)
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
    except (OSError, UnicodeError):  # UnicodeError: a label the idna codec refuses
        return []  # the request itself will fail with a clear connection error
    found = [_ip(str(info[4][0]).split("%", 1)[0]) for info in infos]
    return [a for a in found if a is not None]


def check_redirect(source: str, target: str, *, allow_http: bool = False) -> None:
    """Refuse a redirect from ``source`` to ``target`` that the policy forbids.

    Raises:
        UnsafeURLError: another scheme, a refused address, or loopback from a public host.
    """
    src, dst = split_url(source), split_url(target)
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
        if loopback_ip(ip) and not from_loopback:
            raise _refused(target, f"redirected from {source} to a loopback address ({ip})")
        if is_private(ip):
            raise _refused(target, f"redirected from {source} to a private address ({ip})")


def same_origin(a: str, b: str) -> bool:
    """Same scheme, host and port (the unit that credentials belong to)."""
    pa, pb = split_url(a), split_url(b)
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
