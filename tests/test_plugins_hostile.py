"""Hostile plugins (F31): SystemExit, hangs and Ctrl-C at import or in a hook, a second `local`.

Each is a real distribution pip-installed into a target directory, and `zoo` runs in a fresh
process with it on the path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dists import install_plugins, run_zoo_with_plugin

HOOK = """
import zoo

@zoo.hookimpl
def zoo_register_models(register):
    {body}
"""

PLUGINS = {
    "exits_on_import": "import sys\nsys.exit(3)\n",
    "hangs_on_import": "import time\ntime.sleep(3600)\n",
    "exits_in_hook": HOOK.format(body="raise SystemExit(4)"),
    "hangs_in_hook": HOOK.format(body="import time; time.sleep(3600)"),
    "interrupts_in_hook": HOOK.format(body="raise KeyboardInterrupt"),
    "second_local": """
import zoo

class Local(zoo.Provider):
    name = "local"
    def load(self, spec):
        raise zoo.SourceNotFoundError("no", provider="local")

@zoo.hookimpl
def zoo_register_providers(register):
    register(Local())
""",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every hostile plugin, pip-installed for real into one target directory."""
    return install_plugins(tmp_path_factory.mktemp("hostile"), PLUGINS)


def zoo(site: Path, plugin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`zoo ARGS` in a fresh process that loads only entry-point plugin ``zoo_<plugin>``."""
    return run_zoo_with_plugin(site, plugin, *args, plugin_timeout="2", guard=300)


@pytest.mark.parametrize(
    ("plugin", "says"),
    [
        ("exits_on_import", "SystemExit(3)"),
        ("exits_in_hook", "SystemExit(4)"),
        ("hangs_on_import", "did not finish within 2 s (ZOO_PLUGIN_TIMEOUT)"),
        ("hangs_in_hook", "did not finish within 2 s (ZOO_PLUGIN_TIMEOUT)"),
    ],
)
def test_a_plugin_that_exits_or_hangs_is_reported_and_skipped(
    site: Path, plugin: str, says: str
) -> None:
    proc = zoo(site, plugin, "list", "vgg*")
    assert proc.returncode == 0, proc.stderr
    assert "vgg16" in proc.stdout  # the rest of tfzoo works
    assert f"zoo_{plugin}" in proc.stderr and says in proc.stderr
    assert f"ZOO_BLOCK_PLUGINS=zoo_{plugin}" in proc.stderr

    shown = zoo(site, plugin, "plugins")
    assert shown.returncode == 0 and f"zoo_{plugin}" in shown.stdout and "error" in shown.stdout


def test_ctrl_c_in_a_hook_exits_130_naming_the_plugin(site: Path) -> None:
    proc = zoo(site, "interrupts_in_hook", "list")
    assert proc.returncode == 130, proc.stderr
    assert "Aborted!" not in proc.stderr
    assert "plugin 'zoo_interrupts_in_hook' running zoo_register_models" in proc.stderr
    assert "ZOO_BLOCK_PLUGINS=zoo_interrupts_in_hook" in proc.stderr


def test_a_second_local_provider_is_named_instead_of_an_unknown_model(
    site: Path, tmp_path: Path
) -> None:
    path = tmp_path / "net.keras"
    path.write_bytes(b"not really")
    proc = zoo(site, "second_local", "info", str(path))
    assert proc.returncode == 1
    assert "unknown model" not in proc.stderr
    assert "provider 'local' is registered by both 'local' and 'zoo_second_local'" in proc.stderr
    listed = zoo(site, "second_local", "info", "resnt50")  # a name still gets suggestions
    assert listed.returncode == 1 and "did you mean 'resnet50'" in listed.stderr


def test_a_bad_timeout_setting_is_an_error(site: Path) -> None:
    env = {**os.environ, "ZOO_PLUGIN_TIMEOUT": "soon", "ZOO_LOAD_PLUGINS": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "zoo", "list"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 1 and "ZOO_PLUGIN_TIMEOUT=soon is invalid" in proc.stderr
