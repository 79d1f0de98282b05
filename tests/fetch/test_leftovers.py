"""F33: what SIGKILLed processes leave in the cache is cleaned, and `zoo cache` shows it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from click.testing import CliRunner

from zoo.cli import main
from zoo.download.fetcher import cache_root, fetch

from .conftest import payload
from .server import Server

HALF_EXTRACTION = textwrap.dedent(
    """
    import tempfile, time
    from zoo.download.fetcher import _cache, _locked
    cache = _cache()
    digest = "ab" * 32
    cache.extracted(digest).parent.mkdir(parents=True, exist_ok=True)
    with _locked(cache, f"extract-{digest}", "archive"):  # as fetch_archive does
        tmp = tempfile.mkdtemp(dir=cache.extracted(digest).parent, prefix=f".{digest}.extract-")
        open(tmp + "/variables.data", "wb").write(b"x" * 5000)
        print("ready", flush=True)
        time.sleep(600)
    """
)


def _start(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )


def _half_extraction() -> subprocess.Popen[str]:
    proc = _start(HALF_EXTRACTION)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _killed_download(url: str) -> Path:
    """A real fetch of ``url`` SIGKILLed once its .part holds bytes; returns the .part."""
    proc = _start(f"from zoo.download.fetcher import fetch; fetch({url!r})")
    blobs = cache_root() / "blobs"
    deadline = time.monotonic() + 120
    part: Path | None = None
    while time.monotonic() < deadline and part is None:
        found = [p for p in blobs.glob(".*.part")] if blobs.exists() else []
        part = found[0] if found and found[0].stat().st_size > 0 else None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert part is not None, "the download never started"
    return part


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _info() -> dict[str, object]:
    result = CliRunner().invoke(main, ["cache", "info", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_the_next_fetch_cleans_what_killed_processes_left(server: Server) -> None:
    part = _killed_download(server.route("/slow.bin", payload(400_000), rate=4000, etag=None))
    _kill(_half_extraction())  # after the download: that process's first fetch would clean it
    leftovers = _info()["leftovers"]
    assert isinstance(leftovers, list)
    assert {(i["kind"], i["stale"]) for i in leftovers} == {
        ("half extraction", True),
        ("partial download", True),
    }
    fetch(server.route("/other.bin", b"other"))  # any download of this cache cleans first
    assert not part.exists()
    assert not list((cache_root() / "extracted").glob(".*.extract-*"))
    assert _info()["leftovers"] == []


def test_a_live_owner_is_never_cleaned_and_a_resumable_partial_waits(server: Server) -> None:
    live = _half_extraction()
    try:
        part = _killed_download(server.route("/slow.bin", payload(400_000), rate=4000))
        fetch(server.route("/other.bin", b"other"))
        assert part.exists()  # resumable (ETag) and fresh: kept for the next fetch to resume
        assert list((cache_root() / "extracted").glob(".*.extract-*"))  # its owner lives
        result = CliRunner().invoke(main, ["cache", "info"])
        assert "in use" in result.output and "stale, resumable" in result.output
        cleaned = CliRunner().invoke(main, ["cache", "clean"])
        assert cleaned.exit_code == 0 and "removed partial download" in cleaned.output
        assert "(1 leftovers)" in cleaned.output
        assert not part.exists() and list((cache_root() / "extracted").glob(".*.extract-*"))
    finally:
        _kill(live)
    assert CliRunner().invoke(main, ["cache", "clean"]).output.startswith("removed half")
