"""The address check at connect time: every socket a fetch opens goes to a checked address.

:mod:`zoo.download.urls` judges a URL by how it is spelled; this module judges the address
the connection really goes to (F27). A requests transport adapter gives urllib3
connection classes whose ``_new_conn`` resolves the host once, checks *every* address of
the answer, and connects only to those checked addresses, so a DNS answer that changes
between a check and the connection (rebinding) cannot reach a refused address:

- link-local and cloud-metadata addresses, multicast and unspecified ones: never;
- loopback: only when the fetch started at a loopback host;
- private ranges (``10/8``, ``192.168/16``, ``fc00::/7``, ...): only when the fetch started
  at a private or loopback host (a mirror on your own network), never after a public one.

The first connection of a fetch fixes which of the three its origin is. A configured HTTP
proxy is yours: connections to it are not checked (the target's spelling still is), but
they are watched like the others, so a proxy that drips its answer is cut off too. A host
name the resolver cannot even encode (an empty label, one over 63 characters) fails as a
name that does not resolve. Every socket connected is also handed to the session's
:class:`~zoo.download.watchdog.Watchdog`, when it has one (F28).
"""

from __future__ import annotations

import socket
import sys
from typing import TYPE_CHECKING, Any

from zoo.download.urls import IPAddress, forbidden, is_private, loopback_ip, parse_ip
from zoo.errors import UnsafeURLError

if TYPE_CHECKING:
    import requests

    from zoo.download.watchdog import Watchdog

__all__ = ["PeerGuard", "guarded_session"]


class PeerGuard:
    """The connect-time policy of one fetch (its origin is set by the first connection)."""

    def __init__(self, origin: str | None = None) -> None:
        #: "loopback", "private" or "public"; None until the first connection
        self.origin = origin

    def check(self, host: str, addresses: list[IPAddress]) -> None:
        """Refuse the connection unless every address of ``host`` is allowed."""
        if not addresses:
            return
        if self.origin is None:
            if all(loopback_ip(a) for a in addresses):
                self.origin = "loopback"
            elif all(loopback_ip(a) or is_private(a) for a in addresses):
                self.origin = "private"
            else:
                self.origin = "public"
        for ip in addresses:
            why = forbidden(ip)
            if why is None and loopback_ip(ip) and self.origin != "loopback":
                why = f"a loopback address, after a {self.origin} host"
            elif why is None and is_private(ip) and self.origin == "public":
                why = "a private address, after a public host"
            if why is not None:
                raise UnsafeURLError(
                    f"refusing to connect to {host} ({ip}): {why}. tfzoo checks the address "
                    "it connects to, not only how the URL spells it",
                    url=host,
                )


def _resolve(host: str, port: int) -> list[tuple[Any, IPAddress, tuple[Any, ...]]]:
    """(family, address, sockaddr) of every answer for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = parse_ip(str(sockaddr[0]))
        if ip is not None:
            out.append((family, ip, sockaddr))
    return out


def _watch(watchdog: Watchdog | None, connection: Any, sock: socket.socket) -> socket.socket:
    """``sock``, handed to ``watchdog`` first (closed if it cannot be watched)."""
    if watchdog is not None:
        try:
            watchdog.watch(connection, sock)
        except OSError:  # no descriptor left for the duplicate
            sock.close()
            raise
    return sock


def _connection_classes(guard: PeerGuard, watchdog: Watchdog | None) -> tuple[type[Any], type[Any]]:
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    def new_conn(self: Any) -> socket.socket:
        host = self._dns_host
        try:
            answers = _resolve(host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except UnicodeError as exc:  # the idna codec refuses the name: it cannot resolve
            reason = socket.gaierror(socket.EAI_NONAME, f"not a valid host name ({exc})")
            raise NameResolutionError(self.host, self, reason) from reason
        guard.check(self.host, [ip for _f, ip, _s in answers])
        last: OSError | None = None
        for family, _ip, sockaddr in answers:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if isinstance(self.timeout, (int, float)):  # else urllib3's "default" marker
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)  # exactly the address that was checked
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                sock.close()
                last = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return _watch(watchdog, self, sock)
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}") from last

    guarded_http = type("GuardedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
    guarded_https = type("GuardedHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn})
    return guarded_http, guarded_https


def _watched_classes(watchdog: Watchdog) -> tuple[type[Any], type[Any]]:
    """Connection classes for a configured proxy: urllib3's own connect, then watched."""
    from urllib3.connection import HTTPConnection, HTTPSConnection

    def watched(base: type[Any]) -> type[Any]:
        def new_conn(self: Any) -> socket.socket:
            return _watch(watchdog, self, base._new_conn(self))

        return type(f"Watched{base.__name__}", (base,), {"_new_conn": new_conn})

    return watched(HTTPConnection), watched(HTTPSConnection)


def guarded_session(guard: PeerGuard, watchdog: Watchdog | None = None) -> requests.Session:
    """A requests Session whose direct connections all pass ``guard`` (and are watched by
    ``watchdog``, closed with the session); it follows no redirect."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    http_conn, https_conn = _connection_classes(guard, watchdog)
    http_pool = type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})
    proxy_pools: dict[str, type[Any]] | None = None
    if watchdog is not None:
        proxy_http, proxy_https = _watched_classes(watchdog)
        proxy_pools = {
            "http": type("WatchedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": proxy_http}),
            "https": type(
                "WatchedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": proxy_https}
            ),
        }

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            if watchdog is not None and proxy_pools is not None:
                manager.pool_classes_by_scheme = proxy_pools
            return manager

        def close(self) -> None:
            super().close()
            if watchdog is not None:
                watchdog.close()

    class GuardedSession(requests.Session):
        def get_redirect_target(self, resp: requests.Response) -> str | None:
            # Never followed here, nor parsed: the fetcher follows redirects under the policy
            # of zoo.download.urls, and a hostile Location must not raise inside requests.
            return None

    session = GuardedSession()
    adapter = GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
