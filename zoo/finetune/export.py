"""Write a fine-tuned model as a SavedModel, a ``.keras`` file and a TFLite flatbuffer.

Every format takes raw pixels, because resizing, channel conversion and preprocessing are
layers of the model. ``labels.txt`` (one class name per line) goes next to them when the
class names are known.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import FinetuneError
from zoo.finetune.recipe import EXPORT_FORMATS

if TYPE_CHECKING:
    import keras

__all__ = ["export_model"]


def export_model(
    model: keras.Model,
    directory: str | Path,
    formats: Sequence[str] = EXPORT_FORMATS,
    *,
    class_names: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Export ``model`` into ``directory``; return format -> path.

    Paths: ``saved_model/`` (``model.export``: serve with ``tf.saved_model.load(p).serve``),
    ``model.keras`` (``keras.saving.load_model``), ``model.tflite``
    (``tf.lite.TFLiteConverter`` from the SavedModel), ``labels.txt``.

    Example:
        >>> paths = export_model(result.model, "out", ["keras"])
        >>> keras.saving.load_model(paths["keras"]).predict(images)
    """
    import tensorflow as tf

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if "keras" in formats:
        paths["keras"] = out / "model.keras"
        model.save(paths["keras"])
    saved = out / "saved_model"
    scratch = None
    if "saved_model" in formats or "tflite" in formats:
        if "saved_model" not in formats:  # TFLite converts from a SavedModel
            scratch = Path(tempfile.mkdtemp(prefix="zoo-export-"))
            saved = scratch / "saved_model"
        if saved.exists():
            shutil.rmtree(saved)
        model.export(str(saved), format="tf_saved_model", verbose=False)
        if "saved_model" in formats:
            paths["saved_model"] = saved
    try:
        if "tflite" in formats:
            try:
                flat = tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()
            except Exception as exc:  # the converter raises many kinds of errors
                raise FinetuneError(
                    f"TFLite conversion of {model.name} failed ({type(exc).__name__}: {exc}); "
                    "export the other formats with export_formats=['saved_model', 'keras']"
                ) from exc
            paths["tflite"] = out / "model.tflite"
            paths["tflite"].write_bytes(flat)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if class_names:
        paths["labels"] = out / "labels.txt"
        paths["labels"].write_text("".join(f"{name}\n" for name in class_names))
    return paths
