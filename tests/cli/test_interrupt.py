"""Ctrl-C in `zoo finetune`: exit 130, and with --checkpoint how to resume (issue 13 item 3);
and a real console run prints tfzoo's warnings as one ``Warning:`` line.

The SIGINT comes while a phase trains, so it is deferred to the next batch boundary
(zoo/finetune/interrupts.py; tests/finetune/test_interrupts.py tests that in-process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from zoo.finetune.interrupts import MESSAGE


def _images(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, base in (("dark", 40), ("bright", 200)):
        (root / label).mkdir(parents=True)
        for i in range(6):
            pixels = np.clip(base + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def _model(path: Path) -> Path:
    code = (
        "import keras, sys\n"
        "m = keras.Sequential([keras.Input((12, 12, 3)),"  # no scaling: raw is a guess, said
        " keras.layers.Conv2D(4, 3, name='conv'), keras.layers.GlobalAveragePooling2D(),"
        " keras.layers.Dense(3, activation='softmax', name='predictions')])\n"
        "m.save(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True)
    return path


def test_ctrl_c_exits_130_and_says_how_to_resume(tmp_path: Path) -> None:
    data, model = _images(tmp_path / "train"), _model(tmp_path / "own.keras")
    checkpoint = tmp_path / "ck"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo.cli",
            "finetune",
            str(model),
            "--data",
            str(data),
            "--epochs",
            "100000",
            "--batch-size",
            "4",
            "--no-cache",
            "--recipe",
            "classic",
            "--checkpoint",
            str(checkpoint),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ZOO_LOAD_PLUGINS": ""},
    )
    history = checkpoint / "head_history.csv"
    while not history.exists() and proc.poll() is None:  # one epoch done: it is training
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Interrupted." in err and "Aborted!" not in err
    assert f"resume from the checkpoint in {checkpoint}" in err
    assert "Traceback" not in err
    assert MESSAGE in err  # deferred to a batch boundary, not raised inside TensorFlow
    # the load's warning that raw preprocessing is a guess: one line, no Python source line
    lines = err.splitlines()
    warned = [line for line in lines if "nothing in the model scales" in line]
    assert len(warned) == 1 and warned[0].startswith("Warning: own: "), err
    assert "preprocessing='raw' keeps this choice" in warned[0]
    assert not any("warnings.warn" in line or "ZooWarning" in line for line in lines), err
