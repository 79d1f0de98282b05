"""Hostile input is a ZooError naming the file or setting, never "Error: unexpected X" (round 3).

Registry YAML with unhashable keys or values nested hundreds deep, a ``~user`` that names no
user, a published registry that is not valid YAML, a tampered checkpoint state.json or
history log, a timeout too large for the platform.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import zoo
from zoo import settings
from zoo.cli import main
from zoo.errors import FinetuneError, InvalidOptionError, RegistryError, ZooError
from zoo.registry import MAX_VALUE_DEPTH, entry_to_spec, load_registry_file, registry_locations

NO_USER = "~no_such_user_tfzoo_r3"


def _zoo(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _clear_failure(result: Result, *expected: str) -> None:
    """Exit 1 with one ``Error:`` line that is a ZooError's (not a bug's) and says ``expected``."""
    assert result.exit_code == 1, result.output
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


# -- registry files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("models:\n  ? [a, b]\n  : {provider: keras, source: MobileNetV2}\n", "list"),
        (
            "models:\n  ok: {provider: keras, source: MobileNetV2, options: {x: {? {a: 1} : 2}}}\n",
            "mapping",
        ),
        ("models:\n  ? !!set {a, b}\n  : {provider: keras, source: MobileNetV2}\n", "set"),
    ],
)
def test_an_unhashable_yaml_key_is_a_registry_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, kind: str
) -> None:
    path = tmp_path / "reg.yaml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=f"not a {kind}") as info:
        load_registry_file(path)
    assert info.value.path == str(path) and info.value.line == 2
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    _clear_failure(_zoo("list"), f"{path}:2:", f"not a {kind}")


@pytest.mark.parametrize("depth", [MAX_VALUE_DEPTH + 1, 500, 900])
def test_a_value_nested_too_deeply_is_a_registry_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: int
) -> None:
    path = tmp_path / "deep.yaml"
    value = "[" * (depth - 1) + "1" + "]" * (depth - 1)
    path.write_text(
        f"models:\n  x: {{provider: keras, source: MobileNetV2, options: {{a: {value}}}}}\n"
    )
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    _clear_failure(_zoo("list"), f"{path}:2: models.x.options:", f"more than {MAX_VALUE_DEPTH}")


def test_values_nested_up_to_the_bound_are_accepted(tmp_path: Path) -> None:
    value = "[" * (MAX_VALUE_DEPTH - 1) + "1" + "]" * (MAX_VALUE_DEPTH - 1)
    path = tmp_path / "deep.yaml"
    path.write_text(
        f"models:\n  x: {{provider: keras, source: MobileNetV2, options: {{a: {value}}}}}\n"
    )
    (spec,) = load_registry_file(path)
    assert spec.name == "x"


def test_a_plugins_cyclic_value_is_refused_not_walked_forever() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(RegistryError, match="nest more than"):
        entry_to_spec(
            "x", {"provider": "keras", "source": "m", "options": {"a": cyclic}}, origin="plugin"
        )


def test_a_registries_entry_naming_no_user_is_a_registry_error(isolated: Path) -> None:
    (isolated / "zoo.yaml").write_text(f"registries: ['{NO_USER}/team.yaml']\nmodels: {{}}\n")
    with pytest.raises(RegistryError, match="names no user") as info:
        registry_locations(isolated)
    assert info.value.path == str(isolated / "zoo.yaml")


# -- settings --------------------------------------------------------------------------------


def test_zoo_home_naming_no_user_is_a_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_HOME", f"{NO_USER}/x")
    with pytest.raises(InvalidOptionError, match="names no user's home directory"):
        settings.zoo_home()
    _clear_failure(_zoo("list"), f"ZOO_HOME={NO_USER}/x is invalid")


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("ZOO_PLUGIN_TIMEOUT", "1e300"),
        ("ZOO_PLUGIN_TIMEOUT", str(settings.MAX_SECONDS * 2)),
        ("ZOO_LOCK_TIMEOUT", "1e20"),
        ("ZOO_FETCH_MIN_RATE", "9" * 400),  # float() of it is an OverflowError
        ("ZOO_MAX_EXTRACT_BYTES", str(2**63)),
    ],
)
def test_values_beyond_the_bound_are_bad_settings(
    monkeypatch: pytest.MonkeyPatch, name: str, bad: str
) -> None:
    monkeypatch.setenv(name, bad)
    with pytest.raises(InvalidOptionError, match=f"{name}=.* is invalid: .*at most"):
        settings.value(name)


def test_a_huge_plugin_timeout_fails_the_command_not_every_plugin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZOO_PLUGIN_TIMEOUT", "1e300")
    _clear_failure(_zoo("plugins"), "ZOO_PLUGIN_TIMEOUT=1e300 is invalid", "at most")


def test_values_at_the_bound_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_PLUGIN_TIMEOUT", str(settings.MAX_SECONDS))
    assert settings.plugin_timeout() == settings.MAX_SECONDS
    monkeypatch.setenv("ZOO_MAX_EXTRACT_BYTES", str(settings.MAX_INT))
    assert settings.max_extract_bytes() == settings.MAX_INT


# -- zoo publish into a registry directory ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("models:\n  ? [a, b]\n  : {provider: keras}\n", 2, "unhashable key"),
        ('models: !!python/object/apply:os.system ["echo PWN"]\n', 1, "constructor"),
        ('models:\n  "bad name\x1b[31m": {provider: keras}\n', 2, "unacceptable character"),
        ("models: {a: [1\n", None, "not valid registry YAML"),
        ("models:\n  a: &x [*x]\n", 2, "recursive"),
    ],
)
def test_publishing_into_an_invalid_registry_file_is_a_registry_error(
    tmp_path: Path, text: str, line: int | None, says: str
) -> None:
    from zoo.workflows.publish import _read_registry

    path = tmp_path / "registry.yaml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=says) as info:
        _read_registry(path)
    assert info.value.path == str(path)
    if line is not None:
        assert info.value.line == line


def test_publishing_into_a_registry_file_that_is_not_utf8_is_a_registry_error(
    tmp_path: Path,
) -> None:
    from zoo.workflows.publish import _read_registry

    path = tmp_path / "registry.yaml"
    path.write_bytes(b"models: {\xff: 1}\n")
    with pytest.raises(RegistryError, match="UTF-8"):
        _read_registry(path)


# -- a tampered checkpoint directory ---------------------------------------------------------


def _record(**changes: object) -> dict[str, object]:
    from zoo.finetune.result import PhaseResult

    phase = PhaseResult("head", 1.5, epochs=2, history={"loss": [0.9, 0.5]}, learning_rate=0.01)
    return {**dataclasses.asdict(phase), **changes}


def _checkpoint(tmp_path: Path, state: object) -> Path:
    directory = tmp_path / "ck"
    directory.mkdir()
    (directory / "state.json").write_text(json.dumps(state))
    (directory / "head.weights.h5").write_bytes(b"")
    return directory


def _assert_damaged(info: pytest.ExceptionInfo[FinetuneError], directory: Path) -> None:
    message = str(info.value)
    assert str(directory) in message
    assert "delete the directory" in message and "new checkpoint_dir" in message


def test_a_valid_state_file_still_resumes(tmp_path: Path) -> None:
    from zoo.finetune.callbacks import RunState

    directory = _checkpoint(tmp_path, {"finished": {"head": _record()}})
    phase = RunState(directory).finished("head")
    assert phase is not None and phase.resumed and phase.history == {"loss": [0.9, 0.5]}


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ([{"finished": {}}], "holds a list"),
        ({"fingerprint": {}}, "no 'finished' object"),
        ({"finished": []}, "no 'finished' object"),
        ({"finished": {}, "fingerprint": "x"}, "'fingerprint'"),
        ({"finished": {"head": "done"}}, "is a str"),
        ({"finished": {"head": _record(extra=1)}}, "unknown keys"),
        ({"finished": {"head": {"epochs": 2}}}, "lacks its 'name'"),
        ({"finished": {"head": _record(epochs="2")}}, "epochs '2'"),
        ({"finished": {"head": _record(seconds=True)}}, "seconds True"),
        ({"finished": {"head": _record(history={"loss": "0.5"})}}, "not a list of numbers"),
        ({"finished": {"head": _record(history=[1])}}, "history"),
    ],
)
def test_a_tampered_state_file_is_a_finetune_error(
    tmp_path: Path, state: object, says: str
) -> None:
    from zoo.finetune.callbacks import RunState

    directory = _checkpoint(tmp_path, state)
    with pytest.raises(FinetuneError, match=says) as info:
        RunState(directory, {"recipe": {}, "data": "d", "model": "m"}).finished("head")
    _assert_damaged(info, directory)


@pytest.mark.parametrize(
    "text",
    [
        "epoch,loss\n0,oops\n",  # not a number
        "epoch,loss,accuracy\n0,0.5\n",  # a row cut short
        "epoch,loss\n0,0.5\x00\n",  # a NUL byte
    ],
)
def test_a_damaged_history_log_is_a_finetune_error(tmp_path: Path, text: str) -> None:
    from zoo.finetune.callbacks import RunState

    directory = _checkpoint(tmp_path, {"finished": {}})
    (directory / "head_history.csv").write_text(text)
    with pytest.raises(FinetuneError, match=r"head_history\.csv") as info:
        RunState(directory).history("head")
    _assert_damaged(info, directory)
    assert isinstance(info.value, ZooError)


def test_a_damaged_history_log_stops_the_resumed_run_before_it_trains(tmp_path: Path) -> None:
    """The log of the interrupted phase is checked when the directory is opened, not when
    that phase ends (after its training was spent)."""
    import keras

    from tests.finetune.util import FAST, blobs, fixed_backbone

    class Interrupted(Exception):
        pass

    class Calls(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self, stop_at: int | None = None) -> None:
            super().__init__()
            self.stop_at, self.begun = stop_at, 0

        def on_train_begin(self, logs: object = None) -> None:
            self.begun += 1

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            if epoch == self.stop_at:
                raise Interrupted

    x, y = blobs(32)
    run = {**FAST, "epochs": 4, "checkpoint_dir": str(tmp_path / "ck")}
    with pytest.raises(Interrupted):
        zoo.finetune(fixed_backbone(), (x, y), callbacks=[Calls(stop_at=1)], **run)
    log = tmp_path / "ck" / "head_history.csv"
    assert log.read_text().count("\n") == 3  # the header and epochs 0 and 1
    log.write_text(log.read_text().replace("\n1,", "\n1,oops", 1))
    again = Calls()
    with pytest.raises(FinetuneError, match=r"head_history\.csv is not a history log"):
        zoo.finetune(fixed_backbone(), (x, y), callbacks=[again], **run)
    assert again.begun == 0


def test_a_history_log_that_is_not_utf8_is_a_finetune_error(tmp_path: Path) -> None:
    from zoo.finetune.callbacks import RunState

    directory = _checkpoint(tmp_path, {"finished": {}})
    (directory / "head_history.csv").write_bytes(b"epoch,loss\n0,\xff\n")
    with pytest.raises(FinetuneError, match=r"head_history\.csv"):
        RunState(directory).history("head")


def test_the_record_types_follow_phase_result() -> None:
    from zoo.finetune.callbacks import RunState
    from zoo.finetune.result import PhaseResult

    assert set(RunState.RECORD_TYPES) == {f.name for f in dataclasses.fields(PhaseResult)}


@pytest.mark.parametrize(
    "call",
    [
        lambda p: zoo.load_backbone(p + "/m.keras"),
        lambda p: zoo.load_backbone(p + "/m.keras", weights=p + "/w.h5"),
        lambda p: zoo.load_backbone("hub:" + p + "/saved"),
        lambda p: zoo.predict(p + "/m.keras", [p + "/x.png"]),
    ],
)
def test_a_path_under_a_user_with_no_home_is_a_source_not_found(call: Any) -> None:
    """pathlib raises RuntimeError for ``~nouser``; every path a user gives says which."""
    with pytest.raises(zoo.SourceNotFoundError, match="names no user's home directory"):
        call("~no_such_user_zz9")
