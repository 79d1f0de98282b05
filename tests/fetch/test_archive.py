"""Safe extraction of hostile archives (F13-F17), directly and through fetch_archive."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

import zoo.download.fetcher
from zoo.download.archive import _Writer, extract
from zoo.errors import ArchiveError

from .conftest import make_tar, sha
from .server import Server


def _tar(path: Path, *members: tarfile.TarInfo, data: dict[str, bytes] | None = None) -> Path:
    data = data or {}
    with tarfile.open(path, "w:gz") as tf:
        for info in members:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def _assert_nothing_left(tmp_path: Path, dest: Path) -> None:
    assert not dest.exists()
    leftovers = [p.name for p in dest.parent.iterdir() if ".extract-" in p.name]
    assert leftovers == []
    assert not (tmp_path / "x").exists() and not (tmp_path / "evil").exists()


def test_a_good_archive_extracts_with_files_and_dirs(tmp_path: Path) -> None:
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(make_tar({"m/saved_model.pb": b"pb", "m/variables/v.index": b"ix"}))
    stats = extract(archive, tmp_path / "out")
    assert (tmp_path / "out/m/saved_model.pb").read_bytes() == b"pb"
    assert (stats.files, stats.bytes) == (2, 4)


@pytest.mark.parametrize("name", ["../x", "/abs/x", "a/../../x", "C:/x"])
def test_member_names_leaving_the_destination_are_refused(tmp_path: Path, name: str) -> None:
    """F13: `../x`, `/abs/x`: refused, nothing written outside (or inside)."""
    dest = tmp_path / "sub" / "out"
    archive = _tar(tmp_path / "evil.tar.gz", _info(name), data={name: b"pwned"})
    with pytest.raises(ArchiveError, match=r"leaves the destination|absolute"):
        extract(archive, dest)
    _assert_nothing_left(tmp_path, dest)
    assert not Path("/abs/x").exists()


def test_a_hard_link_escaping_the_destination_is_refused(tmp_path: Path) -> None:
    """F13: a hard link to a file outside the destination is refused."""
    dest = tmp_path / "out"
    link = _info("passwd", tarfile.LNKTYPE, linkname="../../../../etc/passwd")
    archive = _tar(tmp_path / "hl.tar.gz", _info("ok.txt"), link, data={"ok.txt": b"fine"})
    with pytest.raises(ArchiveError, match="hard link"):
        extract(archive, dest)
    _assert_nothing_left(tmp_path, dest)


def test_symlinks_are_refused_including_the_two_step_escape(tmp_path: Path) -> None:
    """F14: `link -> .` then `link/../x`: the link itself is refused."""
    dest = tmp_path / "out"
    archive = _tar(
        tmp_path / "sl.tar.gz",
        _info("link", tarfile.SYMTYPE, linkname="."),
        _info("link/../x"),
        data={"link/../x": b"escaped"},
    )
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract(archive, dest)
    _assert_nothing_left(tmp_path, dest)
    outside = _tar(tmp_path / "sl2.tar.gz", _info("up", tarfile.SYMTYPE, linkname="/etc"))
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract(outside, dest)


def test_a_zip_symlink_is_refused(tmp_path: Path) -> None:
    """F14: zip entries flagged as symlinks (unix mode) are refused."""
    archive = tmp_path / "sl.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract(archive, tmp_path / "out")
    _assert_nothing_left(tmp_path, tmp_path / "out")


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (_info("dev", tarfile.CHRTYPE, devmajor=1, devminor=3), "device"),
        (_info("disk", tarfile.BLKTYPE, devmajor=8, devminor=0), "device"),
        (_info("pipe", tarfile.FIFOTYPE), "FIFO"),
        (_info("suid", mode=0o4755), "setuid"),
        (_info("sgid", mode=0o2755), "setuid/setgid"),
    ],
)
def test_devices_fifos_and_setuid_are_refused(
    tmp_path: Path, member: tarfile.TarInfo, why: str
) -> None:
    """F15: device files, FIFOs and setuid/setgid bits are refused."""
    data = {member.name: b"#!/bin/sh\n"} if member.type == tarfile.REGTYPE else {}
    archive = _tar(tmp_path / "special.tar.gz", member, data=data)
    with pytest.raises(ArchiveError, match=why):
        extract(archive, tmp_path / "out")
    _assert_nothing_left(tmp_path, tmp_path / "out")


def test_a_zip_member_with_setuid_is_refused(tmp_path: Path) -> None:
    """F15 for zip."""
    archive = tmp_path / "suid.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("run")
        info.external_attr = (stat.S_IFREG | 0o4755) << 16
        zf.writestr(info, "x")
    with pytest.raises(ArchiveError, match="setuid"):
        extract(archive, tmp_path / "out")


def test_modes_are_sanitized(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "m.tar.gz",
        _info("run.sh", mode=0o777),
        _info("data", mode=0o666),
        data={"run.sh": b"x", "data": b"y"},
    )
    extract(archive, tmp_path / "out")
    assert stat.S_IMODE(os.stat(tmp_path / "out/run.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "out/data").st_mode) == 0o644


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.97])
def test_truncated_tar_gz_is_not_a_valid_archive(tmp_path: Path, cut: float) -> None:
    """F16: a truncated tar.gz: "not a valid archive", the partial directory removed."""
    blob = make_tar({f"f{i}": os.urandom(40_000) for i in range(5)})
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(blob[: int(len(blob) * cut)])
    with pytest.raises(ArchiveError, match="not a valid archive"):
        extract(archive, tmp_path / "out")
    _assert_nothing_left(tmp_path, tmp_path / "out")


def test_corrupt_bytes_are_not_a_valid_archive(tmp_path: Path) -> None:
    """F16: garbage and a corrupted gzip stream."""
    garbage = tmp_path / "junk.tar.gz"
    garbage.write_bytes(os.urandom(5000))
    with pytest.raises(ArchiveError, match="not a valid archive"):
        extract(garbage, tmp_path / "out")
    blob = bytearray(make_tar({"a": os.urandom(50_000)}))
    blob[len(blob) // 2 : len(blob) // 2 + 64] = b"\0" * 64
    flipped = tmp_path / "flip.tar.gz"
    flipped.write_bytes(bytes(blob))
    with pytest.raises(ArchiveError, match="not a valid archive"):
        extract(flipped, tmp_path / "out")
    _assert_nothing_left(tmp_path, tmp_path / "out")


def test_a_decompression_bomb_is_stopped_at_the_cap(tmp_path: Path) -> None:
    """F17: 64 MiB of zeros in ~64 KiB of gzip, against a 4 MiB cap: refused on its header
    before anything is written (F29); a lying header is stopped while writing (below)."""
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = _info("zeros")
        info.size = 64 * 1024 * 1024
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    assert archive.stat().st_size < 200_000
    with pytest.raises(ArchiveError, match="expands to more than 4194304 bytes"):
        extract(archive, tmp_path / "out", max_bytes=4 * 1024 * 1024)
    _assert_nothing_left(tmp_path, tmp_path / "out")


def test_many_small_members_hit_the_byte_cap_by_counting(tmp_path: Path) -> None:
    """F17: the total is counted across members, not per member."""
    archive = tmp_path / "many.tar.gz"
    archive.write_bytes(make_tar({f"f{i}": bytes(300_000) for i in range(10)}))
    with pytest.raises(ArchiveError, match="more than 1000000 bytes"):
        extract(archive, tmp_path / "out", max_bytes=1_000_000)
    _assert_nothing_left(tmp_path, tmp_path / "out")


def test_bytes_are_counted_while_writing_not_taken_from_headers(tmp_path: Path) -> None:
    """F17: a stream yielding more than its header declared is still stopped at the cap."""
    writer = _Writer(tmp_path, tmp_path / "a.tar", limit=100_000, count_cap=10)
    from zoo.download.archive import _Member

    liar = _Member("small", ("small",), is_dir=False, size=10, executable=False)
    with pytest.raises(ArchiveError, match="stopped before the disk fills"):
        writer.file(liar, io.BytesIO(bytes(1_000_000)))
    assert writer.written <= 100_000 + (1 << 20)
    assert (tmp_path / "small").stat().st_size <= 100_000


def test_member_count_is_capped(tmp_path: Path) -> None:
    archive = tmp_path / "count.tar.gz"
    archive.write_bytes(make_tar({f"f{i}": b"" for i in range(20)}))
    with pytest.raises(ArchiveError, match="more than 10 members"):
        extract(archive, tmp_path / "out", max_members=10)


def test_zip_archives_extract(tmp_path: Path) -> None:
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("d/", "")
        zf.writestr("d/a.txt", "hello")
    extract(archive, tmp_path / "out")
    assert (tmp_path / "out/d/a.txt").read_text() == "hello"


def test_fetch_archive_refuses_a_hostile_archive_from_the_server(server: Server) -> None:
    """F13 end to end: served over HTTP, refused, nothing extracted, cache still usable."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("../../escape")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    url = server.route("/evil.tar.gz", buf.getvalue())
    with pytest.raises(ArchiveError):
        zoo.download.fetcher.fetch_archive(url, kind="data")
    extracted = zoo.download.fetcher.cache_root() / "extracted"
    assert not extracted.exists() or os.listdir(extracted) == []
    good = make_tar({"ok": b"fine"})
    ok = server.route("/ok.tar.gz", good)
    out = zoo.download.fetcher.fetch_archive(ok, sha256=sha(good))
    assert (out / "ok").read_bytes() == b"fine"
