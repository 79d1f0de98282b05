"""Callbacks of a phase, and the checkpoint state that lets a rerun resume.

With ``checkpoint_dir`` set, every phase writes a backup at each epoch end
(``keras.callbacks.BackupAndRestore``, which restores model, optimizer and epoch) and its
per-epoch metrics (``CSVLogger``, appended across restarts). A finished phase leaves the full
model's weights and its record in ``state.json``; a rerun with the same directory skips it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras

from zoo.errors import TrainingDivergedError
from zoo.finetune.result import PhaseResult

if TYPE_CHECKING:
    from zoo.finetune.recipe import Recipe

__all__ = ["DivergenceGuard", "RunState", "phase_callbacks"]


class DivergenceGuard(keras.callbacks.Callback):  # type: ignore[misc]
    """Stops training with TrainingDivergedError at the first batch whose loss is not finite."""

    def __init__(self, phase: str, learning_rate: float) -> None:
        super().__init__()
        self.phase = phase
        self.learning_rate = learning_rate
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDivergedError(
                f"the loss became {float(loss)} in phase {self.phase!r} at epoch "
                f"{self.epoch + 1}, batch {batch + 1} (learning rate {self.learning_rate:g}); "
                "lower the learning rate, and check the images for extreme values and the "
                "labels for mistakes"
            )


def phase_callbacks(
    recipe: Recipe,
    phase: str,
    learning_rate: float,
    *,
    validation: bool,
    checkpoint_dir: Path | None,
) -> list[keras.callbacks.Callback]:
    """The callbacks of one training phase, in the order Keras should run them."""
    callbacks: list[keras.callbacks.Callback] = [DivergenceGuard(phase, learning_rate)]
    if checkpoint_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(checkpoint_dir / f"{phase}_backup")))
        callbacks.append(
            keras.callbacks.CSVLogger(str(checkpoint_dir / f"{phase}_history.csv"), append=True)
        )
    if recipe.early_stopping is not None:
        options: dict[str, Any] = {
            "monitor": "val_loss" if validation else "loss",
            "restore_best_weights": True,
        }
        if isinstance(recipe.early_stopping, int):
            options["patience"] = recipe.early_stopping
        else:
            options.update(recipe.early_stopping)
        callbacks.append(keras.callbacks.EarlyStopping(**options))
    if recipe.tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(Path(recipe.tensorboard_dir) / phase)))
    callbacks.extend(recipe.callbacks)
    return callbacks


class RunState:
    """``state.json`` of a checkpoint directory: which phases finished, and their records."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "state.json"
        self.data: dict[str, Any] = {"finished": {}}
        if self.path.exists():
            self.data = json.loads(self.path.read_text())

    def weights(self, phase: str) -> Path:
        """Where the full model's weights after ``phase`` are kept."""
        return self.directory / f"{phase}.weights.h5"

    def finished(self, phase: str) -> PhaseResult | None:
        """The record of ``phase`` if it finished in an earlier run (marked as resumed)."""
        record = self.data["finished"].get(phase)
        if record is None or not self.weights(phase).exists():
            return None
        return PhaseResult(**{**record, "resumed": True})

    def finish(self, phase: PhaseResult, model: keras.Model) -> None:
        """Record a finished phase: weights first, then the state file (atomically)."""
        model.save_weights(str(self.weights(phase.name)))
        self.data["finished"][phase.name] = {**vars(phase), "resumed": False}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2))
        tmp.replace(self.path)

    def history(self, phase: str) -> dict[str, list[float]] | None:
        """Per-epoch metrics of ``phase`` across restarts (from its CSV log)."""
        import csv

        path = self.directory / f"{phase}_history.csv"
        if not path.exists():
            return None
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
        # CSVLogger writes "NA" under val_* columns when there is no validation data
        return {k: [float(r[k]) for r in rows] for k in keys if rows[0][k] != "NA"}
