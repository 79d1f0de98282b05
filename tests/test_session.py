"""One Session through every layer: a custom Session lists, loads, creates, fine-tunes,
fetches and locks, and the default session is never built (issue 11, item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import zoo
import zoo.session
from zoo.cli import main
from zoo.host.manager import PluginHost
from zoo.session import Session

from .conftest import MemoryPlugin, tiny_cnn
from .fetch.server import Route, Server


@pytest.fixture
def server() -> Server:
    s = Server("127.0.0.1")
    yield s  # type: ignore[misc]
    s.stop()


def _team_session(tmp_path: Path, server: Server) -> Session:
    """A session with only the local built-in and the in-memory plugin, and a team registry
    served over HTTP from loopback (so fetching and locking have an artifact)."""
    model_file = tmp_path / "team_net.keras"
    tiny_cnn((32, 32, 3), 4).save(model_file)
    registry = (
        "models:\n"
        "  team_net:\n"
        "    provider: local\n"
        f"    source: {model_file}\n"
        "    input_shape: [32, 32, 3]\n"
        "    tags: [team]\n"
    )
    server.routes["/team.yaml"] = Route(registry.encode())
    host = PluginHost({"local": "zoo.providers.local"}, entry_points=False)
    host.add_plugin(MemoryPlugin(), "memory")
    project = tmp_path / "project"
    project.mkdir()
    return Session(host, cwd=project, registry_files=[server.url("/team.yaml")])


def test_a_custom_session_does_everything_without_the_default_session(
    tmp_path: Path, server: Server
) -> None:
    session = _team_session(tmp_path, server)

    names = [s.name for s in zoo.list_models(tag="team", session=session)]
    assert names == ["team_net"]
    assert "tiny" in [s.name for s in session.list_models(tag="test")]  # the plugin's model

    backbone = zoo.load_backbone("team_net", session=session)
    assert (backbone.feature_layer, backbone.num_classes) == ("flatten", 4)

    model = zoo.create("team_net", 3, session=session)
    assert model.output_shape == (None, 3)
    assert session.create("mem://tiny", 2).output_shape == (None, 2)

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (12, 32, 32, 3)).astype("float32")
    y = np.arange(12) % 3
    result = zoo.finetune("team_net", (x, y), session=session, epochs=1, batch_size=6, verbose=0)
    assert result.num_classes == 3 and result.backbone.name == "team_net"

    fetched = zoo.fetch(["team_net"], session=session)
    assert [f.artifact.kind for f in fetched] == ["registry"]
    lock = zoo.lock(["team_net"], session=session)
    assert lock.path == session.cwd / "zoo.lock"
    entries = json.loads(lock.path.read_text())
    assert server.url("/team.yaml") in json.dumps(entries)

    out = CliRunner().invoke(main, ["list", "--tag", "team"], obj=session)
    assert out.exit_code == 0, out.output
    assert "team_net" in out.output
    out = CliRunner().invoke(main, ["info", "team_net", "--json"], obj=session)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["spec"]["name"] == "team_net"
    out = CliRunner().invoke(main, ["plugins", "--json"], obj=session)
    assert {row["name"] for row in json.loads(out.output)} == {"local", "memory"}

    assert zoo.session._session is None  # nothing above reached for the global


def test_the_engine_resolves_its_source_once_and_fails_early(session: Session) -> None:
    """An unknown name fails when the Finetuner is made, with the session's suggestions."""
    with pytest.raises(zoo.UnknownModelError, match="resnet50"):
        zoo.Finetuner("resnet5O", session=session)
    assert zoo.session._session is None
