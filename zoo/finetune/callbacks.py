"""Callbacks of a phase, and the checkpoint state that lets a rerun resume.

With ``checkpoint_dir`` set, every phase writes a backup at each epoch end
(``keras.callbacks.BackupAndRestore``, which restores model, optimizer and epoch) and its
per-epoch metrics (``CSVLogger``, appended across restarts). A finished phase leaves the full
model's weights and its record in ``state.json``; a rerun with the same directory skips it.

``state.json`` also keeps a fingerprint of the run (the recipe's training fields, the data,
the model and the number of classes), written before the first epoch: a rerun with a changed
recipe or different data is refused instead of mixing two runs in one directory (F32).

Every phase ends its callbacks with :class:`StopOnInterrupt`: a Ctrl-C during ``fit`` stops at
the next batch or epoch boundary (see ``zoo.finetune.interrupts``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import keras

from zoo import settings
from zoo.errors import FinetuneError, TrainingDivergedError
from zoo.finetune import interrupts
from zoo.finetune.result import PhaseResult

if TYPE_CHECKING:
    from zoo.finetune.recipe import Recipe

__all__ = [
    "NOT_TRAINING",
    "DivergenceGuard",
    "RunState",
    "StopOnInterrupt",
    "model_fingerprint",
    "phase_callbacks",
    "recipe_fingerprint",
    "refuse_other_run",
    "restored_epoch",
]

#: Recipe fields that say where to write or how loudly, not what is trained: changing them
#: between a run and its resumption is fine.
NOT_TRAINING = frozenset(
    {
        "verbose",
        "callbacks",
        "checkpoint_dir",
        "export_dir",
        "export_formats",
        "tensorboard_dir",
        "cache_dir",
        "cache_memory_limit",
    }
)


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


class StopOnInterrupt(keras.callbacks.Callback):  # type: ignore[misc]
    """Raises KeyboardInterrupt at the first boundary after a Ctrl-C that was deferred.

    Checked at each training and validation batch end and at each epoch end; it must be the
    last callback, so that the others have handled that batch or saved that epoch first.
    Inside no :func:`zoo.finetune.interrupts.deferred` block (or in another thread), it
    does nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.request: interrupts.Request | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.request = interrupts.active()  # looked up once, not per batch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._check()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._check()  # validation can be long too

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._check()  # after BackupAndRestore and CSVLogger saved this epoch

    def _check(self) -> None:
        if self.request is not None and self.request.pressed:
            raise KeyboardInterrupt


def phase_callbacks(
    recipe: Recipe,
    phase: str,
    learning_rate: float,
    *,
    validation: bool,
    checkpoint_dir: Path | None,
) -> list[keras.callbacks.Callback]:
    """The callbacks of one training phase, in the order Keras should run them.

    Run them inside :func:`zoo.finetune.interrupts.deferred` for clean stops on Ctrl-C.
    """
    callbacks: list[keras.callbacks.Callback] = [DivergenceGuard(phase, learning_rate)]
    if checkpoint_dir is not None:
        # double_checkpoint: Keras keeps the previous epoch's backup too and falls back to it
        # when the latest cannot be read (a kill while it was being written: a truncated .h5)
        callbacks.append(_Backup(checkpoint_dir, phase))
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
    callbacks.append(StopOnInterrupt())  # last: the others handle a batch or epoch first
    return callbacks


class _Backup(keras.callbacks.BackupAndRestore):  # type: ignore[misc]
    """Keras's backup of one phase, whose unreadable files stop the run with a FinetuneError
    naming the directory (Keras's own error is h5py's "bad object header version number")."""

    def __init__(self, checkpoint_dir: Path, phase: str) -> None:
        self.folder = checkpoint_dir / f"{phase}_backup"
        self.phase = phase
        super().__init__(str(self.folder), double_checkpoint=True)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError) as exc:  # h5py's errors are OSErrors; bad JSON a ValueError
            raise FinetuneError(
                f"checkpoint directory {self.folder.parent}: the {self.phase!r} phase's backup "
                f"in {self.folder.name}/ cannot be read ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); delete "
                f"{self.folder} to restart that phase, or the whole directory to start over"
            ) from None


def restored_epoch(callbacks: list[keras.callbacks.Callback], epochs: list[int]) -> int | None:
    """The epoch (0-based) whose weights an EarlyStopping callback put back, if not the last."""
    for cb in callbacks:
        early = isinstance(cb, keras.callbacks.EarlyStopping) and cb.restore_best_weights
        if early and cb.best_weights is not None and cb.best_epoch != epochs[-1]:
            return int(cb.best_epoch)
    return None


def _plain(value: Any) -> Any:
    """A JSON value standing for ``value``; objects by type (a repr may hold an address)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def recipe_fingerprint(recipe: Recipe) -> dict[str, Any]:
    """The recipe fields that decide what is trained, as plain JSON values."""
    import dataclasses

    return {
        f.name: _plain(getattr(recipe, f.name))
        for f in dataclasses.fields(recipe)
        if f.name not in NOT_TRAINING
    }


def model_fingerprint(spec: Any, num_classes: int | None) -> dict[str, Any]:
    """What a run's model is, as plain JSON values: the resolved spec's loading fields (the
    user's overrides, such as ``preprocessing``, included) and, for a local file or directory,
    a digest of its contents (another file under the same path is another model; F32)."""
    if spec is None:
        return {"model": "?", "num_classes": num_classes}
    fields = ("name", "provider", "source", "weights", "sha256", "input_shape", "preprocessing")
    found: dict[str, Any] = {f: _plain(getattr(spec, f, None)) for f in fields}
    found["feature_layer"] = _plain(spec.feature_layer)
    found["options"] = _plain(dict(spec.options))
    found["num_classes"] = num_classes
    for key in ("source", "weights"):
        found[f"{key}_contents"] = _contents(getattr(spec, key, None), spec.base_dir)
    return found


def _contents(ref: object, base_dir: str | None) -> str | None:
    """sha256 of a local file, or the tree digest of a local directory ``ref`` names."""
    if not isinstance(ref, str) or "://" in ref or not ref:
        return None
    from zoo.download.cache import file_sha256
    from zoo.download.trees import tree_digest

    path = settings.user_path(ref)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    try:
        if path.is_file():
            return file_sha256(path)
        if path.is_dir():
            return tree_digest(path)
    except OSError:
        return None
    return None


class RunState:
    """``state.json`` of a checkpoint directory: which phases finished, and their records.

    Args:
        directory: the checkpoint directory (created if missing).
        fingerprint: what this run trains (``recipe``, ``data``, ``model`` keys); a directory
            written by a run with another fingerprint is refused with FinetuneError.
    """

    #: PhaseResult's fields -> the JSON types state.json holds for them.
    RECORD_TYPES: ClassVar[dict[str, tuple[type, ...]]] = {
        "name": (str,),
        "seconds": (int, float),
        "epochs": (int,),
        "history": (dict,),
        "learning_rate": (int, float, type(None)),
        "trainable_weights": (int,),
        "resumed": (bool,),
        "resumed_from": (int, type(None)),
        "kept_epoch": (int, type(None)),
    }

    def __init__(self, directory: Path, fingerprint: Mapping[str, Any] | None = None) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "state.json"
        self.data: dict[str, Any] = {"finished": {}}
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text())
            except (ValueError, OSError, RecursionError) as exc:
                raise self._damaged(f"state.json is unreadable ({exc})") from None
            self._check_shape()
        # the log of a phase a run will resume: found damaged now, not when that phase ends
        # (after its training was spent); a finished phase's record is in state.json
        for log in sorted(directory.glob("*_history.csv")):
            phase = log.name.removesuffix("_history.csv")
            if self.finished(phase) is None:
                self.history(phase)
        if fingerprint is not None:
            self._check(dict(fingerprint))

    def _damaged(self, what: str) -> FinetuneError:
        """The error for a state file or history log that is not what a run writes."""
        return FinetuneError(
            f"checkpoint directory {self.directory}: {what}; delete the directory to start "
            "over, or pass a new checkpoint_dir"
        )

    def _check_shape(self) -> None:
        """Refuse a state.json that is not ``{"finished": {phase: record}, "fingerprint": {}}``
        (hand-edited or damaged), before any of it is used."""
        data = self.data
        if not isinstance(data, dict):
            raise self._damaged(
                f"state.json holds a {type(data).__name__}, not the object a run writes"
            )
        finished = data.get("finished")
        if not isinstance(finished, dict):
            raise self._damaged("state.json has no 'finished' object of the finished phases")
        if not isinstance(data.get("fingerprint", {}), dict):
            raise self._damaged("the 'fingerprint' of state.json is not an object")
        for phase, record in finished.items():
            problem = self._record_problem(record)
            if problem is not None:
                raise self._damaged(f"the record of phase {_short(phase)} in state.json {problem}")

    @classmethod
    def _record_problem(cls, record: object) -> str | None:
        """What is wrong with one phase record of state.json (None: it is what a run writes)."""
        if not isinstance(record, dict):
            return f"is a {type(record).__name__}, not an object"
        unknown = sorted(map(str, set(record) - set(cls.RECORD_TYPES)))
        if unknown:
            return f"has unknown keys {_short(unknown)}"
        if "name" not in record or "seconds" not in record:
            return "lacks its 'name' or 'seconds'"
        for key, value in record.items():
            types = cls.RECORD_TYPES[key]
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return f"has {key} {_short(value)}, of the wrong type"
        for key, values in record.get("history", {}).items():
            if not isinstance(values, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
            ):
                return f"has a history of {_short(key)} that is not a list of numbers"
        return None

    def _check(self, fingerprint: dict[str, Any]) -> None:
        """Refuse a directory of another run; record the fingerprint of a new one."""
        old = self.data.get("fingerprint")
        if old is None:
            self.data["fingerprint"] = fingerprint
            self._write()
            return
        refuse_other_run(self.directory, old, fingerprint)

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2))
        tmp.replace(self.path)

    def backup_epoch(self, phase: str) -> int | None:
        """Epochs of ``phase`` an interrupted run completed (its BackupAndRestore metadata)."""
        meta = self.directory / f"{phase}_backup" / "training_metadata.json"
        try:
            return int(json.loads(meta.read_text())["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def begin(self, phase: str) -> int | None:
        """:meth:`backup_epoch`, as ``phase`` starts. Without a backup folder the phase trains
        from its first epoch, so a history log left beside it (its backup deleted, as a
        damaged one's error says, or a run stopped before the first save) is removed:
        appended to, it would mix two runs' epochs."""
        epoch = self.backup_epoch(phase)
        if epoch is None and not (self.directory / f"{phase}_backup").exists():
            (self.directory / f"{phase}_history.csv").unlink(missing_ok=True)
        return epoch

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
        self._write()

    def history(self, phase: str) -> dict[str, list[float]] | None:
        """Per-epoch metrics of ``phase`` across restarts (from its CSV log)."""
        import csv

        path = self.directory / f"{phase}_history.csv"
        if not path.exists():
            return None
        try:
            with path.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
            # CSVLogger writes "NA" under val_* columns when there is no validation data
            return {k: [float(r[k]) for r in rows] for k in keys if rows[0][k] != "NA"}
        except (OSError, ValueError, TypeError, csv.Error) as exc:  # a hand-edited or cut log
            raise self._damaged(f"{path.name} is not a history log a run writes ({exc})") from None


def refuse_other_run(directory: Path, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """FinetuneError when fingerprint ``new`` (``recipe``, ``data``, ``model``) is not the
    ``old`` one a checkpoint directory was written with; it names what changed."""
    what = []
    recipe = _changes(old.get("recipe"), new.get("recipe"))
    if recipe:
        what.append(f"a changed recipe ({recipe})")
    if old.get("data") != new.get("data"):
        what.append("different data")
    if old.get("model") != new.get("model"):
        model = _changes(old.get("model"), new.get("model"))
        what.append(f"another model ({model or _short(old.get('model'))})")
    if what:
        raise FinetuneError(
            f"checkpoint directory {directory} belongs to another run: this one has "
            f"{' and '.join(what)}. Resuming would mix two runs; pass a new checkpoint_dir, "
            "or delete this one to start over"
        )


def _changes(old: Any, new: Any) -> str:
    """``key: old -> new`` for the first keys two mappings disagree on ("" when equal or not
    mappings); values cut short, and a file's contents digest said in words."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return "" if old == new else f"{_short(old)} -> {_short(new)}"
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))

    def shown(key: str) -> str:
        if key.endswith("_contents"):  # a sha256 says nothing to a reader
            return f"{key.removesuffix('_contents')}: another file at the same path"
        return f"{key}: {_short(old.get(key))} -> {_short(new.get(key))}"

    return ", ".join(map(shown, changed[:5])) + (", ..." if len(changed) > 5 else "")


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters (messages never carry unbounded values)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
