"""The fine-tune engine: recipe, data, freezing, feature cache, training, export.

Importing this package does not import TensorFlow; :class:`~zoo.finetune.engine.Finetuner`
(``zoo.Finetuner``) does. The one-call form is :func:`zoo.finetune` (:mod:`zoo.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoo.finetune.recipe import Recipe
    from zoo.finetune.result import FinetuneResult, PhaseResult

# Resolved on first use (PEP 562): `import zoo` imports this package, so it imports nothing.
_LAZY = {
    "FinetuneResult": "zoo.finetune.result",
    "PhaseResult": "zoo.finetune.result",
    "Recipe": "zoo.finetune.recipe",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FinetuneResult", "PhaseResult", "Recipe"]
