"""The start-up caches (zoo.startup_cache): a changed registry file or a new plugin is seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dists import make_plugin_dist, pip_install

ENTRY = "  {name}:\n    provider: keras\n    source: ResNet50\n    description: {text}\n"


def zoo(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_a_changed_registry_file_is_read_again(isolated: Path) -> None:
    registry = isolated / "zoo.yaml"
    registry.write_text("models:\n" + ENTRY.format(name="mine_a", text="first"))
    first = zoo(isolated, "list", "mine*", "--json", ZOO_LOAD_PLUGINS="")
    assert [s["name"] for s in json.loads(first.stdout)] == ["mine_a"]
    cached = list((Path(os.environ["ZOO_HOME"]) / "startup").glob("registry-*.json"))
    assert cached  # the parsed files were kept

    again = zoo(isolated, "list", "mine*", "--json", ZOO_LOAD_PLUGINS="")
    assert json.loads(again.stdout) == json.loads(first.stdout)  # from the cache, the same

    # same size, same mtime second: only the content tells them apart
    stat = registry.stat()
    registry.write_text("models:\n" + ENTRY.format(name="mine_b", text="other"))
    os.utime(registry, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = zoo(isolated, "list", "mine*", "--json", ZOO_LOAD_PLUGINS="")
    assert [s["name"] for s in json.loads(changed.stdout)] == ["mine_b"]

    registry.write_text("models:\n  bad:\n    provider: keras\n")
    for _ in range(2):  # an invalid file is never cached: the error comes every time
        broken = zoo(isolated, "list", ZOO_LOAD_PLUGINS="")
        assert broken.returncode == 1 and "zoo.yaml:2: models.bad" in broken.stderr


def test_a_corrupt_cache_file_is_ignored(isolated: Path) -> None:
    (isolated / "zoo.yaml").write_text("models:\n" + ENTRY.format(name="mine_c", text="x"))
    zoo(isolated, "list", ZOO_LOAD_PLUGINS="")
    for path in (Path(os.environ["ZOO_HOME"]) / "startup").glob("*.json"):
        path.write_text('{"key": "')
    proc = zoo(isolated, "list", "mine*", "--json", ZOO_LOAD_PLUGINS="")
    assert proc.returncode == 0 and "mine_c" in proc.stdout


PLUGIN = """
import zoo

@zoo.hookimpl
def zoo_register_models(register):
    register("{model}", provider="keras", source="ResNet50")
"""


def _install(root: Path, target: Path, dist: str, module: str, model: str) -> None:
    src = make_plugin_dist(root, dist, module, PLUGIN.format(model=model))
    pip_install(target, src)


@pytest.mark.parametrize("cache", ["1", "0"])
def test_a_newly_installed_plugin_is_seen(isolated: Path, tmp_path: Path, cache: str) -> None:
    target = tmp_path / "site"
    env = {"PYTHONPATH": str(target), "ZOO_NO_STARTUP_CACHE": "0" if cache == "1" else "1"}
    _install(tmp_path / "src", target, "zoo-first", "zoo_first", "first_net")
    first = zoo(isolated, "list", "*_net", "--json", **env)
    assert [s["name"] for s in json.loads(first.stdout)] == ["first_net"], first.stderr
    _install(tmp_path / "src", target, "zoo-second", "zoo_second", "second_net")
    both = zoo(isolated, "list", "*_net", "--json", **env)
    assert [s["name"] for s in json.loads(both.stdout)] == ["first_net", "second_net"]
    plugins = zoo(isolated, "plugins", "--json", **env)
    assert {"zoo_first", "zoo_second"} <= {p["name"] for p in json.loads(plugins.stdout)}
