"""A bound on the waits that no read timeout bounds (F28).

A socket read timeout bounds each wait for data, not their sum: a server that sends its
status line and headers (or the framing of a chunked body) one byte every few seconds never
trips it, and the deadline and minimum rate of :class:`~zoo.download.limits.Budget` are
checked only between the chunks of body the client receives. A :class:`Watchdog` closes
that gap. It keeps a duplicate of every socket its session connects (``guard.py`` hands
them over); while it is :meth:`~Watchdog.armed`, a thread shuts them all down once the time
runs out, or once the fetch made no progress (:meth:`~Watchdog.alive`) for ``idle`` seconds.
``shutdown`` acts on the connection, not on one descriptor, so the read blocked in the
fetch's thread returns at once, over plain TCP and TLS alike, and the fetch reports the
limit that fired.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

__all__ = ["Watchdog"]


class Watchdog:
    """Shuts a session's connections down when a request outlives its time (see module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: list[tuple[weakref.ref[Any], socket.socket]] = []
        self._last = time.monotonic()
        #: True once the armed time ran out (until the next :meth:`armed`)
        self.fired = False

    def watch(self, connection: Any, sock: socket.socket) -> None:
        """Watch ``sock``, just connected for ``connection`` (an urllib3 connection)."""
        with self._lock:
            self._prune()
            self._watched.append((weakref.ref(connection), sock.dup()))

    def alive(self) -> None:
        """The fetch made progress: the ``idle`` time of :meth:`armed` starts again."""
        self._last = time.monotonic()

    @contextlib.contextmanager
    def armed(self, limit: float, idle: float | None = None) -> Iterator[None]:
        """Inside: the watched connections are shut down after ``limit`` seconds, or after
        ``idle`` seconds without :meth:`alive`. :attr:`fired` says whether that happened."""
        self.fired = False
        self._last = time.monotonic()
        stop = threading.Event()
        watcher = threading.Thread(
            target=self._run, args=(stop, self._last + limit, idle), name="zoo-watchdog"
        )
        watcher.daemon = True
        watcher.start()
        try:
            yield
        finally:
            with self._lock:  # after this, the watcher has fired or never will
                stop.set()
                self._prune()
            watcher.join()

    def close(self) -> None:
        """Close the duplicates (the session is closing its connections)."""
        with self._lock:
            for _connection, sock in self._watched:
                sock.close()
            self._watched.clear()

    def _run(self, stop: threading.Event, end: float, idle: float | None) -> None:
        while True:
            due = end if idle is None else min(end, self._last + idle)
            wait = due - time.monotonic()
            if wait <= 0:
                break
            if stop.wait(wait):
                return
        with self._lock:
            if stop.is_set():
                return
            self.fired = True
            for _connection, sock in self._watched:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _prune(self) -> None:
        """Close the duplicates of connections that closed (the lock is held)."""
        kept = []
        for ref, sock in self._watched:
            connection = ref()
            live = getattr(connection, "sock", None)
            if live is None or live.fileno() == -1:
                sock.close()
            else:
                kept.append((ref, sock))
        self._watched = kept
