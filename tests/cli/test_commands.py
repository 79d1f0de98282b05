"""Commands are imported on demand: the table in zoo.cli._app names each command's module."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click

from zoo.cli import main
from zoo.cli._app import COMMANDS

CLI = Path(__file__).resolve().parents[2] / "zoo" / "cli"


def test_the_table_names_every_command_and_the_module_that_defines_it() -> None:
    modules = sorted(
        p.stem for p in CLI.glob("*.py") if not p.stem.startswith("_") and p.stem != "__main__"
    )
    for module in modules:
        importlib.import_module(f"zoo.cli.{module}")
    assert set(main.commands) == set(COMMANDS)
    for name, command in main.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == f"zoo.cli.{COMMANDS[name]}", name


def test_help_lists_every_command_with_its_summary() -> None:
    ctx = click.Context(main, info_name="zoo")
    text = main.get_help(ctx)
    for name in COMMANDS:
        assert f"\n  {name} " in text, name
    assert "List registered models" in text and "Fine-tune NAME" in text


def test_zoo_list_imports_only_what_listing_needs(tmp_path: Path) -> None:
    """`zoo list` in a fresh process: no other command's module, no PyYAML, rich or HTTP."""
    code = (
        "import sys\n"
        "from zoo.cli import main\n"
        "try:\n"
        "    main(['list'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(sorted(m for m in sys.modules if m.startswith('zoo.cli.') or m in BAD))\n"
    ).replace(
        "BAD",
        repr(
            (
                "yaml",
                "rich",
                "tensorflow",
                "zoo.download.fetcher",
                "zoo.finetune.recipe",
                "zoo.export.report",
                "zoo.api",
            )
        ),
    )
    env = {**os.environ, "ZOO_HOME": str(tmp_path / "home")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        for _ in range(2)  # the first fills the start-up caches, as any earlier command would
    ]
    assert runs[1].stdout.strip().splitlines()[-1] == "['zoo.cli._app', 'zoo.cli.catalog']"


def test_an_unknown_command_still_gets_a_suggestion() -> None:
    proc = subprocess.run([sys.executable, "-m", "zoo", "finetnue"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Did you mean 'finetune'?" in proc.stderr
