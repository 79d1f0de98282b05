"""Every environment setting of tfzoo, in one table, read at call time. No TensorFlow.

This is the only module that reads a ``ZOO_*`` variable. :data:`SETTINGS` lists each one
(name, kind, default, one line of help, who uses it); :func:`value` parses it, and the typed
accessors below (:func:`offline`, :func:`lock_timeout`, ...) are what the rest of tfzoo calls.
Values are read when asked for, never cached, so a test (or a user) that sets a variable sees
its effect at once. Parsing is one rule per kind:

- ``bool``: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off`` (any case);
- ``int`` / ``seconds``: a non-negative number (``seconds`` may have a fraction);
- ``names``: a comma-separated list (an empty value is an empty list, not "unset");
- ``paths``: ``os.pathsep``-separated entries, an ``https://host:port/...`` URL kept whole;
- ``path``: a directory (``~`` expanded).

An unset or empty variable (``names`` aside) takes the default; any other value that does not
parse is an :class:`~zoo.errors.InvalidOptionError` naming the variable and what it accepts.
:data:`EXTERNAL` lists the variables of other tools tfzoo honours (read-only notes; their owners
define them). docs/settings.md is generated from both tables (``python -m tools.docs``).

Adding a setting is one :class:`Setting` entry in :data:`SETTINGS` (read it with
``value("ZOO_X")``), plus a one-line typed accessor if callers want one.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from zoo.errors import InvalidOptionError

__all__ = [
    "EXTERNAL",
    "KINDS",
    "SETTINGS",
    "Setting",
    "block_plugins",
    "cache_dir",
    "debug",
    "expand_user",
    "fetch_deadline",
    "fetch_min_rate",
    "fetch_rate_window",
    "is_set",
    "load_plugins",
    "lock_timeout",
    "max_download_bytes",
    "max_extract_bytes",
    "max_extract_members",
    "offline",
    "packaged_registry",
    "plugin_timeout",
    "progress",
    "registry_entries",
    "require_hashes",
    "split_locations",
    "startup_cache_enabled",
    "trust_publishers",
    "trust_store",
    "user_registry",
    "value",
    "zoo_home",
]

Kind = Literal["bool", "int", "seconds", "names", "paths", "path"]

#: What each kind accepts, as error messages and docs/settings.md say it.
KINDS: Mapping[str, str] = {
    "bool": "1, true, yes, on or 0, false, no, off",
    "int": "a whole number >= 0 (at most 2**63 - 1)",
    "seconds": "a number of seconds >= 0 (at most 1000000, about 11 days)",
    "names": "comma-separated names",
    "paths": "paths or https URLs separated by os.pathsep (':' on Linux)",
    "path": "a directory",
}

#: The largest value of an "int" setting: what a C ``int64`` (and a float, exactly enough) holds.
MAX_INT = 2**63 - 1
#: The largest value of a "seconds" setting (~11.6 days): far beyond any real wait, and within
#: what ``threading`` and ``socket`` timeouts accept on every platform (Windows: ~49 days);
#: a larger one is an OverflowError there.
MAX_SECONDS = 1e6

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """One environment variable: how it is parsed, its default and what it does."""

    name: str  # the variable, e.g. "ZOO_OFFLINE"
    kind: Kind  # how the value is parsed (see KINDS)
    default: Any  # the value when unset or empty
    help: str  # one line for docs/settings.md
    used_by: str  # the modules that act on it
    default_text: str = ""  # the default as docs show it, when repr() would not say it well


def _table(*settings: Setting) -> dict[str, Setting]:
    return {s.name: s for s in settings}


#: Every ZOO_* variable tfzoo reads, in the order docs/settings.md lists them.
SETTINGS: Mapping[str, Setting] = _table(
    Setting(
        "ZOO_HOME",
        "path",
        None,
        "tfzoo's home: the download cache (`ZOO_HOME/cache`) and the user registry file",
        "zoo.settings, zoo.download, zoo.registry",
        "the platform's user cache dir + `zoo` (`~/.cache/zoo` on Linux)",
    ),
    Setting(
        "ZOO_REGISTRY",
        "paths",
        (),
        "more registry files, merged last; an https URL is fetched, cached and pinnable",
        "zoo.registry, zoo.prefetch",
        "none",
    ),
    Setting(
        "ZOO_LOAD_PLUGINS",
        "names",
        None,
        "allowlist of entry-point plugins (names or distributions); set but empty loads none",
        "zoo.host.manager",
        "unset: every installed plugin",
    ),
    Setting(
        "ZOO_BLOCK_PLUGINS",
        "names",
        None,
        "plugins not to import, built-ins included",
        "zoo.host.manager",
        "none",
    ),
    Setting(
        "ZOO_PLUGIN_TIMEOUT",
        "seconds",
        20.0,
        "seconds a plugin may take to import, to run one hook or to answer one claim(); over "
        "it, it is reported and skipped (0 waits forever)",
        "zoo.host.manager",
        "20",
    ),
    Setting(
        "ZOO_NO_STARTUP_CACHE",
        "bool",
        False,
        "true: parse every registry file and scan the plugins on every start (no cache under "
        "`ZOO_HOME/startup`)",
        "zoo.startup_cache",
    ),
    Setting(
        "ZOO_OFFLINE",
        "bool",
        False,
        "never open a socket: cached artifacts only; a missing one is an OfflineError",
        "zoo.download, zoo.registry, plugins (zoo.download.is_offline)",
    ),
    Setting(
        "ZOO_REQUIRE_HASHES",
        "bool",
        False,
        "refuse every artifact without a sha256 pin (registry entry, URL fragment or zoo.lock)",
        "zoo.download.pins, zoo.session, zoo.prefetch",
    ),
    Setting(
        "ZOO_PROGRESS",
        "bool",
        True,
        "false: no download progress bar (it is drawn only when stderr is a terminal anyway)",
        "zoo.download.progress",
    ),
    Setting(
        "ZOO_LOCK_TIMEOUT",
        "seconds",
        1800.0,
        "how long to wait for another process downloading the same artifact",
        "zoo.download.filelocks",
        "1800",
    ),
    Setting(
        "ZOO_MAX_EXTRACT_BYTES",
        "int",
        32 * 1024**3,
        "cap on the bytes one archive may expand to (decompression bombs stop there)",
        "zoo.download.archive",
        "34359738368 (32 GiB)",
    ),
    Setting(
        "ZOO_MAX_EXTRACT_MEMBERS",
        "int",
        100_000,
        "cap on the number of members of one archive",
        "zoo.download.archive",
        "100000",
    ),
    Setting(
        "ZOO_FETCH_DEADLINE",
        "seconds",
        7200.0,
        "seconds one whole fetch may take, retries included (slow or endless servers stop)",
        "zoo.download.limits",
        "7200",
    ),
    Setting(
        "ZOO_FETCH_MIN_RATE",
        "int",
        1024,
        "bytes per second a fetch must average over the rate window; 0 turns the check off",
        "zoo.download.limits",
        "1024",
    ),
    Setting(
        "ZOO_FETCH_RATE_WINDOW",
        "seconds",
        30.0,
        "seconds the minimum rate is averaged over",
        "zoo.download.limits",
        "30",
    ),
    Setting(
        "ZOO_MAX_DOWNLOAD_BYTES",
        "int",
        32 * 1024**3,
        "cap on one downloaded file's decoded bytes when no zoo.lock size pins it",
        "zoo.download.limits",
        "34359738368 (32 GiB)",
    ),
    Setting(
        "ZOO_TRUST_PUBLISHERS",
        "bool",
        True,
        "false: the built-in trusted publishers (official Google/TensorFlow/Keras on tfhub.dev "
        "and Kaggle) no longer vouch for unpinned model archives",
        "zoo.download.trust",
    ),
    Setting(
        "ZOO_DEBUG",
        "bool",
        False,
        "the CLI prints tracebacks and TensorFlow's start-up log (like `zoo --debug`)",
        "zoo.cli",
    ),
)

#: Variables of other tools that tfzoo honours; read where they apply, listed here for docs.
EXTERNAL: Mapping[str, Setting] = _table(
    Setting(
        "TFHUB_CACHE_DIR",
        "path",
        None,
        "tensorflow_hub's cache: a model found there is used (same pin and trust rules), and "
        "downloads are copied into it",
        "zoo.savedmodel.handles",
        "unset",
    ),
    Setting(
        "KERAS_HOME",
        "path",
        None,
        "Keras's home: ImageNet weights already in `$KERAS_HOME/models` are reused if they match",
        "zoo.providers.keras_weights",
        "`~/.keras`",
    ),
    Setting(
        "XDG_CACHE_HOME",
        "path",
        None,
        "on Linux, the default `ZOO_HOME` is `$XDG_CACHE_HOME/zoo`",
        "zoo.settings",
        "`~/.cache`",
    ),
    Setting(
        "LOCALAPPDATA",
        "path",
        None,
        "on Windows, the default `ZOO_HOME` is `%LOCALAPPDATA%\\zoo\\Cache`",
        "zoo.settings",
        "`~\\AppData\\Local`",
    ),
)


def value(name: str) -> Any:
    """The parsed value of setting ``name`` (from :data:`SETTINGS` or :data:`EXTERNAL`).

    Raises:
        InvalidOptionError: the variable is set to something its kind does not accept.
        KeyError: ``name`` is not in either table (a typo in tfzoo, not in the environment).
    """
    setting = SETTINGS[name] if name in SETTINGS else EXTERNAL[name]
    raw = os.environ.get(name)
    if raw is None:
        return setting.default
    text = raw.strip()
    if setting.kind == "names":  # "" is meaningful: an empty allowlist loads nothing
        return frozenset(item.strip() for item in text.split(",") if item.strip())
    if not text:
        return setting.default
    try:
        return _parse(setting.kind, text)
    except ValueError as exc:
        shown = text if len(text) <= 60 and text.isprintable() else repr(text[:60]) + "..."
        why = f" ({exc})" if isinstance(exc, _Unusable) else ""
        raise InvalidOptionError(
            f"the environment variable {name}={shown} is invalid{why}: {name} takes "
            f"{KINDS[setting.kind]} ({setting.help}); unset it for the default"
        ) from None


class _Unusable(ValueError):
    """A value of the right form that cannot be used; its message says why."""


def _parse(kind: Kind, text: str) -> Any:
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(text)
    if kind == "int":
        if not text.isdigit() or len(text) > 30 or int(text) > MAX_INT:
            raise ValueError(text)
        return int(text)
    if kind == "seconds":
        seconds = float(text)
        if not (math.isfinite(seconds) and 0 <= seconds <= MAX_SECONDS):
            raise ValueError(text)
        return seconds
    if kind == "paths":
        return tuple(split_locations(text))
    return expand_user(Path(text), _Unusable)


def expand_user(path: Path, error: Callable[[str], Exception]) -> Path:
    """``path.expanduser()``; a ``~user`` with no such user (or no home directory to find)
    raises ``error(reason)`` instead of the RuntimeError of :meth:`pathlib.Path.expanduser`."""
    try:
        return path.expanduser()
    except RuntimeError:
        head = str(path).split("/", 1)[0].split("\\", 1)[0]
        raise error(f"{head!r} names no user's home directory on this machine") from None


def user_path(path: str | Path) -> Path:
    """``Path(path).expanduser()`` for a path a user gave; ``~nouser/...`` is a
    SourceNotFoundError naming it (not pathlib's RuntimeError)."""
    from zoo.errors import SourceNotFoundError

    return expand_user(
        Path(path), lambda why: SourceNotFoundError(f"{path}: {why}", source=str(path))
    )


def split_locations(value: str, sep: str = os.pathsep) -> list[str]:
    """Split a ``ZOO_REGISTRY`` value on ``sep``, keeping URLs (``https://h:8443/x``) whole."""
    pieces = value.split(sep)
    items: list[str] = []
    i = 0
    while i < len(pieces):
        item = pieces[i]
        i += 1
        if sep == ":" and item in ("http", "https") and i < len(pieces):
            item += ":" + pieces[i]  # the "//host" part
            i += 1
            if i < len(pieces) and re.match(r"^\d+(/|$)", pieces[i]):
                item += ":" + pieces[i]  # a port
                i += 1
        if item.strip():
            items.append(item)
    return items


# -- typed accessors (one line each: the table says how) --------------------------------------


def offline() -> bool:
    """``ZOO_OFFLINE``: serve from the cache only, never open a socket."""
    return bool(value("ZOO_OFFLINE"))


def require_hashes() -> bool:
    """``ZOO_REQUIRE_HASHES``: every artifact needs a sha256 pin (like pip's mode)."""
    return bool(value("ZOO_REQUIRE_HASHES"))


def progress() -> bool:
    """``ZOO_PROGRESS``: False silences the download bar; True leaves it to "is it a tty"."""
    return bool(value("ZOO_PROGRESS"))


def debug() -> bool:
    """``ZOO_DEBUG``: the CLI shows tracebacks."""
    return bool(value("ZOO_DEBUG"))


def lock_timeout() -> float:
    """``ZOO_LOCK_TIMEOUT``: seconds to wait for a live owner of an artifact's lock."""
    return float(value("ZOO_LOCK_TIMEOUT"))


def max_extract_bytes() -> int:
    """``ZOO_MAX_EXTRACT_BYTES``: cap on the bytes one archive may expand to."""
    return int(value("ZOO_MAX_EXTRACT_BYTES"))


def max_extract_members() -> int:
    """``ZOO_MAX_EXTRACT_MEMBERS``: cap on the members of one archive."""
    return int(value("ZOO_MAX_EXTRACT_MEMBERS"))


def load_plugins() -> frozenset[str] | None:
    """``ZOO_LOAD_PLUGINS``: the entry-point plugins allowed, or None (unset: all)."""
    found: frozenset[str] | None = value("ZOO_LOAD_PLUGINS")
    return found


def block_plugins() -> frozenset[str]:
    """``ZOO_BLOCK_PLUGINS``: plugins not to import (built-ins included)."""
    return value("ZOO_BLOCK_PLUGINS") or frozenset()


def registry_entries() -> list[str]:
    """``ZOO_REGISTRY``: registry files and URLs, in merge order."""
    return list(value("ZOO_REGISTRY"))


def zoo_home() -> Path:
    """The tfzoo home: ``$ZOO_HOME``, else the platform's user cache directory + ``zoo``.

    Linux ``$XDG_CACHE_HOME/zoo`` or ``~/.cache/zoo``; macOS ``~/Library/Caches/zoo``;
    Windows ``%LOCALAPPDATA%\\zoo\\Cache``.
    """
    home: Path | None = value("ZOO_HOME")
    if home is not None:
        return home
    try:
        return _default_home()
    except RuntimeError:  # no HOME and no passwd entry (a bare container's user)
        raise InvalidOptionError(
            "cannot find your home directory for tfzoo's default home: set ZOO_HOME to a directory"
        ) from None


def _default_home() -> Path:
    if sys.platform == "win32":
        base: Path | None = value("LOCALAPPDATA")
        return (base or Path.home() / "AppData" / "Local") / "zoo" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "zoo"
    xdg: Path | None = value("XDG_CACHE_HOME")
    return (xdg or Path.home() / ".cache") / "zoo"


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


def fetch_deadline() -> float:
    """``ZOO_FETCH_DEADLINE``: seconds for one whole fetch, retries included."""
    return max(float(value("ZOO_FETCH_DEADLINE")), 0.001)


def fetch_min_rate() -> float:
    """``ZOO_FETCH_MIN_RATE``: bytes per second a fetch must average (0: no check)."""
    return float(value("ZOO_FETCH_MIN_RATE"))


def fetch_rate_window() -> float:
    """``ZOO_FETCH_RATE_WINDOW``: seconds the minimum rate is averaged over."""
    return max(float(value("ZOO_FETCH_RATE_WINDOW")), 0.001)


def max_download_bytes() -> int:
    """``ZOO_MAX_DOWNLOAD_BYTES``: cap on one downloaded file, decoded."""
    return max(int(value("ZOO_MAX_DOWNLOAD_BYTES")), 1)


def is_set(name: str) -> bool:
    """Whether the user set variable ``name`` (to something not blank): defaults may then
    adapt, as the extraction cap does to the free disk space only when it is not set."""
    return bool(os.environ.get(name, "").strip())


def trust_store() -> Path:
    """The user's trust store, ``ZOO_HOME/trust.json`` (trusted prefixes, first-use hashes)."""
    return zoo_home() / "trust.json"


def trust_publishers() -> bool:
    """``ZOO_TRUST_PUBLISHERS``: whether the built-in trusted publishers count (default on).

    ``ZOO_TRUST_PUBLISHERS=0`` switches the built-in list off (only your own ``zoo trust``
    prefixes, pins and ``trust=True`` vouch for a model archive then).
    """
    return bool(value("ZOO_TRUST_PUBLISHERS"))


def plugin_timeout() -> float:
    """``ZOO_PLUGIN_TIMEOUT``: seconds a plugin may take to import or run one hook (0: forever).

    A plugin over the limit is reported and skipped (F31).
    """
    return float(value("ZOO_PLUGIN_TIMEOUT"))


def cache_dir() -> Path:
    """Where tfzoo keeps its start-up caches (parsed registries, the plugin scan):
    ``ZOO_HOME/startup``."""
    return zoo_home() / "startup"


def startup_cache_enabled() -> bool:
    """False when ``ZOO_NO_STARTUP_CACHE`` is true (every start parses and scans again)."""
    return not value("ZOO_NO_STARTUP_CACHE")
