"""The ImageNet weights of keras.applications, downloaded through ``zoo.download.fetcher``.

A keras.applications function downloads its own weights with ``keras.utils.get_file`` into
``~/.keras/models``. While tfzoo builds one, that call is routed here instead, so the weights
take the same road as every other artifact: the zoo cache, ``zoo.lock`` pins,
require-hashes mode, ``ZOO_OFFLINE=1`` (no socket is opened; a missing file names
``zoo fetch``), the progress bar. Keras's own hash (md5 for most architectures) is still
checked, once per cached file (the cache index records it). A copy Keras already has in its
cache (``$KERAS_HOME/models``, e.g. on an air-gapped machine prepared by hand) is used as it
is when it passes Keras's hash and any pin.

:func:`weights_url` finds the URL without downloading: it builds the architecture and stops
at the download (``zoo fetch`` and ``zoo lock`` use it).

This relies on one private detail of Keras: the application modules call
``keras.src.utils.file_utils.get_file``. If a Keras release moves it, the routing is skipped
and Keras downloads as before (the tests of this module fail loudly then).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.errors import IntegrityError, InvalidModelError

__all__ = ["keras_cache_dir", "routed_downloads", "weights_url"]

_PATCH_LOCK = threading.RLock()


class _Found(BaseException):
    """Stops a build at its download (a BaseException, so no ``except Exception`` eats it)."""

    def __init__(self, origin: str) -> None:
        super().__init__(origin)
        self.origin = origin


def keras_cache_dir() -> Path:
    """Where ``keras.utils.get_file`` keeps application weights (``$KERAS_HOME/models``)."""
    home: Path | None = settings.value("KERAS_HOME")
    return (home or Path.home() / ".keras") / "models"


def _file_utils() -> Any:
    try:
        from keras.src.utils import file_utils
    except ImportError:  # pragma: no cover - a Keras that moved its internals
        return None
    return file_utils if callable(getattr(file_utils, "get_file", None)) else None


@contextlib.contextmanager
def _routed(get_file: Callable[..., str]) -> Iterator[bool]:
    """Replace Keras's ``get_file`` for the duration; yields whether it could."""
    file_utils = _file_utils()
    if file_utils is None:  # pragma: no cover
        yield False
        return
    with _PATCH_LOCK:
        original = file_utils.get_file
        file_utils.get_file = get_file
        try:
            yield True
        finally:
            file_utils.get_file = original


def _digest(path: Path, keras_hash: str) -> str:
    import hashlib  # OpenSSL's loading is a few ms of every command's start-up

    hasher = hashlib.sha256() if len(keras_hash) == 64 else hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def _keras_check(keras_hash: str, origin: str) -> Callable[[Path], None]:
    """The hash Keras ships with a weights file, as a ``zoo.download.fetcher`` check (run once
    per file)."""

    def check(path: Path) -> None:
        got = _digest(path, keras_hash)
        if got != keras_hash:
            raise IntegrityError(
                f"the weights from {origin} do not match the hash Keras ships with them: "
                f"expected {keras_hash}, received {got}; the file was removed from the cache",
                url=origin,
                expected=keras_hash,
                received=got,
            )

    return check


def _keras_cached(fname: str | None, keras_hash: str | None) -> Path | None:
    if not fname:
        return None
    path = keras_cache_dir() / fname
    if not path.is_file():
        return None
    return path if keras_hash is None or _digest(path, keras_hash) == keras_hash else None


def routed_downloads(name: str, sha256: str | None = None) -> AbstractContextManager[bool]:
    """While active, keras.applications weights downloads go through ``zoo.download.fetcher``.

    Args:
        name: the model the weights belong to (named in offline and pin errors).
        sha256: a pin for the weights file (the registry entry's ``sha256``).
    """

    def get_file(
        fname: str | None = None, origin: str | None = None, *args: Any, **kwargs: Any
    ) -> str:
        from zoo.download.cache import file_sha256
        from zoo.download.fetcher import fetch
        from zoo.download.pins import target

        if origin is None:
            raise InvalidModelError(f"Keras asked for the weights of {name!r} without a URL")
        keras_hash = kwargs.get("file_hash") or kwargs.get("md5_hash")
        pinned = target(origin, sha256, name, "weights", None)  # conflicting / missing pins raise
        local = _keras_cached(fname, keras_hash)
        if local is not None and (pinned.pin is None or file_sha256(local) == pinned.pin):
            return str(local)
        check = None
        if keras_hash is not None:
            check = (f"keras:{keras_hash}", _keras_check(keras_hash, origin))
        return str(fetch(pinned, check=check))  # the pins resolved above, not looked up again

    return _routed(get_file)


def weights_url(build: Callable[[], object]) -> str | None:
    """The URL that ``build()`` would download its weights from, without downloading them.

    Returns None when the build finishes without a download (no weights to fetch).
    """

    def get_file(fname: str | None = None, origin: str | None = None, *a: Any, **k: Any) -> str:
        raise _Found(origin or "")

    with _routed(get_file) as routed:
        if not routed:  # pragma: no cover
            return None
        try:
            build()
        except _Found as found:
            return found.origin or None
    return None
