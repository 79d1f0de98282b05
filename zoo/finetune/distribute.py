"""tf.distribute helpers: the strategy a recipe names, who the chief is, backbones in scope.

Keras distributes ``fit``'s data itself when the model was built and compiled inside a
strategy's scope (``batch_size`` is then the global batch); the engine builds, compiles and
trains inside ``strategy.scope()``. A backbone loaded before the scope existed has its
variables outside it, so it is cloned (architecture and weights) inside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from zoo.errors import InvalidOptionError

if TYPE_CHECKING:
    import tensorflow as tf

    from zoo.backbone import Backbone

__all__ = ["clone_into_scope", "dtype_policy", "is_chief", "resolve_strategy"]


def resolve_strategy(value: Any) -> tf.distribute.Strategy | None:
    """None (Keras's default), or the strategy ``value`` names or is.

    ``"mirrored"``: every local GPU (or the CPU); ``"multi_worker"``: the cluster described by
    the ``TF_CONFIG`` environment variable (docs/finetune.md).
    """
    import tensorflow as tf

    if value is None or value == "default":
        return None
    if value == "mirrored":
        return tf.distribute.MirroredStrategy()
    if value == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if isinstance(value, tf.distribute.Strategy):
        return value
    raise InvalidOptionError(
        f"strategy must be a tf.distribute.Strategy, 'mirrored' or 'multi_worker'; "
        f"received {value!r}"
    )


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes exports and checkpoint state (worker 0, or the chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if strategy is None or resolver is None:
        return True
    jobs = resolver.cluster_spec().as_dict()
    if not jobs:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if "chief" in jobs:
        return bool(task_type == "chief")
    return task_type in (None, "worker") and not task_id


def clone_into_scope(backbone: Backbone) -> Backbone:
    """The same backbone with its feature model rebuilt (same weights) in the current scope."""
    import keras

    features = keras.models.clone_model(backbone.features)
    features.set_weights(backbone.features.get_weights())
    return dataclasses.replace(backbone, features=features)


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Keras's global dtype policy set to ``name`` inside the block."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
