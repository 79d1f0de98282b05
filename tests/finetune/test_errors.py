"""F24: data that does not fit the backbone fails clearly before (or at) the first batch."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.finetune.util import FAST, blobs, fixed_backbone
from zoo.errors import DataError, InvalidOptionError, TrainingDivergedError


class CountBatches(keras.callbacks.Callback):  # type: ignore[misc]
    """Counts the batches that trained."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0
        self.losses: list[float] = []

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1
        self.losses.append(float(logs["loss"]))


def _finetune(data: object, **kwargs: Any) -> CountBatches:
    counter = CountBatches()
    zoo.finetune(fixed_backbone(), data, epochs=1, callbacks=[counter], **{**FAST, **kwargs})
    return counter


X, Y = blobs(32)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ((X[..., :2], Y), "images have 2 channels but small_cnn takes 3"),
        ((np.concatenate([X, X[..., :1]], -1), Y), "drop an alpha channel"),
        ((X.reshape(32, -1), Y), r"examples shaped \(768,\)"),
        ((X[..., 0], Y), r"add a channel axis: x\[..., None\]"),
        ((X[:0], Y[:0]), "empty"),
        ((X, Y[:10]), "32 images but 10 labels"),
        ((X, keras.utils.to_categorical(Y)), r"y.argmax\(-1\)"),
        ((X, Y + 0.5), "integer class ids"),
        ((np.where(X > 200, np.nan, X), Y), "NaN"),
        ((X, Y - 1), "labels must be"),
        ("/no/such/dir", "no such file or directory"),
        ({"x": X}, "must be an"),
    ],
)
def test_data_that_does_not_fit_fails_before_training(data: object, match: str) -> None:
    """F24: wrong channels, rank, empty, mismatched or out-of-range labels, NaN pixels."""
    with pytest.raises(DataError, match=match):
        _finetune(data)


def test_labels_outside_num_classes_fail_before_training() -> None:
    """F24: labels beyond num_classes are named."""
    with pytest.raises(DataError, match=r"\[0, 2\); found \[2\]"):
        _finetune((X, Y), num_classes=2)


def test_dataset_problems_fail_at_the_first_batch_or_the_bad_one() -> None:
    """F24 for tf.data: empty, wrong rank, bad labels in the first or a later batch."""
    with pytest.raises(DataError, match="empty"):
        _finetune(tf.data.Dataset.from_tensor_slices((X[:0], Y[:0])))
    with pytest.raises(DataError, match="channels"):
        _finetune(tf.data.Dataset.from_tensor_slices((X[..., :2], Y)))
    with pytest.raises(DataError, match=r"\(images, labels\) pairs"):
        _finetune(tf.data.Dataset.from_tensor_slices(X))
    with pytest.raises(DataError, match=r"found \[7\]"):
        _finetune(tf.data.Dataset.from_tensor_slices((X, np.full(32, 7))).batch(8), num_classes=3)
    late = np.where(np.arange(32) < 24, Y, 5)  # only the last batch is wrong
    with pytest.raises(DataError, match=r"labels must be in \[0, 3\)"):
        _finetune(tf.data.Dataset.from_tensor_slices((X, late)).batch(8), num_classes=3)


def test_a_nan_loss_stops_at_the_batch_it_appears() -> None:
    """F24: huge (finite) pixel values blow up the head; training stops at the first NaN loss."""
    huge = X * np.float32(1e36)
    assert np.all(np.isfinite(huge))
    counter = CountBatches()
    with pytest.raises(TrainingDivergedError, match=r"the loss became nan .* batch \d"):
        zoo.finetune(fixed_backbone(), (huge, Y), epochs=3, callbacks=[counter], **FAST)
    # the guard runs first: no batch after the diverged one trained or was even reported
    assert 0 < counter.batches < 6 and all(np.isfinite(counter.losses))


def test_validation_data_must_look_like_the_training_data() -> None:
    with pytest.raises(DataError, match="validation images are shaped"):
        _finetune((X, Y), validation_data=blobs(8, (8, 8, 3)))
    with pytest.raises(DataError, match="classes the training data lacks"):
        _finetune((X, np.array(["a", "b", "c"])[Y]), validation_data=(X[:2], np.array(["a", "z"])))
    with pytest.raises(InvalidOptionError, match="not both"):
        _finetune((X, Y), validation_data=(X, Y), validation_split=0.2)


def test_impossible_cache_and_freeze_choices_are_refused() -> None:
    with pytest.raises(InvalidOptionError, match="augmentation changes the images"):
        _finetune((X, Y), cache_features="memory", augmentation=["flip"])
    with pytest.raises(InvalidOptionError, match="did you mean 'conv2'"):
        _finetune((X, Y), freeze="conv3")
    with pytest.raises(InvalidOptionError, match="out of range"):
        _finetune((X, Y), freeze=40)
