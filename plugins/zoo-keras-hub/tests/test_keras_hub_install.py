"""pip install the plugin into a fresh environment, see `zoo` find it, uninstall, see it gone.

The test environment usually has the plugin installed already (editable, by `make test`).
The fresh environment is a venv without pip whose site-packages sees this environment's
packages through a filtered view that leaves out every zoo_keras_hub file, so the only copy
of the plugin it can find is the one this test installs.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1]


def _run(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ZOO_LOAD_PLUGINS")}
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env)


def _zoo(python: Path, *args: str) -> Any:
    proc = _run(python, "-m", "zoo", *args, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _pip(python: Path, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


@pytest.fixture
def fresh_env(tmp_path: Path) -> Path:
    """A venv (no pip) that sees this environment's packages minus the plugin; its python."""
    view = tmp_path / "view"
    view.mkdir()
    for root in site.getsitepackages():
        for entry in Path(root).iterdir():
            if "zoo_keras_hub" not in entry.name and not (view / entry.name).exists():
                (view / entry.name).symlink_to(entry)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    # a .pth "import" line runs at start-up: the view's own .pth files (editable tfzoo) apply
    Path(own.stdout.strip(), "_parent_view.pth").write_text(
        f"import site; site.addsitedir({str(view)!r})\n"
    )
    return python


def test_pip_install_is_discovered_and_uninstall_removes_it(fresh_env: Path) -> None:
    before = {p["name"] for p in _zoo(fresh_env, "plugins")}
    assert "keras_apps" in before and "keras_hub" not in before

    _pip(fresh_env, "install", "-q", "--no-deps", "--no-build-isolation", str(PLUGIN_DIR))
    (plugin,) = [p for p in _zoo(fresh_env, "plugins") if p["name"] == "keras_hub"]
    assert plugin["distribution"] == "zoo-keras-hub" and plugin["error"] is None
    assert plugin["providers"] == ["keras_hub"] and len(plugin["models"]) > 50
    listed = _zoo(fresh_env, "list", "--provider", "keras_hub")
    assert "resnet_50_imagenet" in {m["name"] for m in listed}
    where = _run(fresh_env, "-c", "import zoo_keras_hub; print(zoo_keras_hub.__file__)")
    purelib = _run(fresh_env, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    assert where.stdout.startswith(purelib.stdout.strip())  # the copy pip just installed

    _pip(fresh_env, "uninstall", "-y", "-q", "zoo-keras-hub")
    assert {p["name"] for p in _zoo(fresh_env, "plugins")} == before
    assert _zoo(fresh_env, "list", "--provider", "keras_hub") == []
    assert _zoo(fresh_env, "list", "inception_v3")  # the rest of the zoo is untouched
    left = [p.name for p in Path(purelib.stdout.strip()).iterdir() if "keras_hub" in p.name]
    assert left == []
