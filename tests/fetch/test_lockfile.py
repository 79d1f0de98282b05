"""zoo.lock, require-hashes mode, `zoo fetch` / `zoo lock`, remote registry files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import zoo
import zoo.download.fetcher
from zoo.cli import main
from zoo.download.lockfile import LockFile
from zoo.errors import FetchError, IntegrityError, LockFileError, OfflineError, RegistryError
from zoo.prefetch import lock_project, prefetch

from .conftest import payload, sha
from .server import Server

W1 = payload(10_000, seed=1)
W2 = payload(12_000, seed=2)


def _project(work: Path, server: Server, *, pin_first: bool = False) -> tuple[str, str]:
    """A ./zoo.yaml with two keras models whose weights are URLs on the server."""
    u1 = server.route("/one.weights.h5", W1)
    u2 = server.route("/two.weights.h5", W2)
    pin = f"\n    sha256: {sha(W1)}" if pin_first else ""
    (work / "zoo.yaml").write_text(
        "models:\n"
        f"  net_one:\n    provider: keras\n    source: MobileNetV2\n    weights: {u1}{pin}\n"
        f"  net_two:\n    provider: keras\n    source: MobileNetV2\n    weights: {u2}\n"
    )
    return u1, u2


def test_lock_records_url_size_and_sha256_of_every_artifact(server: Server, isolated: Path) -> None:
    u1, u2 = _project(isolated, server)
    lock = lock_project()
    data = json.loads((isolated / "zoo.lock").read_text())
    assert data["version"] == 1
    rows = {a["url"]: a for a in data["artifacts"]}
    assert rows[u1] == {
        "url": u1, "sha256": sha(W1), "size": len(W1), "kind": "weights", "archive": False,
        "models": ["net_one"],
    }  # fmt: skip
    assert rows[u2]["sha256"] == sha(W2) and rows[u2]["models"] == ["net_two"]
    assert set(lock.entries) == {u1, u2}


def test_a_present_lock_checks_every_fetch(server: Server, isolated: Path) -> None:
    """F4 via zoo.lock: content changed upstream after locking is refused."""
    u1, _ = _project(isolated, server)
    lock_project()
    shutil.rmtree(zoo.download.fetcher.cache_root())
    server.route("/one.weights.h5", payload(10_000, seed=9))
    with pytest.raises(IntegrityError) as info:
        zoo.download.fetcher.fetch(u1)
    assert info.value.expected == sha(W1)
    with pytest.raises(IntegrityError, match="conflicting"):
        zoo.download.fetcher.fetch(u1, sha256="0" * 64)


def test_require_hashes_is_all_or_nothing(server: Server, isolated: Path) -> None:
    """pip-like: one unpinned artifact and nothing at all is downloaded, pinned ones included."""
    u1, u2 = _project(isolated, server, pin_first=True)
    with pytest.raises(IntegrityError) as info:
        prefetch(require_hashes=True)
    assert u2 in str(info.value) and u1 not in str(info.value)
    assert server.requests == []
    result = CliRunner().invoke(main, ["lock", "--require-hashes"])
    assert result.exit_code == 1 and "require-hashes" in result.output
    assert server.requests == [] and not (isolated / "zoo.lock").exists()


def test_require_hashes_accepts_lock_entries_and_the_env_var(
    server: Server, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(isolated, server)
    lock_project()
    monkeypatch.setenv("ZOO_REQUIRE_HASHES", "1")
    fetched = prefetch()  # every URL is pinned by zoo.lock
    assert {f.sha256 for f in fetched} == {sha(W1), sha(W2)}
    with pytest.raises(IntegrityError, match="no sha256 pin"):
        zoo.download.fetcher.fetch(server.route("/loose.h5", b"x"))


def test_require_hashes_refuses_a_load_before_downloading(
    server: Server, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ZOO_REQUIRE_HASHES=1: load_backbone checks the provider's artifacts first."""
    _project(isolated, server)
    monkeypatch.setenv("ZOO_REQUIRE_HASHES", "1")
    with pytest.raises(IntegrityError, match="require-hashes"):
        zoo.load_backbone("net_two")
    assert server.requests == []


def test_zoo_fetch_prefetches_for_offline_use(
    server: Server, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    u1, _ = _project(isolated, server)
    result = CliRunner().invoke(main, ["fetch", "net_one", "-q"])
    assert result.exit_code == 0, result.output
    assert sha(W1) in result.output
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert zoo.download.fetcher.fetch(u1).read_bytes() == W1
    with pytest.raises(OfflineError, match="zoo fetch net_two"):
        prefetch(["net_two"])


def test_zoo_lock_cli_with_names_keeps_other_entries(server: Server, isolated: Path) -> None:
    u1, u2 = _project(isolated, server)
    assert CliRunner().invoke(main, ["lock", "net_one", "-q"]).exit_code == 0
    assert set(LockFile.load(isolated / "zoo.lock").entries) == {u1}
    result = CliRunner().invoke(main, ["lock", "net_two", "-q"])
    assert result.exit_code == 0 and "2 artifacts" in result.output
    assert set(LockFile.load(isolated / "zoo.lock").entries) == {u1, u2}


def test_lock_without_models_says_what_to_do(isolated: Path) -> None:
    result = CliRunner().invoke(main, ["lock"])
    assert result.exit_code == 1 and "zoo.yaml" in result.output


def test_a_malformed_lock_file_names_the_field(server: Server, isolated: Path) -> None:
    url = server.route("/x.h5", W1)
    bad = {"version": 1, "artifacts": [{"url": url, "sha256": "nope", "size": 1}]}
    (isolated / "zoo.lock").write_text(json.dumps(bad))
    with pytest.raises(LockFileError, match=r"zoo.lock: artifacts\[0\]\.sha256") as info:
        zoo.download.fetcher.fetch(url)
    assert isinstance(info.value, FetchError) and not isinstance(info.value, RegistryError)
    assert info.value.field == "artifacts[0].sha256"


def test_a_remote_registry_is_fetched_cached_and_locked(
    server: Server, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ZOO_REGISTRY may hold a URL: fetched through zoo.download.fetcher, parsed, usable offline."""
    text = "models:\n  remote_net:\n    provider: keras\n    source: MobileNetV2\n"
    url = server.route("/registry.yaml", text.encode())
    local = isolated / "extra.yaml"
    local.write_text("models:\n  local_net:\n    provider: keras\n    source: MobileNetV2\n")
    monkeypatch.setenv("ZOO_REGISTRY", f"{local}:{url}")  # a path and a URL with a port
    zoo.session.reset()
    assert zoo.get_spec("remote_net").origin.startswith(url)
    assert zoo.get_spec("local_net").origin.startswith(str(local))
    lock = lock_project(["remote_net"])
    assert lock.entries[url].kind == "registry" and lock.entries[url].sha256 == sha(text.encode())
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    zoo.session.reset()
    assert [s.name for s in zoo.list_models("remote_*")] == ["remote_net"]
    assert len(server.hits("/registry.yaml")) == 1


def test_a_remote_registry_error_names_the_url(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.route("/bad.yaml", b"models:\n  x:\n    provider: keras\n")
    monkeypatch.setenv("ZOO_REGISTRY", url)
    zoo.session.reset()
    with pytest.raises(RegistryError, match="source") as info:
        zoo.list_models()
    assert info.value.path == url


def test_an_unreachable_remote_registry_falls_back_to_the_cached_copy(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = b"models:\n  remote_net:\n    provider: keras\n    source: MobileNetV2\n"
    url = server.route("/registry.yaml", text)
    monkeypatch.setenv("ZOO_REGISTRY", url)
    zoo.session.reset()
    assert zoo.get_spec("remote_net")
    monkeypatch.setattr("zoo.registry.REMOTE_REGISTRY_MAX_AGE", 0.0)  # due for a refresh
    server.route("/registry.yaml", b"", status=500)
    zoo.session.reset()
    with pytest.warns(zoo.ZooWarning, match="using the cached copy"):
        assert zoo.get_spec("remote_net")


def test_a_sessions_project_lock_pins_its_downloads_wherever_the_process_runs(
    server: Server, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zoo.lock(session=...) writes <session.cwd>/zoo.lock; the same session's fetches and
    loads are checked against that file, not against the process's working directory (before,
    the pins were read from the process's directory and silently not applied)."""
    from zoo.session import Session

    project = isolated / "project"
    project.mkdir()
    u1, _ = _project(project, server)
    session = Session(cwd=project)
    lock_project(session=session)
    assert (project / "zoo.lock").is_file() and not (isolated / "zoo.lock").exists()
    elsewhere = isolated / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    shutil.rmtree(zoo.download.fetcher.cache_root())
    server.route("/one.weights.h5", payload(10_000, seed=9))  # changed upstream after locking
    with pytest.raises(IntegrityError) as info:
        prefetch(["net_one"], session=session)
    assert info.value.expected == sha(W1)
    with pytest.raises(IntegrityError):
        session.load_backbone("net_one")
    zoo.download.fetcher.fetch(u1)  # outside the session: no project, no pin (as before)
