"""What a new user hit in the CLI (issue 16): clear refusals, hints, honest exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import Zoo


def test_list_without_a_wildcard_hints_at_one(zoo_cli: Zoo) -> None:
    result = zoo_cli("list", "resnet")
    assert "try 'resnet*'" in result.stderr
    assert "try" not in zoo_cli("list", "resnet*").stderr


def test_info_of_a_missing_file_fails(zoo_cli: Zoo, tmp_path: Path) -> None:
    result = zoo_cli("info", str(tmp_path / "nofile.keras"), code=1)
    assert "no such file or directory" in result.stderr


def test_a_misspelt_path_gets_the_names_beside_it(zoo_cli: Zoo, tmp_path: Path) -> None:
    """`zoo info`, `zoo predict` and `zoo.load_backbone` on a typo name the file meant."""
    import keras

    import zoo
    from zoo.errors import SourceNotFoundError, path_hint

    tiny = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    tiny.save(tmp_path / "model.keras")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "cat.png").write_bytes(b"x")
    meant = str(tmp_path / "model.keras")
    assert (
        f"did you mean {meant!r}?" in zoo_cli("info", str(tmp_path / "modle.keras"), code=1).stderr
    )
    result = zoo_cli("predict", str(tmp_path / "modle.keras"), str(tmp_path), code=1)
    assert f"did you mean {meant!r}?" in result.stderr
    result = zoo_cli("predict", meant, str(tmp_path / "imagse" / "cat.png"), code=1)
    assert f"did you mean {str(tmp_path / 'images' / 'cat.png')!r}?" in result.stderr
    try:
        zoo.load_backbone(str(tmp_path / "modle.keras"))
    except SourceNotFoundError as exc:
        assert f"did you mean {meant!r}?" in str(exc)
    else:
        raise AssertionError("zoo.load_backbone of a missing file did not fail")
    with pytest.raises(zoo.DataError, match=r"did you mean .*images'\?"):
        zoo.finetune(meant, str(tmp_path / "imagse"), epochs=1)
    # nothing close, nothing said; a name with a control character is quoted, not printed
    assert path_hint(tmp_path / "zzzzzz.keras") == ""
    assert path_hint(tmp_path / "no" / "such" / "dir") == ""
    (tmp_path / "mo\x1bdel.h5").write_bytes(b"x")
    assert "\x1b" not in path_hint(tmp_path / "model.h5") and "\\x1b" in path_hint(
        tmp_path / "model.h5"
    )


def test_a_misspelt_override_is_refused_without_load(zoo_cli: Zoo) -> None:
    result = zoo_cli("info", "resnet50", "-o", "wieghts=null", code=1)
    assert "did you mean 'weights'" in result.stderr


def test_one_channel_on_a_caffe_model_is_refused_clearly(zoo_cli: Zoo) -> None:
    result = zoo_cli("info", "resnet50", "--load", "-o", "input_shape=[96,96,1]", code=1)
    assert "has 1 channel(s)" in result.stderr and "'caffe'" in result.stderr
    assert "unexpected" not in result.stderr
    assert zoo_cli.json("info", "resnet50", "-o", "input_shape=[96,96,3]")["spec"]["input_shape"]


def test_bad_options_fail_before_tensorflow_is_imported() -> None:
    code = (
        "import sys\n"
        "from zoo.cli import main\n"
        "try:\n"
        "    main(['info', 'resnet50', '--load', '-o', 'input_shape=96'])\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, 'tensorflow' in sys.modules)\n"
    )
    env = {**os.environ, "ZOO_LOAD_PLUGINS": ""}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.stdout.split() == ["1", "False"], proc.stderr
    assert "input_shape=96 is invalid" in proc.stderr


def test_plugins_count_the_registry_entries_built_ins_serve(zoo_cli: Zoo) -> None:
    rows = {r["name"]: r for r in zoo_cli.json("plugins")}
    assert rows["keras_apps"]["serves"] >= 40 and rows["tfhub"]["serves"] > 0
    table = zoo_cli("plugins").stdout
    line = next(ln for ln in table.splitlines() if ln.startswith("keras_apps"))
    assert str(rows["keras_apps"]["serves"]) in line.split()


def test_control_characters_are_never_printed_raw(zoo_cli: Zoo, isolated: Path) -> None:
    (isolated / "zoo.yaml").write_text(
        "models:\n  evil:\n    provider: keras\n    source: ResNet50\n"
        '    description: "\\e]0;owned\\a\\e[2J\\e[31mred [bold]markup[/bold]"\n'
        '    license: "\\e[5mMIT"\n'
    )
    for args in (("info", "evil"), ("list", "evil")):
        out = zoo_cli(*args).stdout
        assert "\x1b" not in out and "\x07" not in out
        assert "\\x1b" in out
    assert "[bold]markup[/bold]" in zoo_cli("info", "evil").stdout  # shown, not interpreted


def _png(path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.full((12, 12, 3), 128, "uint8")).save(path)


def test_finetune_on_a_folder_without_class_folders_says_so(zoo_cli: Zoo, tmp_path: Path) -> None:
    flat = tmp_path / "bright"
    flat.mkdir()
    for i in range(3):
        _png(flat / f"{i}.png")
    result = zoo_cli("finetune", "mobilenet_v2", "--data", str(flat), "-o", "weights=null", code=1)
    assert "expected one sub-folder per class" in result.stderr
    assert "it holds 3 images" in result.stderr


def test_install_of_an_installed_plugin_says_so(tmp_path: Path) -> None:
    from tests.dists import make_plugin_dist

    code = "import zoo\n\n@zoo.hookimpl\ndef zoo_register_models(register):\n    pass\n"
    src = make_plugin_dist(tmp_path, "zoo-twice", "zoo_twice", code, "2.0")
    target = tmp_path / "site"
    env = {
        **os.environ,
        "PIP_TARGET": str(target),  # pip installs there, and zoo sees it on PYTHONPATH
        "PIP_NO_BUILD_ISOLATION": "0",  # pip reads this one inverted: 0 = no isolation
        "PIP_NO_DEPS": "1",
        "PYTHONPATH": str(target),
    }
    first = subprocess.run(
        [sys.executable, "-m", "zoo", "install", str(src)], capture_output=True, text=True, env=env
    )
    assert first.returncode == 0, first.stderr
    assert "zoo_twice" in first.stdout
    again = subprocess.run(
        [sys.executable, "-m", "zoo", "install", str(src)], capture_output=True, text=True, env=env
    )
    assert again.returncode == 0, again.stderr
    assert "already installed: zoo-twice 2.0 (plugin zoo_twice)" in again.stderr
    assert "register no 'zoo' entry point" not in again.stderr
