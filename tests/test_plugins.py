"""The plugin host: built-ins, entry points, broken plugins, allow/block lists, duplicates (F23)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import zoo
from zoo.errors import (
    DuplicateNameError,
    FetchError,
    NoProviderError,
    PluginError,
    PluginLoadError,
    PluginWarning,
)
from zoo.host.manager import PluginHost
from zoo.session import Session

from .conftest import MemoryPlugin, MemoryProvider
from .dists import make_plugin_dist, pip_install


def test_builtins_are_ordinary_plugins(host: PluginHost) -> None:
    (info,) = [i for i in host.info() if i.name == "keras_apps"]
    assert info.builtin and info.loaded
    assert info.providers == ["keras"]
    assert host.provider("keras").name == "keras"
    assert host.provider_owner("keras") == "keras_apps"


def test_in_memory_plugin_registers_provider_and_model(memory_session: Session) -> None:
    info = memory_session.host.plugin("memory")
    assert info.providers == ["memory"] and info.models == ["tiny"]
    spec = memory_session.get_spec("tiny")
    assert spec.origin == "plugin memory" and spec.tags == ("test",)
    backbone = memory_session.load_backbone("tiny")
    assert backbone.provider == "memory" and backbone.num_classes == 10
    assert memory_session.load_backbone("mem://tiny").name == "tiny"  # claimed ad-hoc source
    assert memory_session.load_backbone("memory:tiny", classes=4).num_classes == 4


def test_misspelt_hook_is_reported_and_plugin_skipped(host: PluginHost) -> None:
    class Misspelt:
        @zoo.hookimpl
        def zoo_register_provider(self, register: Any) -> None:  # missing "s"
            register(MemoryProvider())

    with pytest.warns(PluginWarning, match="zoo_register_provider"):
        info = host.add_plugin(Misspelt(), "misspelt")
    assert "did you mean 'zoo_register_providers'" in (info.error or "")
    assert "memory" not in host.provider_names()
    assert host.provider("keras")  # the rest keeps working


def test_hook_that_raises_is_reported_and_nothing_of_it_kept(host: PluginHost) -> None:
    class Raises:
        @zoo.hookimpl
        def zoo_register_providers(self, register: Any) -> None:
            register(MemoryProvider())
            raise RuntimeError("boom")

    host.add_plugin(Raises(), "raises")
    with pytest.warns(PluginWarning, match="boom"):
        errors = host.errors()
    assert "RuntimeError: boom" in errors["raises"]
    assert "memory" not in host.provider_names()  # staged registrations were dropped
    assert host.provider("keras")


def test_invalid_registrations_are_reported(host: PluginHost) -> None:
    class BadProvider:
        @zoo.hookimpl
        def zoo_register_providers(self, register: Any) -> None:
            register(object())

    class BadModel:
        @zoo.hookimpl
        def zoo_register_models(self, register: Any) -> None:
            register("x", provider="keras")  # no source

    host.add_plugin(BadProvider(), "bad_provider")
    host.add_plugin(BadModel(), "bad_model")
    with pytest.warns(PluginWarning):
        errors = host.errors()
    assert "non-empty 'name'" in errors["bad_provider"]
    assert "missing required key 'source'" in errors["bad_model"]


def test_duplicate_provider_and_model_names_name_both_plugins(host: PluginHost) -> None:
    host.add_plugin(MemoryPlugin(), "first")
    host.add_plugin(MemoryPlugin(), "second")
    session = Session(host)
    with pytest.warns(PluginWarning, match="registered by both 'first' and 'second'"):
        host.provider_names()
    with pytest.raises(DuplicateNameError, match="'first' and 'second'") as info:
        host.provider("memory")
    assert info.value.plugins == ["first", "second"]
    with pytest.raises(DuplicateNameError, match="model 'tiny'"):
        session.get_spec("tiny")
    assert [s.name for s in session.list_models("tiny")] == ["tiny"]  # listing still works
    assert session.get_spec("vgg16")  # and the rest of the zoo


def test_user_file_resolves_a_plugin_model_conflict(host: PluginHost, isolated: Path) -> None:
    host.add_plugin(MemoryPlugin(), "first")
    host.add_plugin(MemoryPlugin(), "second")
    (isolated / "zoo.yaml").write_text("models:\n  tiny:\n    provider: keras\n    source: VGG16\n")
    with pytest.warns(PluginWarning):
        assert Session(host).get_spec("tiny").source == "VGG16"


def test_unknown_provider_lists_registered_ones(host: PluginHost) -> None:
    with pytest.raises(NoProviderError, match=r"no provider named 'kears'; did you mean 'keras'"):
        host.provider("kears")


def test_a_provider_whose_plugin_failed_says_which_plugin_and_why(
    host: PluginHost, isolated: Path
) -> None:
    """F23: asking for what a broken plugin would have provided names it and its error."""

    class Raises:
        @zoo.hookimpl
        def zoo_register_providers(self, register: Any) -> None:
            raise RuntimeError("no GPU driver")

    host.add_plugin(Raises(), "zoo_memory")
    (isolated / "zoo.yaml").write_text("models:\n  net:\n    provider: memory\n    source: tiny\n")
    with pytest.warns(PluginWarning), pytest.raises(PluginLoadError) as info:
        Session(host).load_backbone("net")
    error = info.value
    assert isinstance(error, NoProviderError) and isinstance(error, PluginError)
    assert (error.plugin, error.provider) == ("zoo_memory", "memory")
    assert "'zoo_memory': zoo_register_providers raised RuntimeError: no GPU driver" in str(error)
    assert "ZOO_BLOCK_PLUGINS=zoo_memory" in str(error)
    with pytest.raises(zoo.UnknownModelError) as unknown:  # its models are missing too
        Session(host).load_backbone("tiny")
    assert "'zoo_memory': zoo_register_providers raised RuntimeError" in str(unknown.value)


def test_with_no_failed_plugin_a_missing_provider_is_a_no_provider_error(
    host: PluginHost,
) -> None:
    with pytest.raises(NoProviderError) as info:
        host.provider("memory")
    assert not isinstance(info.value, PluginLoadError)


def test_errors_name_the_model_provider_and_plugin_that_raised_them(host: PluginHost) -> None:
    """Shared code (a fetch) does not know its caller: the Session fills that in."""

    class Fetching(MemoryProvider):
        def load(self, spec: zoo.ModelSpec) -> Any:
            raise FetchError("could not fetch http://127.0.0.1:1/x", url="http://127.0.0.1:1/x")

    class FetchingPlugin:
        @zoo.hookimpl
        def zoo_register_providers(self, register: Any) -> None:
            register(Fetching())

    host.add_plugin(FetchingPlugin(), "fetching_plugin")
    with pytest.raises(FetchError) as info:
        Session(host).load_backbone("memory:net")
    assert (info.value.model, info.value.provider, info.value.plugin) == (
        "net",
        "memory",
        "fetching_plugin",
    )


def test_block_a_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "keras_apps")
    host = PluginHost(entry_points=False)
    assert host.plugin("keras_apps").blocked
    assert "keras" not in host.provider_names()
    with pytest.raises(NoProviderError):
        Session(host).load_backbone("vgg16")


def test_provider_returning_something_else_is_a_plugin_error(host: PluginHost) -> None:
    class Liar(MemoryProvider):
        name = "liar"

        def load(self, spec: zoo.ModelSpec) -> Any:
            return "not a backbone"

    class LiarPlugin:
        @zoo.hookimpl
        def zoo_register_providers(self, register: Any) -> None:
            register(Liar())

    host.add_plugin(LiarPlugin(), "liar_plugin")
    with pytest.raises(PluginError, match="returned str") as info:
        Session(host).load_backbone("liar:tiny")
    assert info.value.plugin == "liar_plugin"


# -- real installed distributions ---------------------------------------------------------

PLUGIN_CODE = """
import zoo

class EchoProvider(zoo.Provider):
    name = "echo"
    def load(self, spec):
        raise zoo.SourceNotFoundError("echo has no models", provider="echo")

@zoo.hookimpl
def zoo_register_providers(register):
    register(EchoProvider())

@zoo.hookimpl
def zoo_register_models(register):
    register("echo_net", provider="echo", source="net", tags=["echo"], description="from a plugin")
"""


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real distributions pip-installed into a target directory: one good, one broken."""
    root = tmp_path_factory.mktemp("dists")
    target = root / "site"
    good = make_plugin_dist(root, "zoo-echo", "zoo_echo", PLUGIN_CODE, "1.2.3")
    broken = make_plugin_dist(
        root, "zoo-broken", "zoo_broken", "raise ImportError('broken on purpose')\n"
    )
    pip_install(target, good, broken)
    return target


@pytest.fixture
def on_path(installed_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(installed_plugins))
    importlib.invalidate_caches()
    return installed_plugins


def test_installed_entry_point_is_discovered_and_broken_one_reported(on_path: Path) -> None:
    with pytest.warns(PluginWarning, match="broken on purpose"):
        host = PluginHost()
    echo = host.plugin("zoo_echo")
    assert (echo.distribution, echo.version, echo.providers, echo.models) == (
        "zoo-echo",
        "1.2.3",
        ["echo"],
        ["echo_net"],
    )
    broken = host.plugin("zoo_broken")
    assert broken.distribution == "zoo-broken" and "broken on purpose" in (broken.error or "")
    session = Session(host)
    assert session.get_spec("echo_net").description == "from a plugin"
    assert session.get_spec("vgg16")
    with pytest.raises(zoo.SourceNotFoundError) as raised:
        session.load_backbone("echo_net")
    assert (raised.value.model, raised.value.provider, raised.value.plugin) == (
        "echo_net",
        "echo",
        "zoo_echo",
    )
    with pytest.raises(PluginLoadError, match="ImportError: broken on purpose") as failed:
        host.provider("broken")
    assert failed.value.plugin == "zoo_broken"


def test_allowlist_and_blocklist(on_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "zoo_echo")
    host = PluginHost()  # the broken plugin is not even imported: no warning
    assert "zoo_broken" not in host.plugin_names() and "echo" in host.provider_names()
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "")
    host = PluginHost()
    assert "zoo_echo" not in host.plugin_names() and "keras" in host.provider_names()
    monkeypatch.delenv("ZOO_LOAD_PLUGINS")
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "zoo-broken,zoo_echo")
    host = PluginHost()
    assert host.plugin("zoo_echo").blocked and host.plugin("zoo_broken").blocked
    assert "echo" not in host.provider_names()


def test_broken_plugin_does_not_break_zoo_list_command(on_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(on_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "zoo", "list", "echo*", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"echo_net"' in proc.stdout
    assert "zoo_broken" in proc.stderr and "broken on purpose" in proc.stderr


def test_specific_claims_are_asked_before_the_local_catch_all(
    host: PluginHost, tmp_path: Path
) -> None:
    """A plugin's provider of one directory format wins over `local`, which claims any path."""

    class MarkedDirs(MemoryProvider):
        name = "marked"

        def claim(self, source: object) -> str | None:
            marked = isinstance(source, str) and (Path(source) / "MARKER").is_file()
            return "tiny" if marked else None

    class MarkedPlugin:
        @zoo.hookimpl
        def zoo_register_providers(self, register: Any) -> None:
            register(MarkedDirs())

    host.add_plugin(MarkedPlugin(), "marked_plugin")  # registered after the built-ins
    session = Session(host)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "MARKER").write_text("")
    (tmp_path / "other").mkdir()
    assert session.spec_for(str(tmp_path / "mine")).provider == "marked"
    assert session.spec_for(str(tmp_path / "other")).provider == "local"
