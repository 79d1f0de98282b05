"""PNG figures of the workflows (matplotlib, the ``plot`` extra): confusion matrix, worst
mistakes, compare's bar chart. Drawn with the Agg backend, so no display is needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import MissingDependencyError

if TYPE_CHECKING:
    from zoo.workflows.evaluate import Mistake

__all__ = ["bar_chart", "confusion_matrix", "contact_sheet"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError(
            "PNG figures need matplotlib: pip install 'tfzoo[plot]'"
        ) from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return out


def confusion_matrix(
    counts: np.ndarray, labels: Sequence[str], path: str | Path, *, title: str = ""
) -> Path:
    """Rows are the true class, columns the predicted one; every cell shows its count."""
    plt = _pyplot()
    k = len(labels)
    side = min(2 + 0.5 * k, 30)
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(k), labels, rotation=90)
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix {title}".strip())
    high = counts.max() if counts.size else 0
    for (i, j), n in np.ndenumerate(counts):
        if n:
            colour = "white" if n > high / 2 else "black"
            ax.text(j, i, str(n), ha="center", va="center", color=colour)
    return _save(fig, path)


def contact_sheet(mistakes: Sequence[Mistake], path: str | Path, *, columns: int = 4) -> Path:
    """The worst mistakes as a grid: each image titled true -> predicted (confidence)."""
    from zoo.workflows.images import ImageItem, decode

    plt = _pyplot()
    count = max(len(mistakes), 1)
    cols = min(columns, count)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if not mistakes:
        axes[0][0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    for ax, m in zip(axes.flat, mistakes, strict=False):
        pixels = decode(ImageItem(m.image, path=Path(m.image)))
        shown = pixels[..., 0] if pixels.shape[-1] == 1 else pixels[..., :3]
        ax.imshow(np.clip(shown, 0, 255).astype("uint8"), cmap="gray" if shown.ndim == 2 else None)
        ax.set_title(
            f"{m.true} -> {m.predicted}\n{m.confidence:.2f}  {Path(m.image).name}", fontsize=8
        )
    return _save(fig, path)


def bar_chart(
    names: Sequence[str],
    means: Sequence[float],
    spreads: Sequence[float],
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """Validation accuracy per candidate (mean with its spread over folds), best on top."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 1 + 0.45 * max(len(names), 1)))
    y = np.arange(len(names))[::-1]
    ax.barh(y, means, xerr=spreads, color="tab:blue", capsize=3)
    ax.set_yticks(y, names)
    ax.set_xlim(0, 1)
    ax.set_xlabel("validation accuracy (linear probe, mean ± std over folds)")
    ax.set_title(title)
    for yi, m in zip(y, means, strict=True):
        ax.text(min(m + 0.02, 0.9), yi, f"{m:.3f}", va="center")
    return _save(fig, path)
