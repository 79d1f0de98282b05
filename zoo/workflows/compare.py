"""``zoo compare``: which pretrained backbone to start from, for these images.

For each candidate (a registry name, a glob such as ``'efficientnet_b*'``, a path, a handle,
a ``keras.Model``): load it, run the frozen backbone once over the data (features cached in
memory), then fit a linear probe (multinomial logistic regression on standardized features,
NumPy, deterministic) in stratified k-fold cross-validation. Reported per candidate:
validation accuracy (mean and standard deviation over folds), feature-extraction throughput
(images/s, on this machine, load time excluded), parameters, feature width, and seconds
taken. Rows are sorted best first; a candidate that fails (unknown name, download error,
images it cannot take, the time budget spent) is reported in its own row and never stops the
others.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.download.progress import progress_enabled
from zoo.errors import DataError, InvalidOptionError, ZooError
from zoo.workflows.images import counter, decode, fit

if TYPE_CHECKING:
    from zoo.session import Session

__all__ = ["CompareRow", "Comparison", "compare", "linear_probe"]

_GLOB = set("*?[")
_DEFAULT_SIZE = 224  # for backbones whose input size is free (most Hub models)


@dataclass
class CompareRow:
    """One candidate's result (``error`` set when it failed)."""

    candidate: str  # as given (a glob is expanded into one row per match)
    accuracy: float | None = None  # mean validation accuracy over folds
    spread: float | None = None  # standard deviation over folds
    folds: list[float] = field(default_factory=list)  # each fold's accuracy
    images_per_second: float | None = None  # feature extraction throughput
    parameters: int | None = None  # of the feature extractor
    feature_dim: int | None = None  # width of the feature vector
    seconds: float = 0.0  # load + features + probe
    error: str | None = None  # why it failed


@dataclass
class Comparison:
    """The ranked rows, and what they were measured on."""

    rows: list[CompareRow]  # best first; failures last
    images: int  # images used
    classes: tuple[str, ...]  # class names (or ids)
    folds: int  # cross-validation folds
    skipped: list[tuple[str, str]] = field(default_factory=list)  # undecodable images
    plot: Path | None = None  # the bar chart, when asked for

    @property
    def best(self) -> CompareRow | None:
        """The best candidate that worked."""
        return next((r for r in self.rows if r.error is None), None)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "images": self.images,
            "classes": list(self.classes),
            "folds": self.folds,
            "rows": [vars(r) for r in self.rows],
            "skipped": [{"image": s, "error": e} for s, e in self.skipped],
            "plot": str(self.plot) if self.plot else None,
        }


# -- data -------------------------------------------------------------------------------------


def _load(data: Any) -> tuple[list[np.ndarray], np.ndarray, tuple[str, ...], list[tuple[str, str]]]:
    """Raw images (any size), labels, class names, skipped images."""
    if isinstance(data, tuple) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if x.ndim != 4 or len(x) != len(y):
            raise DataError(
                f"compare takes (images (N, H, W, C), labels (N,)); received shapes "
                f"{x.shape} and {y.shape}"
            )
        names = tuple(str(c) for c in np.unique(y))
        index = {c: i for i, c in enumerate(np.unique(y))}
        return [im.astype("float32") for im in x], np.array([index[v] for v in y]), names, []
    root = Path(data)
    if not root.is_dir():
        raise DataError(f"{root}: compare takes a directory of class folders or (x, y) arrays")
    from zoo.workflows.evaluate import _class_folders

    folders = _class_folders(root)
    images, labels, skipped = [], [], []
    for i, items in enumerate(folders.values()):
        for item in items:
            try:
                images.append(decode(item))
                labels.append(i)
            except DataError as exc:
                skipped.append((item.name, str(exc)))
    return images, np.array(labels), tuple(folders), skipped


def _folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Stratified fold ids: each class spread evenly over the folds, shuffled by ``seed``."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold[members] = np.arange(len(members)) % k
    return fold


# -- the probe --------------------------------------------------------------------------------


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    classes: int,
    *,
    steps: int = 300,
    l2: float = 1e-3,
) -> np.ndarray:
    """Predicted classes of ``test_x`` by multinomial logistic regression on ``train_x``.

    Features are standardized with the training statistics; full-batch gradient descent
    with a fixed step count, so the result is deterministic.
    """
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    a, b = (train_x - mean) / std, (test_x - mean) / std
    onehot = np.eye(classes)[train_y]
    w = np.zeros((a.shape[1], classes))
    bias = np.zeros(classes)
    lr = 0.5
    for _ in range(steps):
        logits = a @ w + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot) / len(a)
        w -= lr * (a.T @ grad + l2 * w)
        bias -= lr * grad.sum(axis=0)
    return np.asarray((b @ w + bias).argmax(axis=1))


# -- candidates -------------------------------------------------------------------------------


def _expand(candidates: Sequence[Any], session: Session) -> list[tuple[str, Any, str | None]]:
    """(label, source, error) per candidate; a glob becomes one entry per registry match."""
    out: list[tuple[str, Any, str | None]] = []
    for c in candidates:
        if isinstance(c, str) and _GLOB & set(c) and not Path(c).exists():
            matches = [s.name for s in session.list_models(c)]
            if not matches:
                out.append((c, c, f"no registered model matches {c!r}"))
            out += [(m, m, None) for m in matches]
        else:
            out.append((c if isinstance(c, str) else getattr(c, "name", type(c).__name__), c, None))
    return out


def compare(
    data: Any,
    candidates: Sequence[Any],
    *,
    folds: int = 5,
    seed: int = 0,
    batch_size: int = 32,
    image_size: tuple[int, int] | None = None,
    time_budget: float | None = None,
    progress: bool | None = None,
    plot: str | Path | None = None,
    session: Session | None = None,
    **overrides: Any,
) -> Comparison:
    """Rank ``candidates`` on ``data``; see :func:`zoo.compare`."""
    from zoo.session import default_session

    session = session if session is not None else default_session()
    if not candidates:
        raise InvalidOptionError("compare needs at least one candidate model")
    if not isinstance(folds, int) or folds < 2:
        raise InvalidOptionError(f"folds is an integer >= 2, received {folds!r}")
    images, labels, classes, skipped = _load(data)
    counts = np.bincount(labels, minlength=len(classes)) if len(labels) else np.array([0])
    if len(classes) < 2 or counts.min() < folds:
        raise DataError(
            f"{folds}-fold cross-validation needs at least 2 classes with {folds} images each; "
            f"the data has {dict(zip(classes, counts.tolist(), strict=False))}. Use fewer "
            "folds or more images"
        )
    fold_of = _folds(labels, folds, seed)
    entries = _expand(candidates, session)
    deadline = time.monotonic() + time_budget if time_budget is not None else None
    rows: list[CompareRow] = []
    probe = _Probe(images, labels, fold_of, folds, len(classes), batch_size, image_size)
    with counter("compare", len(images) * len(entries), progress_enabled(progress)) as bar:
        for label, source, error in entries:
            row = CompareRow(label, error=error)
            rows.append(row)
            if error is not None:
                continue
            start = time.monotonic()
            try:
                if deadline is not None and start >= deadline:
                    raise _OutOfTime("not started: the time budget was spent")
                backbone = session.load_backbone(source, **overrides)
                probe.measure(row, backbone, deadline, bar)
            except (ZooError, _OutOfTime) as exc:
                row.error = str(exc)
            except Exception as exc:  # one broken candidate never stops the comparison
                row.error = f"{type(exc).__name__}: {exc}"
            row.seconds = time.monotonic() - start
    rows.sort(key=lambda r: (r.error is not None, -(r.accuracy or 0.0), r.candidate))
    result = Comparison(rows, len(images), classes, folds, skipped)
    if plot is not None:
        from zoo.workflows.figures import bar_chart

        good = [r for r in rows if r.error is None]
        result.plot = bar_chart(
            [r.candidate for r in good],
            [r.accuracy or 0.0 for r in good],
            [r.spread or 0.0 for r in good],
            plot,
            title=f"{len(images)} images, {len(classes)} classes, {folds}-fold linear probe",
        )
    return result


class _OutOfTime(Exception):
    """The shared time budget ran out."""


@dataclass
class _Probe:
    """The data every candidate is measured on."""

    images: list[np.ndarray]
    labels: np.ndarray
    fold_of: np.ndarray
    folds: int
    classes: int
    batch_size: int
    image_size: tuple[int, int] | None

    def measure(self, row: CompareRow, backbone: Any, deadline: float | None, bar: counter) -> None:
        """Fill ``row``: one frozen pass for features, then the k-fold linear probe."""
        h, w, c = backbone.input_spec.shape
        size = self.image_size or (h or _DEFAULT_SIZE, w or _DEFAULT_SIZE)
        shape = (size[0], size[1], c)
        row.parameters, row.feature_dim = backbone.count_params(), backbone.feature_dim
        features = []
        began = time.monotonic()
        for start in range(0, len(self.images), self.batch_size):
            if deadline is not None and time.monotonic() > deadline:
                raise _OutOfTime(f"stopped after {start} images: the time budget ran out")
            chunk = self.images[start : start + self.batch_size]
            batch = np.stack([fit(im, shape) for im in chunk])
            features.append(backbone.extract(batch, batch_size=self.batch_size))
            bar.advance(len(batch))
        row.images_per_second = len(self.images) / max(time.monotonic() - began, 1e-9)
        x = np.concatenate(features).astype("float64")
        if not np.isfinite(x).all():
            raise DataError("the backbone produced non-finite features on these images")
        for k in range(self.folds):
            train, test = self.fold_of != k, self.fold_of == k
            predicted = linear_probe(x[train], self.labels[train], x[test], self.classes)
            row.folds.append(float((predicted == self.labels[test]).mean()))
        row.accuracy = float(np.mean(row.folds))
        row.spread = float(np.std(row.folds))
