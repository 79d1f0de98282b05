"""Start-up caches: the parsed, validated registry files and the scan of installed plugins.

Every command starts by reading registry files and asking ``importlib.metadata`` for entry
points. Both results are kept as JSON under ``ZOO_HOME/startup`` (``zoo.settings.cache_dir``)
and reused while their key matches:

* a registry file: the hash of its bytes (and tfzoo's version), so any edit is seen;
* the plugin scan: every ``sys.path`` directory with its modification time (installing or
  removing a distribution adds or removes a ``*.dist-info`` directory there, which changes
  the time), and the Python executable.

JSON, not pickle: a cache file is data, never code. A cache file that is missing, corrupt or
of another version is ignored and rewritten; writes are atomic (a temporary file renamed), so
concurrent commands never read half a file. ``ZOO_NO_STARTUP_CACHE=1`` turns both off.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from zoo._version import __version__

try:  # hashlib's own blake2b, without hashlib loading OpenSSL (a few ms of every command)
    from _blake2 import blake2b
except ImportError:  # another Python implementation
    from hashlib import blake2b

__all__ = ["digest", "load", "path_key", "store"]

_FORMAT = 2  # bump when what is stored changes shape


def _file(kind: str, name: str) -> Path | None:
    from zoo.settings import cache_dir, startup_cache_enabled

    if not startup_cache_enabled():
        return None
    return cache_dir() / f"{kind}-{digest(name.encode(), 12)}.json"


def load(kind: str, name: str, key: str) -> Any | None:
    """The value stored for ``(kind, name)`` if it was stored under ``key``, else None."""
    path = _file(kind, name)
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != _full_key(key):
        return None
    return data.get("value")


def store(kind: str, name: str, key: str, value: Any) -> None:
    """Keep ``value`` for ``(kind, name)`` under ``key`` (skipped if it cannot be written)."""
    path = _file(kind, name)
    if path is None:
        return
    try:
        text = json.dumps({"key": _full_key(key), "value": value}, separators=(",", ":"))
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # only on a miss: it imports shutil, random, bz2, lzma

        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        return  # read-only home, or a value JSON cannot hold: just no cache


def _full_key(key: str) -> str:
    return f"{_FORMAT}:{__version__}:{key}"


def path_key() -> str:
    """What the installed distributions depend on: sys.path directories and their mtimes."""
    parts = [sys.executable]
    for entry in sys.path:
        try:
            parts.append(f"{entry}={os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}=-")
    return digest("\0".join(parts).encode())


def digest(data: bytes, size: int = 16) -> str:
    """The BLAKE2b digest of ``data`` (``size`` bytes) in hexadecimal: what keys are made of."""
    return blake2b(data, digest_size=size).hexdigest()
