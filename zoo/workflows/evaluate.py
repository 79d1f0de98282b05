"""``zoo evaluate``: how an exported model does on a folder of labelled images.

The data is a directory with one sub-directory of images per class (as ``zoo finetune``
reads it). Every class folder must name a class the model knows (its ``labels.txt``); one
that does not is refused with both lists, never silently mapped. A model without names takes
folders named ``0``, ``1``, ... as its outputs by number, with a warning that says so.
Reported: accuracy, per-class precision / recall / F1 / support, the confusion matrix (over
the model's classes), and the worst mistakes (wrong answers given with the highest confidence).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import DataError, SourceNotFoundError, ZooWarning
from zoo.workflows.images import IMAGE_SUFFIXES, ImageItem
from zoo.workflows.predict import run_images
from zoo.workflows.runner import Runner, open_model

if TYPE_CHECKING:
    from zoo.session import Session

__all__ = ["ClassMetrics", "Evaluation", "Mistake", "evaluate"]


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall, F1 and support of one class."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int  # images of this class in the data


@dataclass(frozen=True)
class Mistake:
    """One wrong answer."""

    image: str  # its path
    true: str  # the class folder it came from
    predicted: str  # what the model said
    confidence: float  # the model's probability for what it said


@dataclass
class Evaluation:
    """What ``evaluate`` measured; ``to_dict`` is the ``--json`` form."""

    model: str
    kind: str
    accuracy: float
    count: int  # images evaluated
    labels: tuple[str, ...]  # the model's classes, the confusion matrix's order
    per_class: list[ClassMetrics]  # the classes present in the data
    confusion: np.ndarray  # [true, predicted] counts over ``labels``
    mistakes: list[Mistake]  # every wrong answer, most confident first
    skipped: list[tuple[str, str]] = field(default_factory=list)  # undecodable images
    figures: dict[str, Path] = field(default_factory=dict)  # "confusion", "mistakes" -> PNG

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "model": self.model,
            "format": self.kind,
            "accuracy": self.accuracy,
            "count": self.count,
            "labels": list(self.labels),
            "per_class": [vars(m) for m in self.per_class],
            "confusion": self.confusion.tolist(),
            "mistakes": [vars(m) for m in self.mistakes],
            "skipped": [{"image": s, "error": e} for s, e in self.skipped],
            "figures": {k: str(v) for k, v in self.figures.items()},
        }


def _class_folders(data: Path) -> dict[str, list[ImageItem]]:
    if not data.is_dir():
        raise SourceNotFoundError(
            f"{data}: not a directory; evaluation data is one sub-directory of images per class",
            source=str(data),
        )
    classes: dict[str, list[ImageItem]] = {}
    for folder in sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        classes[folder.name] = [ImageItem(str(p), path=p) for p in files]
    if not any(classes.values()):
        raise DataError(f"{data} holds no class folders with images ({', '.join(IMAGE_SUFFIXES)})")
    return classes


def _known(labels: tuple[str, ...], classes: dict[str, Any], data: str | Path) -> None:
    unknown = [c for c in classes if c not in labels]
    if unknown:
        raise DataError(
            f"{data} has classes the model does not know: {', '.join(unknown)}. The model "
            f"knows: {', '.join(labels)}. The data has: {', '.join(classes)}. Remove or rename "
            "those folders"
        )


def evaluate(
    model: Any,
    data: str | Path,
    *,
    batch_size: int = 32,
    strict: bool = False,
    format: str | None = None,
    trust: bool = False,
    progress: bool | None = None,
    session: Session | None = None,
    preprocessing: str | None = None,
    confusion_png: str | Path | None = None,
    mistakes_png: str | Path | None = None,
    max_mistakes: int = 16,
) -> Evaluation:
    """Evaluate ``model`` on class folders under ``data``; see :func:`zoo.evaluate`."""
    runner = (
        model
        if isinstance(model, Runner)
        else open_model(
            model, format=format, trust=trust, session=session, preprocessing=preprocessing
        )
    )
    classes = _class_folders(Path(data))
    numbered = all(c.isascii() and c.isdigit() and str(int(c)) == c for c in classes)
    if runner.labels is None and not numbered:
        raise DataError(
            f"{runner.source} has no labels.txt, so its outputs cannot be matched to the "
            f"class folders of {data} ({', '.join(classes)}); put the class names, one per "
            "line in output order, into labels.txt beside the model (folders named 0, 1, "
            "... are matched to the outputs by number)"
        )
    if runner.labels is not None:
        _known(runner.labels, classes, data)
    items = [item for folder in classes.values() for item in folder]
    done, probs, skipped = run_images(
        runner, items, batch_size=batch_size, strict=strict, progress=progress
    )
    if not done:
        raise DataError(f"no image under {data} could be decoded: {skipped[0][1]}")
    labels = runner.labels
    if labels is None:  # folder "3" is output 3, as zoo predict names the outputs
        labels = tuple(str(i) for i in range(probs.shape[1]))
        _known(labels, classes, data)
        warnings.warn(
            f"{runner.source} has no labels.txt: the class folders of {data} are matched to "
            "its outputs by number (folder 3 is output 3); put the class names into "
            "labels.txt beside the model if its outputs are in another order",
            ZooWarning,
            stacklevel=3,
        )
    truth_of = {item.name: labels.index(name) for name, f in classes.items() for item in f}
    truth = np.array([truth_of[item.name] for item in done])
    predicted = probs.argmax(axis=1)
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = []
    for name in classes:
        i = labels.index(name)
        tp = int(confusion[i, i])
        said = int(confusion[:, i].sum())
        support = int(confusion[i].sum())
        precision = tp / said if said else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(ClassMetrics(name, precision, recall, f1, support))
    wrong = np.flatnonzero(predicted != truth)
    order = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")]
    mistakes = [
        Mistake(done[i].name, labels[truth[i]], labels[predicted[i]], float(probs[i, predicted[i]]))
        for i in order
    ]
    result = Evaluation(
        runner.source,
        runner.kind,
        float((predicted == truth).mean()),
        len(done),
        labels,
        per_class,
        confusion,
        mistakes,
        skipped,
    )
    if confusion_png is not None or mistakes_png is not None:
        from zoo.workflows import figures

        if confusion_png is not None:
            result.figures["confusion"] = figures.confusion_matrix(
                confusion, labels, confusion_png, title=f"{Path(runner.source).name}"
            )
        if mistakes_png is not None:
            result.figures["mistakes"] = figures.contact_sheet(
                mistakes[:max_mistakes], mistakes_png
            )
    return result
