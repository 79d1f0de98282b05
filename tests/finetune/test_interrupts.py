"""Ctrl-C while training (zoo/finetune/interrupts.py): the first SIGINT stops at the next batch
boundary, not wherever Python happens to be; the second raises at once; the run resumes.

The signal is real: a callback sends it to this thread with ``signal.raise_signal`` in the
middle of a phase, and Python runs the process's handler right after, as for a Ctrl-C.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import zoo
from tests.finetune.util import FAST, blobs, fixed_backbone
from zoo.errors import FinetuneError
from zoo.finetune import interrupts

#: 64 images in batches of 16 through the whole model (no feature cache): 4 steps per epoch,
#: one callback call per step.
RECIPE: dict[str, Any] = {**FAST, "epochs": 3, "cache_features": "off"}


@pytest.fixture(autouse=True)
def default_handler() -> Iterator[None]:
    """Each test starts and must end with Python's own SIGINT handler, in the main thread."""
    assert threading.current_thread() is threading.main_thread()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    yield
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


class CtrlC(keras.callbacks.Callback):  # type: ignore[misc]
    """Sends SIGINT ``times`` times at the end of batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch: int, batch: int, times: int = 1) -> None:
        super().__init__()
        self.at, self.times = (epoch, batch), times
        self.epoch = 0
        self.sent = False
        self.went_on = False  # the code after the first SIGINT ran: nothing raised there
        self.raised_at_second = False
        self.batches_after = 0  # training batches that ended after the first SIGINT

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.sent:
            self.batches_after += 1
            return
        if (self.epoch, batch) != self.at:
            return
        self.sent = True
        signal.raise_signal(signal.SIGINT)
        sum(range(1000))  # bytecodes, where Python runs a pending handler
        self.went_on = True
        if self.times > 1:
            try:
                signal.raise_signal(signal.SIGINT)
                sum(range(1000))
            except KeyboardInterrupt:
                self.raised_at_second = True
                raise


def test_the_first_ctrl_c_stops_at_the_batch_boundary_and_the_run_resumes(
    tmp_path: Path,
) -> None:
    x, y = blobs(64)
    recipe = {**RECIPE, "checkpoint_dir": str(tmp_path / "ck")}
    ctrl_c = CtrlC(epoch=1, batch=1)
    with pytest.raises(KeyboardInterrupt) as stopped:
        zoo.finetune(fixed_backbone(), (x, y), callbacks=[ctrl_c], **recipe)
    assert ctrl_c.went_on  # not raised inside whatever ran when the signal came
    assert ctrl_c.batches_after == 0  # ... but at the end of that very batch
    assert Path(stopped.traceback[-1].path).name == "callbacks.py"  # by StopOnInterrupt

    resumed = zoo.finetune(fixed_backbone(), (x, y), **recipe)
    head = resumed.phase("head")
    assert resumed.resumed and head is not None
    assert head.resumed_from == 1  # after the one epoch that was backed up
    assert head.epochs == 3 and len(head.history["loss"]) == 3
    assert resumed.metrics


class CtrlCInFinalRun(CtrlC):
    """Ctrl-C at the first training batch after the auto search wrote its choice."""

    def __init__(self, record: Path) -> None:
        super().__init__(epoch=-1, batch=-1)
        self.record = record

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if not self.sent and self.record.exists():
            self.at = (self.epoch, batch)
        super().on_train_batch_end(batch, logs)


def test_an_auto_run_without_a_seed_resumes_its_final_run_without_searching_again(
    tmp_path: Path,
) -> None:
    x, y = blobs(48)
    checkpoint = tmp_path / "ck"
    # no seed: the search draws one, and the resumed run must not draw another
    recipe = {"verbose": 0, "batch_size": 16, "epochs": 3, "checkpoint_dir": str(checkpoint)}
    ctrl_c = CtrlCInFinalRun(checkpoint / "search.json")
    with pytest.raises(KeyboardInterrupt):
        zoo.finetune(fixed_backbone(), (x, y), callbacks=[ctrl_c], **recipe)
    assert ctrl_c.sent and ctrl_c.batches_after == 0
    record = json.loads((checkpoint / "search.json").read_text())

    resumed = zoo.finetune(fixed_backbone(), (x, y), **recipe)
    search = resumed.phase("search")
    assert search is not None and search.resumed and resumed.resumed
    assert resumed.recipe.seed == record["recipe"]["seed"]
    assert resumed.recipe.auto is False and resumed.recipe.checkpoint_dir == str(checkpoint)
    assert [vars(t) for t in resumed.trials] == record["trials"]  # the search's, not a new one
    assert sum(t.chosen for t in resumed.trials) == 1
    # the final run is the chosen recipe's, as if it had never been interrupted
    plain = zoo.finetune(
        fixed_backbone(), (x, y), recipe=resumed.recipe.replace(checkpoint_dir=None)
    )
    np.testing.assert_allclose(
        resumed.model.predict(x, verbose=0), plain.model.predict(x, verbose=0), atol=1e-5
    )

    with pytest.raises(FinetuneError, match=r"changed recipe \(learning_rate: 0.001 -> 0.05\)"):
        zoo.finetune(fixed_backbone(), (x, y), **recipe, learning_rate=0.05)
    with pytest.raises(FinetuneError, match="different data"):
        zoo.finetune(fixed_backbone(), (x[:40], y[:40]), **recipe)


def test_a_second_ctrl_c_raises_at_once() -> None:
    ctrl_c = CtrlC(epoch=0, batch=1, times=2)
    with pytest.raises(KeyboardInterrupt):
        zoo.finetune(fixed_backbone(), blobs(64), callbacks=[ctrl_c], **RECIPE)
    assert ctrl_c.went_on and ctrl_c.raised_at_second


def test_a_ctrl_c_after_the_last_check_is_raised_when_the_block_ends() -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.deferred() as request:
        assert request is not None
        signal.raise_signal(signal.SIGINT)
        sum(range(1000))
        assert request.pressed  # recorded, not raised
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # next: at once


def test_sigint_handled_elsewhere_is_left_alone() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # nohup, a background job
    try:
        with interrupts.deferred() as request:
            assert request is None
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def test_the_engine_runs_in_another_thread() -> None:
    errors: list[BaseException] = []
    results: list[zoo.FinetuneResult] = []

    def run() -> None:
        try:
            results.append(zoo.finetune(fixed_backbone(), blobs(32), **{**RECIPE, "epochs": 1}))
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    assert not errors and len(results) == 1  # signal.signal would raise ValueError there
