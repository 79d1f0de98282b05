"""Training data in any common form, checked against the backbone before anything trains.

Accepted: an ``(x, y)`` pair of arrays (labels as class ids or as names), a ``tf.data.Dataset``
of ``(images, labels)`` (batched or not), or a directory with one sub-directory of images per
class (``keras.utils.image_dataset_from_directory``; the sub-directory names become the class
names). Images are raw pixels in [0, 255]; the model resizes and preprocesses them itself.

Every problem the data can have is a :class:`~zoo.errors.DataError` raised here, before the
first batch trains (case F24): wrong rank, a channel count that cannot be converted, labels
outside ``[0, num_classes)``, NaN pixels, an empty set, x and y of different lengths.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import DataError, InvalidOptionError, ZooWarning, path_hint
from zoo.image_folders import IMAGE_SUFFIXES, readable_folder

if TYPE_CHECKING:
    import tensorflow as tf

    from zoo.finetune.recipe import Recipe
    from zoo.model.backbone import Backbone

__all__ = [
    "LABEL_CHECK",
    "Data",
    "data_fingerprint",
    "in_memory",
    "label_errors",
    "load_data",
    "one_hot",
    "repeated",
]

#: Marks the message of the in-pipeline label check, so the engine can turn it into DataError.
LABEL_CHECK = "zoo-label-check"

#: More classes than this is a mistake in the labels (ImageNet-21k has 21,841), not a model:
#: a label of 2**31 - 1 would build a Dense layer of 2**31 outputs.
MAX_CLASSES = 100_000

#: The files keras.utils.image_dataset_from_directory reads.


@dataclass
class Data:
    """Images (or cached features) and labels, as the engine feeds them to Keras."""

    x: Any  # an array of examples, or a batched tf.data.Dataset of (x, y)
    y: np.ndarray | None  # labels when x is an array
    shape: tuple[int | None, ...]  # shape of one example of x
    count: int | None  # number of examples, when known (datasets: batches x batch size)
    class_names: tuple[str, ...] | None = None  # names of the class ids, when known

    @property
    def is_array(self) -> bool:
        """True when x and y are arrays (Keras shuffles and batches them)."""
        return self.y is not None

    def fit_args(self, batch_size: int) -> dict[str, Any]:
        """Keyword arguments of ``model.fit`` / ``evaluate`` for this data."""
        if self.is_array:
            return {"x": self.x, "y": self.y, "batch_size": batch_size}
        return {"x": self.x}

    def validation_arg(self) -> Any:
        """The ``validation_data`` argument of ``model.fit``."""
        return (self.x, self.y) if self.is_array else self.x

    def batches(self, batch_size: int) -> Iterator[tuple[Any, np.ndarray]]:
        """(x, y) batches in order, once."""
        if self.is_array:
            assert self.y is not None
            for start in range(0, len(self.y), batch_size):
                yield self.x[start : start + batch_size], self.y[start : start + batch_size]
        else:
            for xb, yb in self.x:
                yield xb, np.asarray(yb)


def load_data(
    train: object,
    validation: object,
    backbone: Backbone,
    recipe: Recipe,
    num_classes: int | None,
) -> tuple[Data, Data | None, int]:
    """Checked training and validation data, and the number of classes.

    Raises:
        DataError: the data does not fit the backbone or the labels (F24).
    """
    train_data, split = _load(train, "train_data", backbone, recipe)
    if split is not None and validation is not None:
        raise InvalidOptionError("give validation_data or validation_split, not both")
    val_data = split
    if validation is not None:
        val_data, _ = _load(validation, "validation_data", backbone, recipe, split=False)
    if val_data is not None and val_data.shape != train_data.shape:
        raise DataError(
            f"validation images are shaped {val_data.shape} but training images {train_data.shape}"
            "; the model takes one image shape: resize them alike"
        )
    names = train_data.class_names
    if val_data is not None and names is not None:
        val_data = _rename(val_data, names)
    n = _num_classes(train_data, num_classes)
    if train_data.is_array:  # datasets: their labels are read only when counting classes
        assert train_data.y is not None
        _check_classes(np.unique(train_data.y), n, given=num_classes is not None)
    for data, role in ((train_data, "train_data"), (val_data, "validation_data")):
        if data is not None:
            _check_labels(data, n, role)
    return train_data, val_data, n


def repeated(
    data: Data, epoch_steps: int | None, batch_size: int, memory_limit: int = 1 << 30
) -> Data:
    """``data`` repeated whole so that one epoch is at least ``epoch_steps`` batches.

    Small data otherwise makes epochs of one or two steps, each paying Keras's per-epoch
    cost (validation, callbacks); arrays are tiled (Keras still shuffles every epoch) while
    the copies fit in ``memory_limit`` bytes, else they become a dataset reshuffled every
    epoch and repeated; a dataset of known length is repeated.
    """
    import tensorflow as tf

    if epoch_steps is None:
        return data
    if data.is_array:
        steps = -(-len(data.x) // batch_size)
        times = -(-epoch_steps // max(1, steps))
        if times <= 1:
            return data
        assert data.y is not None
        if np.asarray(data.x).nbytes * times <= memory_limit:
            x, y = np.concatenate([data.x] * times), np.concatenate([data.y] * times)
            return replace(data, x=x, y=y, count=len(x))
        ds = tf.data.Dataset.from_tensor_slices((data.x, data.y)).shuffle(len(data.y))
        return replace(
            data, x=ds.repeat(times).batch(batch_size), y=None, count=len(data.y) * times
        )
    batches = int(data.x.cardinality())
    if batches <= 0 or batches >= epoch_steps:  # unknown, infinite, or long enough
        return data
    times = -(-epoch_steps // batches)
    count = data.count * times if data.count is not None else None
    return replace(data, x=data.x.repeat(times), count=count)


def one_hot(data: Data, num_classes: int) -> Data:
    """The same data with one-hot labels (for label smoothing)."""
    import keras
    import tensorflow as tf

    if data.is_array:
        return replace(data, y=keras.utils.to_categorical(data.y, num_classes))
    return replace(
        data, x=data.x.map(lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), num_classes)))
    )


# -- loading -----------------------------------------------------------------------------------


def _load(
    data: object, role: str, backbone: Backbone, recipe: Recipe, *, split: bool = True
) -> tuple[Data, Data | None]:
    import tensorflow as tf

    fraction = recipe.validation_split if split else 0.0
    if isinstance(data, str | os.PathLike):
        return _directory(Path(data), role, backbone, recipe, fraction)
    if isinstance(data, tf.data.Dataset):
        if fraction:
            raise InvalidOptionError(
                "validation_split works on arrays and directories; split a tf.data.Dataset "
                "with take() / skip() and pass validation_data"
            )
        return _dataset(data, role, backbone, recipe.batch_size), None
    if isinstance(data, tuple | list) and len(data) == 2:
        full = _arrays(data[0], data[1], role, backbone)
        return _split(full, fraction, recipe.seed) if fraction else (full, None)
    raise DataError(
        f"{role} must be an (x, y) pair of arrays, a tf.data.Dataset of (images, labels) or "
        f"an image directory; received {type(data).__name__}"
    )


def _check_images(shape: Sequence[int | None], role: str, backbone: Backbone) -> None:
    """Rank and channels: raise DataError unless the model can take these images."""
    if len(shape) != 3:
        hint = (
            " For grayscale images add a channel axis: x[..., None]."
            if len(shape) == 2
            else " Reshape flat vectors to (height, width, channels)."
        )
        raise DataError(
            f"{role}: images must be (height, width, channels) each, a batch (count, height, "
            f"width, channels); received examples shaped {tuple(shape)}.{hint}"
        )
    channels, wanted = shape[2], backbone.input_spec.channels
    if channels != wanted and {channels, wanted} != {1, 3}:
        raise DataError(
            f"{role}: images have {channels} channels but {backbone.name} takes {wanted}; "
            "tfzoo converts grayscale <-> RGB only (drop an alpha channel with x[..., :3])"
        )


def _arrays(x_in: object, y_in: object, role: str, backbone: Backbone) -> Data:
    x = np.asarray(x_in)
    y = np.asarray(y_in)
    if x.ndim == 0 or len(x) == 0:
        raise DataError(f"{role} is empty: received x with shape {x.shape}")
    _check_images(x.shape[1:], role, backbone)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(
            f"{role}: labels must be one class id per image, shape ({len(x)},); received shape "
            f"{y.shape} (one-hot labels: pass y.argmax(-1))"
        )
    if len(y) != len(x):
        raise DataError(f"{role}: {len(x)} images but {len(y)} labels")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise DataError(f"{role}: images hold {bad} NaN or infinite values")
    if x.dtype.kind not in "fiub":
        raise DataError(f"{role}: images must be numbers, received dtype {x.dtype}")
    _check_scale(x, role)
    names = None
    if y.dtype.kind in "USO":
        names_array, y = np.unique(y.astype(str), return_inverse=True)
        names = tuple(str(n) for n in names_array)
    y = _integer_labels(y, role)
    return Data(x=x, y=y, shape=tuple(x.shape[1:]), count=len(x), class_names=names)


def _integer_labels(y: np.ndarray, role: str) -> np.ndarray:
    if y.dtype.kind not in "biuf":
        raise DataError(f"{role}: labels must be class ids or names, received dtype {y.dtype}")
    if y.dtype.kind == "f" and (not np.all(np.isfinite(y)) or not np.all(y == np.round(y))):
        raise DataError(f"{role}: labels must be integer class ids; received {y[:5]}...")
    return y.astype("int64")


def _split(data: Data, fraction: float, seed: int | None) -> tuple[Data, Data]:
    assert data.y is not None and data.count is not None
    order = np.random.default_rng(seed).permutation(data.count)
    n_val = min(max(1, round(data.count * fraction)), data.count - 1)
    if n_val < 1:
        raise DataError(f"validation_split={fraction} leaves no training data")
    val, train = order[:n_val], order[n_val:]
    return (
        replace(data, x=data.x[train], y=data.y[train], count=len(train)),
        replace(data, x=data.x[val], y=data.y[val], count=len(val)),
    )


def _dataset(ds: tf.data.Dataset, role: str, backbone: Backbone, batch_size: int) -> Data:
    import tensorflow as tf

    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise DataError(
            f"{role}: a dataset must yield (images, labels) pairs; its elements are {spec}"
        )
    x_spec, y_spec = spec
    if x_spec.shape.rank == 3:
        ds = ds.batch(batch_size)
        x_spec, y_spec = ds.element_spec
    shape = tuple(x_spec.shape)[1:] if x_spec.shape.rank is not None else ()
    _check_images(shape, role, backbone)
    if y_spec.shape.rank not in (1, 2) or (y_spec.shape.rank == 2 and y_spec.shape[1] != 1):
        raise DataError(
            f"{role}: labels must be one class id per image; the dataset's labels are shaped "
            f"{tuple(y_spec.shape)} (one-hot labels: map them with tf.argmax(y, -1))"
        )
    if y_spec.shape.rank == 2:
        ds = ds.map(lambda x, y: (x, tf.squeeze(y, -1)))
    if not y_spec.dtype.is_integer:
        ds = ds.map(lambda x, y: (x, tf.cast(y, tf.int64)))
    first = next(iter(ds.take(1)), None)
    if first is None:
        raise DataError(f"{role} is empty: the dataset yields no batch")
    _check_scale(np.asarray(first[0]), role)
    cardinality = int(ds.cardinality())
    count = cardinality * batch_size if cardinality >= 0 else None  # an upper bound
    return Data(x=ds, y=None, shape=shape, count=count)


def _directory(
    path: Path, role: str, backbone: Backbone, recipe: Recipe, fraction: float
) -> tuple[Data, Data | None]:
    import keras

    if not path.exists():
        raise DataError(f"{role}: {path}: no such file or directory{path_hint(path)}")
    if not path.is_dir():
        raise DataError(f"{role}: {path} is not a directory of class sub-directories")
    classes = sorted(p for p in path.iterdir() if p.is_dir())
    if not classes:
        loose = sum(1 for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        found = f"it holds {loose} images but no sub-folder" if loose else "it has no sub-folder"
        raise DataError(
            f"{role}: {path}: expected one sub-folder per class (e.g. {path}/cats/*.jpg, "
            f"{path}/dogs/*.jpg); {found}. The sub-folder names become the class names"
        )
    path = readable_folder(path, classes, role, skip=recipe.skip_bad_images)
    size = recipe.image_size or backbone.input_spec.size
    if size[0] is None or size[1] is None:
        raise InvalidOptionError(
            f"{backbone.name} takes images of any size; say which with image_size=(h, w)"
        )
    kwargs: dict[str, Any] = {
        "labels": "inferred",
        "label_mode": "int",
        "color_mode": "grayscale" if backbone.input_spec.channels == 1 else "rgb",
        "image_size": (int(size[0]), int(size[1])),
        "batch_size": recipe.batch_size,
        "shuffle": recipe.shuffle and role == "train_data",
        "seed": recipe.seed if recipe.seed is not None else 1337,
        "verbose": False,
    }
    try:
        if fraction:
            train_ds, val_ds = keras.utils.image_dataset_from_directory(
                str(path), validation_split=fraction, subset="both", **kwargs
            )
        else:
            train_ds, val_ds = keras.utils.image_dataset_from_directory(str(path), **kwargs), None
    except ValueError as exc:
        raise DataError(f"{role}: cannot read images from {path}: {exc}") from None
    names = tuple(train_ds.class_names)
    out = [_dataset(ds, role, backbone, recipe.batch_size) for ds in (train_ds, val_ds) if ds]
    out = [in_memory(replace(d, class_names=names), recipe.cache_memory_limit) for d in out]
    return out[0], (out[1] if len(out) > 1 else None)


def in_memory(data: Data, limit: int) -> Data:
    """A directory's (or dataset's) images as arrays when they fit in ``limit`` bytes (of
    unknown size: read whole). Keras then shuffles and batches them as arrays given
    directly, so a run on a directory is the run on its arrays (the auto search's trials and
    its final run; recipe.yaml run again) and repeats."""
    size = 4 * int(np.prod([int(d or 1) for d in data.shape])) * (data.count or 0)
    if data.is_array or size > limit:
        return data
    xs, ys = zip(*data.batches(0), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys).astype("int64")
    return replace(data, x=x.astype("float32", copy=False), y=y, count=len(y))


def data_fingerprint(train: object, validation: object = None) -> str:
    """A hash naming the data of a run: a checkpoint directory is not resumed on other data.

    Arrays: their bytes, dtype and shape. A directory: every file's relative path, size and
    modification time. A ``tf.data.Dataset``: its element spec and cardinality only (its
    contents are not read twice), so two datasets alike in shape are not told apart.
    """
    digest = hashlib.blake2b(digest_size=16)
    for part in (train, validation):
        _feed(digest, part)
    return digest.hexdigest()


def _feed(digest: Any, data: object) -> None:
    if data is None:
        digest.update(b"none;")
    elif isinstance(data, str | os.PathLike):
        root = Path(data)
        digest.update(b"dir;")
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            stat = path.stat()
            rel = path.relative_to(root).as_posix()
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns};".encode())
    elif isinstance(data, tuple | list) and len(data) == 2:
        for item in data:
            array = np.ascontiguousarray(np.asarray(item))
            digest.update(f"array;{array.dtype.str};{array.shape};".encode())
            if array.dtype.kind in "OUS":
                digest.update(repr(array.tolist()).encode())
            else:
                digest.update(array.tobytes())
    else:
        spec = getattr(data, "element_spec", None)
        cardinality = getattr(data, "cardinality", None)
        count = int(cardinality()) if callable(cardinality) else None
        digest.update(f"{type(data).__name__};{spec!r};{count};".encode())


# -- labels ------------------------------------------------------------------------------------


def _rename(val: Data, names: tuple[str, ...]) -> Data:
    """Validation labels given as names are mapped onto the training class ids."""
    if val.class_names is None or val.class_names == names:
        return val
    missing = sorted(set(val.class_names) - set(names))
    if missing:
        raise DataError(f"validation_data has classes the training data lacks: {missing}")
    if val.is_array:
        assert val.y is not None
        index = np.array([names.index(n) for n in val.class_names])
        return replace(val, y=index[val.y], class_names=names)
    raise DataError(
        f"validation directory classes {list(val.class_names)} differ from the training "
        f"directory's {list(names)}"
    )


def _num_classes(data: Data, given: int | None) -> int:
    if given is not None:
        if not isinstance(given, int) or isinstance(given, bool) or given < 1:
            raise InvalidOptionError(f"num_classes must be a positive integer, received {given!r}")
        if given > MAX_CLASSES:
            raise InvalidOptionError(
                f"num_classes={given:,} is more than {MAX_CLASSES:,}: not a classifier tfzoo builds"
            )
        return given
    if data.class_names is not None:
        return len(data.class_names)
    if data.is_array:
        assert data.y is not None
        labels = data.y
    else:  # only the labels leave the pipeline
        labels = np.concatenate(list(data.x.map(lambda x, y: y).as_numpy_iterator()))
        _check_classes(np.unique(labels), int(labels.max()) + 1, given=False)
    low = int(labels.min())
    if low < 0:
        raise DataError(f"train_data: labels must be >= 0, found {low}")
    high = int(labels.max())
    if high >= MAX_CLASSES:
        found = np.unique(labels)
        raise DataError(
            f"train_data: the largest label is {high}, which would make a {high + 1:,}-way "
            f"classifier (more than {MAX_CLASSES:,} classes); labels are class ids 0..n-1 and "
            f"these hold {len(found)} distinct values: remap them "
            "(np.unique(y, return_inverse=True)) or pass num_classes="
        )
    return high + 1


def _check_classes(found: np.ndarray, num_classes: int, *, given: bool) -> None:
    """One class is no classification; ids with gaps build outputs that never train."""
    shown = ", ".join(str(int(c)) for c in found[:10]) + (", ..." if len(found) > 10 else "")
    if len(found) < 2:
        raise DataError(
            f"train_data holds a single class ({shown}): a classifier needs at least two; "
            "check the labels (or the class sub-directories)"
        )
    if given or int(found.min()) < 0 or len(found) == num_classes:
        return
    warnings.warn(
        f"train_data: the labels are {{{shown}}} ({len(found)} classes) but class ids go up "
        f"to {num_classes - 1}, so a {num_classes}-class model is built whose other outputs "
        f"never train. Pass num_classes={num_classes} if that is meant, or remap the labels "
        "to 0..n-1 (np.unique(y, return_inverse=True)[1])",
        ZooWarning,
        stacklevel=5,
    )


def _check_scale(x: np.ndarray, role: str) -> None:
    """Warn when float images look scaled to [0, 1]: the model takes raw [0, 255] pixels."""
    from zoo.model.scaling import unit_range

    found = unit_range([x])
    if found is not None:
        low, high = found
        warnings.warn(
            f"{role}: the images lie in [{low:.3g}, {high:.3g}], as if scaled to [0, 1], but "
            "the model takes raw [0, 255] pixels (its preprocessing is one of its layers). "
            "Pass x * 255; if these values are right as they are, ignore this warning",
            ZooWarning,
            stacklevel=5,
        )


def _check_labels(data: Data, num_classes: int, role: str) -> None:
    """Arrays: checked now. Datasets: the first batch now, every batch as it is read."""
    import tensorflow as tf

    labels = data.y if data.is_array else np.asarray(next(iter(data.x.take(1)))[1])
    assert labels is not None
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise DataError(
            f"{role}: labels must be class ids in [0, {num_classes}); found "
            f"{sorted(set(bad.tolist()))[:5]}. "
            "Pass num_classes= to match your labels, or remap them to 0..n-1"
        )
    if not data.is_array:

        def check(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            message = f"{LABEL_CHECK}: {role} labels must be in [0, {num_classes})"
            checks = [
                tf.debugging.assert_non_negative(y, message=message),
                tf.debugging.assert_less(y, tf.cast(num_classes, y.dtype), message=message),
            ]
            with tf.control_dependencies(checks):
                return x, tf.identity(y)

        data.x = data.x.map(check)


@contextmanager
def label_errors() -> Iterator[None]:
    """Turn a failed in-pipeline label check (a TF error) into DataError."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.InvalidArgumentError as exc:
        if LABEL_CHECK not in str(exc):
            raise
        message = str(exc).split(LABEL_CHECK, 1)[1].split("]", 1)[0].strip(": ")
        raise DataError(f"{message}; pass num_classes= or remap the labels") from None
