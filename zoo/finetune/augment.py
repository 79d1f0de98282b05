"""Random augmentation as Keras layers, from a recipe's ``augmentation`` entries."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zoo.errors import InvalidOptionError
from zoo.finetune.recipe import AUGMENTATION_LAYERS

if TYPE_CHECKING:
    import keras

__all__ = ["augmentation_layers"]


def augmentation_layers(items: Sequence[Any], seed: int | None) -> list[keras.layers.Layer]:
    """Keras random-augmentation layers for the recipe's ``augmentation`` entries.

    Raises:
        InvalidOptionError: a name that is not one of ``AUGMENTATION_LAYERS``.
    """
    import keras

    layers: list[keras.layers.Layer] = []
    for item in items:
        if isinstance(item, str):
            pairs: list[tuple[Any, Any]] = [(item, None)]
        elif isinstance(item, dict) or hasattr(item, "items"):
            pairs = list(item.items())
        else:  # a Keras layer
            layers.append(item)
            continue
        for name, strength in pairs:
            if name not in AUGMENTATION_LAYERS:
                close = difflib.get_close_matches(str(name), list(AUGMENTATION_LAYERS), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise InvalidOptionError(
                    f"unknown augmentation {name!r}{hint}; known: {', '.join(AUGMENTATION_LAYERS)}"
                )
            default, make = AUGMENTATION_LAYERS[name]
            factor = float(default if strength is None else strength)
            layers.append(make(keras.layers, factor, seed))
    return layers
