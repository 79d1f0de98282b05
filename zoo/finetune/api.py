"""``zoo.finetune``: one call from a backbone and data to a fine-tuned model. No TF at import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.finetune.recipe import Recipe
    from zoo.finetune.result import FinetuneResult

__all__ = ["finetune"]


def finetune(
    source_or_backbone: object,
    train_data: object,
    *,
    validation_data: object = None,
    num_classes: int | None = None,
    recipe: Recipe | Mapping[str, Any] | None = None,
    **recipe_overrides: Any,
) -> FinetuneResult:
    """Put a new head on a backbone, train it (and optionally the backbone), export it.

    The Keras transfer-learning recipe by default: the backbone is frozen and called with
    ``training=False``; the head trains on features computed once (when nothing random
    happens before the backbone); with ``unfreeze_epochs`` a second phase unfreezes the
    backbone (all or ``unfreeze_top`` layers) at a learning rate 100x lower.

    Args:
        source_or_backbone: a :class:`~zoo.Backbone`, or anything :func:`zoo.load_backbone`
            takes (registry name, ``"keras:ResNet50"``, a path ...).
        train_data: ``(x, y)`` arrays of raw [0, 255] images and class ids (or names), a
            ``tf.data.Dataset`` of ``(images, labels)``, or a directory of class folders.
        validation_data: the same forms; metrics of the final model are computed on it.
        num_classes: outputs of the new head; inferred from the labels when omitted.
        recipe: a :class:`~zoo.Recipe` or a mapping of its fields (a registry entry's
            ``recipe:`` block gives defaults).
        **recipe_overrides: recipe fields, e.g. ``epochs``, ``batch_size``, ``learning_rate``,
            ``freeze``, ``unfreeze_top``, ``unfreeze_epochs``, ``cache_features``,
            ``strategy``, ``export_dir``; and ``zoo.load_backbone`` overrides (``weights``,
            ``input_shape`` ...) when a source is loaded here.

    Returns:
        The model (raw pixels in, class probabilities out), the history and wall time of
        every phase, the final metrics and the export paths.

    Raises:
        DataError: the data does not fit the backbone or the labels (before training).
        TrainingDivergedError: the loss became NaN or infinite.

    Example:
        >>> result = zoo.finetune("mobilenet_v2", (x, y), weights=None, epochs=5,
        ...                       unfreeze_epochs=2, export_dir="out")
        >>> result.metrics["accuracy"], result.exports["tflite"]
    """
    from zoo.finetune.engine import Finetuner

    tuner = Finetuner(
        source_or_backbone, num_classes=num_classes, recipe=recipe, **recipe_overrides
    )
    return tuner.fit(train_data, validation_data)
