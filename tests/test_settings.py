"""zoo.settings: the one table of environment settings, parsed one way, read at call time."""

from __future__ import annotations

import ast
import re
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo import settings
from zoo.cli import main
from zoo.download import is_offline
from zoo.download.archive import extract
from zoo.download.filelocks import ArtifactLock
from zoo.download.progress import progress_enabled
from zoo.errors import InvalidOptionError
from zoo.host.manager import PluginHost
from zoo.registry import registry_locations
from zoo.testing import ZOO_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    p
    for p in (*(ROOT / "zoo").rglob("*.py"), *(ROOT / "plugins").rglob("zoo_*/**/*.py"))
    if p.name != "settings.py" or p.parent.name != "zoo"
]


def _environment_reads(path: Path) -> list[str]:
    """``os.environ.get(...)``, ``os.getenv(...)`` and ``os.environ[...]`` reads in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        text = ast.unparse(node)
        if (isinstance(node, ast.Call) and re.match(r"^os\.(environ\.get|getenv)\(", text)) or (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and text.startswith("os.environ[")
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text}")
    return found


def test_no_module_but_settings_reads_the_environment() -> None:
    reads = [read for path in SOURCES for read in _environment_reads(path)]
    assert reads == [], "read environment variables through zoo.settings:\n" + "\n".join(reads)


def test_every_zoo_variable_named_in_the_code_is_in_the_table() -> None:
    named = set()
    for path in SOURCES:
        named |= set(re.findall(r"(?<![A-Z_])ZOO_[A-Z][A-Z_]*[A-Z]", path.read_text()))
    named -= {"ZOO_ENVIRONMENT"}  # zoo.testing's tuple, not a variable
    missing = named - set(settings.SETTINGS)
    assert not missing, f"add a Setting(...) to zoo.settings.SETTINGS for {sorted(missing)}"
    assert set(settings.SETTINGS) <= named | {"ZOO_HOME"}  # nothing listed that nobody uses


def test_table_entries_are_complete() -> None:
    for name, setting in {**settings.SETTINGS, **settings.EXTERNAL}.items():
        assert setting.name == name and setting.kind in settings.KINDS
        assert setting.help and "\n" not in setting.help and setting.used_by
    assert all(name.startswith("ZOO_") for name in settings.SETTINGS)
    assert not any(name.startswith("ZOO_") for name in settings.EXTERNAL)
    assert set(settings.SETTINGS) <= set(ZOO_ENVIRONMENT)  # isolated_zoo clears every one


@pytest.mark.parametrize("text", ["1", "true", "YES", " on "])
def test_booleans_accept_every_true_spelling(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    for name in ("ZOO_OFFLINE", "ZOO_REQUIRE_HASHES", "ZOO_DEBUG", "ZOO_PROGRESS"):
        monkeypatch.setenv(name, text)
        assert settings.value(name) is True
    assert is_offline() and settings.require_hashes() and settings.debug()


@pytest.mark.parametrize("text", ["0", "false", "No", "OFF"])
def test_booleans_accept_every_false_spelling(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", text)
    monkeypatch.setenv("ZOO_PROGRESS", text)
    assert not is_offline()
    assert progress_enabled(None) is False  # ZOO_PROGRESS=false silences even a terminal
    assert progress_enabled(True) is True  # the argument still wins


def test_unset_or_empty_takes_the_default_and_reads_happen_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "")
    assert is_offline() is False
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert is_offline() is True
    monkeypatch.delenv("ZOO_LOCK_TIMEOUT", raising=False)
    assert settings.lock_timeout() == 1800.0
    monkeypatch.setenv("ZOO_LOCK_TIMEOUT", "2.5")
    assert ArtifactLock(Path("x.lock")).wait == 2.5


@pytest.mark.parametrize(
    ("name", "bad", "accepts"),
    [
        ("ZOO_OFFLINE", "maybe", "1, true, yes, on or 0, false, no, off"),
        ("ZOO_LOCK_TIMEOUT", "soon", "a number of seconds >= 0"),
        ("ZOO_LOCK_TIMEOUT", "-1", "a number of seconds >= 0"),
        ("ZOO_MAX_EXTRACT_BYTES", "32G", "a whole number >= 0"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_accepts(
    monkeypatch: pytest.MonkeyPatch, name: str, bad: str, accepts: str
) -> None:
    monkeypatch.setenv(name, bad)
    with pytest.raises(InvalidOptionError) as info:
        settings.value(name)
    message = str(info.value)
    assert f"{name}={bad}" in message and accepts in message


def test_consumers_raise_on_bad_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every consumer goes through the table: a bad value fails where it is used."""
    monkeypatch.setenv("ZOO_OFFLINE", "perhaps")
    with pytest.raises(InvalidOptionError, match="ZOO_OFFLINE=perhaps"):
        is_offline()
    monkeypatch.setenv("ZOO_LOCK_TIMEOUT", "forever")
    with pytest.raises(InvalidOptionError, match="ZOO_LOCK_TIMEOUT=forever"):
        ArtifactLock(tmp_path / "a.lock")
    archive = tmp_path / "a.tar"
    (tmp_path / "f.txt").write_text("hello")
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "f.txt", arcname="f.txt")
    monkeypatch.setenv("ZOO_MAX_EXTRACT_MEMBERS", "many")
    with pytest.raises(InvalidOptionError, match="ZOO_MAX_EXTRACT_MEMBERS=many"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("ZOO_MAX_EXTRACT_MEMBERS", "0")
    with pytest.raises(Exception, match="ZOO_MAX_EXTRACT_MEMBERS"):  # the cap itself applies
        extract(archive, tmp_path / "out")


def test_plugin_lists_keep_set_but_empty_apart_from_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ZOO_LOAD_PLUGINS", raising=False)
    assert settings.load_plugins() is None
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "")
    assert settings.load_plugins() == frozenset()
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", " local , tfhub,")
    assert settings.block_plugins() == {"local", "tfhub"}
    host = PluginHost(entry_points=False)
    assert "local" not in host.provider_names() and "keras" in host.provider_names()


def test_registry_entries_keep_urls_whole(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    local = tmp_path / "extra.yaml"
    local.write_text("models: {}\n")
    monkeypatch.setenv("ZOO_REGISTRY", f"{local}:https://example.org:8443/r.yaml")
    assert settings.registry_entries() == [str(local), "https://example.org:8443/r.yaml"]
    assert registry_locations(tmp_path)[-2:] == settings.registry_entries()


def test_zoo_home_and_external_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_HOME", "~/zh")
    assert settings.zoo_home() == Path.home() / "zh"
    monkeypatch.delenv("ZOO_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if settings.sys.platform.startswith("linux"):
        assert settings.zoo_home() == tmp_path / "zoo"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    from zoo.savedmodel.handles import hub_cache_dir

    cached = hub_cache_dir("https://tfhub.dev/x/1")
    assert cached is not None and cached.parent == tmp_path / "hub"


def test_cli_reports_a_bad_zoo_debug_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_DEBUG", "loud")
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        line for line in result.output.strip().splitlines() if line.startswith("Error:")
    ]
    assert "ZOO_DEBUG=loud" in result.output and "Traceback" not in result.output
