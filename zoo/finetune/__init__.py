"""The fine-tune engine: recipe, data, freezing, feature cache, training, export.

Importing this package does not import TensorFlow; :class:`~zoo.finetune.engine.Finetuner`
(``zoo.Finetuner``) does. The one-call form is :func:`zoo.finetune` (:mod:`zoo.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo._lazy import lazy_getattr as _lazy_getattr

if TYPE_CHECKING:
    from zoo.finetune.recipe import Recipe
    from zoo.finetune.result import FinetuneResult, PhaseResult

# Resolved on first use (PEP 562): `import zoo` imports this package, so it imports nothing.
_LAZY = {
    "FinetuneResult": "zoo.finetune.result",
    "PhaseResult": "zoo.finetune.result",
    "Recipe": "zoo.finetune.recipe",
}


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())


__all__ = ["FinetuneResult", "PhaseResult", "Recipe"]
