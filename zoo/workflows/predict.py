"""``zoo predict``: top-k class names with probabilities for images, folders and arrays."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.download.progress import progress_enabled
from zoo.errors import DataError, InvalidOptionError, ZooWarning
from zoo.workflows.images import ImageItem, batches, collect, counter
from zoo.workflows.runner import Runner, open_model

if TYPE_CHECKING:
    from zoo.session import Session

__all__ = ["Prediction", "PredictionReport", "predict", "run_images"]


@dataclass
class Prediction:
    """The model's answer for one image."""

    source: str  # the image's path (or "x.npy[3]")
    top: list[tuple[str, float]]  # (class name, probability), most likely first
    index: int  # the most likely class id
    probabilities: np.ndarray = field(repr=False)  # every class, in the model's order

    @property
    def label(self) -> str:
        """The most likely class name."""
        return self.top[0][0]


@dataclass
class PredictionReport:
    """Everything ``predict`` found, and what it skipped."""

    model: str  # what ran
    kind: str  # "saved_model", "keras", "tflite", "onnx"
    predictions: list[Prediction]
    skipped: list[tuple[str, str]]  # (image, why): undecodable images

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "model": self.model,
            "format": self.kind,
            "predictions": [
                {
                    "image": p.source,
                    "top": [{"label": name, "probability": prob} for name, prob in p.top],
                }
                for p in self.predictions
            ],
            "skipped": [{"image": s, "error": e} for s, e in self.skipped],
        }

    def to_csv(self) -> str:
        """The ``--csv`` form: image, rank, label, probability (one row per top-k entry)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["image", "rank", "label", "probability"])
        for p in self.predictions:
            for rank, (name, prob) in enumerate(p.top, 1):
                writer.writerow([p.source, rank, name, f"{prob:.6f}"])
        return out.getvalue()


def run_images(
    runner: Runner,
    items: Sequence[ImageItem],
    *,
    batch_size: int = 32,
    strict: bool = False,
    progress: bool | None = None,
) -> tuple[list[ImageItem], np.ndarray, list[tuple[str, str]]]:
    """Run ``runner`` over ``items`` in batches: (items that ran, probabilities, skipped)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidOptionError(f"batch_size is a positive integer, received {batch_size!r}")
    skipped: list[tuple[str, str]] = []
    done: list[ImageItem] = []
    outputs: list[np.ndarray] = []
    enabled = progress_enabled(progress) and len(items) > batch_size  # large folders only
    with counter("images", len(items), enabled) as bar:
        for names, pixels in batches(
            items, runner.input_shape, batch_size, strict=strict, skipped=skipped
        ):
            outputs.append(runner(pixels))
            done += names
            bar.advance(len(names))
    classes = len(runner.labels) if runner.labels else 0
    probs = np.concatenate(outputs) if outputs else np.zeros((0, classes))
    return done, probs, skipped


def _check_unit_arrays(items: Sequence[ImageItem]) -> None:
    """Warn when the arrays given all lie in [0, 1]: every runner takes raw [0, 255] pixels
    (an export scales them itself; ``preprocessing=`` scales them for a foreign file), so
    unit-scaled arrays would be scaled again, or read as nearly black."""
    from zoo.model.scaling import unit_range

    found = unit_range([i.array for i in items if i.array is not None])
    if found is not None:
        low, high = found
        warnings.warn(
            f"the image arrays lie in [{low:.3g}, {high:.3g}], as if scaled to [0, 1], but "
            "zoo predict takes raw [0, 255] pixels (the model or preprocessing= scales "
            "them): pass images * 255. If a model file (not an export) takes these values "
            "as they are, pass preprocessing='raw' to say so and silence this warning",
            ZooWarning,
            stacklevel=3,
        )


def predict(
    model: Any,
    images: Any,
    *,
    top_k: int = 5,
    batch_size: int = 32,
    strict: bool = False,
    format: str | None = None,
    trust: bool = False,
    progress: bool | None = None,
    session: Session | None = None,
    preprocessing: str | None = None,
) -> PredictionReport:
    """Top-k class names with probabilities for every image; see :func:`zoo.predict`."""
    if not isinstance(top_k, int) or top_k < 1:
        raise InvalidOptionError(f"top_k is a positive integer, received {top_k!r}")
    runner = (
        model
        if isinstance(model, Runner)
        else open_model(
            model, format=format, trust=trust, session=session, preprocessing=preprocessing
        )
    )
    items = collect(images)
    if preprocessing != "raw":
        _check_unit_arrays(items)
    done, probs, skipped = run_images(
        runner, items, batch_size=batch_size, strict=strict, progress=progress
    )
    if skipped and not done:  # nothing to show: an error, not an empty table and exit 0
        more = f" (and {len(skipped) - 1} more images)" if len(skipped) > 1 else ""
        raise DataError(f"no image could be run: {skipped[0][0]}: {skipped[0][1]}{more}")
    predictions = []
    for item, row in zip(done, probs, strict=True):
        order = np.argsort(-row, kind="stable")[:top_k]
        top = [(runner.label(int(i)), float(row[i])) for i in order]
        predictions.append(Prediction(item.name, top, int(order[0]), row))
    return PredictionReport(runner.source, runner.kind, predictions, skipped)
