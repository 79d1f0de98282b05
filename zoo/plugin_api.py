"""What a plugin may import from tfzoo: the one documented surface for plugin authors.

A plugin (a module named by a ``zoo`` entry point, see docs/plugins.md) imports tfzoo names
from here and nowhere else; everything else in ``zoo.*`` may move between releases. Its
tests may also use the public API (``import zoo``) and :mod:`zoo.testing`. Importing this
module does not import TensorFlow.

- hooks: :data:`hookimpl` marks ``zoo_register_providers`` / ``zoo_register_models``;
- a provider: :class:`Provider` (subclass it), :class:`ModelSpec` (what it is asked to
  load), :class:`InputSpec` and :data:`PREPROCESSING_MODES` (the preprocessing its backbones
  expect), :class:`Backbone` (what ``load`` returns), :class:`Artifact` (what it would
  download, for ``zoo fetch`` / ``zoo lock``);
- downloads: :func:`fetch`, :func:`fetch_archive` (cache, locks, pins, offline mode, safe
  extraction), :func:`is_offline` (honour ``ZOO_OFFLINE=1`` in a downloader of your own),
  :func:`hashes_required` (``ZOO_REQUIRE_HASHES=1``: refuse what your downloader cannot pin),
  :func:`cache_root`;
- :func:`slug`: a text as a registry-safe model name;
- every error and warning of :mod:`zoo.errors`.

Example::

    from zoo.plugin_api import Backbone, ModelSpec, Provider, SourceNotFoundError, hookimpl

    class MyProvider(Provider):
        name = "mine"

        def load(self, spec: ModelSpec) -> Backbone:
            ...

    @hookimpl
    def zoo_register_providers(register):
        register(MyProvider())
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo._lazy import lazy_getattr as _lazy_getattr
from zoo.errors import (
    ArchiveError,
    DataError,
    DuplicateNameError,
    ExportError,
    FetchError,
    FinetuneError,
    IntegrityError,
    InvalidModelError,
    InvalidOptionError,
    LockFileError,
    MissingDependencyError,
    NoProviderError,
    OfflineError,
    PluginError,
    PluginLoadError,
    PluginWarning,
    ProviderError,
    RegistryError,
    RemoteNotFoundError,
    SourceNotFoundError,
    TrainingDivergedError,
    UnknownModelError,
    UnsafeURLError,
    UnsupportedOpError,
    UntrustedModelError,
    ZooError,
    ZooWarning,
)
from zoo.host.hookspecs import hookimpl
from zoo.host.provider import Provider
from zoo.registry import slug
from zoo.spec import PREPROCESSING_MODES, InputSpec, ModelSpec

if TYPE_CHECKING:
    from zoo.download import cache_root, fetch, fetch_archive, hashes_required, is_offline
    from zoo.download.artifact import Artifact
    from zoo.model.backbone import Backbone

# Resolved on first use (PEP 562): every command imports each plugin's module, `zoo list`
# included, and the download stack (HTTP, file locks, archives) is a large part of a
# command's start-up; a plugin needs it only when it loads or fetches. name -> module.
_LAZY = {
    "Artifact": "zoo.download.artifact",
    "Backbone": "zoo.model.backbone",
    "cache_root": "zoo.download",
    "fetch": "zoo.download",
    "fetch_archive": "zoo.download",
    "hashes_required": "zoo.download",
    "is_offline": "zoo.download",
}


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "PREPROCESSING_MODES",
    "ArchiveError",
    "Artifact",
    "Backbone",
    "DataError",
    "DuplicateNameError",
    "ExportError",
    "FetchError",
    "FinetuneError",
    "InputSpec",
    "IntegrityError",
    "InvalidModelError",
    "InvalidOptionError",
    "LockFileError",
    "MissingDependencyError",
    "ModelSpec",
    "NoProviderError",
    "OfflineError",
    "PluginError",
    "PluginLoadError",
    "PluginWarning",
    "Provider",
    "ProviderError",
    "RegistryError",
    "RemoteNotFoundError",
    "SourceNotFoundError",
    "TrainingDivergedError",
    "UnknownModelError",
    "UnsafeURLError",
    "UnsupportedOpError",
    "UntrustedModelError",
    "ZooError",
    "ZooWarning",
    "cache_root",
    "fetch",
    "fetch_archive",
    "hashes_required",
    "hookimpl",
    "is_offline",
    "slug",
]
