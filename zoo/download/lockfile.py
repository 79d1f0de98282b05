"""``zoo.lock``: the URL, size and sha256 of every artifact a project uses.

The file is JSON (stable key order, one artifact per URL, sorted), written by ``zoo lock``
and read from the working directory on every fetch: a URL listed there must match its
sha256 and size, and counts as pinned (so a model archive it lists may be loaded, F19).
Schema (version 1)::

    {
      "version": 1,
      "artifacts": [
        {"url": "https://...", "sha256": "<64 hex>", "size": 1234,
         "kind": "weights", "archive": false, "models": ["my_net"]}
      ]
    }

``kind`` is ``weights`` (data), ``model`` (a SavedModel / Hub archive: a program) or
``registry`` (a remote registry file); ``archive`` says the file is extracted after download.

Example:
    >>> lock = LockFile.load(Path("zoo.lock"))  # doctest: +SKIP
    >>> lock.find("https://example.org/w.weights.h5").sha256  # doctest: +SKIP
    '3f2a...'
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import LockFileError
from zoo.spec import SHA256_RE

__all__ = ["LOCKFILE_NAME", "LockEntry", "LockFile", "active_lockfile", "project_directory"]

LOCKFILE_NAME = "zoo.lock"
_KINDS = ("weights", "model", "registry")


@dataclass(frozen=True)
class LockEntry:
    """One pinned artifact."""

    url: str  # where it is downloaded from (without a #sha256= fragment)
    sha256: str  # 64 lower-case hex digits
    size: int  # bytes
    kind: str = "weights"  # "weights", "model" or "registry"
    archive: bool = False  # extracted after download
    models: tuple[str, ...] = ()  # the models that use it

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "sha256": self.sha256,
            "size": self.size,
            "kind": self.kind,
            "archive": self.archive,
            "models": sorted(self.models),
        }


@dataclass
class LockFile:
    """The artifacts of one ``zoo.lock``, by URL."""

    path: Path
    entries: dict[str, LockEntry] = field(default_factory=dict)

    def find(self, url: str) -> LockEntry | None:
        """The entry pinning ``url``, or None."""
        return self.entries.get(url)

    def add(self, entry: LockEntry) -> None:
        """Add or replace the entry of ``entry.url`` (models are merged)."""
        old = self.entries.get(entry.url)
        models = set(entry.models) | (
            set(old.models) if old and old.sha256 == entry.sha256 else set()
        )
        self.entries[entry.url] = LockEntry(
            entry.url, entry.sha256, entry.size, entry.kind, entry.archive, tuple(sorted(models))
        )

    def drop_models(self, models: Iterable[str]) -> None:
        """Forget ``models``; entries no other model uses are removed."""
        gone = set(models)
        for url, entry in list(self.entries.items()):
            left = tuple(m for m in entry.models if m not in gone)
            if entry.models and not left:
                del self.entries[url]
            elif left != entry.models:
                self.entries[url] = LockEntry(
                    url, entry.sha256, entry.size, entry.kind, entry.archive, left
                )

    def to_json(self) -> str:
        artifacts = [self.entries[url].to_dict() for url in sorted(self.entries)]
        return json.dumps({"version": 1, "artifacts": artifacts}, indent=2) + "\n"

    def save(self) -> None:
        """Write atomically (temp file + rename)."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, self.path)
        _CACHE.pop(str(self.path), None)

    @classmethod
    def load(cls, path: Path) -> LockFile:
        """Read and validate a lock file; errors name the file and the field."""
        where = str(path)
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LockFileError(
                f"cannot read the lock file: {exc.strerror or exc}", path=where
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LockFileError(
                f"not a valid lock file (JSON expected): {exc}. Regenerate it with `zoo lock`",
                path=where,
            ) from None
        if not isinstance(data, dict) or data.get("version") != 1:
            raise LockFileError(
                "a lock file is a JSON object with version 1; regenerate it with `zoo lock`",
                path=where,
                field="version",
            )
        lock = cls(path)
        artifacts = data.get("artifacts", [])
        if not isinstance(artifacts, list):
            raise LockFileError("expected a list", path=where, field="artifacts")
        for i, item in enumerate(artifacts):
            lock.add(_entry(item, where, f"artifacts[{i}]"))
        return lock


def _entry(item: Any, where: str, name: str) -> LockEntry:
    def fail(message: str, key: str) -> LockFileError:
        return LockFileError(message, path=where, field=f"{name}.{key}")

    if not isinstance(item, dict):
        raise LockFileError(f"expected an object, received {item!r}", path=where, field=name)
    url, sha, size = item.get("url"), item.get("sha256"), item.get("size")
    if not isinstance(url, str) or "://" not in url:
        raise fail(f"expected a URL, received {url!r}", "url")
    if not isinstance(sha, str) or not SHA256_RE.match(sha):
        raise fail(f"a sha256 is 64 lower-case hexadecimal digits, received {sha!r}", "sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise fail(f"expected a byte count, received {size!r}", "size")
    kind = item.get("kind", "weights")
    if kind not in _KINDS:
        raise fail(f"expected one of {list(_KINDS)}, received {kind!r}", "kind")
    models = item.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise fail(f"expected a list of model names, received {models!r}", "models")
    return LockEntry(url, sha, size, kind, bool(item.get("archive", False)), tuple(models))


_CACHE: dict[str, tuple[int, int, LockFile]] = {}


#: the project whose zoo.lock pins downloads (a Session's cwd); None: the working directory
_PROJECT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("zoo_project", default=None)


@contextlib.contextmanager
def project_directory(path: Path | None) -> Iterator[None]:
    """Inside the block, downloads are pinned by ``path / zoo.lock`` (a Session's project),
    not by the process's working directory; ``None`` keeps the working directory."""
    token = _PROJECT.set(path)
    try:
        yield
    finally:
        _PROJECT.reset(token)


def active_lockfile(cwd: Path | None = None) -> LockFile | None:
    """The project's ``zoo.lock`` (``cwd``, else :func:`project_directory`'s, else the working
    directory's), or None; re-read only when it changes."""
    path = (cwd or _PROJECT.get() or Path.cwd()) / LOCKFILE_NAME
    try:
        st = path.stat()
    except OSError:
        return None
    key = str(path)
    cached = _CACHE.get(key)
    if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
        return cached[2]
    lock = LockFile.load(path)
    _CACHE[key] = (st.st_mtime_ns, st.st_size, lock)
    return lock
