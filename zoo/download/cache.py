"""The download cache: content-addressed files, a readable index, verification records.

Layout under ``ZOO_HOME/cache`` (``zoo.download.fetcher.cache_root()``)::

    index.json                 URL -> entry, blob -> verification, archive -> extraction
    blobs/<sha256><suffix>     each downloaded file, named by its content hash (the suffix of
                               the URL is kept: Keras needs ".weights.h5" to load weights)
    blobs/.<key>.part          a download in progress (resumed by the next attempt)
    extracted/<sha256>/        the extracted contents of archive <sha256>
    locks/<key>.lock           owner records of cross-process locks (zoo.download.filelocks)

A blob is hashed once: its verification records its size and mtime, and later uses only
``stat`` it. A blob whose size or mtime changed is hashed again (damage, F5); a size that
disagrees with the record is damage without hashing. The index is a convenience: losing it
costs downloads, never correctness, because names are hashes.

Example:
    >>> Cache(Path("~/.cache/zoo/cache").expanduser()).url_entry("https://x/w.h5")  # doctest: +SKIP
    {'sha256': '...', 'size': 1234, 'name': '....h5', ...}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import filelock

from zoo.errors import ZooWarning

__all__ = ["Cache", "Partial", "file_sha256", "url_key", "url_suffix"]

_SUFFIXES = (
    ".weights.h5",
    ".weights.json",
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".tgz",
    ".tar",
    ".zip",
    ".keras",
    ".h5",
    ".hdf5",
    ".yaml",
    ".yml",
    ".json",
    ".pb",
    ".npz",
)
_CHUNK = 1 << 20


def url_key(url: str) -> str:
    """A short, file-name-safe key for a URL."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def url_suffix(url: str) -> str:
    """The file suffix to keep from a URL's path (".weights.h5", ".tar.gz", ...), or ""."""
    tail = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    for suffix in _SUFFIXES:
        if tail.endswith(suffix) and len(tail) > len(suffix):
            return suffix
    match = re.search(r"\.[a-z0-9]{1,8}$", tail)
    return match.group(0) if match else ""


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in large chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Cache:
    """One cache directory (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.index_path = root / "index.json"
        self._index: tuple[tuple[int, int], dict[str, Any]] | None = None

    # -- paths ------------------------------------------------------------------------------

    def blob(self, sha256: str, suffix: str = "") -> Path:
        return self.root / "blobs" / f"{sha256}{suffix}"

    def partial(self, url: str) -> Path:
        return self.root / "blobs" / f".{url_key(url)}.part"

    def extracted(self, sha256: str) -> Path:
        return self.root / "extracted" / sha256

    def lock_path(self, name: str) -> Path:
        return self.root / "locks" / f"{name}.lock"

    # -- the index --------------------------------------------------------------------------

    def index(self) -> dict[str, Any]:
        """The parsed index (re-read only when the file changed)."""
        try:
            st = self.index_path.stat()
        except OSError:
            return {"version": 1, "urls": {}, "blobs": {}, "extracted": {}}
        stamp = (st.st_mtime_ns, st.st_size)
        if self._index is not None and self._index[0] == stamp:
            return self._index[1]
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as exc:
            warnings.warn(
                f"ignoring the damaged cache index {self.index_path} ({exc}); it is rebuilt "
                "as artifacts are fetched again",
                ZooWarning,
                stacklevel=3,
            )
            data = {}
        for section in ("urls", "blobs", "extracted"):
            if not isinstance(data.get(section), dict):
                data[section] = {}
        data["version"] = 1
        self._index = (stamp, data)
        return data

    def update(self, change: Callable[[dict[str, Any]], None]) -> bool:
        """Apply ``change`` to the index under a cross-process lock; False if read-only."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with filelock.FileLock(str(self.index_path) + ".lock", timeout=60):
                self._index = None
                data = json.loads(json.dumps(self.index()))  # a private copy to change
                change(data)
                tmp = self.index_path.with_name(f".index.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
                os.replace(tmp, self.index_path)
                self._index = None
        except (PermissionError, filelock.Timeout):
            return False
        except OSError as exc:
            if exc.errno in (30, 13, 1):  # EROFS, EACCES, EPERM: a read-only cache still serves
                return False
            raise
        return True

    def url_entry(self, url: str) -> dict[str, Any] | None:
        entry = self.index()["urls"].get(url)
        return entry if isinstance(entry, dict) and isinstance(entry.get("sha256"), str) else None

    # -- blobs ------------------------------------------------------------------------------

    def verified(self, path: Path, sha256: str, *, size: int | None = None) -> bool:
        """True when ``path`` holds the bytes of ``sha256``.

        Hashes only when the file changed since its last verification (size or mtime), so a
        cached artifact costs one ``stat``. A file that fails is damage: the caller refetches.
        """
        try:
            st = path.stat()
        except OSError:
            return False
        record = self.index()["blobs"].get(path.name)
        if isinstance(record, dict) and record.get("sha256") == sha256:
            if record.get("size") != st.st_size:
                return False  # truncated or grown: damaged without hashing (F5)
            if record.get("mtime_ns") == st.st_mtime_ns:
                return True
        if size is not None and st.st_size != size:
            return False
        if file_sha256(path) != sha256:
            return False
        self.record_blob(path, sha256)
        return True

    def record_blob(self, path: Path, sha256: str, url: str | None = None, **info: Any) -> None:
        """Record that ``path`` was verified now (and, given ``url``, that it came from there)."""
        st = path.stat()

        def change(data: dict[str, Any]) -> None:
            data["blobs"][path.name] = {
                "sha256": sha256,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "verified": _now(),
            }
            if url is not None:
                entry = {"sha256": sha256, "size": st.st_size, "name": path.name}
                data["urls"][url] = {**entry, "fetched": _now(), "time": time.time(), **info}

        self.update(change)

    def checked(self, path: Path, name: str) -> bool:
        """True when the check ``name`` passed on ``path`` since it was last verified."""
        record = self.index()["blobs"].get(path.name)
        return isinstance(record, dict) and name in record.get("checks", ())

    def record_check(self, path: Path, name: str) -> None:
        """Record that the check ``name`` passed (kept until the blob is verified anew)."""

        def change(data: dict[str, Any]) -> None:
            record = data["blobs"].get(path.name)
            if isinstance(record, dict):
                record["checks"] = sorted({*record.get("checks", ()), name})

        self.update(change)

    def discard(self, path: Path) -> None:
        """Remove a damaged blob and its record (best effort on a read-only cache)."""
        with contextlib.suppress(OSError):
            path.unlink()
        self.update(lambda data: data["blobs"].pop(path.name, None))

    # -- extracted archives -----------------------------------------------------------------

    def extracted_ok(self, sha256: str) -> bool:
        """True when ``extracted/<sha256>`` is complete: as many files and bytes as recorded."""
        record = self.index()["extracted"].get(sha256)
        root = self.extracted(sha256)
        if not isinstance(record, dict) or not root.is_dir():
            return False
        files = total = 0
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                files += 1
                try:
                    total += os.stat(os.path.join(dirpath, name)).st_size
                except OSError:
                    return False
        return files == record.get("files") and total == record.get("bytes")

    def record_extracted(self, sha256: str, files: int, size: int) -> None:
        def change(data: dict[str, Any]) -> None:
            data["extracted"][sha256] = {"files": files, "bytes": size, "extracted": _now()}

        self.update(change)


class Partial:
    """The temp file of a download beside its final place (``blobs/.<key>.part``): bytes so
    far, their running hash, and the validator (ETag / Last-Modified) that makes resuming
    after a killed process safe."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.meta = path.with_name(path.name + ".json")
        self.url = url
        self.digest = hashlib.sha256()
        self.offset = 0
        self.validator: str | None = None
        self._file: Any = None

    def resume(self) -> None:
        """Continue a partial left by a killed process, if we know which version it holds."""
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
            usable = meta.get("url") == self.url and meta.get("validator") and self.path.is_file()
        except (OSError, ValueError, AttributeError):
            usable = False
        if not usable:
            self.restart()
            return
        self.validator = str(meta["validator"])
        with self.path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                self.digest.update(chunk)
                self.offset += len(chunk)

    def restart(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)
        self.digest = hashlib.sha256()
        self.offset = 0

    def remember(self, validator: str | None) -> None:
        self.validator = validator
        if validator:
            self.meta.write_text(json.dumps({"url": self.url, "validator": validator}))

    def open(self) -> None:
        self._file = self.path.open("ab")

    def append(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.digest.update(chunk)
        self.offset += len(chunk)

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()  # may raise (a full disk at the final flush): closed either way
