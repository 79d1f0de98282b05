"""tfzoo: name a model, get a normalized backbone, fine-tune it (TensorFlow / Keras 3).

Importing ``zoo`` does not import TensorFlow; loading a model does.

Example:
    >>> import zoo
    >>> [s.name for s in zoo.list_models("inception*")]
    ['inception_resnet_v2', 'inception_v3']
    >>> model = zoo.create("inception_v3", num_classes=5, weights=None)
"""

import typing as _typing

from zoo._lazy import lazy_getattr as _lazy_getattr
from zoo._version import __version__ as __version__
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

if _typing.TYPE_CHECKING:
    from zoo.api import (
        compare,
        create,
        evaluate,
        export,
        fetch,
        finetune,
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
    from zoo.export.report import ExportReport
    from zoo.finetune.engine import Finetuner
    from zoo.finetune.recipe import Recipe
    from zoo.finetune.result import FinetuneResult
    from zoo.host.hookspecs import hookimpl
    from zoo.host.provider import Provider
    from zoo.model.backbone import Backbone
    from zoo.savedmodel.hub_layer import HubLayer
    from zoo.spec import InputSpec, ModelSpec

# Every other export is resolved on first attribute access (PEP 562): `import zoo` (and so
# every `zoo` command, `zoo.cli` being a subpackage) costs only the errors, and what a
# command needs is imported by that command. Finetuner and HubLayer import TensorFlow.
# name -> the module that defines it.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "compare",
            "create",
            "evaluate",
            "export",
            "fetch",
            "finetune",
            "get_spec",
            "list_models",
            "load_backbone",
            "lock",
            "predict",
            "publish",
            "trust",
            "trusted",
            "untrust",
        ),
        "zoo.api",
    ),
    "Backbone": "zoo.model.backbone",
    "ExportReport": "zoo.export.report",
    "FinetuneResult": "zoo.finetune.result",
    "Finetuner": "zoo.finetune.engine",
    "HubLayer": "zoo.savedmodel.hub_layer",
    "InputSpec": "zoo.spec",
    "ModelSpec": "zoo.spec",
    "Provider": "zoo.host.provider",
    "Recipe": "zoo.finetune.recipe",
    "hookimpl": "zoo.host.hookspecs",
}

# `zoo.export` and `zoo.finetune` are functions (zoo.api) and also subpackages. The first
# import of a submodule binds it on its parent, so the subpackages (whose __init__ import
# nothing) are imported now and their names dropped: later imports find them in sys.modules
# and rebind nothing, and the names resolve to the functions through __getattr__.
import zoo.export as _export_package  # noqa: E402, F401
import zoo.finetune as _finetune_package  # noqa: E402, F401

del export, finetune


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())


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
