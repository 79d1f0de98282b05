"""Hostile registry files (F30): alias bombs, huge and non-finite values, control characters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zoo.errors import RegistryError
from zoo.registry import parse_registry_text


def bomb(field: str, levels: int = 9) -> str:
    """A ~1 KB registry whose ``field`` expands to 10**levels strings ("billion laughs")."""
    lol = "[" + ", ".join(['"lol"'] * 10) + "]"
    # options / recipe: a mapping of anchors; labels: a list of them
    lead = "- " if field == "labels" else ""
    rows = [f"      {lead or 'l0: '}&l0 {lol}"]
    for i in range(1, levels):
        rows.append(f"      {lead or f'l{i}: '}&l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    head = "version: 1\nmodels:\n  bomb:\n    provider: keras\n    source: ResNet50\n"
    return head + f"    {field}:\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("field", ["options", "recipe", "labels"])
def test_an_alias_bomb_is_refused_at_once(field: str) -> None:
    text = bomb(field)
    assert len(text) < 2048
    with pytest.raises(RegistryError, match="alias bomb") as info:
        parse_registry_text(text, "zoo.yaml")
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("command", [["list"], ["info", "bomb"]])
def test_zoo_list_and_info_refuse_a_bomb_in_zoo_yaml(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "zoo.yaml").write_text(bomb("options"))
    proc = subprocess.run(
        [sys.executable, "-m", "zoo.cli", *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,  # a guard against the hang, not a speed assertion
        env={**os.environ, "ZOO_LOAD_PLUGINS": ""},
    )
    assert proc.returncode == 1
    assert "alias bomb" in proc.stderr and len(proc.stderr) < 1000


def test_a_recursive_alias_is_refused() -> None:
    text = (
        "version: 1\nmodels:\n  r:\n    provider: keras\n    source: X\n    options: &o {a: *o}\n"
    )
    with pytest.raises(RegistryError, match=r"alias|recursive"):
        parse_registry_text(text, "zoo.yaml")


def test_shared_blocks_below_the_bound_still_work() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        models:
          a:
            provider: keras
            source: ResNet50
            recipe: &r {epochs: 3, learning_rate: 0.001}
          b:
            provider: keras
            source: ResNet101
            recipe: *r
        """
    )
    specs = parse_registry_text(text, "zoo.yaml")
    assert specs[1].recipe == {"epochs": 3, "learning_rate": 0.001}


def test_a_huge_value_is_never_formatted_whole_into_a_message() -> None:
    huge = "[" + ", ".join(["1"] * 50_000) + "]"
    text = f"version: 1\nmodels:\n  h:\n    provider: keras\n    source: X\n    tags: {huge}\n"
    with pytest.raises(RegistryError, match="expected a list of strings") as info:
        parse_registry_text(text, "zoo.yaml")
    assert len(str(info.value)) < 300
    long_name = "x" * 1000  # YAML caps an implicit key at 1024 characters
    text = f"version: 1\nmodels:\n  h:\n    provider: keras\n    source: X\n    {long_name}: 1\n"
    with pytest.raises(RegistryError, match="unknown key") as info:
        parse_registry_text(text, "zoo.yaml")
    assert len(str(info.value)) < 700


@pytest.mark.parametrize(
    ("preprocessing", "problem"),
    [
        ("{mode: tf, std: .nan}", "std must be finite"),
        ("{mode: tf, std: [1, 0, 1]}", "std may not be 0"),
        ("{std: 0}", "std may not be 0"),
        ("{mean: [.inf, 0, 0]}", "mean must be finite"),
        ("{scale: 0}", "scale may not be 0"),
        ("{offset: .nan}", "offset must be finite"),
    ],
)
def test_non_finite_or_zero_preprocessing_numbers_are_refused(
    preprocessing: str, problem: str
) -> None:
    text = (
        "version: 1\nmodels:\n  p:\n    provider: keras\n    source: X\n"
        f"    preprocessing: {preprocessing}\n"
    )
    with pytest.raises(RegistryError, match=problem) as info:
        parse_registry_text(text, "zoo.yaml")
    assert "zoo.yaml:6: models.p.preprocessing" in str(info.value)
