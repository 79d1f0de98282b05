"""The demo pipeline end to end at reduced epochs: pretrain, register, fine-tune, compare, plot."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import zoo
from zoo.cli import main
from zoo.cli.demo_run import DemoConfig, load_pretrained, run_demo

QUICK = DemoConfig(pretrain_steps=300, pretrain_images=2000, scratch_steps=100, time_budget=120)


def test_the_demo_pipeline_runs_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_demo(tmp_path, QUICK)
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal's width
    assert "scikit-learn's digits with 50 labelled images" in printed
    assert "accuracy on 1747 held out" in printed and "from scratch" in printed
    assert "auto recipe trials" in printed and "linear probe" in printed and "transfer" in printed
    assert {"model", "registry", "curves"} <= set(report.files)
    assert report.files["curves"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    steps = [row[0] for row in report.rows]
    assert steps[0] == "pretrain on MNIST" and steps[1] == "fine-tuned: search"
    assert steps[-2:] == ["fine-tuned (auto)", "from scratch: head"]
    assert report.rows[0][2] is not None and report.rows[0][2] > 0.8  # MNIST learnt
    assert report.finetuned_accuracy > 0.4  # 10 classes: chance is 0.1
    assert len(report.curves["from scratch"]) == QUICK.scratch_steps // 50

    # the registry entry is a real one: the recipe comes from it
    entry = (tmp_path / "zoo.yaml").read_text()
    assert "provider: local" in entry and "recipe:" in entry
    backbone = load_pretrained(tmp_path)
    assert backbone.feature_dim == 64 and backbone.num_classes == 10
    assert "flatten" in backbone.cut_points()  # the auto recipe probes the conv features too
    assert zoo.Finetuner(backbone).recipe.time_budget == QUICK.time_budget


def test_the_command_is_wired() -> None:
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0 and "scikit-learn's digits" in result.output
