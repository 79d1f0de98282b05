"""Which backbone layers train: the recipe's ``freeze`` (phase 1) and ``unfreeze_top`` (phase 2).

Layers are those of ``backbone.features.layers`` (what ``model.summary()`` lists), indexed
with Python list semantics, as the Keras guide's ``base_model.layers[:k]``:

- ``"backbone"``: everything frozen (the default); ``"none"``: everything trains
- an int ``k``: ``layers[:k]`` frozen, the rest trains (``-3``: all but the last 3 layers)
- a layer name: that layer and every layer before it frozen
- ``"re:PATTERN"``: layers whose name matches the regular expression frozen

BatchNorm: the Keras guide calls the backbone with ``training=False`` so that BatchNorm stays
in inference mode even after unfreezing. Keras 3 no longer honours that: a Functional model
passes the outer ``training=True`` of ``fit`` down to every layer, overriding the recorded
``training=False`` (keras-team/keras#20285). A Keras 3 BatchNormalization layer whose
``trainable`` is False does run in inference mode, so the engine keeps every BatchNorm layer of
the backbone frozen (statistics, gamma and beta), as the Keras EfficientNet fine-tuning example
does, unless the recipe sets ``train_batchnorm``.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

from zoo.errors import InvalidOptionError

if TYPE_CHECKING:
    import keras

    from zoo.model.backbone import Backbone

__all__ = ["apply_freeze", "frozen_mask", "unfreeze"]


def frozen_mask(model: keras.Model, freeze: str | int) -> list[bool]:
    """For each of ``model.layers``, whether ``freeze`` freezes it."""
    layers = model.layers
    n = len(layers)
    if freeze == "backbone":
        return [True] * n
    if freeze == "none":
        return [False] * n
    if isinstance(freeze, int):
        if not -n <= freeze <= n:
            raise InvalidOptionError(
                f"freeze={freeze} is out of range: the backbone has {n} layers (valid: {-n} .. {n})"
            )
        cut = freeze % n if freeze < 0 else freeze
        return [i < cut for i in range(n)]
    if freeze.startswith("re:"):
        pattern = re.compile(freeze[3:])
        mask = [bool(pattern.search(layer.name)) for layer in layers]
        if not any(mask):
            raise InvalidOptionError(
                f"freeze={freeze!r} matches no layer of the backbone; layer names look like "
                f"{', '.join(repr(layer.name) for layer in layers[1:4])}"
            )
        return mask
    names = [layer.name for layer in layers]
    if freeze not in names:
        close = difflib.get_close_matches(freeze, names, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise InvalidOptionError(
            f"freeze={freeze!r} is not 'backbone', 'none', 're:PATTERN', an index or a layer "
            f"name of the backbone{hint}"
        )
    cut = names.index(freeze)
    return [i <= cut for i in range(n)]


def apply_freeze(model: keras.Model, freeze: str | int, *, train_batchnorm: bool = False) -> int:
    """Set ``trainable`` on ``model`` and its layers; return the number of frozen layers.

    Unless ``train_batchnorm``, every BatchNormalization layer (nested ones too) stays frozen,
    which keeps it in inference mode (see the module docstring).
    """
    mask = frozen_mask(model, freeze)
    if all(mask):
        model.trainable = False
        return len(mask)
    model.trainable = True
    for layer, frozen in zip(model.layers, mask, strict=True):
        layer.trainable = not frozen
    if not train_batchnorm:
        import keras

        for layer in model._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    return sum(mask)


def unfreeze(model: keras.Model, top: int | None, *, train_batchnorm: bool = False) -> int:
    """Make the last ``top`` layers trainable (all when None); return how many train."""
    n = len(model.layers)
    freeze: str | int = "none" if top is None or top >= n else -top
    return n - apply_freeze(model, freeze, train_batchnorm=train_batchnorm)


def reinitialize(backbone: Backbone) -> None:
    """Fresh weights for every layer of the backbone's network, in place (``from_scratch``).

    Drawn by each layer's own initializers through :func:`keras.models.clone_model` (seeded
    by the recipe's seed); BatchNorm statistics start again at mean 0, variance 1. Like any
    fine-tune that trains the backbone, it changes the layers of the Backbone given.
    """
    import keras

    why = "a SavedModel or Hub graph has no Keras layers to re-initialize"
    if backbone.model is not None:
        try:
            fresh = keras.models.clone_model(backbone.model)
            backbone.model.set_weights(fresh.get_weights())
            return
        except (ValueError, TypeError, NotImplementedError) as exc:
            why = str(exc)
    raise InvalidOptionError(
        f"from_scratch: the network of {backbone.name} cannot be re-initialized ({why}); it "
        "needs a functional or Sequential Keras model"
    )
