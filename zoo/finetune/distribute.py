"""tf.distribute helpers: the strategy a recipe names, who the chief is, backbones in scope.

Keras distributes ``fit``'s data itself when the model was built and compiled inside a
strategy's scope (``batch_size`` is then the global batch); the engine builds, compiles and
trains inside ``strategy.scope()``. A backbone loaded before the scope existed has its
variables outside it, so it is cloned (architecture and weights) inside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import InvalidOptionError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from zoo.model.backbone import Backbone

#: strategies made from a name ("mirrored", "multi_worker"), one per process
_CREATED: dict[str, Any] = {}

__all__ = [
    "build_before_fit",
    "clone_into_scope",
    "dtype_policy",
    "is_chief",
    "is_multi_worker",
    "multi_worker_reductions",
    "resolve_strategy",
    "shared_seed",
    "synchronized_batchnorm",
]


def resolve_strategy(value: Any) -> tf.distribute.Strategy | None:
    """None (Keras's default), or the strategy ``value`` names or is.

    ``"mirrored"``: every local GPU (or the CPU); ``"multi_worker"``: the cluster described by
    the ``TF_CONFIG`` environment variable (docs/finetune.md).
    """
    import tensorflow as tf

    if value is None or value == "default":
        return None
    if value in ("mirrored", "multi_worker"):
        # one per process: every fit of a run (the auto recipe's trials, the final run) uses
        # the first; a second MultiWorkerMirroredStrategy re-enables collective ops, which
        # TensorFlow warns "may cause error when accessing previously created tensors"
        if value not in _CREATED:
            kind = tf.distribute.MirroredStrategy
            _CREATED[value] = (
                kind() if value == "mirrored" else tf.distribute.MultiWorkerMirroredStrategy()
            )
        return _CREATED[value]
    if isinstance(value, tf.distribute.Strategy):
        return value
    raise InvalidOptionError(
        f"strategy must be a tf.distribute.Strategy, 'mirrored' or 'multi_worker'; "
        f"received {value!r}"
    )


def is_multi_worker(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether ``strategy`` spans several processes (MultiWorkerMirroredStrategy)."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def shared_seed(strategy: tf.distribute.Strategy | None, seed: int) -> int:
    """``seed``; under a multi-worker strategy, worker 0's ``seed`` on every worker.

    Each process draws its own seed; an auto search that carves its validation and chooses
    with different seeds on different workers trains different models there, and the first
    collective of one meets another's ("Shape mismatch in the collective instance").
    """
    import tensorflow as tf

    if not is_multi_worker(strategy):
        return seed
    assert strategy is not None

    def first_replica() -> tf.Tensor:
        mine = tf.constant(float(seed), tf.float64)  # exact below 2**53
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return tf.where(tf.equal(replica, 0), mine, tf.zeros_like(mine))

    with strategy.scope():
        total = strategy.reduce("SUM", strategy.run(first_replica), axis=None)
    return int(total.numpy())


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes exports and checkpoint state (worker 0, or the chief).

    ``should_checkpoint`` is True for single-machine strategies and, under
    MultiWorkerMirroredStrategy, for the ``chief`` task or else worker 0.
    """
    return strategy is None or bool(strategy.extended.should_checkpoint)


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


def build_before_fit(
    model: keras.Model,
    strategy: tf.distribute.Strategy | None,
    first_batch: Callable[[], tuple[Any, Any]],
) -> None:
    """Work around Keras 3 ``fit`` / ``evaluate`` failing under MultiWorkerMirroredStrategy.

    Before training, Keras's TensorFlow trainer reduces the first distributed ``(x, y)``
    batch with ``strategy.reduce`` only to learn its shapes; MultiWorkerMirroredStrategy
    cannot reduce a tuple and fails with "Attempt to convert a value (PerReplica ...)"
    (keras-team/keras#20329, ray-project/ray#47464). For that strategy the model gets a
    build step that takes the shapes from ``first_batch()`` (one local batch) instead; other
    strategies do not call it.
    """
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    x, y = (np.asarray(part) for part in first_batch())

    def symbolic_build(iterator: Any = None, data_batch: Any = None) -> None:
        with strategy.scope():
            model._symbolic_build(data_batch=(x, y))

    model._maybe_symbolic_build = symbolic_build


@contextmanager
def synchronized_batchnorm(model: keras.Model, strategy: Any) -> Iterator[None]:
    """Under a multi-worker strategy, BatchNorm computes batch statistics over the global
    batch while the block runs (Keras's ``synchronized=True``, read when ``fit`` traces).

    Otherwise each worker's moving mean and variance follow only its own share of the data:
    the trainable weights agree and the statistics do not, so each worker ends with another
    model. The layers' own setting is put back afterwards (the saved model keeps it).
    """
    import keras

    layers = []
    if is_multi_worker(strategy):
        layers = [
            layer
            for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized
        ]
    for layer in layers:
        layer.synchronized = True
    try:
        yield
    finally:
        for layer in layers:
            layer.synchronized = False


@contextmanager
def multi_worker_reductions(strategy: tf.distribute.Strategy | None) -> Iterator[None]:
    """Work around Keras 3 averaging scalar logs across workers with ``axis=0``.

    Keras's TensorFlow trainer reduces each step's loss and metrics with
    ``strategy.reduce("MEAN", v, axis=0)`` under a multi-worker collective strategy, which
    fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions"), so
    ``fit`` cannot run under MultiWorkerMirroredStrategy at all. Inside this block (and only
    for that strategy) scalars are averaged across replicas with ``axis=None``; everything
    else goes to Keras's own function, which is put back afterwards.
    """
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    from keras import tree
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)

        def reduce(v: Any) -> Any:
            if isinstance(v, tf.distribute.DistributedValues):
                return strategy.reduce("MEAN", v, axis=None)
            return v

        return tree.map_structure(reduce, values)

    trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        trainer.reduce_per_replica = original
