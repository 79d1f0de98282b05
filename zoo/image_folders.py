"""Class folders of images, read through ``keras.utils.image_dataset_from_directory``.

That reader fails on a file TensorFlow cannot decode with an error naming no file, at the
first batch that reaches it: :func:`readable_folder` finds those files first, names them and
gives a mirror of the folder without them. The fine-tune's data directories and the
export's ``--data`` / validation folders both read through it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from zoo.errors import DataError, ZooWarning

__all__ = ["IMAGE_SUFFIXES", "readable_folder"]

#: the suffixes image_dataset_from_directory reads
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def readable_folder(
    path: Path, classes: list[Path], role: str, *, skip: bool = True, stacklevel: int = 5
) -> Path:
    """``path``, or a mirror of it (symbolic links, removed at exit) without the files
    TensorFlow cannot decode: tf.data fails on one with an error naming no file, at the first
    epoch that reaches it. Each is named here, and skipped with a ZooWarning
    (``skip=False``: a DataError). A class folder of training data with no image
    that decodes is a DataError: its class would be an output no image trained."""
    import tensorflow as tf

    bad: list[Path] = []
    files = [f for c in classes for f in sorted(c.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES]
    for f in files:
        try:
            tf.io.decode_image(tf.io.read_file(str(f)), expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.OpError, ValueError):
            bad.append(f)
    good = {f.relative_to(path).parts[0] for f in set(files) - set(bad)}
    empty = [c.name for c in classes if c.name not in good]
    if empty and role == "train_data":
        raise DataError(
            f"{role}: the class folder(s) {', '.join(empty)} of {path} hold no image that can "
            f"be read ({', '.join(IMAGE_SUFFIXES)}); add images or remove the folder(s)"
        )
    if not bad:
        return path
    listed = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if bad[5:] else "")
    if not skip:
        raise DataError(
            f"{role}: {len(bad)} image(s) cannot be decoded: {listed}; remove or fix them, or "
            "pass skip_bad_images=True to skip them"
        )
    warnings.warn(
        f"{role}: skipping {len(bad)} image(s) that cannot be decoded: {listed}",
        ZooWarning,
        stacklevel=stacklevel,
    )
    import atexit
    import shutil
    import tempfile

    mirror = Path(tempfile.mkdtemp(prefix="zoo-images-"))
    atexit.register(shutil.rmtree, mirror, True)  # tf.data reads the files lazily
    skipped = set(bad)
    for c in classes:
        (mirror / c.name).mkdir()
    for f in files:
        if f not in skipped:
            target = mirror / f.relative_to(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(f.resolve())
    return mirror
