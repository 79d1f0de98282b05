"""One fetch's HTTP client, and a server's answer read as if the server were hostile.

:class:`Client` is the requests session of one fetch: every connection's address is checked
(``zoo.download.guard``, F27) and watched (``zoo.download.watchdog``), so a request stays
within the fetch's :class:`~zoo.download.limits.Budget` from the connect to the last body
byte, headers included (F28). The header readers accept only what HTTP allows (ASCII
digits: ``str.isdigit`` also accepts ``"²"``, which ``int`` refuses) and turn anything else
into a :class:`~zoo.errors.FetchError` or a value ignored, never a ValueError. The error
builders word the failures ``zoo.download.fetcher`` reports.
"""

from __future__ import annotations

import contextlib
import errno
import re
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from zoo.download.guard import PeerGuard, guarded_session
from zoo.download.watchdog import Watchdog
from zoo.errors import FetchError, IntegrityError, brief

if TYPE_CHECKING:
    import requests

    from zoo.download.limits import Budget
    from zoo.download.pins import Target

__all__ = [
    "Client",
    "content_length",
    "content_range",
    "disk_error",
    "no_network",
    "retry_after",
    "short_body",
]

_DIGITS = re.compile(r"[0-9]+")
_SIZE = re.compile(r"[0-9]{1,19}")  # below 10**19 bytes: int() of it is cheap
_RANGE = re.compile(r"bytes ([0-9]{1,19})-[0-9]{1,19}/([0-9]{1,19}|\*)")


class Client:
    """The HTTP session of one fetch (see the module); close it when the fetch ends."""

    def __init__(self) -> None:
        import http.cookiejar

        from zoo._version import __version__

        self.watchdog = Watchdog()
        self.session = guarded_session(PeerGuard(), self.watchdog)
        # Artifacts need no cookies; refusing them all means none can follow a redirect.
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self.session.headers["User-Agent"] = f"tfzoo/{__version__}"
        self.session.headers["Accept-Encoding"] = "identity"  # hash and size bytes as served

    def get(
        self, url: str, headers: Mapping[str, str], timeout: tuple[float, float]
    ) -> requests.Response:
        """One GET, redirects not followed, the body left to stream."""
        response = self.session.get(
            url, headers=headers, stream=True, timeout=timeout, allow_redirects=False
        )
        self.watchdog.alive()  # complete response headers are progress
        return response

    def alive(self) -> None:
        """Body bytes arrived: the watchdog's idle time starts again."""
        self.watchdog.alive()

    @contextlib.contextmanager
    def bounded(self, budget: Budget) -> Iterator[None]:
        """Inside: the watchdog ends the connections at the deadline, or after one rate
        window without progress; the Budget's error then replaces whatever the cut
        connection raised (or the end of a body that merely looked complete)."""
        try:
            with self.watchdog.armed(budget.left(), budget.idle()):
                yield
        except Exception as exc:
            if self.watchdog.fired:
                raise budget.stalled() from exc
            raise
        if self.watchdog.fired:
            raise budget.stalled()

    def close(self) -> None:
        self.session.close()


# -- headers ----------------------------------------------------------------------------------


def content_length(url: str, headers: Mapping[str, str]) -> int | None:
    """The announced body size, or None when none is announced.

    Raises:
        FetchError: a ``Content-Length`` that is not a number (RFC 9112 6.3: the response's
            framing is invalid, so nothing of it is used).
    """
    value = headers.get("Content-Length")
    if value is None:
        return None
    values = {v.strip() for v in value.split(",")}  # repeated headers arrive joined by ","
    size = values.pop() if len(values) == 1 else ""
    if not _SIZE.fullmatch(size):
        raise FetchError(
            f"{url} answered an invalid Content-Length header ({brief(value, 60)}); nothing "
            "of that answer was used. The server is broken or hostile",
            url=url,
        )
    return int(size)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The seconds a ``Retry-After`` header asks for; None when absent, a date, or garbage."""
    value = headers.get("Retry-After", "").strip()
    return float(value) if _DIGITS.fullmatch(value) else None


def content_range(value: str) -> tuple[int, int | None] | None:
    """(first byte, total size or None for ``*``) of a ``Content-Range``; None if invalid."""
    match = _RANGE.fullmatch((value or "").strip())
    if match is None:
        return None
    total = match.group(2)
    return int(match.group(1)), None if total == "*" else int(total)


# -- failures ---------------------------------------------------------------------------------


def short_body(url: str, received: int, total: int | None, exc: Exception | None) -> FetchError:
    """The error for a body that ended early: a size disagreement when the size was announced."""
    if total is None:
        return FetchError(f"the connection to {url} failed after {received} bytes: {exc}", url=url)
    return IntegrityError(
        f"{url}: received {received} bytes, but the server announced {total} (Content-Length "
        f"/ Content-Range){f' before the connection closed ({exc})' if exc else ''}; nothing "
        "was stored",
        url=url,
        expected=str(total),
        received=str(received),
    )


def disk_error(url: str, where: Path, exc: OSError) -> FetchError:
    """A FetchError for a file-system failure while storing a download (F29)."""
    if exc.errno == errno.ENOSPC:
        return FetchError(
            f"no space left on the device while downloading {url} into {where}; free some "
            "space (or point ZOO_HOME elsewhere) and retry",
            url=url,
        )
    return FetchError(f"cannot store the download of {url} in {where}: {exc}", url=url)


def no_network(url: str, exc: BaseException, t: Target) -> FetchError:
    """A short error for a connection that could not be made (not urllib3's 400 characters).

    A connection that was made, to a server whose answer is not HTTP (a malformed status
    line, or a hang-up before any answer), is said as that: the network is there.
    """
    import http.client  # not at import: it imports ssl (the offline test's socket trap)

    reason, todo = "the connection failed", [exc]
    host = urlsplit(url).netloc
    while todo:
        e = todo.pop(0)
        if isinstance(e, http.client.RemoteDisconnected):
            return FetchError(
                f"{host} closed the connection without answering the request for {url}; "
                "the server (or a proxy before it) is failing: retry later",
                url=url,
            )
        if isinstance(e, http.client.HTTPException):
            return FetchError(
                f"{host} answered the request for {url} with something that is not HTTP "
                f"({type(e).__name__}: {brief(str(e))}); is this address a web server?",
                url=url,
            )
        if isinstance(e, socket.gaierror):
            reason = "the host name does not resolve"
            break
        if isinstance(e, TimeoutError):
            reason = "the connection timed out"
            break
        if isinstance(e, OSError) and e.strerror:
            reason = e.strerror.lower()
            break
        todo += [x for x in (e.__cause__, e.__context__, getattr(e, "reason", None)) if x]
        todo += [a for a in e.args if isinstance(a, BaseException)]
    model = t.name or "NAME"
    todo_text = (
        f"pass weights=None, a local weights file, or prefetch with `zoo fetch {model}`"
        if t.kind == "weights"
        else f"prefetch it while online with `zoo fetch {model}` (then ZOO_OFFLINE=1 uses it)"
    )
    return FetchError(f"no network: cannot reach {host} ({reason}); {todo_text}", url=url)
