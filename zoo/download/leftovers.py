"""What killed processes leave in the cache, and cleaning it up (F33). No network.

A download streams into ``blobs/.<key>.part`` (with ``.part.json``, what makes it
resumable) under the artifact's lock ``locks/<key>.lock``; an extraction writes
``extracted/.<sha256>.extract-*/`` under ``locks/extract-<sha256>.lock``; the index is
rewritten through ``.index.<pid>.tmp``. A SIGKILL leaves these behind. A leftover is
*stale* when no live process holds its lock (:meth:`ArtifactLock.held`, which knows dead
pids, reused pids and stalled hosts) or, for the index temp file, when its pid is gone.

- :func:`clean_stale` runs once per process before the first download: it removes stale
  extractions and index temp files, and stale partial downloads that cannot be resumed
  (no ``.json``) or were not touched for :data:`KEEP_PARTIAL` seconds (a fresh one is kept
  for the next fetch of its URL to resume).
- ``zoo cache info`` lists leftovers and the cache's size; ``zoo cache clean`` removes every
  stale leftover, resumable ones included.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from zoo.download.filelocks import ArtifactLock, _alive

__all__ = [
    "KEEP_PARTIAL",
    "Leftover",
    "clean_stale",
    "find_leftovers",
    "remove",
    "tree_size",
]

#: Seconds a stale but resumable partial download is kept for its next fetch (1 day).
KEEP_PARTIAL = 86400.0

_PART = re.compile(r"^\.(?P<key>.+)\.part$")
_EXTRACT = re.compile(r"^\.(?P<digest>[0-9a-f]{64})\.extract-")
_INDEX_TMP = re.compile(r"^\.index\.(?P<pid>\d+)\.tmp$")


@dataclass(frozen=True)
class Leftover:
    """One leftover file or directory."""

    path: Path
    kind: str  # "partial download", "half extraction", "index temp file"
    size: int  # bytes
    stale: bool  # no live owner: safe to remove
    resumable: bool  # a partial download the next fetch of its URL continues
    age: float  # seconds since it last changed


def tree_size(path: Path) -> int:
    """Bytes of a file or of every file under a directory (links not followed)."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
    except OSError:
        return 0
    total = 0
    for here, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(here) / name).lstat().st_size
    return total


def _age(path: Path, now: float) -> float:
    try:
        return max(0.0, now - path.lstat().st_mtime)
    except OSError:
        return 0.0


def find_leftovers(root: Path) -> list[Leftover]:
    """Every leftover under the cache ``root``, live or stale."""
    now = time.time()
    found: list[Leftover] = []
    blobs, extracted = root / "blobs", root / "extracted"
    for entry in sorted(blobs.iterdir()) if blobs.is_dir() else []:
        match = _PART.match(entry.name)
        if match is None:
            continue
        held = ArtifactLock(root / "locks" / f"{match['key']}.lock").held()
        meta = entry.with_name(entry.name + ".json")
        found.append(
            Leftover(
                entry,
                "partial download",
                tree_size(entry) + (tree_size(meta) if meta.exists() else 0),
                not held,
                meta.exists(),
                _age(entry, now),
            )
        )
    for entry in sorted(extracted.iterdir()) if extracted.is_dir() else []:
        match = _EXTRACT.match(entry.name)
        if match is None:
            continue
        held = ArtifactLock(root / "locks" / f"extract-{match['digest']}.lock").held()
        found.append(
            Leftover(entry, "half extraction", tree_size(entry), not held, False, _age(entry, now))
        )
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        match = _INDEX_TMP.match(entry.name)
        if match is not None:
            stale = _alive(int(match["pid"]), None) is False
            found.append(
                Leftover(entry, "index temp file", tree_size(entry), stale, False, _age(entry, now))
            )
    return found


def remove(item: Leftover) -> None:
    """Delete one leftover (and a partial download's ``.json``); gone already is fine."""
    if item.path.is_dir() and not item.path.is_symlink():
        shutil.rmtree(item.path, ignore_errors=True)
    else:
        item.path.unlink(missing_ok=True)
    if item.kind == "partial download":
        item.path.with_name(item.path.name + ".json").unlink(missing_ok=True)


def clean_stale(root: Path, *, keep_resumable: float | None = KEEP_PARTIAL) -> list[Leftover]:
    """Remove stale leftovers; a resumable partial younger than ``keep_resumable`` s stays.

    ``keep_resumable=None`` removes resumable partials too (``zoo cache clean``).
    Returns what was removed.
    """
    removed = []
    for item in find_leftovers(root):
        if not item.stale:
            continue
        if item.resumable and keep_resumable is not None and item.age < keep_resumable:
            continue
        try:
            remove(item)
        except OSError:
            continue  # a read-only cache: nothing to clean here
        removed.append(item)
    return removed
