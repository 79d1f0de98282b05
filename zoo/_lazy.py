"""Names of a package resolved on first use (PEP 562), for packages that must import fast.

``import zoo`` runs before every ``zoo`` command, and plugins import ``zoo.plugin_api`` on
every command too: their heavy names (the API, the engine, the download stack) are bound
when first asked for, then kept in the package's namespace.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``table[name]`` and binds ``name`` in ``namespace``.

    Args:
        package: the package's ``__name__`` (for the AttributeError).
        table: exported name -> the module that defines it.
        namespace: the package's ``globals()``; a resolved name is stored there, so the
            next access does not come back here.
    """

    def __getattr__(name: str) -> object:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
