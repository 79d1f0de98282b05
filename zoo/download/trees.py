"""Extracted directories vouched for by an archive pin (F26). No network here.

A model directory that another tool put on disk (``TFHUB_CACHE_DIR`` filled by
tensorflow_hub, a colleague, or an attacker with write access) is not the archive a pin
names. When tfzoo extracts a pinned archive it records the *tree digest* of the model
directory (every relative path, file size and file sha256) under the archive's sha256 in
the cache index; a directory found elsewhere is used for that pin only when its tree digest
equals the record. Anything else needs a download (checked against the pin) or
``trust=True``.

The digest is taken of a private copy (:func:`verified_copy`, under the cache's
``hub-copies/``), and that copy is what loads: the other tool's directory can change between
a check and a load (an attacker renaming another tree into place as the last file is read),
a copy tfzoo made and checked cannot.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from zoo.download.cache import file_sha256
from zoo.download.fetcher import _cache
from zoo.download.pins import target

__all__ = ["pin_for", "record_tree", "tree_digest", "verified_copy"]


def tree_digest(root: Path) -> str | None:
    """sha256 over the sorted (path, size, sha256) of every file under ``root``.

    None when the tree holds anything but regular files and directories (a symbolic link
    could point anywhere, so no digest vouches for it).
    """
    lines: list[str] = []
    for here, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        rel = Path(here).relative_to(root).as_posix()
        for name in dirs:
            if (Path(here) / name).is_symlink():
                return None
            lines.append(f"D {rel}/{name}")
        for name in sorted(files):
            path = Path(here) / name
            if path.is_symlink() or not path.is_file():
                return None
            lines.append(f"F {rel}/{name} {path.stat().st_size} {file_sha256(path)}")
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def pin_for(url: str, sha256: str | None, name: str | None = None) -> str | None:
    """The archive pin of ``url``: ``sha256``, a ``#sha256=`` fragment or ``./zoo.lock``."""
    return target(url, sha256, name, "model", False).pin


def record_tree(archive_sha256: str, directory: Path) -> None:
    """Remember the tree digest of the model extracted from archive ``archive_sha256``."""
    digest = tree_digest(directory)
    if digest is None:
        return

    def change(data: dict[str, object]) -> None:
        if not isinstance(data.get("trees"), dict):
            data["trees"] = {}
        data["trees"][archive_sha256] = digest  # type: ignore[index]

    _cache().update(change)


def verified_copy(directory: Path, archive_sha256: str) -> Path | None:
    """tfzoo's own copy of ``directory`` when its tree is the one extracted from that
    archive (checked on the copy, not on ``directory``), else None.

    A copy made before is reused when it still matches. Symbolic links are not followed: a
    tree holding one has no digest and is not copied.
    """
    trees = _cache().index().get("trees")
    recorded = trees.get(archive_sha256) if isinstance(trees, dict) else None
    if not isinstance(recorded, str):
        return None
    root = _cache().root / "hub-copies"
    final = root / archive_sha256
    if final.is_dir() and tree_digest(final) == recorded:
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{archive_sha256[:16]}."))
    try:
        try:
            shutil.copytree(directory, tmp / "model", symlinks=True)
        except (OSError, shutil.Error):
            return None  # changed or unreadable while copied: not vouched for
        if tree_digest(tmp / "model") != recorded:
            return None
        if final.exists():
            os.replace(final, tmp / "stale")  # a damaged earlier copy, removed below
        os.replace(tmp / "model", final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
