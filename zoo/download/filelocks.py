"""Cross-process locks on cache entries, with stale-lock takeover (F7, F8).

A lock is an *owner record*: a small JSON file naming the process that holds it (pid, host,
the process's start time, a random token). Claiming, taking over and releasing a record
happen inside a short critical section guarded by :class:`filelock.FileLock`, so two waiters
never both break the same stale lock, and a kernel lock is never held across a download.
While it holds the lock, the owner's heartbeat thread touches the record every few seconds.

A record is *stale*, and taken over, when:

- its owner ran on this host and that process is gone (no such pid, a zombie, or the pid
  now belongs to a process that started later: pid reuse); or
- its owner ran on another host (a shared cache on a network file system, where the pid
  cannot be checked) and its heartbeat is older than ``stall`` seconds; or
- it cannot be read (it was not written by this module).

A live owner on this host is never taken over, however long it takes: waiters wait up to
``wait`` seconds and then fail with an error naming the owner.

Example:
    >>> with ArtifactLock(Path("cache/locks/abc.lock"), what="https://x/model.tar.gz"):
    ...     pass  # download and rename into place  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import filelock

from zoo import settings
from zoo.errors import FetchError

__all__ = ["ArtifactLock", "LockUnavailable", "OwnerRecord", "process_start"]

#: Seconds without a heartbeat after which another host's lock counts as stalled.
STALL = 60.0
#: Seconds a waiter waits for a live owner by default (``ZOO_LOCK_TIMEOUT`` overrides).
WAIT: float = settings.SETTINGS["ZOO_LOCK_TIMEOUT"].default


class LockUnavailable(OSError):
    """The lock directory cannot be written (a read-only cache, F10)."""


def process_start(pid: int) -> str | None:
    """An identifier of when process ``pid`` started (Linux), to tell a reused pid apart."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, start: str | None) -> bool | None:
    """True/False when the liveness of ``pid`` on this host is known, None when it is not."""
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except OSError:
        return None
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            state = stat.read_text().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):  # a zombie holds nothing
            return False
        return start is None or process_start(pid) in (None, start)
    return True


class OwnerRecord:
    """Who holds a lock; stored as JSON in the lock file."""

    def __init__(self, pid: int, host: str, start: str | None, token: str, what: str) -> None:
        self.pid = pid
        self.host = host
        self.start = start
        self.token = token
        self.what = what

    @classmethod
    def mine(cls, what: str) -> OwnerRecord:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), process_start(pid), uuid.uuid4().hex, what)

    @classmethod
    def read(cls, path: Path) -> OwnerRecord | None:
        """The record at ``path``; raises ValueError when it is not one of ours."""
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
            raise ValueError("not an owner record")
        return cls(
            data["pid"],
            str(data.get("host", "")),
            data.get("start"),
            str(data.get("token", "")),
            str(data.get("what", "")),
        )

    def to_json(self) -> str:
        fields = {"pid": self.pid, "host": self.host, "start": self.start, "token": self.token}
        return json.dumps({**fields, "what": self.what, "since": time.time()}, indent=1)

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"


class ArtifactLock:
    """An exclusive, cross-process lock on one cache entry (see the module docstring).

    Args:
        path: the owner-record file (its directory is created).
        what: what is being locked, for messages (a URL).
        wait: seconds to wait for a live owner (default ``ZOO_LOCK_TIMEOUT`` or 1800).
        stall: heartbeat age after which another host's lock is taken over.
        poll: seconds between attempts.
    """

    def __init__(
        self,
        path: Path,
        *,
        what: str = "",
        wait: float | None = None,
        stall: float = STALL,
        poll: float = 0.05,
    ) -> None:
        self.path = path
        self.what = what or path.name
        self.wait = wait if wait is not None else settings.lock_timeout()
        self.stall = stall
        self.poll = poll
        self._guard = filelock.FileLock(str(path) + ".guard")
        self._record: OwnerRecord | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.took_over: OwnerRecord | None = None  # the stale owner replaced, if any

    def _stale(self, owner: OwnerRecord | None) -> bool:
        if owner is None:
            return True
        if owner.host == socket.gethostname():
            alive = _alive(owner.pid, owner.start)
            if alive is not None:
                return not alive
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return True
        return age > self.stall

    def held(self) -> bool:
        """True when a live owner holds the lock now (a stale or missing record is not held)."""
        try:
            owner = OwnerRecord.read(self.path)
        except ValueError:
            return False
        return not self._stale(owner)

    def _try_claim(self) -> OwnerRecord | None:
        """Claim the lock if free or stale; otherwise return the live owner."""
        with self._guard:
            try:
                owner = OwnerRecord.read(self.path)
            except ValueError:
                owner = None  # unreadable: not written by us, nothing to protect
            if owner is not None and not self._stale(owner):
                return owner
            mine = OwnerRecord.mine(self.what)
            tmp = self.path.with_name(f".{self.path.name}.{mine.token}")
            tmp.write_text(mine.to_json(), encoding="utf-8")
            os.replace(tmp, self.path)
            self._record = mine
            self.took_over = owner
            return None

    def acquire(self) -> None:
        """Block until the lock is ours (taking over a stale one); FetchError after ``wait``."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            deadline = time.monotonic() + self.wait
            while True:
                owner = self._try_claim()
                if owner is None:
                    break
                if time.monotonic() >= deadline:
                    raise FetchError(
                        f"{self.what} is being downloaded by {owner.describe()}, which still "
                        f"runs; gave up after {self.wait:.0f} s. Wait for it, or stop it "
                        f"(its lock is {self.path}; raise ZOO_LOCK_TIMEOUT to wait longer)",
                        url=self.what,
                    )
                time.sleep(self.poll)
        except PermissionError as exc:
            raise LockUnavailable(exc.errno, f"cannot lock {self.path}: {exc.strerror}") from exc
        except OSError as exc:
            if exc.errno in (30, 13, 1):  # EROFS, EACCES, EPERM
                raise LockUnavailable(exc.errno, f"cannot lock {self.path}: {exc}") from exc
            raise
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="zoo-lock", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        interval = max(0.05, min(5.0, self.stall / 4))
        while not self._stop.wait(interval):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def release(self) -> None:
        """Give the lock up; a record that is no longer ours (taken over) is left alone."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        if self._record is None:
            return
        with self._guard:
            try:
                owner = OwnerRecord.read(self.path)
            except ValueError:
                owner = None
            if owner is not None and owner.token == self._record.token:
                self.path.unlink(missing_ok=True)
        self._record = None

    def __enter__(self) -> ArtifactLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
