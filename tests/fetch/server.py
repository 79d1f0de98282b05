"""A real HTTP server on 127.0.0.x for the download tests, with faults on demand.

Each route serves bytes and can misbehave: drop the connection mid-body, ignore ``Range``,
lie about ``Content-Length``, redirect, stall, throttle, never end. Every request's headers are
recorded, so tests can assert what the client sent (Range, credentials, ...).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Route:
    """How one path answers."""

    body: bytes = b""
    status: int = 200
    location: str | None = None  # answer a redirect (status 302 unless given) to here
    drop_after: int | None = None  # close the connection after this many body bytes...
    drops: int = 1_000_000  # ...for this many responses, then serve normally
    ignore_range: bool = False  # answer 200 with the whole body to a Range request
    content_length: int | None = None  # announce this instead of the real length
    rate: float | None = None  # bytes per second
    stall: float = 0.0  # seconds to wait before answering
    etag: str | None = '"v1"'
    headers: dict[str, str] = field(default_factory=dict)
    endless: bool = False  # no Content-Length; repeat ``body`` until the client goes away


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str  # with the query string
    headers: dict[str, str]  # lower-cased names


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner.requests.append(Recorded(self.path, headers))
        route = owner.routes.get(urlsplit(self.path).path)
        if route is None:
            self._send(404, b"not found", {})
            return
        if route.stall:
            time.sleep(route.stall)
        if route.location is not None:
            status = route.status if route.status in (301, 302, 303, 307, 308) else 302
            self._send(status, b"", {"Location": route.location, **route.headers})
            return
        if route.endless:
            self._endless(route)
            return
        body, status, extra = route.body, route.status, dict(route.headers)
        if route.etag:
            extra["ETag"] = route.etag
        extra["Accept-Ranges"] = "bytes"
        wanted = re.match(r"bytes=(\d+)-$", headers.get("range", ""))
        if_range = headers.get("if-range")
        if wanted and not route.ignore_range and (if_range is None or if_range == route.etag):
            start = int(wanted.group(1))
            if start >= len(body):
                self._send(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                return
            extra["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            body, status = body[start:], 206
        self._send(status, body, extra, route)

    def _endless(self, route: Route) -> None:
        """A body delimited by the connection's close, which never comes."""
        self.send_response(200)
        for key, value in route.headers.items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                self.wfile.write(route.body)
                if route.rate is not None:
                    self.wfile.flush()
                    time.sleep(len(route.body) / route.rate)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], route: Route | None = None
    ) -> None:
        self.send_response(status)
        length = len(body)
        if route is not None and route.content_length is not None:
            length = route.content_length
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        limit = len(body)
        if route is not None and route.drop_after is not None and route.drops > 0:
            route.drops -= 1
            limit = min(limit, route.drop_after)
        sent = 0
        step = 64 * 1024 if route is None or route.rate is None else max(1024, int(route.rate / 20))
        try:
            while sent < limit:
                chunk = body[sent : min(limit, sent + step)]
                self.wfile.write(chunk)
                sent += len(chunk)
                if route is not None and route.rate is not None:
                    self.wfile.flush()
                    time.sleep(len(chunk) / route.rate)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        if sent < len(body) or (
            route is not None and route.content_length not in (None, len(body))
        ):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Server


class Server:
    """A threaded HTTP server on ``host`` with a route table; ``stop()`` shuts it down."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.owner = self
        self.host = host
        self.port = self._httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def route(self, path: str, body: bytes = b"", **behaviour: object) -> str:
        """Serve ``body`` at ``path`` (behaviour: the Route fields); returns the URL."""
        self.routes[path] = Route(body=body, **behaviour)  # type: ignore[arg-type]
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Recorded]:
        """The requests made for ``path`` (query ignored)."""
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
