"""Training curves of a fine-tune run as a PNG (``zoo finetune --plot``). Needs matplotlib."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import MissingDependencyError

if TYPE_CHECKING:
    from zoo.finetune.result import FinetuneResult

__all__ = ["plot_history", "pyplot"]


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError(
            "plotting needs matplotlib: pip install 'tfzoo[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(result: FinetuneResult, path: str | Path, *, dpi: int = 100) -> Path:
    """Loss and accuracy per epoch, phases one after the other, to a PNG at ``path``.

    Training and validation curves share an axis; a dashed line marks where phase 2
    (the unfrozen backbone) starts.

    Example:
        >>> plot_history(zoo.finetune("mobilenet_v2", (x, y), weights=None), "curves.png")
    """
    plt = pyplot()
    phases = [p for p in result.phases if p.epochs and p.history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            xs: list[int] = []
            ys: list[float] = []
            for phase in phases:
                values = phase.history.get(prefix + metric, [])
                start = len(xs)
                xs.extend(range(start + 1, start + len(values) + 1))
                ys.extend(values)
            if ys:
                label = ("validation " if prefix else "training ") + metric
                ax.plot(xs, ys, style, marker="o", markersize=3, label=label)
        boundary = 0
        for phase in phases[:-1]:
            boundary += phase.epochs
            ax.axvline(boundary + 0.5, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("epoch (" + " then ".join(p.name for p in phases) + ")")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend()
    fig.suptitle(f"{result.backbone.name} -> {result.num_classes} classes")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
