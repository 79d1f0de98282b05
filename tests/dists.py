"""Throw-away plugin distributions that tests pip-install for real."""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_plugin_dist(root: Path, dist: str, module: str, code: str, version: str = "1.0") -> Path:
    """A source tree of distribution ``dist`` whose module ``module`` is a ``zoo`` entry point."""
    src = root / dist
    (src / module).mkdir(parents=True)
    (src / module / "__init__.py").write_text(code)
    (src / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "{dist}"
            version = "{version}"

            [project.entry-points.zoo]
            {module} = "{module}"

            [tool.hatch.build.targets.wheel]
            packages = ["{module}"]
            """
        )
    )
    return src
