"""The fine-tune engine: recipe, data, freezing, feature cache, training, export.

Importing this package does not import TensorFlow; :class:`~zoo.finetune.engine.Finetuner`
(``zoo.Finetuner``) does. The one-call form is :func:`zoo.finetune` (:mod:`zoo.api`).
"""

from zoo.finetune.recipe import Recipe
from zoo.finetune.result import FinetuneResult, PhaseResult

__all__ = ["FinetuneResult", "PhaseResult", "Recipe"]
