"""TF Hub handles: which sources they are, where their archives live, where they are cached.

Pure Python (no TensorFlow); used by the ``tfhub`` provider and by :class:`zoo.HubLayer`.

A handle is one of:

- ``https://tfhub.dev/<publisher>/<model>/<version>`` (and ``hub.tensorflow.google.cn``): the
  archive is ``<handle>?tf-hub-format=compressed``, tensorflow_hub's convention; tfhub.dev
  redirects it to Kaggle Models, so the old handles keep working.
- ``https://www.kaggle.com/models/<owner>/<model>/<framework>/<variation>/<version>``: the
  archive is Kaggle's public model API,
  ``https://www.kaggle.com/api/v1/models/<owner>/<model>/<framework>/<variation>/<version>/download``
  (the endpoint kagglehub / kagglesdk call; a ``.tar.gz`` of the SavedModel). The version is
  required: an unversioned handle would silently change under a pinned sha256.
- any other ``https://`` URL: a server following the Hub convention (``?tf-hub-format=compressed``
  is appended) or, when the path ends in ``.tar.gz``/``.tgz``/``.tar``/``.zip``, the archive
  itself. Plain ``http://`` only from loopback addresses or with ``allow_http=True``.
- a local directory holding a Hub-format (TF2 SavedModel) model, or ``file:`` URI.

``hub:`` in front of any of these is accepted and dropped. Remote archives are downloaded
through :func:`zoo.download.fetcher.fetch_archive` only. When ``TFHUB_CACHE_DIR`` is set, the
extracted model is kept there in tensorflow_hub's layout
(``$TFHUB_CACHE_DIR/<sha1 of the handle>/``). A copy found there is used without a download
under the rules of a download (F26): with ``trust=True``, or when its tree digest
equals the one tfzoo recorded for the pinned archive (:mod:`zoo.download.trees`); otherwise
the archive is fetched (pinned or trusted) and the copy replaced.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from zoo import settings
from zoo.errors import InvalidModelError, SourceNotFoundError

__all__ = [
    "archive_url",
    "find_saved_model",
    "hub_cache_dir",
    "is_remote",
    "normalize_handle",
    "resolve",
]

_TFHUB_HOSTS = {"tfhub.dev", "www.tfhub.dev", "hub.tensorflow.google.cn"}
_KAGGLE_HOSTS = {"www.kaggle.com", "kaggle.com"}
_KAGGLE_PATH = re.compile(
    r"^/models/(?P<owner>[^/]+)/(?P<model>[^/]+)/(?P<framework>[^/]+)/(?P<variation>[^/]+)"
    r"(?:/(?P<version>[^/]+))?/?$"
)
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
_COMPRESSED = "tf-hub-format=compressed"


def normalize_handle(source: str) -> str:
    """The handle without a ``hub:`` prefix; ``file:`` URIs and ``~`` become absolute paths."""
    handle = source.strip()
    handle = handle.removeprefix("hub:")
    if handle.startswith("file:"):
        return str(_file_uri_path(handle))
    if is_remote(handle):
        return handle
    return str(settings.user_path(handle).absolute())


def is_remote(handle: str) -> bool:
    """True for http(s) handles (downloaded), False for local directories."""
    return handle.startswith(("https://", "http://"))


def archive_url(handle: str, *, provider: str | None = None) -> str:
    """The URL of the compressed archive of a remote handle (see the module docstring).

    ``provider`` (the caller's name) goes into the error of a handle with no archive URL.

    Example:
        >>> archive_url("https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5")
        'https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5?tf-hub-format=compressed'
    """
    parts = urlsplit(handle)
    host = (parts.hostname or "").lower()
    if host in _KAGGLE_HOSTS:
        match = _KAGGLE_PATH.match(parts.path)
        if match is None or not match["version"]:
            raise SourceNotFoundError(
                f"{handle} is not a versioned Kaggle model handle; expected "
                "https://www.kaggle.com/models/<owner>/<model>/<framework>/<variation>/<version>",
                provider=provider,
                source=handle,
            )
        return (
            "https://www.kaggle.com/api/v1/models/{owner}/{model}/{framework}/{variation}/"
            "{version}/download".format(**match.groupdict())
        )
    if host not in _TFHUB_HOSTS and parts.path.lower().endswith(_ARCHIVE_SUFFIXES):
        return handle
    if _COMPRESSED in parts.query:
        return handle
    return handle + ("&" if parts.query else "?") + _COMPRESSED


def hub_cache_dir(handle: str) -> Path | None:
    """``$TFHUB_CACHE_DIR/<sha1(handle)>`` as tensorflow_hub names it, or None when unset."""
    root: Path | None = settings.value("TFHUB_CACHE_DIR")
    if root is None:
        return None
    return root / hashlib.sha1(handle.encode("utf8")).hexdigest()


def resolve(
    handle: str,
    *,
    sha256: str | None = None,
    trust: bool = False,
    allow_http: bool = False,
    name: str | None = None,
    provider: str | None = None,
) -> Path:
    """The local directory holding the SavedModel of ``handle``, downloading it if needed.

    Args:
        handle: a handle as described in the module docstring (``hub:`` prefix allowed).
        sha256: pin of the downloaded archive.
        trust: vouch for an unpinned remote archive (it holds a program; F19).
        allow_http: permit plain http to a non-loopback host.
        name: the registry name, so an offline miss says ``zoo fetch <name>``.
        provider: the calling provider's name, for its errors (None for a bare HubLayer).

    Raises:
        SourceNotFoundError: a local directory that does not exist, a URL answering 404.
        InvalidModelError: the directory or archive holds no TF2 SavedModel.
        FetchError: the download failed (see :mod:`zoo.download.fetcher`).
    """
    handle = normalize_handle(handle)
    if not is_remote(handle):
        path = Path(handle)
        if not path.exists():
            raise SourceNotFoundError(
                f"{handle}: no such directory; a local Hub model is a directory holding "
                "saved_model.pb",
                provider=provider,
                source=handle,
            )
        return find_saved_model(path, source=handle, provider=provider)
    from zoo.download.fetcher import fetch_archive
    from zoo.download.trees import pin_for, record_tree, verified_copy
    from zoo.errors import UntrustedModelError

    url = archive_url(handle, provider=provider)
    cached = hub_cache_dir(handle)
    found = cached is not None and (cached / "saved_model.pb").is_file()
    if found and cached is not None:
        # another tool's copy gets the rules of a download (F26): the caller's trust (not
        # enough under ZOO_REQUIRE_HASHES, which wants a pin), or the tree tfzoo recorded
        # when it extracted the archive the pin names, checked on a private copy that is
        # then what loads (the directory could be swapped between a check and a load)
        if trust and not settings.require_hashes():
            return cached
        pin = pin_for(url, sha256, name)
        copy = verified_copy(cached, pin) if pin is not None else None
        if copy is not None:
            return copy
    try:
        extracted = fetch_archive(url, sha256=sha256, allow_http=allow_http, trust=trust, name=name)
    except UntrustedModelError as exc:
        if not found:
            raise
        raise UntrustedModelError(
            f"{exc} (the copy in TFHUB_CACHE_DIR, {cached}, was not used: nothing vouches for "
            "it; a pin is checked against the archive tfzoo downloaded, so pin it and fetch "
            "once, or pass trust=True)",
            provider=provider,
            source=handle,
        ) from exc
    model_dir = find_saved_model(extracted, source=handle, provider=provider)
    record_tree(extracted.name, model_dir)  # fetch_archive names the directory by its sha256
    if cached is None:
        return model_dir
    _mirror(model_dir, cached, handle, replace=found)
    return cached


def find_saved_model(path: Path, *, source: str, provider: str | None) -> Path:
    """``path`` or its single subdirectory holding ``saved_model.pb``; refuses anything else."""
    if not path.is_dir():
        raise InvalidModelError(
            f"{source}: {path} is a file, not a SavedModel directory",
            provider=provider,
            source=source,
        )
    if (path / "saved_model.pb").is_file():
        return path
    entries = sorted(p.name for p in path.iterdir())
    subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subdirs) == 1 and (subdirs[0] / "saved_model.pb").is_file():
        return subdirs[0]  # archives packed with one top-level directory
    if "tfhub_module.pb" in entries:
        raise InvalidModelError(
            f"{source} is in the TF1 Hub format (tfhub_module.pb), which needs TF1 graph mode; "
            "use the TF2 SavedModel version of the model (on tfhub.dev / Kaggle, a handle "
            "whose framework is 'TensorFlow2')",
            provider=provider,
            source=source,
        )
    shown = ", ".join(entries[:8]) + (" ..." if len(entries) > 8 else "") if entries else "nothing"
    raise InvalidModelError(
        f"{source} is not a SavedModel: no saved_model.pb in {path} (it holds: {shown})",
        provider=provider,
        source=source,
    )


def _file_uri_path(uri: str) -> Path:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise SourceNotFoundError(
            f"{uri}: file: URIs must name a local path (file:///path), received host "
            f"{parts.netloc!r}",
            source=uri,
        )
    return settings.user_path(unquote(parts.path)).absolute()


def _mirror(source_dir: Path, dest: Path, handle: str, *, replace: bool = False) -> None:
    """Copy an extracted model into the TFHUB_CACHE_DIR layout (a copy, never hard links:
    a file linked there would be tfzoo's own extracted file, and whoever rewrites it in
    TFHUB_CACHE_DIR would rewrite tfzoo's cache too).

    ``replace``: a copy is there that did not match the pin; it is moved aside first. The
    descriptor file is written beside it through a temp file renamed into place, so a
    symbolic link planted under its name is replaced, never followed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        shutil.copytree(source_dir, tmp / "model")
        if replace and dest.exists():
            os.replace(dest, tmp / "stale")  # removed with tmp below
        try:
            os.replace(tmp / "model", dest)
        except OSError:
            if not (dest / "saved_model.pb").is_file():  # another process won the race: fine
                raise
        written = tmp / "descriptor.txt"
        written.write_text(f"Module: {handle}\nDownloaded by: tfzoo\n", encoding="utf8")
        os.replace(written, dest.parent / f"{dest.name}.descriptor.txt")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
