"""Safe extraction of ``.tar`` (plain, gzip, bz2, xz) and ``.zip`` archives.

An archive from the network is hostile until proven otherwise (F13-F17), so extraction
is a whitelist, not a filter:

- only regular files and directories; links, devices, FIFOs and setuid/setgid/sticky bits
  are refused (a link is refused even when it points inside: ``link -> .`` then
  ``link/../x`` escapes in two innocent-looking steps);
- every name is relative, has no ``..`` part and stays inside the destination;
- a first pass reads every header before anything is written (F29): the member
  count, the declared sizes (against the cap and the free disk space), name lengths and the
  tree's shape (a file that is also a directory, a member twice) are refused up front;
- the total bytes written are counted again while they are written (headers are never
  trusted alone); the default cap is the free space of the disk, at most 32 GiB;
- every file-system error is an :class:`~zoo.errors.ArchiveError` naming the member (or a
  FetchError for a full disk), never a raw ``OSError``;
- everything lands in a temp directory beside the destination, renamed into place only when
  complete; on any failure the temp directory is removed.

Example:
    >>> extract(Path("model.tar.gz"), Path("out/model"))  # doctest: +SKIP
    PosixPath('out/model')
"""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, cast

from zoo import settings
from zoo.errors import ArchiveError, FetchError

__all__ = ["MAX_BYTES", "MAX_MEMBERS", "ExtractStats", "extract"]

#: Default cap on the bytes one archive may expand to (``ZOO_MAX_EXTRACT_BYTES`` overrides).
MAX_BYTES: int = settings.SETTINGS["ZOO_MAX_EXTRACT_BYTES"].default
#: Default cap on the number of members (``ZOO_MAX_EXTRACT_MEMBERS`` overrides).
MAX_MEMBERS: int = settings.SETTINGS["ZOO_MAX_EXTRACT_MEMBERS"].default

_CHUNK = 1 << 20
_NAME_MAX = 255  # bytes in one path component (ext4, xfs, apfs, ntfs)
_PATH_MAX = 4000  # bytes in a whole path, under Linux's 4096 with room for the cache root
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


@dataclass(frozen=True)
class ExtractStats:
    """What an extraction produced (recorded in the cache index to detect damage later)."""

    files: int  # regular files written
    bytes: int  # bytes written


@dataclass
class _Member:
    """One archive member, reduced to what we allow: a file or a directory."""

    name: str  # the name as stored (for messages)
    parts: tuple[str, ...]  # normalized relative path components
    is_dir: bool
    size: int  # declared size (0 for directories)
    executable: bool


def extract(
    archive: Path,
    dest: Path,
    *,
    max_bytes: int | None = None,
    max_members: int | None = None,
) -> ExtractStats:
    """Extract ``archive`` into ``dest`` (which must not exist yet), safely and atomically.

    Args:
        archive: a ``.tar``, ``.tar.gz`` / ``.tgz``, ``.tar.bz2``, ``.tar.xz`` or ``.zip``
            file; the format is recognized by content, not by name.
        dest: the directory to create.
        max_bytes: cap on bytes written (default ``ZOO_MAX_EXTRACT_BYTES`` or 32 GiB).
        max_members: cap on members (default ``ZOO_MAX_EXTRACT_MEMBERS`` or 100,000).

    Raises:
        ArchiveError: not a valid archive, an unsafe member, or over a cap; nothing is left
            behind.
    """
    limit = max_bytes if max_bytes is not None else settings.max_extract_bytes()
    count_cap = max_members if max_members is not None else settings.max_extract_members()
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if max_bytes is None and not settings.is_set("ZOO_MAX_EXTRACT_BYTES"):
        limit = min(limit, free)
    is_zip = zipfile.is_zipfile(archive)
    walk = _walk_zip if is_zip else _walk_tar
    plan = _Plan(archive, dest, limit, count_cap, free)
    (_walk_zip if is_zip else _scan_tar)(archive, plan.add)  # every header, nothing written
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.extract-"))
    try:
        writer = _Writer(tmp, archive, limit, count_cap)
        walk(archive, writer.write)
        os.replace(tmp, dest)
        return ExtractStats(files=writer.files, bytes=writer.written)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise FetchError(
                f"no space left on the device while extracting {archive} into {dest}; free "
                "some space (or point ZOO_HOME elsewhere) and retry"
            ) from exc
        raise ArchiveError(f"cannot extract {archive} into {dest}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class _Plan:
    """The first pass: counts, declared sizes, names and the tree's shape, nothing written."""

    def __init__(self, archive: Path, dest: Path, limit: int, count_cap: int, free: int) -> None:
        self.archive, self.limit, self.count_cap, self.free = archive, limit, count_cap, free
        self.base = len(os.fsencode(dest.parent)) + len(dest.name) + 20  # + ".extract-xxxx"
        self.members = 0
        self.declared = 0
        self.files: set[tuple[str, ...]] = set()
        self.dirs: set[tuple[str, ...]] = set()

    def fail(self, member: str, why: str) -> ArchiveError:
        return ArchiveError(f"{self.archive}: refusing member {member[:120]!r}: {why}")

    def add(self, member: _Member, source: object = None) -> None:
        self.members += 1
        if self.members > self.count_cap:
            raise ArchiveError(
                f"{self.archive} has more than {self.count_cap} members; refused before "
                "extracting anything (raise ZOO_MAX_EXTRACT_MEMBERS if you trust it)"
            )
        self.declared += member.size
        if self.declared > self.free:
            raise ArchiveError(
                f"{self.archive} declares at least {self.declared} bytes, more than the "
                f"{self.free} bytes free on the disk; refused before extracting anything"
            )
        if self.declared > self.limit:
            raise ArchiveError(
                f"{self.archive} expands to more than {self.limit} bytes (its headers declare "
                f"at least {self.declared}); refused before extracting anything. Raise "
                "ZOO_MAX_EXTRACT_BYTES if you trust it"
            )
        encoded = [os.fsencode(p) for p in member.parts]
        if any(len(p) > _NAME_MAX for p in encoded):
            raise self.fail(member.name, f"a path component longer than {_NAME_MAX} bytes")
        if self.base + sum(len(p) + 1 for p in encoded) > _PATH_MAX:
            raise self.fail(member.name, f"its path is longer than {_PATH_MAX} bytes")
        parts = member.parts
        for i in range(1, len(parts)):
            if parts[:i] in self.files:
                raise self.fail(member.name, f"{'/'.join(parts[:i])!r} is a file in the archive")
        if member.is_dir:
            if parts in self.files:
                raise self.fail(member.name, "it is both a file and a directory")
            self.dirs.add(parts)
            return
        if parts in self.files or parts in self.dirs:
            raise self.fail(member.name, "it appears twice in the archive")
        self.files.add(parts)


class _Writer:
    """Creates the allowed members under ``root`` while counting members and bytes."""

    def __init__(self, root: Path, archive: Path, limit: int, count_cap: int) -> None:
        self.root = root
        self.archive = archive
        self.limit = limit
        self.count_cap = count_cap
        self.members = 0
        self.files = 0
        self.written = 0
        self.declared = 0

    def fail(self, member: str, why: str) -> ArchiveError:
        return ArchiveError(f"{self.archive}: refusing member {member!r}: {why}")

    def admit(self, member: _Member) -> Path:
        """Check the caps before anything of ``member`` is written; return its target path."""
        self.members += 1
        if self.members > self.count_cap:
            raise ArchiveError(
                f"{self.archive} has more than {self.count_cap} members; refusing to extract "
                "it (raise ZOO_MAX_EXTRACT_MEMBERS if you trust it)"
            )
        self.declared += member.size
        if self.declared > self.limit:
            raise self._too_big(self.declared)
        target = self.root.joinpath(*member.parts)
        # Every parent we create is a real directory (links are never created), so a lexical
        # check after normalization is exact; resolve() guards against surprises anyway.
        if not target.resolve().is_relative_to(self.root.resolve()):
            raise self.fail(member.name, "it leaves the destination")
        return target

    def _too_big(self, size: int) -> ArchiveError:
        return ArchiveError(
            f"{self.archive} expands to more than {self.limit} bytes (at least {size}); "
            "stopped before the disk fills. Raise ZOO_MAX_EXTRACT_BYTES if you trust it"
        )

    def write(self, member: _Member, source: IO[bytes] | None) -> None:
        """Create one member; a file-system error names it (ENOSPC goes up as it is)."""
        try:
            if source is None:
                self.directory(member)
            else:
                self.file(member, source)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise
            raise self.fail(member.name[:120], f"it cannot be written ({exc.strerror})") from exc

    def directory(self, member: _Member) -> None:
        target = self.admit(member)
        target.mkdir(parents=True, exist_ok=True)

    def file(self, member: _Member, source: IO[bytes]) -> None:
        target = self.admit(member)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise self.fail(member.name, "it appears twice in the archive")
        mode = 0o755 if member.executable else 0o644
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        copied = 0
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = source.read(_CHUNK)
                if not chunk:
                    break
                # Count what is really written: a header may understate what a stream yields.
                copied += len(chunk)
                self.written += len(chunk)
                if self.written > self.limit:
                    raise self._too_big(self.written)
                out.write(chunk)
        if copied != member.size:
            raise ArchiveError(
                f"{self.archive} is not a valid archive: member {member.name!r} holds {copied} "
                f"bytes, its header says {member.size} (truncated?)"
            )
        self.files += 1


def _normalize(name: str, archive: Path) -> tuple[str, ...]:
    """Relative path parts of a member name; refuses absolute names and ``..``."""
    if "\\" in name or "\x00" in name:
        raise ArchiveError(f"{archive}: refusing member {name!r}: unusual characters in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise ArchiveError(f"{archive}: refusing member {name!r}: absolute path")
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if ".." in parts:
        raise ArchiveError(f"{archive}: refusing member {name!r}: it leaves the destination")
    return parts


def _tar_members(tf: tarfile.TarFile, archive: Path) -> Iterator[tuple[tarfile.TarInfo, _Member]]:
    for info in tf:
        kind = (
            "symbolic link"
            if info.issym()
            else "hard link"
            if info.islnk()
            else "device file"
            if info.ischr() or info.isblk()
            else "FIFO"
            if info.isfifo()
            else None
        )
        if kind is None and not (info.isreg() or info.isdir()):
            kind = f"member of type {info.type!r}"
        if kind is not None:
            raise ArchiveError(
                f"{archive}: refusing member {info.name!r}: a {kind} (only regular files and "
                "directories are extracted)"
            )
        if info.mode & _SPECIAL_BITS:
            raise ArchiveError(
                f"{archive}: refusing member {info.name!r}: setuid/setgid/sticky mode "
                f"{stat.filemode(info.mode)}"
            )
        parts = _normalize(info.name, archive)
        if not parts and not info.isdir():
            raise ArchiveError(f"{archive}: refusing member {info.name!r}: empty name")
        yield (
            info,
            _Member(
                info.name,
                parts,
                info.isdir(),
                0 if info.isdir() else info.size,
                bool(info.mode & 0o100),
            ),
        )


def _decompressed(archive: Path) -> BinaryIO:
    """The archive's tar stream; gzip/bz2/xz readers check their CRC at the end of the data."""
    with archive.open("rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.open(archive, "rb"))
    if magic.startswith(b"BZh"):
        return cast(BinaryIO, bz2.open(archive, "rb"))
    if magic.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.open(archive, "rb"))
    return archive.open("rb")


_Visit = Callable[[_Member, IO[bytes] | None], None]


def _scan_tar(archive: Path, visit: _Visit) -> None:
    """The header pass over a tar: members without their data (tarfile's own decompressor,
    about 1.5x faster than gzip.open here; the writing pass checks the CRC)."""
    try:
        with tarfile.open(str(archive), mode="r|*", bufsize=_CHUNK) as tf:
            for _info, member in _tar_members(tf, archive):
                visit(member, None)
    except (tarfile.TarError, EOFError, zlib.error, OSError, lzma.LZMAError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno:
            raise
        raise ArchiveError(
            f"{archive} is not a valid archive (.tar, .tar.gz or .zip): {exc}. "
            "The download may be truncated or damaged; delete it from the cache and retry"
        ) from exc


def _walk_tar(archive: Path, visit: _Visit) -> None:
    """Call ``visit(member, data or None)`` for each member of a tar, in order."""
    try:
        # Stream mode: one sequential pass per walk.
        with _decompressed(archive) as stream:
            with tarfile.open(fileobj=stream, mode="r|", bufsize=_CHUNK) as tf:
                for info, member in _tar_members(tf, archive):
                    if member.is_dir:
                        visit(member, None)
                        continue
                    source = tf.extractfile(info)
                    if source is None:  # pragma: no cover - isreg() members always have data
                        raise ArchiveError(f"{archive}: member {info.name!r} has no data")
                    visit(member, source)
            # Read to the end so that the decompressor checks its CRC: a corrupted byte
            # inside a member would otherwise go unnoticed.
            while stream.read(_CHUNK):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError, lzma.LZMAError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno:
            raise  # a real I/O error (disk full ...), not a damaged archive
        raise ArchiveError(
            f"{archive} is not a valid archive (.tar, .tar.gz or .zip): {exc}. "
            "The download may be truncated or damaged; delete it from the cache and retry"
        ) from exc


def _walk_zip(archive: Path, visit: _Visit) -> None:
    """Call ``visit(member, data or None)`` for each member of a zip, in order."""

    def fail(member: str, why: str) -> ArchiveError:
        return ArchiveError(f"{archive}: refusing member {member[:120]!r}: {why}")

    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                unix_mode = info.external_attr >> 16
                kind = stat.S_IFMT(unix_mode)
                is_dir = info.is_dir()
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    what = "symbolic link" if stat.S_ISLNK(unix_mode) else "special file"
                    raise fail(info.filename, f"a {what} (only files and directories)")
                if unix_mode & _SPECIAL_BITS:
                    raise fail(info.filename, f"setuid/setgid/sticky mode {oct(unix_mode)}")
                if info.flag_bits & 0x1:
                    raise fail(info.filename, "it is encrypted")
                parts = _normalize(info.filename, archive)
                member = _Member(
                    info.filename, parts, is_dir, 0 if is_dir else info.file_size,
                    bool(unix_mode & 0o100),
                )  # fmt: skip
                if is_dir:
                    visit(member, None)
                else:
                    with zf.open(info) as source:
                        visit(member, source)
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise ArchiveError(
            f"{archive} is not a valid archive (.tar, .tar.gz or .zip): {exc}"
        ) from exc
