"""tfzoo: name a model, get a normalized backbone, fine-tune it (TensorFlow / Keras 3).

Importing ``zoo`` does not import TensorFlow; loading a model does.

Example:
    >>> import zoo
    >>> [s.name for s in zoo.list_models("inception*")]
    ['inception_resnet_v2', 'inception_v3']
    >>> model = zoo.create("inception_v3", num_classes=5, weights=None)
"""

from zoo.api import create, get_spec, list_models, load_backbone
from zoo.backbone import Backbone
from zoo.errors import (
    ArchiveError,
    DataError,
    DuplicateNameError,
    FetchError,
    FinetuneError,
    IntegrityError,
    InvalidModelError,
    InvalidOptionError,
    MissingDependencyError,
    NoProviderError,
    OfflineError,
    PluginError,
    PluginLoadError,
    PluginWarning,
    ProviderError,
    RegistryError,
    SourceNotFoundError,
    TrainingDivergedError,
    UnknownModelError,
    UnsafeURLError,
    UntrustedModelError,
    ZooError,
    ZooWarning,
)
from zoo.finetune import FinetuneResult, Recipe, finetune
from zoo.hookspecs import hookimpl
from zoo.provider import Provider
from zoo.spec import InputSpec, ModelSpec

__version__ = "0.1.0"

# Exports whose modules import TensorFlow: resolved on first attribute access (PEP 562), so
# that `import zoo` stays light. name -> module.
_LAZY: dict[str, str] = {"Finetuner": "zoo.finetune.engine", "HubLayer": "zoo.hub_layer"}


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
    "FetchError",
    "FinetuneError",
    "FinetuneResult",
    "Finetuner",
    "HubLayer",
    "InputSpec",
    "IntegrityError",
    "InvalidModelError",
    "InvalidOptionError",
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
    "SourceNotFoundError",
    "TrainingDivergedError",
    "UnknownModelError",
    "UnsafeURLError",
    "UntrustedModelError",
    "ZooError",
    "ZooWarning",
    "create",
    "finetune",
    "get_spec",
    "hookimpl",
    "list_models",
    "load_backbone",
]
