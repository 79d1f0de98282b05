"""Feature caching: run the frozen backbone once, train the head on what it gives.

When the backbone is frozen and nothing random happens before it (no augmentation), every
epoch would compute the same features again. Instead the model is cut in two at the
backbone's output: an *extractor* (raw images -> features, run once) and a *head model*
(features -> classes) made of the very same head layer objects as the full model. Training
the head model therefore trains the full model's head: no weights need copying, and the
returned model is the one the uncached path would have built.

Features stay in memory (NumPy) up to ``Recipe.cache_memory_limit`` bytes; beyond that, or
with ``cache_features="disk"``, they go through ``tf.data``'s file cache in a temporary
directory that is removed after training.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.errors import InvalidOptionError
from zoo.finetune.data import Data

if TYPE_CHECKING:
    import keras

    from zoo.finetune.recipe import Recipe

__all__ = [
    "cache_mode",
    "extract",
    "feature_signal",
    "no_signal_message",
    "quiet_retracing",
    "split_model",
]


def cache_mode(recipe: Recipe, data: Data, feature_dim: int, augmentation: bool) -> str | None:
    """ "memory", "disk" or None (no caching) for this recipe and data."""
    mode = recipe.cache_mode
    blocker = None
    if recipe.freeze != "backbone":
        blocker = f"freeze={recipe.freeze!r} leaves backbone layers trainable"
    elif augmentation:
        blocker = "augmentation changes the images every epoch"
    if blocker is not None:
        if mode in ("memory", "disk"):
            raise InvalidOptionError(
                f"cache_features={mode!r} needs a frozen backbone and fixed inputs, but "
                f"{blocker}; use cache_features='auto' or 'off'"
            )
        return None
    if mode in ("memory", "disk"):
        return mode
    if mode == "off":
        return None
    size = (data.count or 0) * feature_dim * 4
    return "memory" if data.count is not None and size <= recipe.cache_memory_limit else "disk"


def split_model(
    model: keras.Model, head: Sequence[keras.layers.Layer]
) -> tuple[keras.Model, keras.Model]:
    """(extractor, head model) cut from ``model`` at the input of its first head layer.

    Call it once per model, right after building it: the head layers must have been used
    only by ``model``.
    """
    import keras

    features = head[0].input
    extractor = keras.Model(model.inputs, features, name=f"{model.name}_extractor")
    inputs = keras.Input(shape=tuple(features.shape)[1:], dtype=features.dtype, name="features")
    x = inputs
    for layer in head:
        x = layer(x)
    return extractor, keras.Model(inputs, x, name=f"{model.name}_head")


def extract(
    extractor: keras.Model,
    data: Data,
    *,
    batch_size: int,
    mode: str,
    shuffle: bool,
    workdir: Path | None = None,
) -> Data:
    """The features of every example of ``data`` (computed once), with its labels.

    Args:
        extractor: raw images -> features.
        data: the images.
        batch_size: batch size of the extraction and of the returned dataset.
        mode: "memory" (arrays) or "disk" (a dataset read back from a tf.data file cache).
        shuffle: reshuffle the disk dataset every epoch (arrays are shuffled by Keras).
        workdir: directory for the disk cache (required for "disk").
    """
    import tensorflow as tf

    @tf.function(reduce_retracing=True)  # type: ignore[untyped-decorator]
    def run(x: tf.Tensor) -> tf.Tensor:
        return extractor(tf.cast(x, extractor.inputs[0].dtype), training=False)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for xb, yb in data.batches(batch_size):
            yield np.asarray(run(tf.convert_to_tensor(xb))), np.asarray(yb)

    dim = int(extractor.outputs[0].shape[-1])
    if mode == "memory":
        feats, labels = [], []
        for fb, yb in batches():
            feats.append(fb)
            labels.append(yb)
        x = np.concatenate(feats)
        return Data(x=x, y=np.concatenate(labels), shape=(dim,), count=len(x))
    if workdir is None:
        raise ValueError("the disk feature cache needs a working directory")
    dtype = tf.as_dtype(extractor.outputs[0].dtype)
    cached = tf.data.Dataset.from_generator(
        batches,
        output_signature=(
            tf.TensorSpec((None, dim), dtype),
            tf.TensorSpec((None,), tf.int64),
        ),
    ).cache(str(Path(tempfile.mkdtemp(dir=workdir)) / "features"))
    count = 0
    for _, yb in cached:  # fill the cache now: the one pass over the images
        count += int(yb.shape[0])
    ds = cached
    if shuffle:
        ds = cached.unbatch().shuffle(min(count, 10_000)).batch(batch_size)
    # a generator's length is unknown to tf.data; Keras needs it to count steps per epoch
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    return replace(data, x=ds.prefetch(2), y=None, shape=(dim,), count=count)


def feature_signal(features: np.ndarray) -> bool:
    """Whether the features vary across images (random weights with frozen BatchNorm give
    values of ~1e-12 that do not)."""
    if len(features) < 2:
        return True
    spread = float(np.max(np.std(features, axis=0)))
    scale = max(1.0, float(np.max(np.abs(features))))
    return spread > 1e-6 * scale


def no_signal_message(name: str, features: np.ndarray) -> str:
    """What FinetuneError says when :func:`feature_signal` is False."""
    spread = float(np.max(np.std(features, axis=0)))
    return (
        f"the features of {name} carry no signal: they hardly vary across the "
        f"training images (largest standard deviation {spread:.2g}). A backbone with random "
        "weights (weights=None) and frozen BatchNorm does this; load pretrained weights, or "
        "train the whole network with freeze='none', train_batchnorm=True, recipe='classic'"
    )


class _NoRetracing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextmanager
def quiet_retracing() -> Iterator[None]:
    """Drop TensorFlow's "triggered tf.function retracing" warnings while the engine runs.

    Each extraction (train, validation, every auto trial) traces its own small function,
    which TF's frequent-tracing detector reports as a user error; here it is by design.
    """
    logger = logging.getLogger("tensorflow")
    quiet = _NoRetracing()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
