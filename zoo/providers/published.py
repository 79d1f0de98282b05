"""Built-in plugin: models published by ``zoo publish`` into a team registry.

A published entry (``provider: published``) names a content-addressed archive of a tfzoo
export (``artifacts/<sha256>.tar.gz``) relative to its registry file, which may be a local
file or an http(s) URL (``ZOO_REGISTRY=https://models.example.com/registry.yaml``), and pins
its ``sha256``: the registry vouches for exactly those bytes, so no ``zoo trust`` is needed.
The archive is downloaded through :func:`zoo.download.fetcher.fetch_archive` (cached,
pinned, locked by ``zoo lock``, served from the cache offline) and its SavedModel becomes a
Backbone cut before its classifier, as the ``local`` provider does for a directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urljoin

from zoo.errors import InvalidModelError, SourceNotFoundError
from zoo.host.hookspecs import hookimpl
from zoo.host.provider import Provider

if TYPE_CHECKING:
    from zoo.download.artifact import Artifact
    from zoo.model.backbone import Backbone
    from zoo.spec import ModelSpec

__all__ = ["PublishedProvider", "export_dir"]


def _registry_of(spec: ModelSpec) -> str:
    """The registry file or URL the entry came from (its origin without ``:line``)."""
    origin = spec.origin
    head, sep, tail = origin.rpartition(":")
    return head if sep and tail.isdigit() else origin


def artifact_location(spec: ModelSpec) -> str:
    """The archive's URL or absolute path: ``source`` resolved against the registry file."""
    source = spec.source
    if "://" in source or Path(source).is_absolute():
        return source
    registry = _registry_of(spec)
    if "://" in registry:
        return urljoin(registry, source)
    return str((Path(registry).parent / source).resolve())


def export_dir(spec: ModelSpec) -> Path:
    """The extracted export directory of a published entry (downloaded and checked if needed).

    Raises:
        IntegrityError: the archive's bytes are not the ones the registry pins.
        InvalidModelError: the archive holds no tfzoo export.
    """
    from zoo.download.fetcher import fetch_archive

    if spec.sha256 is None:
        raise InvalidModelError(
            f"{spec.name}: a published entry must pin its archive's sha256 ({spec.origin})",
            provider="published",
            source=spec.source,
        )
    location = artifact_location(spec)
    if "://" in location:
        directory = fetch_archive(location, sha256=spec.sha256, name=spec.name, kind="model")
    else:
        directory = _extract_local(Path(location), spec.sha256, spec.name)
    if not (directory / "saved_model" / "saved_model.pb").is_file():
        raise InvalidModelError(
            f"{spec.name}: {location} holds no tfzoo export (saved_model/ is missing)",
            provider="published",
            source=location,
        )
    return directory


def _extract_local(archive: Path, sha256: str, name: str) -> Path:
    """A registry on disk: check the archive against its pin, extract it into the cache."""
    import shutil

    from zoo.download.archive import extract
    from zoo.download.cache import Cache, file_sha256
    from zoo.download.fetcher import cache_root
    from zoo.errors import IntegrityError

    if not archive.is_file():
        raise SourceNotFoundError(
            f"{name}: the published archive {archive} does not exist",
            provider="published",
            source=str(archive),
        )
    cache = Cache(cache_root())
    dest = cache.extracted(sha256)
    if cache.extracted_ok(sha256):
        return dest
    digest = file_sha256(archive)
    if digest != sha256:
        raise IntegrityError(
            f"sha256 mismatch for {archive}: the registry pins {sha256}, the file is {digest}",
            url=str(archive),
            expected=sha256,
            received=digest,
        )
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stats = extract(archive, dest)
    cache.record_extracted(sha256, stats.files, stats.bytes)
    return dest


class PublishedProvider(Provider):
    """Exports published with ``zoo publish``, resolved through a (remote) registry."""

    name: ClassVar[str] = "published"
    description: ClassVar[str] = "fine-tuned exports published to a team registry (zoo publish)"
    options: ClassVar[Mapping[str, str]] = {
        "version": "the published version (informational; the name's ':N' tag selects it)",
        "backbone": "the backbone it was fine-tuned from (informational)",
        "metrics": "metrics recorded at publication (informational)",
        "card": "the model card, relative to the registry file (informational)",
    }

    def claim(self, source: object) -> str | None:
        """Claims nothing by itself: published models are reached by registry name."""
        return None

    def artifacts(self, spec: ModelSpec) -> list[Artifact]:
        """The pinned export archive (a model: extracted)."""
        from zoo.download.artifact import Artifact  # lazily: zoo list never needs it

        location = artifact_location(spec)
        if "://" not in location:
            return []
        return [Artifact(url=location, sha256=spec.sha256, kind="model", archive=True)]

    def load(self, spec: ModelSpec) -> Backbone:
        from zoo.savedmodel.loader import backbone_from_saved_model

        saved = export_dir(spec) / "saved_model"
        return backbone_from_saved_model(
            saved, spec, provider=self.name, handle=str(saved), split=True
        )


@hookimpl
def zoo_register_providers(register: Callable[[Provider], None]) -> None:
    """Register the published-models provider."""
    register(PublishedProvider())
