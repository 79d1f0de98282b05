"""Where tfzoo keeps files: ``ZOO_HOME`` and the places registry files are read from."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = [
    "cache_dir",
    "packaged_registry",
    "plugin_timeout",
    "startup_cache_enabled",
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


def plugin_timeout() -> float:
    """Seconds a plugin may take to import or to run one registration hook: ``ZOO_PLUGIN_TIMEOUT``.

    Default 20; ``0`` waits forever. A plugin over the limit is reported and skipped (F31).
    A value that is not a number is an error, so a typo does not silently disable the bound.
    """
    raw = os.environ.get("ZOO_PLUGIN_TIMEOUT", "").strip()
    if not raw:
        return 20.0
    try:
        value = float(raw)
    except ValueError:
        from zoo.errors import InvalidOptionError

        raise InvalidOptionError(
            f"ZOO_PLUGIN_TIMEOUT must be a number of seconds (0 = no limit), received {raw[:40]!r}"
        ) from None
    return max(value, 0.0)


def cache_dir() -> Path:
    """Where tfzoo keeps its start-up caches (parsed registries, the plugin scan).

    ``ZOO_HOME/startup``; ``ZOO_NO_STARTUP_CACHE=1`` turns the caches off.
    """
    return zoo_home() / "startup"


def startup_cache_enabled() -> bool:
    """False when ``ZOO_NO_STARTUP_CACHE`` is set to 1 (every start parses and scans again)."""
    return os.environ.get("ZOO_NO_STARTUP_CACHE", "") not in ("1", "true", "yes")
