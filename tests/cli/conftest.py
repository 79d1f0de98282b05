"""Fixtures for the command-line tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from zoo.cli import main


class Zoo:
    """Runs `zoo ...` in process with CliRunner; stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, (
            f"zoo {' '.join(args)} exited {result.exit_code}, expected {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def zoo_cli() -> Zoo:
    return Zoo()
