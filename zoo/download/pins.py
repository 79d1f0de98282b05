"""Integrity pins: where a URL's expected sha256 comes from, and require-hashes mode.

A pin comes from the call (``sha256=``: a registry entry's, a weights spec's or the user's),
from a ``#sha256=<hex>`` URL fragment (as in pip requirement URLs), or from ``./zoo.lock``.
Pins that disagree are an error naming each. ``ZOO_REQUIRE_HASHES=1`` refuses an unpinned
URL; :func:`require_pins` checks a whole request before anything is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urldefrag

from zoo import settings
from zoo.download.lockfile import active_lockfile
from zoo.download.urls import split_url
from zoo.errors import IntegrityError, InvalidOptionError, ZooError
from zoo.spec import SHA256_RE

if TYPE_CHECKING:
    from zoo.download.artifact import Artifact

__all__ = ["Target", "hashes_required", "require_pins", "target", "unpinned_remote_registry"]


def hashes_required() -> bool:
    """``ZOO_REQUIRE_HASHES=1``: every artifact needs a sha256 pin (like pip's mode)."""
    return settings.require_hashes()


@dataclass(frozen=True)
class Target:
    """A URL to fetch and what it must be."""

    url: str  # without its fragment
    pin: str | None  # expected sha256
    size: int | None  # expected size (zoo.lock records it)
    name: str | None  # the model it belongs to (for messages)
    kind: str  # "weights", "model", "registry"


def _pins(
    url: str, sha256: str | None, use_lockfile: bool = True
) -> tuple[str, list[tuple[str, str]], int | None]:
    """The URL without fragment, every pin with where it came from, and zoo.lock's size."""
    split_url(url)  # an unparsable URL is an UnsafeURLError here, not urldefrag's ValueError
    base, fragment = urldefrag(url)
    pins: list[tuple[str, str]] = []
    if sha256:
        pins.append(("the sha256 given", sha256.lower()))
    if fragment.startswith("sha256="):
        pins.append(("the URL's #sha256=", fragment[len("sha256=") :].lower()))
    lock = active_lockfile() if use_lockfile else None
    entry = lock.find(base) if lock is not None else None
    if lock is not None and entry is not None:
        pins.append((str(lock.path), entry.sha256))
    for source, pin in pins:
        if not SHA256_RE.match(pin):
            raise InvalidOptionError(
                f"a sha256 pin is 64 hexadecimal digits; {source} for {base} is {pin!r}"
            )
    return base, pins, entry.size if entry is not None else None


def target(
    url: str,
    sha256: str | None,
    name: str | None,
    kind: str,
    require: bool | None,
    use_lockfile: bool = True,
) -> Target:
    base, pins, size = _pins(url, sha256, use_lockfile)
    if len({pin for _, pin in pins}) > 1:
        listed = "; ".join(f"{source} says {pin}" for source, pin in pins)
        raise IntegrityError(
            f"conflicting sha256 pins for {base}: {listed}. Fix the stale one (re-run "
            "`zoo lock` if the lock file is out of date)",
            url=base,
            expected=pins[0][1],
            received=pins[1][1],
        )
    pin = pins[0][1] if pins else None
    if pin is None and (hashes_required() if require is None else require):
        raise IntegrityError(_unpinned_message([base]), url=base)
    return Target(base, pin, size, name, kind)


def _unpinned_message(urls: list[str]) -> str:
    listed = "\n  ".join(urls)
    return (
        f"require-hashes mode (ZOO_REQUIRE_HASHES=1 / --require-hashes): {len(urls)} "
        f"artifact(s) have no sha256 pin, nothing was downloaded:\n  {listed}\n"
        "Pin each with sha256 (in the registry entry or the call), or record them with "
        "`zoo lock` (run without --require-hashes) and commit zoo.lock"
    )


def require_pins(
    artifacts: Iterable[Artifact], *, require: bool | None = None, use_lockfile: bool = True
) -> None:
    """In require-hashes mode, refuse if any artifact lacks a pin; checks all before failing.

    Pins count from the artifact itself, a ``#sha256=`` fragment, or ``./zoo.lock``. Call
    it before downloading anything, so the mode is all-or-nothing like pip's.

    Example:
        >>> require_pins([Artifact("https://x/w.h5", sha256=None)], require=True)
        Traceback (most recent call last):
        ...
        zoo.errors.IntegrityError: require-hashes mode ...
    """
    if not (hashes_required() if require is None else require):
        return
    missing = [a.url for a in artifacts if not _pins(a.url, a.sha256, use_lockfile)[1]]
    if missing:
        raise IntegrityError(_unpinned_message(missing), url=missing[0])


def unpinned_remote_registry(origin: str) -> str | None:
    """The URL of the remote registry file an entry came from, when nothing pins it.

    ``origin`` is a ModelSpec's ``"<file or URL>:<line>"``. A URL pinned by a ``#sha256=``
    fragment or by ``./zoo.lock`` is the user's choice of content; an unpinned one may change
    under them, so it may not grant trust (docs/security.md).
    """
    where = origin.rsplit(":", 1)[0] if origin.rsplit(":", 1)[-1].isdigit() else origin
    if not where.startswith(("https://", "http://")):
        return None
    try:
        pinned = target(where, None, None, "registry", False).pin
    except ZooError:
        pinned = None
    return None if pinned is not None else where.split("#", 1)[0]
