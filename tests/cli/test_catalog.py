"""`zoo list`, `zoo info`, `zoo plugins`, `zoo install`, `zoo uninstall`, and error handling."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..dists import make_plugin_dist
from .conftest import Zoo


def test_list_table_and_pattern(zoo_cli: Zoo) -> None:
    out = zoo_cli("list", "inception*").stdout
    assert "inception_v3" in out and "inception_resnet_v2" in out and "resnet50" not in out
    assert "299x299x3" in out and "2048" in out and "2 models" in out


def test_list_json_filters(zoo_cli: Zoo) -> None:
    data = zoo_cli.json("list", "--provider", "keras", "--tag", "vgg")
    assert [d["name"] for d in data] == ["vgg16", "vgg19"]
    assert data[0]["input_shape"] == [224, 224, 3] and data[0]["preprocessing"] == "caffe"
    assert set(data[0]) >= {"name", "provider", "source", "tags", "aliases", "feature_dim"}


def test_list_nothing_matches(zoo_cli: Zoo) -> None:
    result = zoo_cli("list", "nothing*", "--provider", "nope")
    assert "0 models" in result.stdout and "zoo plugins" in result.stderr


def test_info_spec_and_json(zoo_cli: Zoo) -> None:
    out = zoo_cli("info", "InceptionV3").stdout
    assert "inception_v3" in out and "InceptionV3" in out
    data = zoo_cli.json("info", "resnet50")
    assert data["spec"]["source"] == "ResNet50" and "backbone" not in data


def test_info_load_shows_the_backbone(zoo_cli: Zoo) -> None:
    data = zoo_cli.json(
        "info",
        "resnet50",
        "--load",
        "-o",
        "weights=null",
        "-o",
        "include_top=true",
        "-o",
        "input_shape=[32,32,3]",
    )
    bb = data["backbone"]
    assert bb["feature_dim"] == 2048 and bb["classifier"] == "predictions"
    assert bb["num_classes"] == 1000 and bb["parameters"] > 20_000_000
    assert bb["input_spec"]["mode"] == "caffe" and bb["input_spec"]["shape"] == [32, 32, 3]
    text = zoo_cli("info", "vgg16", "--load", "-o", "weights=null", "-o", "input_shape=[32,32,3]")
    assert "loaded backbone" in text.stdout and "feature_dim" in text.stdout


def test_errors_are_one_line_with_exit_code_1(zoo_cli: Zoo) -> None:
    result = zoo_cli("info", "resnet_50", code=1)
    assert result.stderr.strip() == (
        "Error: unknown model 'resnet_50'; did you mean 'resnet50', 'resnet50_v2'?"
    ) or result.stderr.startswith("Error: unknown model 'resnet_50'; did you mean 'resnet50'")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = zoo_cli("info", "vgg16", "--load", "-o", "wieghts=null", code=1)
    assert "did you mean 'weights'" in result.stderr


def test_debug_shows_the_traceback(zoo_cli: Zoo) -> None:
    result = zoo_cli("--debug", "info", "nope", code=1)
    assert "Traceback" in result.stderr and "UnknownModelError" in result.stderr


def test_usage_errors_exit_2(zoo_cli: Zoo) -> None:
    assert "No such option" in zoo_cli("list", "--bogus", code=2).stderr
    assert "Missing argument" in zoo_cli("info", code=2).stderr
    assert "expected KEY=VALUE" in zoo_cli("info", "vgg16", "-o", "weights", code=2).stderr
    assert "No such command" in zoo_cli("lsit", code=2).stderr


def test_plugins_lists_builtins(zoo_cli: Zoo) -> None:
    rows = zoo_cli.json("plugins")
    keras_apps = next(r for r in rows if r["name"] == "keras_apps")
    assert (
        keras_apps["builtin"] and keras_apps["providers"] == ["keras"] and not keras_apps["error"]
    )
    assert "keras_apps" in zoo_cli("plugins").stdout


def test_listing_never_imports_tensorflow() -> None:
    code = (
        "import sys\n"
        "from zoo.cli import main\n"
        "for args in (['list'], ['list', 'res*', '--json'], ['info', 'vgg16'], ['plugins']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "print('TF', 'tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("TF False")


def _console_script() -> str:
    found = shutil.which("zoo", path=str(Path(sys.executable).parent)) or shutil.which("zoo")
    assert found, "the zoo console script is not installed"
    return found


def test_installed_console_script() -> None:
    proc = subprocess.run(
        [_console_script(), "list", "mobilenet*", "--json"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert [d["name"] for d in json.loads(proc.stdout)][:2] == ["mobilenet", "mobilenet_v2"]
    proc = subprocess.run([_console_script(), "info", "nope"], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: unknown model 'nope'")
    version = subprocess.run([_console_script(), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "zoo, version" in version.stdout


PLUGIN = """
import zoo

@zoo.hookimpl
def zoo_register_models(register):
    register("{model}", provider="keras", source="VGG16", tags=["cli-test"])
"""


def _plugin_dir(root: Path, dist: str, module: str, model: str) -> Path:
    return make_plugin_dist(root, dist, module, PLUGIN.format(model=model), "0.0.1")


def test_install_shows_what_the_new_plugin_registered(
    zoo_cli: Zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "site"
    src = _plugin_dir(tmp_path, "zoo-cli-demo", "zoo_cli_demo", "cli_demo_net")
    monkeypatch.setenv("PIP_TARGET", str(target))  # pip installs there, not into the test venv
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")  # "0" turns isolation off (pip's quirk)
    monkeypatch.syspath_prepend(str(target))
    rows = json.loads(zoo_cli("install", str(src), "--json").stdout)
    assert [(r["name"], r["distribution"], r["models"]) for r in rows] == [
        ("zoo_cli_demo", "zoo-cli-demo", ["cli_demo_net"])
    ]
    assert [d["name"] for d in zoo_cli.json("list", "--tag", "cli-test")] == ["cli_demo_net"]


def test_install_failure_is_exit_1(zoo_cli: Zoo, tmp_path: Path) -> None:
    result = zoo_cli("install", str(tmp_path / "does-not-exist"), code=1)
    assert "pip install failed" in result.stderr


@pytest.mark.slow
def test_install_and_uninstall_in_this_environment(zoo_cli: Zoo, tmp_path: Path) -> None:
    src = _plugin_dir(tmp_path, "zoo-cli-roundtrip", "zoo_cli_roundtrip", "roundtrip_net")
    try:
        zoo_cli("install", str(src))
        assert [d["name"] for d in zoo_cli.json("list", "roundtrip*")] == ["roundtrip_net"]
        out = zoo_cli("uninstall", "-y", "zoo-cli-roundtrip").stdout
        assert "removed plugins: zoo_cli_roundtrip" in out
        assert zoo_cli.json("list", "roundtrip*") == []
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-y", "-q", "zoo-cli-roundtrip"],
            env={**os.environ},
            capture_output=True,
        )
