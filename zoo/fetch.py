"""Every byte tfzoo takes from the network goes through here (built on ``requests``).

The public interface (stable; the rest of tfzoo calls only these):

- :func:`fetch` — download a URL into the cache (or find it there); returns the file path.
- :func:`fetch_archive` — fetch an archive and safely extract it; returns the directory.
- :func:`cache_root` — where cached artifacts live.

This first version downloads into a temp file beside the destination, hashes while streaming,
checks the size and renames atomically; extraction refuses members that leave the
destination. The hardening (locks, resume, offline mode, pins, redirect policy) is its own
piece of work and keeps this interface.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from zoo.errors import ArchiveError, FetchError, IntegrityError, SourceNotFoundError, UnsafeURLError
from zoo.paths import zoo_home

__all__ = ["cache_root", "fetch", "fetch_archive"]

_CHUNK = 1 << 20
TIMEOUT = (10.0, 60.0)  # (connect, read) seconds


def cache_root() -> Path:
    """The download cache: ``$ZOO_HOME/cache``."""
    return zoo_home() / "cache"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool = False) -> None:
    """Refuse anything but https (plain http only on loopback or with ``allow_http``)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and (allow_http or _is_loopback(parts.hostname or "")):
        return
    raise UnsafeURLError(
        f"refusing {url}: only https URLs are fetched (plain http only from loopback "
        "addresses or with allow_http=True)",
        url=url,
    )


def _key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def fetch(url: str, *, sha256: str | None = None, allow_http: bool = False) -> Path:
    """The cached file for ``url``, downloading it first if needed.

    Args:
        url: https URL (http only from loopback or with ``allow_http``).
        sha256: expected digest; a mismatch raises IntegrityError naming both.
        allow_http: permit plain http to non-loopback hosts.
    """
    import requests

    check_url(url, allow_http=allow_http)
    dest = cache_root() / "files" / _key(url)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    tmp = Path(tmp_name)
    try:
        try:
            response = requests.get(url, stream=True, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise FetchError(f"could not fetch {url}: {exc}", url=url) from exc
        with response, os.fdopen(fd, "wb") as out:
            if response.status_code == 404:
                raise SourceNotFoundError(f"{url} answered 404 Not Found", source=url)
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}", url=url)
            written = 0
            for chunk in response.iter_content(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
            expected = response.headers.get("Content-Length")
            encoded = "Content-Encoding" in response.headers
            if expected is not None and not encoded and int(expected) != written:
                raise IntegrityError(
                    f"{url}: received {written} bytes, Content-Length said {expected}",
                    url=url,
                    expected=expected,
                    received=str(written),
                )
        received = digest.hexdigest()
        if sha256 is not None and received != sha256.lower():
            raise IntegrityError(
                f"sha256 mismatch for {url}: expected {sha256.lower()}, received {received}",
                url=url,
                expected=sha256.lower(),
                received=received,
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def fetch_archive(
    url: str, *, sha256: str | None = None, allow_http: bool = False, trust: bool = False
) -> Path:
    """Fetch a ``.tar``, ``.tar.gz`` or ``.zip`` and extract it; returns the directory.

    ``trust`` is the caller vouching for an archive that holds a model (a program, FAULTS
    F19): with neither ``trust`` nor a pin such archives are refused once the download
    hardening lands (docs/security.md).
    """
    archive = fetch(url, sha256=sha256, allow_http=allow_http)
    dest = cache_root() / "extracted" / archive.name
    if dest.is_dir():
        return dest
    extract(archive, dest)
    return dest


def extract(archive: Path, dest: Path) -> Path:
    """Extract into a temp directory beside ``dest``, then rename; members must stay inside."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".extract-"))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    target = (tmp / name).resolve()
                    if not target.is_relative_to(tmp.resolve()):
                        raise ArchiveError(f"{archive}: member {name!r} leaves the destination")
                zf.extractall(tmp)
        else:
            try:
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise ArchiveError(f"{archive} is not a valid archive: {exc}") from exc
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
