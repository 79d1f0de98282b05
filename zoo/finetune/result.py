"""FinetuneResult: what ``zoo.finetune`` hands back. No TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.export.report import ExportReport
from zoo.finetune.recipe import Recipe

if TYPE_CHECKING:
    import keras

    from zoo.model.backbone import Backbone

__all__ = ["FinetuneResult", "PhaseResult", "Trial", "trials_table"]


@dataclass
class Trial:
    """One candidate the auto recipe tried (``FinetuneResult.trials``)."""

    cut: str  # the backbone layer the head read (the cut point)
    trained: str  # "linear probe", "head" (frozen backbone), "top N layers", "all layers"
    steps: int  # optimizer steps it took (0 for a closed-form probe)
    val_accuracy: float  # accuracy on the validation data (mean over splits for probes)
    seconds: float  # wall time
    learning_rate: float | None = None  # learning rate of the backbone phase (or the head's)
    chosen: bool = False  # True for the one the final model follows
    note: str = ""  # why it stopped or was skipped ("time budget", "no signal", ...)
    val_loss: float | None = None  # validation loss (breaks ties of val_accuracy)


def trials_table(trials: list[Trial]) -> str:
    """The trials as aligned text columns, the chosen one marked with ``*``."""
    rows = [("", "cut point", "trained", "steps", "val acc", "lr", "seconds", "note")]
    for t in trials:
        rows.append(
            (
                "*" if t.chosen else "",
                t.cut,
                t.trained,
                str(t.steps),
                f"{t.val_accuracy:.4f}",
                f"{t.learning_rate:g}" if t.learning_rate else "-",
                f"{t.seconds:.1f}",
                t.note,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


@dataclass
class PhaseResult:
    """One step of a run: "features" (computing the feature cache), "head", "finetune", "export"."""

    name: str  # which step
    seconds: float  # wall time
    epochs: int = 0  # epochs trained (0 for steps that do not train)
    history: dict[str, list[float]] = field(default_factory=dict)  # Keras history, per epoch
    learning_rate: float | None = None  # learning rate of a training phase
    trainable_weights: int = 0  # number of trainable weight tensors while it ran
    resumed: bool = False  # True when it was finished before and restored from a checkpoint
    resumed_from: int | None = None  # epochs an interrupted run had done when this one took over
    kept_epoch: int | None = None  # 1-based epoch early stopping put back, if not the last


@dataclass
class FinetuneResult:
    """A fine-tuned model, how it got there, and where it was exported.

    Example:
        >>> result = zoo.finetune("mobilenet_v2", (x, y), weights=None, epochs=2)
        >>> result.model.predict(x[:1]).shape  # raw pixels in, class probabilities out
        (1, 10)
        >>> sorted(result.times)
        ['features', 'head']
    """

    model: keras.Model  # raw pixels -> class probabilities (preprocessing inside)
    backbone: Backbone  # the backbone it was built on
    recipe: Recipe  # the recipe that ran, every default filled in
    num_classes: int  # outputs of the new classifier
    class_names: tuple[str, ...] | None = None  # label names (from an image directory)
    phases: list[PhaseResult] = field(default_factory=list)  # every step, in order
    metrics: dict[str, float] = field(default_factory=dict)  # final loss/metrics (val_* too)
    exports: dict[str, Path] = field(default_factory=dict)  # format -> path
    export_report: ExportReport | None = None  # every exported file checked against the model
    export_error: str | None = None  # why a format could not be exported (the rest were)
    feature_cache: str | None = None  # "memory" or "disk" when the head trained on features
    #: what the auto recipe tried, in order (empty for a classic run); ``recipe`` is then the
    #: plain recipe of the chosen run (``auto=False``), which reproduces it
    trials: list[Trial] = field(default_factory=list)

    @property
    def resumed(self) -> bool:
        """True when this run picked up a checkpoint: a phase restored or continued."""
        return any(p.resumed or p.resumed_from is not None for p in self.phases)

    @property
    def history(self) -> dict[str, dict[str, list[float]]]:
        """Keras history of every training phase: phase name -> metric -> per-epoch values."""
        return {p.name: p.history for p in self.phases if p.epochs or p.history}

    @property
    def times(self) -> dict[str, float]:
        """Wall time in seconds of every step, by name."""
        return {p.name: p.seconds for p in self.phases}

    def phase(self, name: str) -> PhaseResult | None:
        """The step called ``name``, if it ran."""
        return next((p for p in self.phases if p.name == name), None)

    def summary(self) -> str:
        """A few lines for people: steps, times, final metrics, exports."""
        lines = [f"fine-tuned {self.backbone.name} -> {self.num_classes} classes"]
        for p in self.phases:
            extra = f", {p.epochs} epochs at lr {p.learning_rate:g}" if p.epochs else ""
            if p.kept_epoch is not None:
                extra += f" (weights of epoch {p.kept_epoch}, kept by early stopping)"
            resumed = " (restored from checkpoint)" if p.resumed else ""
            if p.resumed_from is not None:
                resumed = f" (resumed after epoch {p.resumed_from})"
            lines.append(f"  {p.name:<9} {p.seconds:8.2f} s{extra}{resumed}")
        if self.metrics:
            lines.append("  metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in self.metrics.items()))
        if self.trials:
            lines.append("  auto recipe trials (* = chosen):")
            lines.extend("    " + row for row in trials_table(self.trials).splitlines())
        for fmt, path in self.exports.items():
            lines.append(f"  {fmt:<11} {path}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (no model)."""
        return {
            "backbone": self.backbone.name,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names) if self.class_names else None,
            "phases": [vars(p) for p in self.phases],
            "metrics": self.metrics,
            "exports": {k: str(v) for k, v in self.exports.items()},
            "export_report": self.export_report.to_dict() if self.export_report else None,
            "export_error": self.export_error,
            "feature_cache": self.feature_cache,
            "resumed": self.resumed,
            "trials": [vars(t) for t in self.trials],
            "recipe": self.recipe.to_dict(),
        }
