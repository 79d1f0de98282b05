"""Who vouches for a model archive: trusted publishers, your prefixes, first-use pins.

A remote model archive (a SavedModel, a Hub model) is a program, so
:func:`zoo.download.fetcher.fetch_archive` extracts one only when somebody vouches for it
(F19). A pin (``sha256=``, a registry entry, ``./zoo.lock``) always does. Without a
pin, this module decides, in this order:

1. ``trust=True`` from the caller;
2. a **trusted prefix** the user added (``zoo trust https://models.example.com/team/``);
3. a **trusted publisher** from :data:`PUBLISHERS` (the official Google / TensorFlow / Keras
   publishers on tfhub.dev and Kaggle Models), unless ``ZOO_TRUST_PUBLISHERS=0`` or the
   user ran ``zoo untrust`` on it.

Whatever vouched, the first load of an unpinned URL records the archive's sha256 in the
trust store (``ZOO_HOME/trust.json``): **trust on first use, then pinned**. Every later load
checks it; changed bytes are refused naming both hashes, as SSH refuses a changed host key.
``zoo untrust URL`` forgets the recorded hash. ``ZOO_REQUIRE_HASHES=1`` is not relaxed by
any of this: in that mode an artifact needs a real pin before anything is fetched.

A prefix matches on whole path segments of a normalized URL (scheme and host lower-cased,
default port dropped): ``https://tfhub.dev/google/`` matches
``https://tfhub.dev/google/imagenet/...`` but not ``https://tfhub.dev/googlex/...`` nor
``https://tfhub.dev.example.com/google/...``; a URL with ``.``/``..`` segments (plain or
percent-encoded) matches no prefix. Kaggle's download API
(``https://www.kaggle.com/api/v1/models/<owner>/...``) matches as the handle it serves
(``https://www.kaggle.com/models/<owner>/...``).

Example:
    >>> add_prefix("http://127.0.0.1:8000/")  # doctest: +SKIP
    'http://127.0.0.1:8000/'
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit

import filelock

from zoo.errors import IntegrityError, InvalidOptionError, UntrustedModelError, brief
from zoo.settings import trust_publishers, trust_store

if TYPE_CHECKING:
    from zoo.download.pins import Target

__all__ = [
    "PUBLISHERS",
    "FirstUse",
    "TrustEntry",
    "add_prefix",
    "normalize_prefix",
    "recorded_hash",
    "remove_prefix",
    "trusted",
    "vouch",
    "vouched_by",
]

#: The built-in trusted publishers: official Google, TensorFlow and Keras models on tfhub.dev
#: and Kaggle Models. ``ZOO_TRUST_PUBLISHERS=0`` switches them all off; ``zoo untrust`` one.
PUBLISHERS: tuple[str, ...] = (
    "https://tfhub.dev/google/",
    "https://tfhub.dev/tensorflow/",
    "https://www.kaggle.com/models/google/",
    "https://www.kaggle.com/models/tensorflow/",
    "https://www.kaggle.com/models/keras/",
)

_VERSION = 1
_DEFAULT_PORTS = {"http": 80, "https": 443}
_KAGGLE_API = re.compile(r"^(https://(?:www\.)?kaggle\.com)/api/v1/models/")


@dataclass(frozen=True)
class TrustEntry:
    """One row of ``zoo trust --list``."""

    prefix: str  # normalized, ends with "/" (or a whole URL for a recorded hash)
    origin: str  # "built-in", "user" or "first use"
    active: bool  # False: a built-in switched off (ZOO_TRUST_PUBLISHERS=0 or untrusted)
    sha256: str | None = None  # the recorded hash (origin "first use")
    when: str | None = None  # when it was added or first seen (UTC, ISO 8601)


# -- URLs -------------------------------------------------------------------------------------


def _parse(url: str) -> SplitResult:
    """``urlsplit`` of ``url``; InvalidOptionError when it does not parse (``http://[::1``)."""
    try:
        return urlsplit(url.strip())
    except ValueError as exc:
        raise InvalidOptionError(
            f"a trusted prefix is an http(s) URL with a host, such as "
            f"https://models.example.com/team/; {brief(url)} is not a valid URL ({exc})"
        ) from None


def _split(url: str) -> tuple[str, str, str]:
    """(scheme, host[:port], path) of an http(s) URL, normalized; InvalidOptionError otherwise."""
    parts = _parse(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidOptionError(
            f"a trusted prefix is an http(s) URL with a host, such as "
            f"https://models.example.com/team/; received {url!r}"
        )
    if parts.username or parts.password:
        raise InvalidOptionError(f"a trusted prefix carries no credentials; received {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise InvalidOptionError(f"{url!r} has an invalid port") from None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return scheme, host, parts.path or "/"


def _has_dot_segments(path: str) -> bool:
    decoded = unquote(unquote(path))  # twice: %252e survives one round
    return any(seg in (".", "..") for seg in decoded.replace("\\", "/").split("/"))


def normalize_prefix(prefix: str) -> str:
    """``prefix`` as stored and matched: lower-case scheme and host, ends with ``/``.

    Raises:
        InvalidOptionError: not an http(s) URL with a host, credentials, a query, or dot
            segments.

    Example:
        >>> normalize_prefix("HTTPS://Models.Example.com:443/team")
        'https://models.example.com/team/'
    """
    parts = _parse(prefix)
    if parts.query or parts.fragment:
        raise InvalidOptionError(f"a trusted prefix has no query or fragment; received {prefix!r}")
    scheme, host, path = _split(prefix)
    if _has_dot_segments(path):
        raise InvalidOptionError(f"a trusted prefix has no '.' or '..' segments: {prefix!r}")
    return f"{scheme}://{host}{path if path.endswith('/') else path + '/'}"


def _normalize_url(url: str) -> str | None:
    """The URL as prefixes are matched against it (no query), or None if it matches nothing."""
    try:
        scheme, host, path = _split(url)
    except InvalidOptionError:
        return None
    if _has_dot_segments(path):
        return None
    normalized = f"{scheme}://{host}{path}"
    return _KAGGLE_API.sub(r"\1/models/", normalized)


def _matches(prefix: str, url: str) -> bool:
    normalized = _normalize_url(url)
    if normalized is None:
        return False
    return normalized.startswith(prefix) or normalized + "/" == prefix


# -- the store --------------------------------------------------------------------------------


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as exc:
        raise InvalidOptionError(
            f"the trust store {path} cannot be read ({exc}); fix or delete it (deleting it "
            "forgets your trusted prefixes and first-use hashes)"
        ) from exc
    if not isinstance(data, dict):
        data = {}
    prefixes = data.get("prefixes")
    hashes = data.get("hashes")
    revoked = data.get("revoked")
    return {
        "version": _VERSION,
        "prefixes": dict(prefixes) if isinstance(prefixes, dict) else {},
        "revoked": list(revoked) if isinstance(revoked, list) else [],
        "hashes": dict(hashes) if isinstance(hashes, dict) else {},
    }


@contextlib.contextmanager
def _edit() -> Iterator[dict[str, Any]]:
    """The store's data under a cross-process lock; written atomically on exit."""
    path = trust_store()
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path) + ".lock", timeout=60):
        data = _read(path)
        yield data
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".trust.", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def add_prefix(prefix: str) -> str:
    """Trust every model archive under ``prefix`` (``zoo trust PREFIX``); the stored prefix."""
    normalized = normalize_prefix(prefix)
    with _edit() as data:
        data["prefixes"].setdefault(normalized, _now())
        if normalized in data["revoked"]:
            data["revoked"].remove(normalized)
    return normalized


def remove_prefix(prefix: str) -> list[str]:
    """Stop trusting ``prefix`` (``zoo untrust PREFIX``); returns what was removed.

    Removes the prefix and every narrower one, forgets the first-use hashes recorded under it,
    and switches off a built-in publisher it names. Nothing to remove is an error.
    """
    exact = prefix.strip()
    if exact in _read(trust_store())["hashes"]:
        with _edit() as data:  # one recorded URL, as the changed-hash refusal names it
            data["hashes"].pop(exact, None)
        return [exact]
    normalized = normalize_prefix(prefix)
    removed: list[str] = []
    with _edit() as data:
        for known in sorted(data["prefixes"]):
            if known.startswith(normalized):
                del data["prefixes"][known]
                removed.append(known)
        for url in sorted(data["hashes"]):
            if _matches(normalized, url):
                del data["hashes"][url]
                removed.append(url)
        for publisher in PUBLISHERS:
            if publisher.startswith(normalized) and publisher not in data["revoked"]:
                data["revoked"].append(publisher)
                removed.append(publisher)
    if not removed:
        raise InvalidOptionError(
            f"nothing is trusted under {normalized}; `zoo trust --list` shows what is"
        )
    return removed


def trusted() -> list[TrustEntry]:
    """Every trusted prefix and first-use hash (``zoo trust --list``)."""
    data = _read(trust_store())
    on = trust_publishers()
    rows = [TrustEntry(p, "built-in", on and p not in data["revoked"]) for p in PUBLISHERS]
    rows += [TrustEntry(p, "user", True, when=str(w)) for p, w in sorted(data["prefixes"].items())]
    for url, info in sorted(data["hashes"].items()):
        if isinstance(info, dict):
            rows.append(
                TrustEntry(url, "first use", True, str(info.get("sha256")), str(info.get("time")))
            )
    return rows


def vouched_by(url: str, *, explicit: bool = False) -> str | None:
    """What vouches for the unpinned model archive at ``url``, or None when nothing does."""
    if explicit:
        return "trust=True"
    data = _read(trust_store())
    for prefix in sorted(data["prefixes"], key=len, reverse=True):
        if _matches(prefix, url):
            return f"the trusted prefix {prefix}"
    if trust_publishers():
        for publisher in PUBLISHERS:
            if publisher not in data["revoked"] and _matches(publisher, url):
                return f"the trusted publisher {publisher}"
    return None


def recorded_hash(url: str) -> str | None:
    """The sha256 recorded for ``url`` on its first trusted load, if any."""
    info = _read(trust_store())["hashes"].get(url)
    return str(info["sha256"]) if isinstance(info, dict) and "sha256" in info else None


# -- the decision, as fetch_archive asks for it -----------------------------------------------


@dataclass
class FirstUse:
    """The trust decision for one unpinned model archive (see :func:`vouch`)."""

    target: Target  # what to fetch; pinned to the recorded hash when there is one
    reason: str  # what vouched ("the trusted prefix ...")
    recorded: str | None  # the hash recorded on first use, checked on this load

    def remember(self, digest: str) -> None:
        """Record ``digest`` on first use (a no-op when one is recorded already)."""
        if self.recorded is not None:
            return
        with _edit() as data:
            data["hashes"].setdefault(
                self.target.url, {"sha256": digest, "time": _now(), "via": self.reason}
            )
        self.recorded = digest

    @contextlib.contextmanager
    def checking(self) -> Iterator[None]:
        """Turn a mismatch with the first-use hash into the host-key style refusal."""
        try:
            yield
        except IntegrityError as exc:
            if self.recorded is None or exc.expected != self.recorded:
                raise
            raise IntegrityError(
                f"{self.target.url} changed since you first loaded it: the trust store "
                f"({trust_store()}) recorded sha256 {self.recorded} on first use, the server "
                f"now sends {exc.received}. Nothing was extracted. This is how a swapped "
                "model looks; if the change is legitimate (a new release under the same "
                f"URL), forget the old hash with `zoo untrust {self.target.url}` (or "
                "zoo.untrust(...)) and load it again",
                url=self.target.url,
                expected=self.recorded,
                received=exc.received,
            ) from None


def vouch(target: Target, *, trust: bool) -> FirstUse:
    """The decision for an unpinned model archive: who vouches, and the hash to check.

    Raises:
        UntrustedModelError: nobody vouches (no trust=True, no trusted prefix or publisher).
    """
    reason = vouched_by(target.url, explicit=trust)
    if reason is None:
        raise UntrustedModelError(
            f"{target.url} is a model archive: loading it runs a program that nobody vouched "
            "for. Load it only if you trust its source, in one of these ways: pin its hash "
            "(sha256=... on the call or in the registry entry), record it in zoo.lock "
            "(`zoo lock`), trust its publisher once with `zoo trust <URL prefix>` (or "
            "zoo.trust(...)), or pass trust=True",
            source=target.url,
        )
    recorded = recorded_hash(target.url)
    if recorded is not None:
        target = replace(target, pin=recorded)
    return FirstUse(target, reason, recorded)
