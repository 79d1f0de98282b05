"""How long and how much one fetch may take (F28). No network here.

A :class:`Budget` spans a whole fetch, every retry included:

- a **deadline** (``ZOO_FETCH_DEADLINE``, 2 h): past it the fetch stops, whatever the server
  does; every request's timeouts are cut to the time left, and a watchdog
  (``zoo.download.watchdog``) ends the connection at the deadline even while the server
  drips its headers or the framing of a chunked body, which no read timeout catches;
- a **minimum rate** (``ZOO_FETCH_MIN_RATE`` bytes/s averaged over ``ZOO_FETCH_RATE_WINDOW``
  seconds; 1 KiB/s over 30 s): a server that drips bytes, or answers nothing, fails after
  one window instead of after five read timeouts; time lost in failed attempts counts; the
  watchdog also ends a request that completes no response headers and delivers no body
  bytes for one window (:meth:`Budget.idle`);
- a **size cap**: the size ``zoo.lock`` pins, else ``ZOO_MAX_DOWNLOAD_BYTES`` (32 GiB),
  counted on the decoded bytes while they stream (a ``Content-Encoding: gzip`` bomb or an
  endless body stops at the cap).

Each limit raises a :class:`~zoo.errors.FetchError` that names the limit and its setting.
"""

from __future__ import annotations

import time
from collections import deque

from zoo.errors import FetchError, IntegrityError
from zoo.settings import fetch_deadline, fetch_min_rate, fetch_rate_window, max_download_bytes

__all__ = ["Budget"]


class Budget:
    """The deadline, minimum rate and size cap of one fetch."""

    def __init__(self, url: str, *, pinned_size: int | None = None) -> None:
        self.url = url
        self.deadline = fetch_deadline()
        self.min_rate = fetch_min_rate()
        self.window = fetch_rate_window()
        self.pinned_size = pinned_size
        self.max_bytes = pinned_size if pinned_size is not None else max_download_bytes()
        self.start = time.monotonic()
        self.received = 0  # bytes received in this fetch, all attempts
        self._samples: deque[tuple[float, int]] = deque([(self.start, 0)])

    def timeout(self, base: tuple[float, float]) -> tuple[float, float]:
        """(connect, read) timeouts cut to the time left and to one rate window."""
        left = self.left()
        read = min(base[1], left, self.window) if self.min_rate else min(base[1], left)
        return min(base[0], left), max(read, 0.001)

    def left(self) -> float:
        """Seconds before the deadline; raises once it has passed."""
        left = self.deadline - (time.monotonic() - self.start)
        if left <= 0:
            raise self._overdue()
        return left

    def idle(self) -> float | None:
        """Seconds a request may go without progress (response headers completed, body bytes
        received): one rate window when a minimum rate is set, else no limit."""
        return self.window if self.min_rate else None

    def stalled(self) -> FetchError:
        """The error for a request the watchdog ended: the deadline passed, or the rate over
        the last window is too low (nothing came for :meth:`idle` seconds)."""
        if time.monotonic() - self.start >= self.deadline:
            return self._overdue()
        try:
            self.check()
        except FetchError as exc:
            return exc
        return FetchError(
            f"{self.url}: too slow, no response headers or body bytes came for "
            f"{self.window:g} s (ZOO_FETCH_RATE_WINDOW); the server stalls or drips. Nothing "
            "was stored",
            url=self.url,
        )

    def _overdue(self) -> FetchError:
        return FetchError(
            f"{self.url}: the download deadline of {self.deadline:g} s passed "
            f"(ZOO_FETCH_DEADLINE) after {self.received} bytes; nothing was stored. Raise "
            "ZOO_FETCH_DEADLINE for a slow link",
            url=self.url,
        )

    def expect(self, size: int | None) -> None:
        """Refuse an announced size above the cap before reading the body."""
        if size is not None and size > self.max_bytes:
            raise self._too_big(size, announced=True)

    def advance(self, n: int, offset: int) -> None:
        """Count ``n`` more bytes (the file now holds ``offset``); check every limit."""
        self.received += n
        if offset > self.max_bytes:
            raise self._too_big(offset, announced=False)
        self.check()

    def check(self) -> None:
        """Raise when the deadline passed or the rate over the last window is too low."""
        self.left()
        if not self.min_rate:
            return
        now = time.monotonic()
        self._samples.append((now, self.received))
        if now - self.start < self.window:
            return
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()
        got = self.received - self._samples[0][1]
        if got < self.min_rate * self.window:
            raise FetchError(
                f"{self.url}: too slow, {got} bytes in the last {self.window:g} s, below the "
                f"minimum rate of {self.min_rate:g} bytes/s (ZOO_FETCH_MIN_RATE, averaged over "
                "ZOO_FETCH_RATE_WINDOW); the server stalls or drips. Nothing was stored",
                url=self.url,
            )

    def _too_big(self, size: int, *, announced: bool) -> FetchError:
        what = "announces" if announced else "sent more than"
        shown = self.max_bytes if not announced else size
        if self.pinned_size is not None:
            return IntegrityError(
                f"{self.url} {what} {shown} bytes, but zoo.lock says {self.pinned_size}; the "
                "download was stopped and nothing was stored",
                url=self.url,
                expected=str(self.pinned_size),
                received=str(size),
            )
        return FetchError(
            f"{self.url} {what} {shown} bytes (decoded), above ZOO_MAX_DOWNLOAD_BYTES="
            f"{self.max_bytes}; the download was stopped and nothing was stored",
            url=self.url,
        )
