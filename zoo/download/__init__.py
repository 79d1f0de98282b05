"""The download stack (no TensorFlow): HTTP, cache, file locks, archives, pins, ``zoo.lock``.

This package's names are the facade the rest of tfzoo and plugins use; the modules beneath
are its parts:

- ``fetch``: :func:`fetch` / :func:`fetch_archive`, retries, resume, redirects, trust rule
- ``http_read``: one fetch's HTTP client, its headers read strictly (ASCII digits only)
- ``watchdog``: cuts a fetch's connections at its deadline or a rate window without progress,
  so a server dripping its status line, headers or chunk framing is bounded too (F28)
- ``urls``: URL and redirect policy (no network)
- ``cache``: the content-addressed cache under ``ZOO_HOME/cache``
- ``filelocks``: cross-process locks on cache entries (filelock + owner records)
- ``archive``: safe tar/zip extraction
- ``pins``: where a URL's sha256 pin comes from; require-hashes mode
- ``lockfile``: ``./zoo.lock``, the project's recorded pins
- ``progress``: the progress bar
- ``artifact``: :class:`Artifact`, what providers report they would download
"""

from zoo.download.artifact import Artifact
from zoo.download.fetcher import cache_root, fetch, fetch_archive, is_offline
from zoo.download.pins import hashes_required, require_pins

__all__ = [
    "Artifact",
    "cache_root",
    "fetch",
    "fetch_archive",
    "hashes_required",
    "is_offline",
    "require_pins",
]
