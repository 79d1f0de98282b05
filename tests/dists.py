"""Throw-away plugin distributions that tests pip-install for real."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any


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


def pip_install(target: Path, *sources: Path | str) -> Path:
    """``pip install --target target`` the plugin source trees (no deps, no build isolation)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "--target", str(target), *map(str, sources)], check=True)
    return target


def install_plugins(root: Path, plugins: dict[str, str]) -> Path:
    """Every ``name -> code`` as distribution ``zoo-<name>`` (module ``zoo_<name>``),
    pip-installed for real into ``root / "site"``, which is returned."""
    sources = [
        make_plugin_dist(root, f"zoo-{name.replace('_', '-')}", f"zoo_{name}", code)
        for name, code in plugins.items()
    ]
    return pip_install(root / "site", *sources)


def run_zoo_with_plugin(
    site: Path, plugin: str, *args: str, plugin_timeout: str, guard: float
) -> Any:
    """``zoo ARGS`` in a fresh process that loads only entry-point plugin ``zoo_<plugin>``
    from ``site``; ``guard`` seconds bound a hang (not a speed assertion)."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "ZOO_LOAD_PLUGINS": f"zoo_{plugin}",
        "ZOO_PLUGIN_TIMEOUT": plugin_timeout,
    }
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args], capture_output=True, text=True, env=env,
        timeout=guard,
    )  # fmt: skip
