"""A plugin's Provider.claim() is bounded and isolated like its hooks (F31, F23).

One provider whose claim() raises, never returns, answers nonsense, or whose claim_order is
not a number used to break (or hang) every path and URL source of every command while `zoo
plugins` said "ok". Now it is reported (naming the plugin and ZOO_BLOCK_PLUGINS), skipped
within ZOO_PLUGIN_TIMEOUT, the built-in providers still claim the source, and `zoo plugins`
shows the error. In-process tests register providers on a real PluginHost; the last ones
pip-install throw-away distributions and run `zoo` in a fresh process.
"""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import zoo
from zoo.errors import PluginLoadError, PluginWarning, SourceNotFoundError, UnknownModelError
from zoo.host.manager import PluginHost
from zoo.session import Session

from .conftest import MemoryProvider
from .dists import install_plugins, run_zoo_with_plugin


def _plugin(provider: zoo.Provider) -> object:
    class Plugin:
        @zoo.hookimpl
        def zoo_register_providers(self, register: Any) -> None:
            register(provider)

    return Plugin()


def _host_with(provider: zoo.Provider, name: str = "sly") -> PluginHost:
    host = PluginHost(entry_points=False)
    host.add_plugin(_plugin(provider), name)
    return host


@pytest.fixture
def model_file(tmp_path: Path) -> str:
    path = tmp_path / "mine" / "net.keras"
    path.parent.mkdir()
    path.write_bytes(b"")
    return str(path)


class Raises(MemoryProvider):
    name = "sly"
    claim_order: ClassVar[int] = -1  # asked before every built-in
    calls = 0

    def claim(self, source: object) -> str | None:
        type(self).calls += 1
        raise RuntimeError("claim bug")


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    Raises.calls = 0


def test_a_claim_that_raises_is_reported_once_and_the_built_ins_claim(model_file: str) -> None:
    host = _host_with(Raises())
    session = Session(host)
    with pytest.warns(PluginWarning, match="claim bug") as caught:
        spec = session.spec_for(model_file)
    assert spec.provider == "local" and spec.source == model_file
    (warning,) = [str(w.message) for w in caught if "sly" in str(w.message)]
    assert "provider 'sly': claim() raised RuntimeError: claim bug" in warning
    assert "ZOO_BLOCK_PLUGINS=sly" in warning
    assert session.spec_for(model_file).provider == "local"
    assert Raises.calls == 1  # not asked again
    assert "sly" not in host.provider_names()
    info = host.plugin("sly")
    assert not info.loaded and "claim() raised RuntimeError" in (info.error or "")
    with pytest.raises(UnknownModelError, match="'sly': provider 'sly': claim"):
        session.spec_for("sly:anything")  # the note says which plugin broke


def test_a_prefixed_source_of_a_provider_whose_claim_raises_names_the_plugin() -> None:
    session = Session(_host_with(Raises()))
    with (
        pytest.warns(PluginWarning, match="claim bug"),
        pytest.raises(PluginLoadError, match="claim bug") as error,
    ):
        session.resolve("sly:anything", {})
    assert error.value.plugin == "sly" and "ZOO_BLOCK_PLUGINS=sly" in str(error.value)


class Hangs(MemoryProvider):
    name = "sly"
    claim_order: ClassVar[int] = -1
    release = threading.Event()

    def claim(self, source: object) -> str | None:
        self.release.wait(60)  # "forever"; the test lets the thread go at the end
        return None


@pytest.fixture
def hangs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hangs]:
    monkeypatch.setenv("ZOO_PLUGIN_TIMEOUT", "1")
    Hangs.release.clear()
    yield Hangs()
    Hangs.release.set()


def test_a_claim_that_hangs_is_abandoned_within_the_timeout(hangs: Hangs, model_file: str) -> None:
    session = Session(_host_with(hangs))
    start = time.monotonic()
    with pytest.warns(PluginWarning, match=r"claim\(\) did not finish within 1 s") as caught:
        spec = session.spec_for(model_file)
    assert time.monotonic() - start < 10  # a guard, not a benchmark: it was forever
    assert spec.provider == "local"
    assert any("ZOO_BLOCK_PLUGINS=sly" in str(w.message) for w in caught)
    start = time.monotonic()
    assert session.spec_for(model_file).provider == "local"
    assert time.monotonic() - start < 0.5  # the hung provider is not waited on again


class Exits(MemoryProvider):
    name = "sly"
    claim_order: ClassVar[int] = -1

    def claim(self, source: object) -> str | None:
        raise SystemExit(3)


class Nonsense(MemoryProvider):
    name = "sly"
    claim_order: ClassVar[int] = -1

    def claim(self, source: object) -> Any:
        return 42


@pytest.mark.parametrize(
    ("provider", "says"),
    [
        (Exits(), "claim() raised SystemExit(3)"),
        (Nonsense(), "claim() returned a int; claim() returns a source string"),
    ],
)
def test_a_claim_that_exits_or_answers_nonsense_is_reported(
    provider: zoo.Provider, says: str, model_file: str
) -> None:
    host = _host_with(provider)
    with pytest.warns(PluginWarning, match="sly"):
        assert Session(host).spec_for(model_file).provider == "local"
    assert says in host.errors()["sly"]


class NotFound(MemoryProvider):
    name = "sly"
    claim_order: ClassVar[int] = -1

    def claim(self, source: object) -> str | None:
        raise SourceNotFoundError("this is mine, and it is not there", provider=self.name)


def test_a_zoo_error_from_claim_is_the_providers_answer(model_file: str) -> None:
    host = _host_with(NotFound())
    with pytest.raises(SourceNotFoundError, match="it is not there"):
        Session(host).spec_for(model_file)
    assert "sly" in host.provider_names() and host.plugin("sly").loaded


class Ordered(MemoryProvider):
    name = "sly"


class OrderProperty(MemoryProvider):
    name = "sly"

    @property
    def claim_order(self) -> int:  # type: ignore[override]
        return 5


class Sneaky(int):
    def __lt__(self, other: object) -> bool:
        raise RuntimeError("compared")


@pytest.mark.parametrize(
    ("order", "says"),
    [
        ("first", "has claim_order 'first' (str)"),
        (math.nan, "has claim_order nan (float)"),
        (True, "has claim_order True (bool)"),
        (None, "has claim_order None (NoneType)"),
    ],
)
def test_a_claim_order_that_is_not_a_number_is_reported(
    order: object, says: str, model_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Ordered, "claim_order", order)
    host = _host_with(Ordered())
    with pytest.warns(PluginWarning, match="claim_order"):
        assert Session(host).spec_for(model_file).provider == "local"
    error = host.errors()["sly"]
    assert says in error and "is a finite number" in error
    assert "ZOO_BLOCK_PLUGINS=sly" in error
    assert "sly" not in host.provider_names()


def test_claim_order_is_pinned_as_a_plain_number(
    model_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Ordered, "claim_order", Sneaky(3))
    provider = Ordered()
    host = _host_with(provider)
    assert Session(host).spec_for(model_file).provider == "local"  # nothing "compared"
    assert type(provider.claim_order) is int and provider.claim_order == 3
    host = _host_with(OrderProperty())
    with pytest.warns(PluginWarning, match="cannot bound its claim"):
        assert Session(host).spec_for(model_file).provider == "local"


def test_zoo_plugins_asks_each_plugin_once_so_a_broken_claim_shows(host: PluginHost) -> None:
    host.add_plugin(_plugin(Raises()), "sly")
    with pytest.warns(PluginWarning, match="claim bug"):
        infos = {i.name: i for i in host.info()}
    assert "claim() raised RuntimeError: claim bug" in (infos["sly"].error or "")
    assert all(infos[n].loaded for n in ("keras_apps", "local", "published", "tfhub"))
    host.info()
    assert Raises.calls == 1


def test_a_working_claim_still_claims(model_file: str) -> None:
    class Marked(MemoryProvider):
        name = "marked"
        claim_order: ClassVar[int] = -1

        def claim(self, source: object) -> str | None:
            return "tiny" if str(source).endswith("net.keras") else None

    session = Session(_host_with(Marked(), "marked_plugin"))
    assert session.spec_for(model_file).provider == "marked"
    assert session.spec_for("marked:other").source == "other"  # its claim said None
    assert session.host.plugin("marked_plugin").loaded


# -- installed for real, `zoo` in a fresh process ------------------------------------------------

PROVIDER = """
import zoo

class P(zoo.Provider):
    name = "{name}"
    claim_order = {order}

    def claim(self, source):
        {body}

    def load(self, spec):
        raise NotImplementedError

@zoo.hookimpl
def zoo_register_providers(register):
    register(P())
"""

PLUGINS = {
    "claim_raises": PROVIDER.format(
        name="claim_raises", order=-1, body="raise RuntimeError('claim bug in claim_raises')"
    ),
    "claim_hangs": PROVIDER.format(
        name="claim_hangs", order=-1, body="import time; time.sleep(3600)"
    ),
    "bad_claim_order": PROVIDER.format(name="bad_claim_order", order="'first'", body="return"),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three plugins, pip-installed for real into one target directory."""
    return install_plugins(tmp_path_factory.mktemp("claims"), PLUGINS)


def _zoo(site: Path, plugin: str, *args: str) -> subprocess.CompletedProcess[str]:
    # the guard is against the hang this test is about, not a speed assertion
    return run_zoo_with_plugin(site, plugin, *args, plugin_timeout="1", guard=120)


@pytest.mark.parametrize(
    ("plugin", "says"),
    [
        ("claim_raises", "claim() raised RuntimeError: claim bug in claim_raises"),
        ("claim_hangs", "claim() did not finish within 1 s (ZOO_PLUGIN_TIMEOUT)"),
        ("bad_claim_order", "has claim_order 'first' (str)"),
    ],
)
def test_an_installed_plugin_with_a_broken_claim_is_reported_and_skipped(
    site: Path, plugin: str, says: str, model_file: str
) -> None:
    proc = _zoo(site, plugin, "info", model_file, "--json")
    assert proc.returncode == 0, proc.stderr
    spec = json.loads(proc.stdout)["spec"]
    assert (spec["provider"], spec["source"]) == ("local", model_file)  # a built-in claimed it
    stderr = " ".join(proc.stderr.split())  # the console wraps long lines
    assert f"zoo_{plugin}" in stderr and says in stderr
    assert f"ZOO_BLOCK_PLUGINS=zoo_{plugin}" in stderr

    shown = _zoo(site, plugin, "plugins", "--json")
    assert shown.returncode == 0, shown.stderr
    (row,) = [r for r in json.loads(shown.stdout) if r["name"] == f"zoo_{plugin}"]
    assert says in (row["error"] or "")
