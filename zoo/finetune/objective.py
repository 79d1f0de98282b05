"""What a phase is compiled with: the recipe's optimizer (a fresh one per phase) and loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from zoo.errors import InvalidOptionError
from zoo.finetune.recipe import Recipe

__all__ = ["loss", "optimizer", "smoothed"]


def optimizer(spec: Any, learning_rate: float) -> keras.optimizers.Optimizer:
    """A fresh optimizer of the recipe's kind at ``learning_rate`` (one per phase)."""
    if isinstance(spec, str):
        config: dict[str, Any] = {"class_name": spec, "config": {"learning_rate": learning_rate}}
    elif isinstance(spec, Mapping):
        inner = dict(spec.get("config", {}))
        config = {
            "class_name": spec["class_name"],
            "config": {**inner, "learning_rate": learning_rate},
        }
    else:  # an optimizer object: a new one like it
        return type(spec).from_config({**spec.get_config(), "learning_rate": learning_rate})
    try:
        return keras.optimizers.get(config)
    except (ValueError, TypeError) as exc:
        raise InvalidOptionError(f"optimizer {spec!r} is not a Keras optimizer: {exc}") from None


def smoothed(recipe: Recipe) -> bool:
    """Whether labels become one-hot for label smoothing."""
    return recipe.loss is None and recipe.label_smoothing > 0


def loss(recipe: Recipe) -> Any:
    if recipe.loss is not None:
        return recipe.loss
    if smoothed(recipe):
        return keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    return "sparse_categorical_crossentropy"
