"""Checkpoints that resume an interrupted run, early stopping, TensorBoard logs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import zoo
from tests.finetune.util import FAST, blobs, fixed_backbone, small_cnn


class Interrupted(Exception):
    """Stands for a killed process."""


class InterruptAt(keras.callbacks.Callback):  # type: ignore[misc]
    """Raises Interrupted at the end of epoch `epoch`, keeping the head's weights then."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch
        self.weights: list[np.ndarray] = []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch == self.epoch:
            self.weights = self.model.get_layer("classifier").get_weights()
            raise Interrupted


class FirstWeights(keras.callbacks.Callback):  # type: ignore[misc]
    """Keeps the head's weights when training (re)starts, after BackupAndRestore ran."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[np.ndarray] | None = None

    def on_train_begin(self, logs: Any = None) -> None:
        if self.weights is None:
            self.weights = self.model.get_layer("classifier").get_weights()


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    x, y = blobs(64)
    recipe = {**FAST, "epochs": 4, "unfreeze_epochs": 1, "checkpoint_dir": str(tmp_path / "ck")}
    interrupt = InterruptAt(1)
    with pytest.raises(Interrupted):
        zoo.finetune(fixed_backbone(), (x, y), callbacks=[interrupt], **recipe)
    assert (tmp_path / "ck" / "head_backup").is_dir()

    first = FirstWeights()
    resumed = zoo.finetune(fixed_backbone(), (x, y), callbacks=[first], **recipe)
    assert first.weights is not None
    for a, b in zip(first.weights, interrupt.weights, strict=True):
        np.testing.assert_array_equal(a, b)  # picked up where it stopped
    head = resumed.phase("head")
    assert head is not None and head.epochs == 4  # 2 before the interruption, 2 after
    assert len(head.history["loss"]) == 4 and not head.resumed
    assert not (tmp_path / "ck" / "head_backup").exists()  # removed once the phase finished

    again = zoo.finetune(fixed_backbone(), (x, y), **recipe)
    assert [p.resumed for p in again.phases] == [True, True]  # nothing left to train
    np.testing.assert_allclose(
        again.model.predict(x, verbose=0), resumed.model.predict(x, verbose=0), atol=1e-6
    )
    assert again.history["head"]["loss"] == head.history["loss"]


class EveryEpoch(keras.callbacks.Callback):  # type: ignore[misc]
    """Keeps the head's weights at the end of every epoch; raises Interrupted after ``stop``."""

    def __init__(self, stop: int) -> None:
        super().__init__()
        self.stop, self.weights = stop, []  # type: list[list[np.ndarray]]

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.weights.append(self.model.get_layer("classifier").get_weights())
        if epoch == self.stop:
            raise Interrupted


def test_a_backup_cut_while_it_was_written_resumes_from_the_epoch_before(tmp_path: Path) -> None:
    """User trial: a run killed while Keras rewrote latest.weights.h5 left it truncated, and
    the resume failed with h5py's "bad object header version number". The epoch before is
    kept beside it (double_checkpoint), and the resume starts from there."""
    x, y = blobs(64)
    ck = tmp_path / "ck"
    recipe = {**FAST, "epochs": 4, "checkpoint_dir": str(ck), "cache_features": False}
    every = EveryEpoch(stop=2)
    with pytest.raises(Interrupted):
        zoo.finetune(fixed_backbone(), (x, y), callbacks=[every], **recipe)
    backup = ck / "head_backup"
    # as a kill in the middle of epoch 2's save leaves it: the weights file cut short, the
    # metadata and the history log still at epoch 1
    latest = backup / "latest.weights.h5"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 3])
    (backup / "training_metadata.json").write_text(
        (backup / "training_metadata.json.bkp").read_text()
    )
    log = ck / "head_history.csv"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))

    first = FirstWeights()
    resumed = zoo.finetune(fixed_backbone(), (x, y), callbacks=[first], **recipe)
    assert first.weights is not None
    for a, b in zip(first.weights, every.weights[1], strict=True):
        np.testing.assert_array_equal(a, b)  # epoch 1's weights: the last whole backup
    head = resumed.phase("head")
    assert head is not None and len(head.history["loss"]) == 4  # epochs 0-1, then 2-3 again


@pytest.mark.parametrize("older", ["missing", "cut"])
def test_an_unreadable_backup_stops_with_the_folder_to_delete(tmp_path: Path, older: str) -> None:
    """A backup with no readable copy (one written before double_checkpoint, or both copies
    cut) gave h5py's raw "bad object header version number"; now a FinetuneError names the
    phase's backup folder and the run can go on once it is deleted."""
    x, y = blobs(64)
    ck = tmp_path / "ck"
    recipe = {**FAST, "epochs": 4, "checkpoint_dir": str(ck), "cache_features": False}
    with pytest.raises(Interrupted):
        zoo.finetune(fixed_backbone(), (x, y), callbacks=[EveryEpoch(stop=2)], **recipe)
    backup = ck / "head_backup"
    for name in ("latest.weights.h5", "latest.weights.h5.bkp"):
        path = backup / name
        if older == "missing" and name.endswith(".bkp"):
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(zoo.FinetuneError, match="'head' phase's backup") as caught:
        zoo.finetune(fixed_backbone(), (x, y), **recipe)
    assert f"delete {backup} to restart that phase" in str(caught.value)
    assert (ck / "state.json").exists()  # nothing else of the run was touched

    shutil.rmtree(backup)  # as the message says: the phase restarts
    again = zoo.finetune(fixed_backbone(), (x, y), **recipe)
    head = again.phase("head")
    assert head is not None and len(head.history["loss"]) == 4


def test_early_stopping_stops_and_restores_the_best_weights() -> None:
    x, y = blobs(48)
    result = zoo.finetune(
        fixed_backbone(),
        (x, y),
        validation_data=blobs(16, seed=3),
        epochs=10,
        early_stopping={"patience": 1, "min_delta": 1e6},  # no epoch counts as better
        **FAST,
    )
    head = result.phases[-1]
    assert head.epochs == 2
    # epoch 1's weights were put back, and the result says so (its final val_loss is epoch 1's)
    assert head.kept_epoch == 1
    assert result.metrics["val_loss"] == pytest.approx(head.history["val_loss"][0], rel=1e-5)
    # and its training loss is epoch 1's too, not the last epoch's beside it (trial 4)
    assert result.metrics["loss"] == head.history["loss"][0] != head.history["loss"][-1]
    assert "weights of epoch 1, kept by early stopping" in result.summary()


def test_tensorboard_logs_every_phase(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="the test extra installs tensorboard")
    x, y = blobs(32)
    zoo.finetune(
        fixed_backbone(),
        (x, y),
        epochs=1,
        unfreeze_epochs=1,
        tensorboard_dir=str(tmp_path / "tb"),
        **FAST,
    )
    for phase in ("head", "finetune"):
        events = list((tmp_path / "tb" / phase).rglob("events.out.tfevents.*"))
        assert events, f"no TensorBoard events for {phase}"


def test_tensorboard_without_the_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import raises ImportError
    with pytest.raises(zoo.MissingDependencyError, match="pip install tensorboard"):
        zoo.finetune(fixed_backbone(), blobs(8), tensorboard_dir=str(tmp_path), **FAST)


def test_a_checkpoint_is_refused_for_other_load_options_or_another_file_at_the_path(
    tmp_path: Path,
) -> None:
    """F32 (attack suite, round three): the model was fingerprinted by name and path only, so
    a rerun with preprocessing="unit" after "raw", or with another file saved under the same
    path, resumed the first run's weights and trained nothing."""
    x, y = blobs(32)
    path = tmp_path / "net.keras"
    small_cnn().save(path)
    run = {**FAST, "epochs": 1, "checkpoint_dir": str(tmp_path / "ck"), "cache_features": False}
    zoo.finetune(str(path), (x, y), preprocessing="raw", **run)
    assert zoo.finetune(str(path), (x, y), preprocessing="raw", **run).resumed  # the same run
    with pytest.raises(zoo.FinetuneError, match=r"another model \(preprocessing: 'raw' -> 'unit'"):
        zoo.finetune(str(path), (x, y), preprocessing="unit", **run)
    small_cnn().save(path)  # fresh weights under the same name
    with pytest.raises(zoo.FinetuneError, match="source: another file at the same path"):
        zoo.finetune(str(path), (x, y), preprocessing="raw", **run)
