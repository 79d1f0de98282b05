"""What a project downloads: resolve its models' artifacts, prefetch them, lock them.

A project's models are the entries of ``./zoo.yaml`` (or names given). Each provider says
which files loading a model downloads (``Provider.artifacts``); remote registry files in
``ZOO_REGISTRY`` are artifacts too. :func:`prefetch` (``zoo fetch``) downloads them all into
the cache so that ``ZOO_OFFLINE=1`` runs need no network; :func:`lock_project`
(``zoo lock``) also writes their URL, size and sha256 to ``./zoo.lock``, which every later
fetch is checked against. Both check every pin before downloading anything, so
require-hashes mode is all-or-nothing.

Example:
    >>> lock_project(["my_net"]).entries  # doctest: +SKIP
    {'https://example.org/my_net.weights.h5': LockEntry(...)}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo.download.fetcher import fetch, require_pins
from zoo.download.lockfile import LOCKFILE_NAME, LockEntry, LockFile, project_directory
from zoo.errors import InvalidOptionError
from zoo.host.provider import Artifact
from zoo.registry import load_registry_file
from zoo.session import Session, default_session

__all__ = ["Fetched", "Planned", "lock_project", "plan", "prefetch", "project_models"]


@dataclass(frozen=True)
class Planned:
    """One artifact to fetch, and the model that needs it ("" for a registry file)."""

    model: str
    artifact: Artifact


@dataclass(frozen=True)
class Fetched:
    """An artifact now in the cache."""

    model: str  # "" for a registry file
    artifact: Artifact
    path: Path  # the cached file
    sha256: str
    size: int


def project_models(session: Session | None = None) -> list[str]:
    """The names defined in the project's ``zoo.yaml`` (the models this project uses)."""
    path = (session or default_session()).cwd / "zoo.yaml"
    return [spec.name for spec in load_registry_file(path)] if path.is_file() else []


def plan(names: Sequence[str] | None = None, *, session: Session | None = None) -> list[Planned]:
    """Every artifact the named models (default: ``zoo.yaml``'s) and remote registries need.

    Raises:
        InvalidOptionError: no names given and ``zoo.yaml`` defines no model.
        UnknownModelError: a name is in no registry.
    """
    session = session or default_session()
    chosen = list(names) if names else project_models(session)
    if not chosen:
        raise InvalidOptionError(
            "no models to fetch or lock: name them (`zoo lock resnet50 my_net`) or define "
            "the project's models in ./zoo.yaml"
        )
    planned = [
        Planned("", Artifact(url, kind="registry"))
        for url in session.registry_files()
        if "://" in url
    ]
    for name in chosen:
        spec, provider, _ = session.resolve(name, {})
        planned.extend(Planned(spec.name, a) for a in provider.artifacts(spec))
    return planned


def _fetch(p: Planned, require: bool | None, progress: bool | None, use_lockfile: bool) -> Fetched:
    path = fetch(
        p.artifact.url,
        sha256=p.artifact.sha256,
        name=p.model or None,
        kind=p.artifact.kind,
        progress=progress,
        require_hashes=require,
        use_lockfile=use_lockfile,
    )
    # cache blobs are named <sha256><suffix>
    return Fetched(p.model, p.artifact, path, path.name[:64], path.stat().st_size)


def prefetch(
    names: Sequence[str] | None = None,
    *,
    require_hashes: bool | None = None,
    progress: bool | None = None,
    session: Session | None = None,
) -> list[Fetched]:
    """Download every artifact of the named models into the cache (``zoo fetch``).

    Archives are stored, not extracted: extraction is local and happens on first load, where
    a model archive still needs its pin, lock entry or ``trust=True``.

    Example:
        >>> [f.path.name for f in prefetch(["my_net"])]  # doctest: +SKIP
        ['3f2a....weights.h5']
    """
    planned = plan(names, session=session)
    with project_directory((session or default_session()).cwd):  # its zoo.lock pins them
        require_pins([p.artifact for p in planned], require=require_hashes)
        return [_fetch(p, require_hashes, progress, True) for p in planned]


def lock_project(
    names: Sequence[str] | None = None,
    *,
    require_hashes: bool | None = None,
    progress: bool | None = None,
    session: Session | None = None,
) -> LockFile:
    """Fetch every artifact of the named models and record it in ``./zoo.lock`` (``zoo lock``).

    Without names the lock is rewritten for ``./zoo.yaml``'s models; with names their entries
    are replaced and the others kept. The old lock does not veto re-locking (that is what
    re-locking is for), but registry pins still do. Locking an unpinned artifact records the
    hash it has now (trust on first use): review the change and commit the file.
    """
    session = session or default_session()
    path = session.cwd / LOCKFILE_NAME
    lock = LockFile(path)
    if names and path.is_file():
        lock.entries = dict(LockFile.load(path).entries)
    planned = plan(names, session=session)
    require_pins([p.artifact for p in planned], require=require_hashes, use_lockfile=False)
    lock.drop_models({p.model for p in planned if p.model})
    for p in planned:
        got = _fetch(p, require_hashes, progress, False)
        url = p.artifact.url.split("#", 1)[0]
        models = (p.model,) if p.model else ()
        kind, archive = p.artifact.kind, p.artifact.archive
        lock.add(LockEntry(url, got.sha256, got.size, kind, archive, models))
    lock.save()
    return lock
