"""Where tfzoo keeps files: ``ZOO_HOME`` and the places registry files are read from."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["packaged_registry", "trust_publishers", "trust_store", "user_registry", "zoo_home"]


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


def trust_store() -> Path:
    """The user's trust store, ``ZOO_HOME/trust.json`` (trusted prefixes, first-use hashes)."""
    return zoo_home() / "trust.json"


def trust_publishers() -> bool:
    """Whether the built-in trusted publishers count: ``ZOO_TRUST_PUBLISHERS`` (default on).

    ``ZOO_TRUST_PUBLISHERS=0`` switches the built-in list off (only your own ``zoo trust``
    prefixes, pins and ``trust=True`` vouch for a model archive then).
    """
    value = os.environ.get("ZOO_TRUST_PUBLISHERS", "").strip().lower()
    return value not in ("0", "false", "no", "off")
