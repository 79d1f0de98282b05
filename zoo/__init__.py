"""tfzoo: name a model, get a normalized backbone, fine-tune it (TensorFlow / Keras 3).

Importing ``zoo`` does not import TensorFlow; loading a model does.

Example:
    >>> import zoo
    >>> [s.name for s in zoo.list_models("inception*")]
    ['inception_resnet_v2', 'inception_v3']
    >>> model = zoo.create("inception_v3", num_classes=5, weights=None)
"""

from zoo import api as _api
from zoo._version import __version__ as __version__
from zoo.api import (
    compare,
    create,
    evaluate,
    fetch,
    get_spec,
    list_models,
    load_backbone,
    lock,
    predict,
    publish,
    trust,
    trusted,
    untrust,
)
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
from zoo.export import ExportReport
from zoo.finetune import FinetuneResult, Recipe
from zoo.host.hookspecs import hookimpl
from zoo.host.provider import Provider
from zoo.model.backbone import Backbone
from zoo.spec import InputSpec, ModelSpec

# The functions; importing the subpackages zoo.finetune and zoo.export above bound the
# modules to these names (later submodule imports do not rebind them).
export = _api.export
finetune = _api.finetune

# Exports whose modules import TensorFlow: resolved on first attribute access (PEP 562), so
# that `import zoo` stays light. name -> module.
_LAZY: dict[str, str] = {"Finetuner": "zoo.finetune.engine", "HubLayer": "zoo.savedmodel.hub_layer"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ArchiveError",
    "Backbone",
    "DataError",
    "DuplicateNameError",
    "ExportError",
    "ExportReport",
    "FetchError",
    "FinetuneError",
    "FinetuneResult",
    "Finetuner",
    "HubLayer",
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
    "Recipe",
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
    "compare",
    "create",
    "evaluate",
    "export",
    "fetch",
    "finetune",
    "get_spec",
    "hookimpl",
    "list_models",
    "load_backbone",
    "lock",
    "predict",
    "publish",
    "trust",
    "trusted",
    "untrust",
]
