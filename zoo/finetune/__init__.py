"""The fine-tune engine: recipe, data, freezing, feature cache, training, export.

Importing this package does not import TensorFlow; :class:`~zoo.finetune.engine.Finetuner`
(``zoo.Finetuner``) does. ``zoo.finetune`` at the top level is the function
:func:`zoo.finetune.api.finetune`.
"""

from zoo.finetune.api import finetune
from zoo.finetune.recipe import Recipe
from zoo.finetune.result import FinetuneResult, PhaseResult

__all__ = ["FinetuneResult", "PhaseResult", "Recipe", "finetune"]
