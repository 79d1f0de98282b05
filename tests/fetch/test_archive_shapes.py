"""F29: archive headers checked before anything is written; file-system errors are ZooErrors."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from zoo.download.archive import extract
from zoo.errors import ArchiveError

from .conftest import payload
from .server import Server


def _tar(members: list[tuple[str, bytes | None]]) -> bytes:
    """A .tar.gz of files (bytes) and directories (None), in this order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _extract(tmp_path: Path, data: bytes, **caps: int) -> Path:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(data)
    return extract(archive, tmp_path / "out" / "dest", **caps)


def _left_over(tmp_path: Path) -> list[str]:
    out = tmp_path / "out"
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_the_member_count_is_checked_before_writing(tmp_path: Path) -> None:
    data = _tar([(f"f{i}", b"x") for i in range(50)])
    with pytest.raises(ArchiveError, match="more than 10 members; refused before extracting"):
        _extract(tmp_path, data, max_members=10)
    assert _left_over(tmp_path) == []


def test_declared_sizes_are_checked_before_writing(tmp_path: Path) -> None:
    data = _tar([("small", b"x" * 100), ("big", payload(5000))])
    with pytest.raises(ArchiveError, match="headers declare at least 5100"):
        _extract(tmp_path, data, max_bytes=4000)
    assert _left_over(tmp_path) == []


def test_a_header_declaring_more_than_the_free_disk_is_refused_unread(tmp_path: Path) -> None:
    """A 100 TB header followed by no data: refused on the header, by the free space."""
    info = tarfile.TarInfo("huge.bin")
    info.size = 100 * 10**12
    raw = info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024
    with pytest.raises(ArchiveError, match="free on the disk"):
        _extract(tmp_path, gzip.compress(raw))
    assert _left_over(tmp_path) == []


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([("a", b"1"), ("a/b", b"2")], "'a' is a file in the archive"),
        ([("a", b"1"), ("a", None)], "both a file and a directory"),
        ([("d", None), ("d", b"1")], "appears twice"),
        ([("x" * 300, b"1")], "longer than 255 bytes"),
        ([("/".join(["p" * 200] * 40) + "/f", b"1")], "longer than 4000 bytes"),
    ],
    ids=["file-then-child", "file-then-dir", "dir-then-file", "300-char-name", "8kB-path"],
)
def test_impossible_trees_are_archive_errors(
    tmp_path: Path, members: list[tuple[str, bytes | None]], why: str
) -> None:
    with pytest.raises(ArchiveError, match=why):
        _extract(tmp_path, _tar(members))
    assert _left_over(tmp_path) == []


def _can_mount_tmpfs(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
        capture_output=True,
    )
    return done.returncode == 0


def test_a_full_disk_is_a_fetch_error_for_downloads_and_extraction(
    tmp_path: Path, server: Server
) -> None:
    """A real full disk: a 1 MiB tmpfs in a private mount namespace (root only)."""
    if not _can_mount_tmpfs(tmp_path):
        pytest.skip("needs unshare -m and tmpfs (root in a container)")
    small = tmp_path / "small"
    small.mkdir()
    url = server.route("/big.bin", payload(3_000_000))
    archive = tmp_path / "fits.tar.gz"
    # declares 900 kB, more than the disk holds once "fill" is written: refused up front
    archive.write_bytes(_tar([("a.bin", payload(500_000)), ("b.bin", payload(400_000, 1))]))
    script = textwrap.dedent(
        f"""
        import os, sys
        os.environ["ZOO_HOME"] = {str(small / "home")!r}
        os.environ["ZOO_PROGRESS"] = "0"
        from pathlib import Path
        from zoo.errors import FetchError
        from zoo.download.fetcher import fetch
        from zoo.download.archive import extract
        Path({str(small / "fill")!r}).write_bytes(b"x" * 300_000)
        try:
            fetch({url!r})
        except FetchError as exc:
            print("fetch:", type(exc).__name__, exc)
        try:
            extract(Path({str(archive)!r}), Path({str(small / "x" / "dest")!r}))
        except FetchError as exc:
            print("extract:", type(exc).__name__, exc)
        """
    )
    mount = f'mount -t tmpfs -o size=1m tmpfs {small} && {sys.executable} -c "$0"'
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", mount, script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fetch: FetchError no space left on the device" in done.stdout
    assert "extract: ArchiveError" in done.stdout and "free on the disk" in done.stdout
    assert "Traceback" not in done.stderr
