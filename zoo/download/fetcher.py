"""Every byte tfzoo takes from the network goes through here (built on ``requests``).

:func:`fetch` downloads a URL into the cache (or finds it there) and returns the file;
:func:`fetch_archive` also extracts it safely and returns the directory. A fetch: resolves
the URL's pin (call, ``#sha256=`` fragment, ``./zoo.lock``; ``zoo.download.pins``), looks in
the cache (``zoo.download.cache``; ``ZOO_OFFLINE=1`` stops there), takes the artifact's lock
(``zoo.download.filelocks``), streams into ``blobs/.<key>.part`` with hashing, Range resume,
retries and the redirect policy of ``zoo.download.urls`` within one budget
(``zoo.download.limits``; the client of ``zoo.download.http_read`` holds every request to it,
headers included, and reads headers as a hostile server may send them), then verifies and
renames. Model archives (programs) are extracted only when pinned, locked or vouched for
(F19, ``zoo.download.trust``).
docs/architecture.md ("Downloads") and docs/security.md tell the whole story; the
settings read are in docs/settings.md.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import settings
from zoo.download.archive import extract
from zoo.download.cache import Cache, Partial, url_key, url_suffix
from zoo.download.filelocks import ArtifactLock, LockUnavailable
from zoo.download.http_read import (
    Client,
    content_length,
    content_range,
    disk_error,
    no_network,
    retry_after,
    short_body,
)
from zoo.download.leftovers import clean_stale
from zoo.download.limits import Budget
from zoo.download.pins import Target, hashes_required, require_pins
from zoo.download.pins import target as target_for
from zoo.download.progress import ProgressBar, progress_enabled
from zoo.download.trust import vouch
from zoo.download.urls import (
    check_redirect,
    check_url,
    redirect_target,
    same_origin,
    split_url,
    strip_credentials,
)
from zoo.errors import (
    FetchError,
    IntegrityError,
    OfflineError,
    RemoteNotFoundError,
    UnsafeURLError,
)
from zoo.settings import zoo_home

if TYPE_CHECKING:
    import requests


__all__ = [
    "cache_root",
    "check_url",
    "fetch",
    "fetch_archive",
    "hashes_required",
    "is_offline",
    "require_pins",
]

TIMEOUT = (10.0, 60.0)  # (connect, read) seconds, on every request
MAX_REDIRECTS = 5
RETRIES = 4  # attempts after the first
BACKOFF = 0.5  # seconds before the first retry; doubles, capped at 10 s
_CHUNK = 1 << 20


def cache_root() -> Path:
    """The download cache: ``$ZOO_HOME/cache``."""
    return zoo_home() / "cache"


def is_offline() -> bool:
    """``ZOO_OFFLINE=1``: serve from the cache only, never open a socket."""
    return settings.offline()


_caches: dict[Path, Cache] = {}
_cleaned: set[Path] = set()


def _cache() -> Cache:
    root = cache_root()
    if root not in _caches:
        _caches[root] = Cache(root)
    return _caches[root]


def _clean_once(cache: Cache) -> None:
    """Before this process's first download: remove what killed processes left (F33)."""
    if cache.root not in _cleaned:
        _cleaned.add(cache.root)
        clean_stale(cache.root)


# -- the public functions ---------------------------------------------------------------------


def fetch(
    url: str | Target,
    *,
    sha256: str | None = None,
    allow_http: bool = False,
    progress: bool | None = None,
    name: str | None = None,
    kind: str = "weights",
    headers: Mapping[str, str] | None = None,
    timeout: tuple[float, float] | None = None,
    max_age: float | None = None,
    require_hashes: bool | None = None,
    use_lockfile: bool = True,
    check: tuple[str, Callable[[Path], None]] | None = None,
) -> Path:
    """The cached file for ``url``, downloading it first if needed.

    Args:
        url: https URL (http only from loopback or with ``allow_http``); a
            ``#sha256=<hex>`` fragment pins it. Or a :class:`~zoo.download.pins.Target` the
            caller already resolved with :func:`~zoo.download.pins.target` (its pins are then
            not looked up again; ``sha256``, ``name``, ``kind``, ``require_hashes`` and
            ``use_lockfile`` are ignored).
        sha256: expected digest; a mismatch raises IntegrityError naming both.
        allow_http: permit plain http to non-loopback hosts.
        progress: force the progress bar on/off (default: on a terminal, unless
            ``ZOO_PROGRESS=0``).
        name: the model this artifact belongs to (named in offline errors).
        kind: "weights", "model" or "registry" (recorded in the cache index).
        headers: extra request headers; credentials among them never follow a redirect to
            another origin.
        timeout: (connect, read) seconds; default ``TIMEOUT``.
        max_age: seconds after which an unpinned cached copy is downloaded again (remote
            registry files); default: cached copies never expire.
        require_hashes: refuse an unpinned URL (default: ``ZOO_REQUIRE_HASHES``).
        use_lockfile: check against ``./zoo.lock`` (``zoo lock`` turns it off to re-lock).
        check: ``(name, function)``, one more verification of the file (Keras's md5 of its
            weights): run once per cached file and recorded in the cache index under
            ``name``; when the function raises, the file is removed from the cache.

    Raises:
        IntegrityError, OfflineError, UnsafeURLError, RemoteNotFoundError (404/410), FetchError.

    Example:
        >>> path = fetch("https://example.org/w.weights.h5", sha256="3f2a...")  # doctest: +SKIP
    """
    if isinstance(url, str):
        split_url(url)  # one that does not parse is refused before its pins are looked up
    target = (
        url
        if isinstance(url, Target)
        else target_for(url, sha256, name, kind, require_hashes, use_lockfile)
    )
    check_url(target.url, allow_http=allow_http)
    options = _Options(allow_http, progress, dict(headers or {}), timeout or TIMEOUT)
    path = _obtain(target, options, max_age)[0]
    if check is not None:
        cache = _cache()
        if not cache.checked(path, check[0]):
            try:
                check[1](path)
            except BaseException:
                cache.discard(path)
                raise
            cache.record_check(path, check[0])
    return path


def fetch_archive(
    url: str,
    *,
    sha256: str | None = None,
    allow_http: bool = False,
    trust: bool = False,
    kind: str = "model",
    progress: bool | None = None,
    name: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: tuple[float, float] | None = None,
    require_hashes: bool | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Fetch a ``.tar``, ``.tar.gz`` or ``.zip`` and extract it safely; returns the directory.

    An archive of kind ``"model"`` (the default: SavedModels and Hub models are programs) is
    used only when pinned (``sha256`` or a registry entry), listed in ``./zoo.lock``, or
    vouched for: ``trust=True``, a trusted prefix or publisher (``zoo.download.trust``), whose
    first load records the hash that later loads must match (F19, docs/security.md).
    The directory is shared by every URL with the same archive bytes and is checked (file
    count, bytes) on each use.

    Args:
        url, sha256, allow_http, progress, name, headers, timeout, require_hashes: as for
            :func:`fetch`.
        trust: the caller vouches for an unpinned model archive.
        kind: "model" or "data" (data archives need no pin).
        max_bytes: cap on the extracted size (default ``ZOO_MAX_EXTRACT_BYTES`` or 32 GiB).

    Raises:
        UntrustedModelError: a model archive with no pin, no lock entry and no trust.
        IntegrityError: a vouched-for archive whose bytes changed since its first use.
        ArchiveError: corrupt, unsafe or too large.

    Example:
        >>> d = fetch_archive("https://tfhub.dev/google/x/1?tf-hub-format=compressed",
        ...                   sha256="3f2a...")  # doctest: +SKIP
    """
    split_url(url)
    target = target_for(url, sha256, name, kind, require_hashes)
    check_url(target.url, allow_http=allow_http)
    first_use = None
    if kind == "model" and target.pin is None:  # who vouches, and its first-use hash
        first_use = vouch(target, trust=trust)  # raises UntrustedModelError (F19)
        target = first_use.target
    cache = _cache()
    known = target.pin
    if known is None and (entry := cache.url_entry(target.url)) is not None:
        known = str(entry["sha256"])
    if known is not None and cache.extracted_ok(known):
        if first_use is not None:
            first_use.remember(known)
        return cache.extracted(known)
    options = _Options(allow_http, progress, dict(headers or {}), timeout or TIMEOUT)
    with first_use.checking() if first_use is not None else contextlib.nullcontext():
        archive, digest = _obtain(target, options, None)
    dest = cache.extracted(digest)
    _clean_once(cache)
    with _locked(cache, f"extract-{digest}", str(archive)):
        if not cache.extracted_ok(digest):
            if dest.exists():  # damaged, or extracted by a version that kept no record
                shutil.rmtree(dest)
            stats = extract(archive, dest, max_bytes=max_bytes)
            cache.record_extracted(digest, stats.files, stats.bytes)
    if first_use is not None:
        first_use.remember(digest)  # trust on first use, then pinned
    return dest


# -- cache lookups ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    allow_http: bool
    progress: bool | None
    headers: dict[str, str]
    timeout: tuple[float, float]


def _cached(cache: Cache, t: Target, max_age: float | None) -> tuple[Path, str] | None:
    """The verified cached file for ``t``; a damaged one is discarded (F5)."""
    if t.pin is not None:
        path, digest = cache.blob(t.pin, url_suffix(t.url)), t.pin
        expected: int | None = t.size
    else:
        entry = cache.url_entry(t.url)
        if entry is None:
            return None
        age = time.time() - float(entry.get("time", 0))
        if max_age is not None and age > max_age and not is_offline():
            return None
        digest, name = str(entry["sha256"]), str(entry.get("name", ""))
        if not (name.startswith(digest) and "/" not in name and "\\" not in name):
            return None  # an index entry we did not write: never follow it to another file
        path, expected = cache.root / "blobs" / name, None
    if cache.verified(path, digest, size=expected):
        return path, digest
    if path.exists():
        cache.discard(path)
    return None


class _locked:
    """An ArtifactLock whose failure on a read-only cache becomes a clear FetchError."""

    def __init__(self, cache: Cache, key: str, what: str) -> None:
        self.lock = ArtifactLock(cache.lock_path(key), what=what)
        self.cache = cache

    def __enter__(self) -> None:
        try:
            self.lock.acquire()
        except LockUnavailable as exc:
            raise FetchError(
                f"cannot write to the cache {self.cache.root} ({exc.strerror}) to store "
                f"{self.lock.what}; make it writable or point ZOO_HOME at a writable directory",
                url=self.lock.what,
            ) from exc

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def _obtain(t: Target, options: _Options, max_age: float | None) -> tuple[Path, str]:
    cache = _cache()
    hit = _cached(cache, t, max_age)
    if hit is not None:
        return hit
    if is_offline():
        model = t.name or "NAME"
        raise OfflineError(
            f"ZOO_OFFLINE=1 and {t.url} ({t.kind}{f' of {t.name!r}' if t.name else ''}) is not "
            f"in the cache {cache.root}. Prefetch it while online with `zoo fetch {model}`, or "
            "unset ZOO_OFFLINE",
            url=t.url,
        )
    _clean_once(cache)
    with _locked(cache, url_key(t.url), t.url):
        hit = _cached(cache, t, max_age)  # another process may have fetched it meanwhile
        if hit is not None:
            return hit
        part = cache.partial(t.url)
        budget = Budget(t.url, pinned_size=t.size)  # one deadline for the whole fetch (F28)
        digest, size, info = _download(t, part, options, budget)
        try:
            if t.pin is not None and digest != t.pin:
                raise IntegrityError(
                    f"sha256 mismatch for {t.url}: expected {t.pin}, received {digest}. The "
                    "file was not stored and the cache is unchanged. If the new file is "
                    "legitimate, update the pin (or re-run `zoo lock`)",
                    url=t.url,
                    expected=t.pin,
                    received=digest,
                )
            if t.size is not None and size != t.size:
                raise IntegrityError(
                    f"size mismatch for {t.url}: zoo.lock says {t.size} bytes, received {size}",
                    url=t.url,
                    expected=str(t.size),
                    received=str(size),
                )
            dest = cache.blob(digest, url_suffix(t.url))
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
        cache.record_blob(dest, digest, url=t.url, kind=t.kind, **info)
        return dest, digest


# -- HTTP -------------------------------------------------------------------------------------


class _Retry(Exception):
    """A failure worth another attempt; ``final`` is raised when attempts run out."""

    def __init__(self, final: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after


def _open(
    client: Client,
    url: str,
    headers: dict[str, str],
    options: _Options,
    budget: Budget,
) -> requests.Response:
    """GET ``url``, following at most MAX_REDIRECTS redirects that the policy allows."""
    current, headers = url, dict(headers)
    for hop in range(MAX_REDIRECTS + 1):
        response = client.get(current, headers, budget.timeout(options.timeout))
        if not response.is_redirect:
            return response
        response.close()
        target = redirect_target(current, response.headers["Location"])
        if hop == MAX_REDIRECTS:
            raise UnsafeURLError(
                f"refusing {url}: more than {MAX_REDIRECTS} redirects (a loop?); the last "
                f"pointed to {target}",
                url=url,
            )
        check_redirect(current, target, allow_http=options.allow_http)
        if not same_origin(current, target):
            strip_credentials(headers)
        current = target
    raise AssertionError("unreachable")  # pragma: no cover


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives. ``read1`` hands over what came before a dropped connection
    (``iter_content`` would lose up to a chunk of it), so a resume starts at the last byte."""
    read1 = getattr(response.raw, "read1", None)  # urllib3 >= 2.3
    if read1 is None or response.headers.get("Content-Encoding", "identity") != "identity":
        yield from response.iter_content(_CHUNK)
        return
    while chunk := read1(_CHUNK):
        yield chunk


def _download(
    t: Target, path: Path, options: _Options, budget: Budget
) -> tuple[str, int, dict[str, Any]]:
    """Download ``t.url`` into ``path`` with retries and resume; (sha256, size, info)."""
    url, label = t.url, t.name or t.url
    partial = Partial(path, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial.resume()
    client = Client()  # addresses checked (F27), every request bounded by the budget (F28)
    bar = ProgressBar(
        label.rsplit("/", 1)[-1][:40], total=None, enabled=progress_enabled(options.progress)
    )
    attempt = 0
    worst: _Retry | None = None  # a size disagreement says more than the 416 that follows
    try:
        with bar:
            while True:
                try:
                    budget.check()
                    with client.bounded(budget):
                        info = _attempt(client, partial, options, bar, budget, t)
                    partial.close()
                    partial.meta.unlink(missing_ok=True)
                    return partial.digest.hexdigest(), partial.offset, info
                except _Retry as retry:
                    partial.close()
                    if worst is None or not isinstance(worst.final, IntegrityError):
                        worst = retry
                    attempt += 1
                    if attempt > RETRIES:
                        raise worst.final from retry
                    budget.check()  # the deadline and the rate span every attempt
                    delay = min(BACKOFF * 2 ** (attempt - 1), 10.0) * random.uniform(1.0, 1.2)
                    delay = max(delay, min(retry.retry_after or 0.0, 30.0))
                    time.sleep(min(delay, budget.left()))
    except BaseException:
        partial.restart()
        raise
    finally:
        client.close()


def _attempt(
    client: Client,
    partial: Partial,
    options: _Options,
    bar: ProgressBar,
    budget: Budget,
    t: Target,
) -> dict[str, Any]:
    """One GET of the rest of the file; raises _Retry for failures worth another try."""
    import requests
    import urllib3

    url = partial.url
    headers = dict(options.headers)
    if partial.offset:
        headers["Range"] = f"bytes={partial.offset}-"
        if partial.validator:
            headers["If-Range"] = partial.validator
    try:
        response = _open(client, url, headers, options, budget)
    except requests.ConnectionError as exc:
        if isinstance(exc, requests.ConnectTimeout) or not isinstance(exc, requests.Timeout):
            raise _Retry(no_network(url, exc, t)) from exc
        raise _Retry(FetchError(f"could not fetch {url}: {exc}", url=url)) from exc
    except requests.RequestException as exc:
        raise _Retry(FetchError(f"could not fetch {url}: {exc}", url=url)) from exc
    with response:
        status = response.status_code
        if status in (404, 410):
            raise RemoteNotFoundError(f"{url} answered {status} {response.reason}", url=url)
        if status == 429 or status >= 500:
            failure = FetchError(f"{url} answered HTTP {status} {response.reason}", url=url)
            raise _Retry(failure, retry_after(response.headers))
        if status == 416:  # our partial is not a prefix of what the server has: start over
            partial.restart()
            raise _Retry(FetchError(f"{url} refused to resume (HTTP 416)", url=url))
        if status not in (200, 206):
            raise FetchError(f"{url} answered HTTP {status} {response.reason}", url=url)
        total = content_length(url, response.headers)
        if status == 206:
            span = content_range(response.headers.get("Content-Range", ""))
            if span is None or span[0] != partial.offset:
                partial.restart()
                raise _Retry(FetchError(f"{url} answered a range we did not ask for", url=url))
            total = span[1]
        elif partial.offset:  # the server ignored Range (F2): restart, never append
            partial.restart()
        etag = response.headers.get("ETag", "")
        validator = etag if etag and not etag.startswith("W/") else None
        partial.remember(validator or response.headers.get("Last-Modified"))
        bar.restart(total, partial.offset)
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        if encoded:
            # decoded offsets are no Range offsets: an encoded body is never resumed
            partial.restart()
            bar.restart(None, 0)
        else:
            budget.expect(total)  # an announced size above the cap: refused unread
        try:
            partial.open()
            try:
                for chunk in _chunks(response):
                    partial.append(chunk)
                    bar.advance(len(chunk))
                    client.alive()
                    budget.advance(len(chunk), partial.offset)  # decoded bytes count (F28)
            finally:
                partial.close()  # the final flush may be the write that finds the disk full
        except (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError) as exc:
            if encoded:
                partial.restart()
            raise _Retry(short_body(url, partial.offset, total, exc)) from exc
        except OSError as exc:
            raise disk_error(url, partial.path.parent, exc) from exc
        if total is not None and partial.offset != total and not encoded:
            raise _Retry(short_body(url, partial.offset, total, None))
        wire = response.raw.tell() if encoded else None  # bytes as sent, before decoding
        if total is not None and wire is not None and wire != total:
            partial.restart()
            raise _Retry(short_body(url, wire, total, None))
    info: dict[str, Any] = {}
    if validator:
        info["etag"] = validator
    if response.headers.get("Last-Modified"):
        info["last_modified"] = response.headers["Last-Modified"]
    return info
