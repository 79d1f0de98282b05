"""Interrupted runs resume exactly (F32): a real process killed mid-phase, then rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import zoo
from tests.finetune.util import FAST, blobs, fixed_backbone

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, *kill: str, cache: str = "auto") -> tuple[int, dict[str, Any] | None]:
    """Run tests/finetune/resume_run.py in a fresh process; its exit code and its result."""
    out = tmp_path / "result.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "RESUME_TEST_CACHE": cache, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.finetune.resume_run", str(tmp_path / "ck"), str(out), *kill],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, json.loads(out.read_text()) if out.exists() else None


@pytest.mark.parametrize(
    ("kill", "cache"),
    [
        (("head", "1", "KILL"), "off"),  # the model object trains both phases
        (("head", "3", "INT"), "auto"),  # the head trains on cached features
        (("finetune", "1", "KILL"), "auto"),
    ],
    ids=["sigkill-head-uncached", "sigint-last-head-epoch-cached", "sigkill-finetune"],
)
def test_a_killed_run_resumes_to_the_epochs_of_an_uninterrupted_one(
    tmp_path: Path, kill: tuple[str, str, str], cache: str
) -> None:
    code, result = run(tmp_path, *kill, cache=cache)
    expected = -signal.SIGKILL if kill[2] == "KILL" else -signal.SIGINT  # Python re-raises it
    assert code == expected and result is None

    code, result = run(tmp_path, cache=cache)
    assert code == 0 and result is not None
    phases = result["phases"]
    assert phases["head"]["epochs"] == 4 and phases["finetune"]["epochs"] == 4
    assert result["resumed"] is True
    interrupted = phases[kill[0]]
    assert interrupted["from"] == int(kill[1]) + 1  # picked up after the last backed-up epoch
    if kill[0] == "finetune":
        assert phases["head"]["resumed"] is True  # finished before: restored, not retrained
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(result["metrics"])


def test_a_changed_recipe_or_other_data_in_the_same_directory_is_refused(tmp_path: Path) -> None:
    x, y = blobs(32)
    recipe = {**FAST, "epochs": 1, "checkpoint_dir": str(tmp_path / "ck")}
    first = zoo.finetune(fixed_backbone(), (x, y), **recipe)
    assert not first.resumed

    with pytest.raises(zoo.FinetuneError, match=r"changed recipe \(epochs: 1 -> 2\)"):
        zoo.finetune(fixed_backbone(), (x, y), **{**recipe, "epochs": 2})
    x2 = x.copy()
    x2[0, 0, 0, 0] += 1.0  # one pixel differs
    with pytest.raises(zoo.FinetuneError, match="different data"):
        zoo.finetune(fixed_backbone(), (x2, y), **recipe)

    # where it writes and how loudly is not what it trains: still the same run
    again = zoo.finetune(fixed_backbone(), (x, y), **{**recipe, "verbose": 0, "export_dir": None})
    assert again.resumed and again.metrics


def test_other_images_in_a_directory_are_other_data(tmp_path: Path) -> None:
    from zoo.finetune.data import data_fingerprint

    for label in ("a", "b"):
        (tmp_path / "d" / label).mkdir(parents=True)
        (tmp_path / "d" / label / "1.png").write_bytes(b"x" * 10)
    before = data_fingerprint(str(tmp_path / "d"))
    assert data_fingerprint(tmp_path / "d") == before
    (tmp_path / "d" / "b" / "2.png").write_bytes(b"y")
    assert data_fingerprint(str(tmp_path / "d")) != before
