"""Real processes: killed mid-download (F6), racing (F7), stale and live locks (F8)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zoo.download.fetcher
from zoo.download.cache import url_key
from zoo.download.filelocks import ArtifactLock, OwnerRecord, process_start
from zoo.errors import FetchError

from .conftest import blobs, payload, sha
from .server import Server

ROOT = str(Path(zoo.download.fetcher.__file__).parents[2])
BIG = payload(2_000_000)


def _child(code: str, **env: str) -> subprocess.Popen[str]:
    full = {**os.environ, "PYTHONPATH": ROOT, "ZOO_PROGRESS": "0", **env}
    return subprocess.Popen(
        [sys.executable, "-c", code], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _fetch_code(url: str) -> str:
    return f"import zoo.download.fetcher; print(zoo.download.fetcher.fetch({url!r}))"


def _wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def _lock_file(url: str) -> Path:
    return zoo.download.fetcher.cache_root() / "locks" / f"{url_key(url)}.lock"


def test_killed_mid_download_then_rerun_resumes_to_a_correct_file(server: Server) -> None:
    """F6: SIGKILL mid-download; the rerun takes over the lock, resumes, and is correct."""
    url = server.route("/big.bin", BIG, rate=1_000_000)
    child = _child(_fetch_code(url))
    part = zoo.download.fetcher.cache_root() / "blobs" / f".{url_key(url)}.part"
    _wait_for(lambda: part.exists() and part.stat().st_size > 300_000)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = part.stat().st_size
    assert 0 < left < len(BIG)
    assert _lock_file(url).exists()  # the dead process's lock is still there
    server.route("/big.bin", BIG)  # full speed for the rerun
    path = zoo.download.fetcher.fetch(url, sha256=sha(BIG))
    assert path.read_bytes() == BIG
    resume = server.hits("/big.bin")[-1].headers
    assert resume["range"] == f"bytes={left}-"
    assert blobs() == [path.name]  # no leftover temp file
    assert not _lock_file(url).exists()


def test_two_processes_fetching_at_once_make_one_intact_copy(server: Server) -> None:
    """F7: two real processes; one downloads, the other waits and uses the same copy."""
    url = server.route("/shared.bin", BIG, rate=2_000_000)
    first, second = _child(_fetch_code(url)), _child(_fetch_code(url))
    outs = [p.communicate(timeout=60) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    paths = {out.strip() for out, _err in outs}
    assert len(paths) == 1
    path = Path(paths.pop())
    assert path.read_bytes() == BIG
    assert blobs() == [path.name]
    assert len(server.hits("/shared.bin")) == 1  # the bytes were downloaded once


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_record(path: Path, pid: int, host: str, start: str | None, age: float = 0.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host, "start": start, "token": "t"}))
    if age:
        then = time.time() - age
        os.utime(path, (then, then))


def test_a_dead_owners_lock_is_taken_over_at_once(server: Server) -> None:
    """F8: a lock left by a process that no longer exists does not block."""
    url = server.route("/w.h5", BIG[:1000])
    _write_record(_lock_file(url), _dead_pid(), socket.gethostname(), None)
    start = time.monotonic()
    assert zoo.download.fetcher.fetch(url).read_bytes() == BIG[:1000]
    assert time.monotonic() - start < 5.0


def test_a_reused_pid_does_not_keep_a_lock_alive(tmp_path: Path) -> None:
    """F8: the recorded pid is alive but started at another time: the owner is gone."""
    path = tmp_path / "a.lock"
    _write_record(path, os.getpid(), socket.gethostname(), "1")  # our pid, not our start
    assert process_start(os.getpid()) not in (None, "1")
    with ArtifactLock(path, wait=1.0) as lock:
        assert lock.took_over is not None and lock.took_over.start == "1"


def test_another_hosts_lock_is_taken_over_only_when_stalled(tmp_path: Path) -> None:
    """F8: a pid on another host cannot be checked: its heartbeat decides (stall timeout)."""
    path = tmp_path / "b.lock"
    _write_record(path, 12345, "some-other-host", None, age=0.0)
    with pytest.raises(FetchError, match="process 12345 on some-other-host"):
        ArtifactLock(path, wait=0.3, stall=60).acquire()
    assert OwnerRecord.read(path).host == "some-other-host"  # type: ignore[union-attr]
    _write_record(path, 12345, "some-other-host", None, age=120.0)
    with ArtifactLock(path, wait=1.0, stall=60) as lock:
        assert lock.took_over is not None
    assert not path.exists()


def test_a_live_owners_lock_is_never_deleted(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F8: a live process holding the lock makes others wait (and fail after the timeout);
    its lock file is kept. Once it is killed, the lock is taken over."""
    url = server.route("/held.h5", BIG[:5000])
    lock_path = _lock_file(url)
    holder = _child(
        "import sys, time\n"
        "from pathlib import Path\n"
        "from zoo.download.filelocks import ArtifactLock\n"
        f"lock = ArtifactLock(Path({str(lock_path)!r}), stall=0.4)\n"
        "lock.acquire(); print('locked', flush=True); time.sleep(60)\n"
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    time.sleep(1.0)  # more than the holder's stall time: its heartbeat keeps the lock fresh
    try:
        monkeypatch.setenv("ZOO_LOCK_TIMEOUT", "0.5")
        with pytest.raises(FetchError, match=f"process {holder.pid} on"):
            zoo.download.fetcher.fetch(url)
        record = OwnerRecord.read(lock_path)
        assert record is not None and record.pid == holder.pid
        assert time.time() - lock_path.stat().st_mtime < 0.5  # heartbeat alive
        assert server.hits("/held.h5") == []
    finally:
        monkeypatch.delenv("ZOO_LOCK_TIMEOUT")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert zoo.download.fetcher.fetch(url).read_bytes() == BIG[:5000]


def test_a_lock_is_released_and_a_taken_over_lock_is_not_deleted_by_its_old_owner(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.lock"
    first = ArtifactLock(path, wait=1.0)
    first.acquire()
    assert OwnerRecord.read(path) is not None
    # someone else took it over (e.g. after a stall): the old owner must leave it alone
    _write_record(path, 99999, "other", None)
    first.release()
    assert OwnerRecord.read(path).pid == 99999  # type: ignore[union-attr]
    path.unlink()
    with ArtifactLock(path, wait=1.0):
        pass
    assert not path.exists()
