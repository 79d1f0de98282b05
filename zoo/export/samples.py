"""The images an export is checked on and int8 is calibrated on, from the user's data.

Accepted: a directory of class folders (labels known when the folders match the model's
classes), an array of raw images, an ``(images, labels)`` pair, or nothing (uniform noise:
the files are still compared with Keras, but accuracy is unknown and int8 is refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ExportError, InvalidOptionError

__all__ = ["Samples", "load_samples", "noise"]


@dataclass
class Samples:
    """Raw [0, 255] float32 images (N, H, W, C), their labels when known, where they came from."""

    images: np.ndarray
    labels: np.ndarray | None
    source: str
    class_names: tuple[str, ...] | None = None  # the folder names of a directory

    def __len__(self) -> int:
        return len(self.images)

    def take(self, index: np.ndarray) -> Samples:
        labels = self.labels[index] if self.labels is not None else None
        return Samples(self.images[index], labels, self.source, self.class_names)


def noise(shape: tuple[int, int, int], count: int, seed: int) -> Samples:
    """Uniform [0, 255] images: enough to compare two runtimes, not to judge accuracy."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (count, *shape)).astype("float32")
    return Samples(images, None, "uniform noise (no data given)")


def load_samples(data: Any, shape: tuple[int, int, int], limit: int, seed: int) -> Samples:
    """Up to ``limit`` images of ``data`` at ``shape`` (H, W, C), in a seeded random order."""
    if isinstance(data, str | Path):
        return _directory(Path(data), shape, limit, seed)
    labels = None
    if isinstance(data, tuple | list) and len(data) == 2:
        data, labels = data
    images = np.asarray(data, dtype="float32")
    if images.ndim != 4 or tuple(images.shape[1:]) != shape:
        raise InvalidOptionError(
            f"export data must be images shaped (N, {', '.join(map(str, shape))}) like the "
            f"model's input; received an array shaped {images.shape}"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))[:limit]
    y = None
    if labels is not None:
        y = np.asarray(labels)
        if y.shape != (len(images),) or y.dtype.kind not in "iu":
            raise InvalidOptionError(
                f"export labels must be one integer class id per image, shape ({len(images)},);"
                f" received shape {y.shape} of {y.dtype}"
            )
        y = y[order]
    return Samples(images[order], y, f"arrays ({len(images)} images)")


def _directory(path: Path, shape: tuple[int, int, int], limit: int, seed: int) -> Samples:
    import keras

    if not path.is_dir():
        raise InvalidOptionError(f"export data: {path} is not a directory of class folders")
    from zoo.image_folders import readable_folder

    color = {1: "grayscale", 3: "rgb", 4: "rgba"}.get(shape[2])
    if color is None:
        raise InvalidOptionError(f"cannot read images with {shape[2]} channels from {path}")
    # a file TensorFlow cannot decode is skipped with a warning naming it (it stopped the
    # export with an "unexpected InvalidArgumentError" naming no file)
    classes = sorted(p for p in path.iterdir() if p.is_dir())
    source = readable_folder(path, classes, "export data", stacklevel=6)
    batch = 64
    try:
        ds = keras.utils.image_dataset_from_directory(
            str(source),
            labels="inferred",
            label_mode="int",
            color_mode=color,
            image_size=shape[:2],
            batch_size=batch,
            shuffle=True,  # shuffles the file list, so a limit samples every class
            seed=seed,
            verbose=False,
        )
    except ValueError as exc:
        raise ExportError(f"cannot read images from {path}: {exc}") from None
    xs, ys = [], []
    for x, y in ds.take(-(-limit // batch)):
        xs.append(np.asarray(x, dtype="float32"))
        ys.append(np.asarray(y))
    if not xs:
        raise ExportError(f"no images found in {path}")
    images = np.concatenate(xs)[:limit]
    labels = np.concatenate(ys)[:limit]
    return Samples(images, labels, f"directory {path}", tuple(ds.class_names))
