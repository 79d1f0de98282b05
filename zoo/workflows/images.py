"""Images for inference: find them, decode them, fit them to a model's input.

Inputs are image files, folders (searched recursively, sorted), ``.npy`` files holding one
image ``(H, W, C)`` or a batch ``(N, H, W, C)``, or arrays. Every image is decoded to raw
float32 pixels, resized (bilinear) to the model's height and width and converted to its
channel count (gray -> RGB by repetition, RGB -> gray by luminance, alpha dropped). An image
that cannot be decoded is reported with its path and skipped; ``strict=True`` stops instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo import settings
from zoo.errors import DataError, SourceNotFoundError, path_hint

__all__ = ["IMAGE_SUFFIXES", "ImageItem", "batches", "collect", "counter", "decode", "fit"]

#: The suffixes a folder is searched for (what ``tf.io.decode_image`` reads).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


@dataclass(frozen=True)
class ImageItem:
    """One image to run: a file, or one entry of an array."""

    name: str  # what reports call it: the path, or "x.npy[3]"
    path: Path | None = None  # the file to decode
    array: np.ndarray | None = None  # the pixels, for arrays and .npy entries


def collect(inputs: str | os.PathLike[str] | np.ndarray | Sequence[Any]) -> list[ImageItem]:
    """Every image the inputs name, in order (folders sorted and searched recursively).

    Raises:
        SourceNotFoundError: a path that does not exist.
        DataError: an array or ``.npy`` that is not one image or a batch of images.
    """
    if isinstance(inputs, np.ndarray):
        return _array_items(inputs, "array")
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    items: list[ImageItem] = []
    for entry in inputs:
        if isinstance(entry, np.ndarray):
            items += _array_items(entry, "array")
            continue
        path = settings.user_path(entry)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            items += [ImageItem(str(p), path=p) for p in found]
        elif path.suffix.lower() == ".npy" and path.is_file():
            try:
                array = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise DataError(f"{path} is not a readable .npy array: {exc}") from exc
            items += _array_items(array, str(path))
        elif path.is_file():
            items.append(ImageItem(str(path), path=path))
        else:
            raise SourceNotFoundError(
                f"{path}: no such file or directory{path_hint(path)}", source=str(path)
            )
    return items


def _array_items(array: np.ndarray, name: str) -> list[ImageItem]:
    if array.ndim == 3:
        return [ImageItem(name, array=array)]
    if array.ndim == 4:
        return [ImageItem(f"{name}[{i}]", array=array[i]) for i in range(len(array))]
    if array.ndim == 2:
        return [ImageItem(name, array=array[..., None])]
    raise DataError(
        f"{name}: expected one image (H, W, C) or a batch (N, H, W, C), received an array "
        f"of shape {array.shape}"
    )


def _reason(exc: Exception) -> str:
    """The first line of an error, without TensorFlow's op wrapping ("{{function_node
    __wrapped__DecodeImage_device_/job:localhost/...}} ... [Op:DecodeImage]")."""
    import re

    text = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).splitlines()[0]
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]", "", text)
    return text.strip() or type(exc).__name__


def decode(item: ImageItem) -> np.ndarray:
    """Raw pixels ``(H, W, C)`` float32 of ``item``; DataError naming it when undecodable."""
    if item.array is not None:
        pixels = np.asarray(item.array)
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if not np.issubdtype(pixels.dtype, np.number):
            raise DataError(f"{item.name}: pixels of dtype {pixels.dtype} are not numbers")
        return pixels.astype("float32")
    import tensorflow as tf

    assert item.path is not None
    try:
        data = item.path.read_bytes()
        image = tf.io.decode_image(data, expand_animations=False)
    except (OSError, tf.errors.OpError, ValueError) as exc:
        raise DataError(f"{item.name}: cannot decode the image ({_reason(exc)})") from exc
    return np.asarray(image.numpy(), dtype="float32")


def fit(pixels: np.ndarray, shape: Sequence[int | None]) -> np.ndarray:
    """``pixels`` resized to ``shape``'s height and width and converted to its channels."""
    height, width, channels = shape
    have = pixels.shape[-1]
    if have in (2, 4):  # gray+alpha, RGBA: drop the alpha channel
        pixels, have = pixels[..., : have - 1], have - 1
    if channels is not None and have != channels:
        if have == 1 and channels == 3:
            pixels = np.repeat(pixels, 3, axis=-1)
        elif have == 3 and channels == 1:
            weights = np.array([0.2989, 0.5870, 0.1140], dtype="float32")
            pixels = (pixels @ weights)[..., None]
        else:
            raise DataError(
                f"an image with {pixels.shape[-1]} channels cannot be converted to the "
                f"{channels} the model takes"
            )
    h, w = pixels.shape[:2]
    target = (height or h, width or w)
    if (h, w) != target:
        import tensorflow as tf

        # as keras.utils.image_dataset_from_directory resizes what `zoo finetune --data`
        # trains on (bilinear, no antialiasing): predictions see what training saw
        pixels = tf.image.resize(pixels, target, method="bilinear").numpy()
    return np.asarray(pixels, dtype="float32")


def batches(
    items: Sequence[ImageItem],
    shape: Sequence[int | None],
    batch_size: int,
    *,
    strict: bool = False,
    skipped: list[tuple[str, str]],
) -> Iterator[tuple[list[ImageItem], np.ndarray]]:
    """(items, pixels) batches fitted to ``shape``; undecodable items go to ``skipped``.

    Free height/width in ``shape`` take the first image's size, so a batch stacks.
    """
    shape = list(shape)
    names: list[ImageItem] = []
    arrays: list[np.ndarray] = []
    for item in items:
        try:
            pixels = decode(item)
            if shape[0] is None or shape[1] is None:
                shape[0] = shape[0] or pixels.shape[0]
                shape[1] = shape[1] or pixels.shape[1]
            arrays.append(fit(pixels, shape))
            names.append(item)
        except DataError as exc:
            if strict:
                raise DataError(f"{exc} (stopped: strict mode)") from exc
            skipped.append((item.name, str(exc).removeprefix(f"{item.name}: ")))  # named once
        if len(arrays) == batch_size:
            yield names, np.stack(arrays)
            names, arrays = [], []
    if arrays:
        yield names, np.stack(arrays)


class counter:
    """A rich bar counting images on stderr (a no-op when ``enabled`` is False)."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.enabled, self._args = enabled, (label, total)
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> counter:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(*self._args[:1], total=self._args[1])
        return self

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
