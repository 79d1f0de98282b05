"""Fine-tune inputs that used to fail deep inside TensorFlow (issue 16): huge labels, bad files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import zoo
from tests.finetune.util import FAST, blobs, fixed_backbone


def test_a_huge_label_is_a_data_error_not_a_huge_layer() -> None:
    x, y = blobs(16)
    y = y.copy()
    y[0] = 2**31 - 1
    with pytest.raises(zoo.DataError, match=r"largest label is 2147483647.*remap them"):
        zoo.finetune(fixed_backbone(), (x, y), epochs=1, **FAST)
    with pytest.raises(zoo.InvalidOptionError, match="num_classes=1,000,000,000"):
        zoo.finetune(fixed_backbone(), (x, y % 3), num_classes=10**9, epochs=1, **FAST)


def _images(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, base in (("dark", 40), ("bright", 200)):
        (root / label).mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(base + rng.normal(0, 20, (16, 16, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(root / label / f"{i}.jpg")
    return root


def test_a_corrupt_jpeg_is_named_and_skipped_or_refused(tmp_path: Path) -> None:
    data = _images(tmp_path / "train")
    bad = data / "dark" / "3.jpg"
    bad.write_bytes(bad.read_bytes()[:40] + b"\x00garbage" * 8)  # a JPEG header, then noise
    (data / "bright" / "9.jpg").write_bytes(b"not an image at all")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = zoo.finetune(fixed_backbone(), str(data), epochs=1, image_size=(16, 16), **FAST)
    messages = [str(w.message) for w in caught if issubclass(w.category, zoo.ZooWarning)]
    skipped = [m for m in messages if "cannot be decoded" in m]
    assert skipped and str(bad) in skipped[0] and "9.jpg" in skipped[0]
    assert result.class_names == ("bright", "dark") and result.metrics

    with pytest.raises(zoo.DataError, match=r"2 image\(s\) cannot be decoded") as info:
        zoo.finetune(
            fixed_backbone(),
            str(data),
            epochs=1,
            image_size=(16, 16),
            skip_bad_images=False,
            **FAST,
        )
    assert str(bad) in str(info.value)


def test_a_flat_folder_of_images_is_not_called_empty(tmp_path: Path) -> None:
    from PIL import Image

    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(flat / "a.png")
    with pytest.raises(zoo.DataError, match="expected one sub-folder per class"):
        zoo.finetune(fixed_backbone(), str(flat), epochs=1, image_size=(16, 16), **FAST)


def test_an_empty_class_folder_is_refused_not_made_an_untrained_output(tmp_path: Path) -> None:
    """cat/, dog/ and an empty bird/ used to fine-tune a 3-class model, bird never trained
    and never said; a folder whose only file cannot be decoded is as empty."""
    data = _images(tmp_path / "train")
    (data / "bird").mkdir()
    with pytest.raises(zoo.DataError, match=r"class folder\(s\) bird .*no image that can"):
        zoo.finetune(fixed_backbone(), str(data), epochs=1, image_size=(16, 16), **FAST)
    (data / "bird" / "0.jpg").write_bytes(b"not an image")
    with pytest.raises(zoo.DataError, match="bird"):
        zoo.finetune(fixed_backbone(), str(data), epochs=1, image_size=(16, 16), **FAST)
