"""A fine-tune run in its own process, for the interrupt tests (tests/finetune/test_resume.py).

Usage: python -m tests.finetune.resume_run CHECKPOINT_DIR OUT_JSON [PHASE EPOCH SIGNAL]

With PHASE EPOCH SIGNAL the process sends itself SIGNAL (KILL or INT) at the end of epoch
EPOCH (0-based) of PHASE: a real kill at a known point, so the test is deterministic.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import keras

import zoo
from tests.finetune.util import FAST, blobs, fixed_backbone


class KillAt(keras.callbacks.Callback):  # type: ignore[misc]
    """Sends this process a signal at the end of one epoch of one phase."""

    def __init__(self, phase: str, epoch: int, sig: int) -> None:
        super().__init__()
        self.phase, self.epoch, self.sig = phase, epoch, sig
        self.fits = 0

    def on_train_begin(self, logs: Any = None) -> None:
        self.fits += 1

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        current = "head" if self.fits == 1 else "finetune"
        if current == self.phase and epoch == self.epoch:
            os.kill(os.getpid(), self.sig)


def main(argv: list[str]) -> int:
    checkpoint, out = argv[0], argv[1]
    cache = os.environ.get("RESUME_TEST_CACHE", "auto")
    callbacks = []
    if len(argv) > 2:
        sig = {"KILL": signal.SIGKILL, "INT": signal.SIGINT}[argv[4]]
        callbacks.append(KillAt(argv[2], int(argv[3]), sig))
    x, y = blobs(48)
    result = zoo.finetune(
        fixed_backbone(),
        (x, y),
        validation_data=(x[:16], y[:16]),
        epochs=4,
        unfreeze_epochs=4,
        checkpoint_dir=checkpoint,
        cache_features=cache,
        callbacks=callbacks,
        **FAST,
    )
    with open(out, "w") as f:
        json.dump(
            {
                "phases": {
                    p.name: {"epochs": p.epochs, "resumed": p.resumed, "from": p.resumed_from}
                    for p in result.phases
                    if p.name in ("head", "finetune")
                },
                "metrics": result.metrics,
                "resumed": result.resumed,
            },
            f,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
