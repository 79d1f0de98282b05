"""Where tfzoo keeps files: ``ZOO_HOME`` and the places registry files are read from."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = [
    "fetch_deadline",
    "fetch_min_rate",
    "fetch_rate_window",
    "max_download_bytes",
    "packaged_registry",
    "user_registry",
    "zoo_home",
]


def zoo_home() -> Path:
    """The tfzoo home: ``$ZOO_HOME``, else the platform's user cache directory + ``zoo``.

    Linux ``$XDG_CACHE_HOME/zoo`` or ``~/.cache/zoo``; macOS ``~/Library/Caches/zoo``;
    Windows ``%LOCALAPPDATA%\\zoo\\Cache``.
    """
    env = os.environ.get("ZOO_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "zoo" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "zoo"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "zoo"


def user_registry() -> Path:
    """The user's own registry file, ``ZOO_HOME/registry.yaml`` (it may not exist)."""
    return zoo_home() / "registry.yaml"


def packaged_registry() -> Path:
    """The catalogue shipped with tfzoo.

    In a wheel it is ``zoo/registry.yaml``; in a source checkout (editable install) it is the
    ``registry.yaml`` at the repository root, beside the package.
    """
    here = Path(__file__).resolve().parent
    inside = here / "registry.yaml"
    return inside if inside.is_file() else here.parent / "registry.yaml"


# -- download limits (FAULTS F28, F29); read here so every ZOO_* variable has one home ------


def _number(name: str, default: float, *, minimum: float = 0.0) -> float:
    """A non-negative number from ``$name``, else ``default``; a bad value is an error."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum:  # also refuses NaN
        from zoo.errors import InvalidOptionError

        raise InvalidOptionError(
            f"{name}={raw[:40]!r} is not a number >= {minimum:g}; unset it for the default "
            f"({default:g})"
        )
    return value


def fetch_deadline() -> float:
    """``ZOO_FETCH_DEADLINE``: seconds for one whole fetch, retries included (7200)."""
    return _number("ZOO_FETCH_DEADLINE", 7200.0, minimum=0.001)


def fetch_min_rate() -> float:
    """``ZOO_FETCH_MIN_RATE``: bytes per second a fetch must average over the rate window
    (1024; 0 turns the check off)."""
    return _number("ZOO_FETCH_MIN_RATE", 1024.0)


def fetch_rate_window() -> float:
    """``ZOO_FETCH_RATE_WINDOW``: seconds the minimum rate is averaged over (30)."""
    return _number("ZOO_FETCH_RATE_WINDOW", 30.0, minimum=0.001)


def max_download_bytes() -> int:
    """``ZOO_MAX_DOWNLOAD_BYTES``: cap on one downloaded file, decoded (32 GiB)."""
    return int(_number("ZOO_MAX_DOWNLOAD_BYTES", float(32 << 30), minimum=1))
