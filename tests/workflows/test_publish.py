"""zoo publish -> a static HTTP server on 127.0.0.1 -> a colleague resolves it by name."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import zoo
import zoo.session
from zoo.errors import IntegrityError, InvalidModelError, InvalidOptionError


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Any static HTTP server will do: the standard library's, serving ``tmp_path/registry``."""
    root = tmp_path / "registry"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def _colleague(monkeypatch: pytest.MonkeyPatch, home: Path, registry_url: str) -> None:
    """Another user: their own ZOO_HOME, the team registry added by URL."""
    monkeypatch.setenv("ZOO_HOME", str(home))
    monkeypatch.setenv("ZOO_REGISTRY", registry_url)
    zoo.session.reset()


def test_publish_resolve_tamper_offline_and_versions(
    exported: tuple[Path, Any],
    images: Path,
    static_server: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Publish; a colleague resolves by name (CLI and Python), locks, goes offline (F9); a
    swapped artifact is refused by its pin (F4); new bytes need --force and become :2."""
    out, _ = exported
    base, root = static_server
    evaluation = zoo.evaluate(out, images, confusion_png=tmp_path / "confusion.png")
    published = zoo.publish(
        out, name="team/colour", to=root, license="MIT", tags=["demo"],
        description="which colour dominates", evaluation=evaluation,
    )  # fmt: skip
    assert published.versioned_name == "team/colour:1" and not published.unchanged
    assert published.artifact == root / "artifacts" / f"{published.sha256}.tar.gz"
    entries = yaml.safe_load((root / "registry.yaml").read_text())["models"]
    assert set(entries) == {"team/colour", "team/colour:1"}
    entry = entries["team/colour:1"]
    assert entry["sha256"] == published.sha256 and entry["labels"] == ["red", "green", "blue"]
    assert entry["input_shape"] == [32, 32, 3] and entry["preprocessing"] == "raw"
    assert entry["license"] == "MIT" and entry["options"]["metrics"]["eval_accuracy"] > 0.8
    card = published.card.read_text()
    assert "| red | 4 | 0 | 1 |" in card and "confusion.png" in card and "MIT" in card
    assert (published.card.parent / "confusion.png").stat().st_size > 2000
    # the same bytes again: nothing changes
    assert zoo.publish(out, name="team/colour", to=root).unchanged

    registry_url = f"{base}/registry.yaml"
    image = images / "green" / "green_1.png"
    # 1. a colleague, in a real process with their own ZOO_HOME: `zoo predict team/colour`
    env = {**os.environ, "ZOO_HOME": str(tmp_path / "colleague"),
           "ZOO_REGISTRY": registry_url}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "predict", "team/colour", str(image), "--json"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["predictions"][0]["top"][0]["label"] == "green"

    # 2. the same colleague in Python: load_backbone and zoo lock pin it
    _colleague(monkeypatch, tmp_path / "colleague", registry_url)
    backbone = zoo.load_backbone("team/colour")
    assert backbone.feature_dim == 3 and backbone.num_classes == 3
    lock = subprocess.run(
        [sys.executable, "-m", "zoo", "lock", "team/colour"],
        capture_output=True, text=True, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert lock.returncode == 0, lock.stderr
    assert published.sha256 in (tmp_path / "zoo.lock").read_text()

    # 3. offline: served from the cache, no server needed
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    zoo.session.reset()
    assert zoo.predict("team/colour", image).predictions[0].label == "green"
    monkeypatch.delenv("ZOO_OFFLINE")

    # 4. the artifact is swapped on the server: a fresh user gets the hash refusal
    artifact_bytes = published.artifact.read_bytes()
    published.artifact.write_bytes(artifact_bytes[:-10] + b"0123456789")
    _colleague(monkeypatch, tmp_path / "second", registry_url)
    with pytest.raises(IntegrityError, match="sha256 mismatch") as info:
        zoo.predict("team/colour", image)
    assert info.value.expected == published.sha256
    published.artifact.write_bytes(artifact_bytes)

    # 5. different bytes under the same name: refused, then version 2 with --force
    changed = tmp_path / "export2"
    shutil.copytree(out, changed)
    (changed / "labels.txt").write_text("rouge\nvert\nbleu\n")
    with pytest.raises(InvalidOptionError, match=r"team/colour:2 with --force"):
        zoo.publish(changed, name="team/colour", to=root)
    cli = subprocess.run(
        [sys.executable, "-m", "zoo", "publish", str(changed), "--name", "team/colour",
         "--to", str(root), "--force", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["versioned_name"] == "team/colour:2"
    _colleague(monkeypatch, tmp_path / "third", registry_url)
    assert zoo.predict("team/colour", image).predictions[0].label == "vert"
    assert zoo.predict("team/colour:1", image).predictions[0].label == "green"
    assert zoo.predict("team/colour:2", image).predictions[0].label == "vert"


def test_publish_refuses_a_directory_that_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("hi")
    with pytest.raises(InvalidModelError, match="not a tfzoo export"):
        zoo.publish(tmp_path / "notes", name="team/x", to=tmp_path / "reg")
    assert not (tmp_path / "reg").exists()


def test_publish_refuses_bad_names(exported: tuple[Path, Any], tmp_path: Path) -> None:
    out, _ = exported
    for bad in ("Team/X", "team/x:3", "a/b/c", "../x"):
        with pytest.raises(InvalidOptionError):
            zoo.publish(out, name=bad, to=tmp_path / "reg")


def test_a_line_in_zoo_yaml_adds_the_team_registry(
    exported: tuple[Path, Any], static_server: tuple[str, Path], isolated: Path
) -> None:
    """`registries: [URL]` in ./zoo.yaml works like ZOO_REGISTRY; zoo.yaml's own entries win."""
    out, _ = exported
    base, root = static_server
    zoo.publish(out, name="team/colour", to=root)
    (isolated / "zoo.yaml").write_text(
        f"registries: [{base}/registry.yaml]\n"
        "models:\n  team/colour:1: {provider: keras, source: MobileNetV2}\n"
    )
    zoo.session.reset()
    assert zoo.get_spec("team/colour").provider == "published"
    assert zoo.get_spec("team/colour:1").provider == "keras"  # the including file overrides
    (isolated / "zoo.yaml").write_text("registries: 3\n")
    zoo.session.reset()
    with pytest.raises(zoo.RegistryError, match="'registries' is a list"):
        zoo.list_models()
