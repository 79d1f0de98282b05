"""keras.applications ImageNet weights go through zoo.download.fetcher: lock, offline, pins,
Keras's cache.

The real origin (storage.googleapis.com) cannot be reached here, so the end-to-end tests point
MobileNetV2's weights base URL at the loopback server and serve real weights files from it;
everything else (Keras building the model and asking for the file, the routing,
zoo.download.fetcher, zoo.lock) is the real code.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import zoo
import zoo.download.fetcher
from zoo.cli import main
from zoo.download.cache import Cache
from zoo.download.lockfile import LockFile
from zoo.errors import IntegrityError, OfflineError
from zoo.prefetch import plan
from zoo.providers.keras_weights import routed_downloads
from zoo.session import default_session

from .conftest import blobs, payload, sha
from .server import Server

FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
SMALL = {"alpha": 0.35, "input_shape": (96, 96, 3), "include_top": False}
ZOO_YAML = (
    "models:\n  small_mnv2:\n    provider: keras\n    source: MobileNetV2\n"
    "    weights: imagenet\n    input_shape: [96, 96, 3]\n"
    "    options: {alpha: 0.35, include_top: false}\n"
)


def _refuse(*args: object, **kwargs: object) -> Any:
    raise AssertionError("a socket was opened")


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)


@pytest.fixture
def keras_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Keras cache of its own: ``$KERAS_HOME/models``."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home" / "models"


@pytest.fixture
def weights_server(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """MobileNetV2's weights served from loopback: returns the reference model."""
    import keras
    from keras.src.applications import mobilenet_v2

    keras.utils.set_random_seed(5)
    reference = keras.applications.MobileNetV2(weights=None, pooling="avg", **SMALL)
    path = tmp_path / FILE
    reference.save(path)  # legacy .h5: what Keras publishes and loads back by that name
    server.route(f"/mnv2/{FILE}", path.read_bytes())
    monkeypatch.setattr(mobilenet_v2, "BASE_WEIGHT_PATH", server.url("/mnv2/"))
    yield reference


def _same_weights(backbone: zoo.Backbone, reference: Any) -> bool:
    got = backbone.features.get_layer("Conv1").get_weights()[0]
    return bool((got == reference.get_layer("Conv1").get_weights()[0]).all())


def test_the_url_keras_would_download_is_found_without_downloading(no_sockets: None) -> None:
    spec, provider, _ = default_session().resolve("mobilenet_v2", SMALL)
    [artifact] = provider.artifacts(spec)
    assert artifact.url.startswith("https://") and artifact.url.endswith("/" + FILE)
    assert artifact.kind == "weights"
    [planned] = plan(["mobilenet_v2"])  # the registry entry: with its top, at 224
    assert planned.artifact.url.endswith("_1.0_224.h5")
    assert provider.artifacts(spec.replace(weights=None)) == []


def test_offline_imagenet_weights_not_cached_name_zoo_fetch(
    no_sockets: None, keras_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(OfflineError) as info:
        zoo.load_backbone("mobilenet_v2", **SMALL)
    assert "zoo fetch mobilenet_v2" in str(info.value) and FILE in str(info.value)


def test_weights_keras_already_cached_load_offline_and_must_meet_a_pin(
    keras_models: Path, no_sockets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An air-gapped machine prepared with ~/.keras/models keeps working."""
    import keras

    keras.utils.set_random_seed(9)
    reference = keras.applications.MobileNetV2(weights=None, pooling="avg", **SMALL)
    keras_models.mkdir(parents=True)
    reference.save(keras_models / FILE)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert _same_weights(zoo.load_backbone("mobilenet_v2", **SMALL), reference)
    with pytest.raises(OfflineError):  # a pin the copy does not meet: it is not used
        zoo.load_backbone("mobilenet_v2", sha256="ab" * 32, **SMALL)


def test_imagenet_weights_are_fetched_locked_and_then_load_offline(
    weights_server: Any,
    server: Server,
    keras_models: Path,
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (isolated / "zoo.yaml").write_text(ZOO_YAML)
    result = CliRunner().invoke(main, ["lock"])
    assert result.exit_code == 0, result.output
    [entry] = LockFile.load(isolated / "zoo.lock").entries.values()
    assert entry.url == server.url(f"/mnv2/{FILE}") and entry.models == ("small_mnv2",)
    assert not keras_models.exists() or not any(keras_models.iterdir())  # zoo's cache only
    requests = len(server.requests)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setenv("ZOO_REQUIRE_HASHES", "1")
    monkeypatch.setattr(socket, "socket", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    backbone = zoo.load_backbone("small_mnv2")
    assert _same_weights(backbone, weights_server)
    assert len(server.requests) == requests


def test_require_hashes_refuses_unpinned_imagenet_weights_before_downloading(
    weights_server: Any, server: Server, keras_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOO_REQUIRE_HASHES", "1")
    with pytest.raises(IntegrityError) as info:
        zoo.load_backbone("mobilenet_v2", **SMALL)
    assert "require-hashes" in str(info.value) and FILE in str(info.value)
    assert server.requests == []


def test_a_download_that_fails_keras_hash_is_refused_and_dropped(server: Server) -> None:
    """The md5 Keras ships with most weights is still checked on the routed download."""
    from keras.src.utils import file_utils  # the call keras.applications modules make

    good, bad = payload(4000), payload(4000, seed=1)
    md5 = hashlib.md5(good).hexdigest()
    good_url, bad_url = server.route("/good.h5", good), server.route("/bad.h5", bad)
    with routed_downloads("my_net"):
        path = Path(file_utils.get_file("good.h5", good_url, cache_subdir="models", file_hash=md5))
        assert path.read_bytes() == good and sha(good) in path.name
        assert Cache(zoo.download.fetcher.cache_root()).checked(path, f"keras:{md5}")  # hashed once
        with pytest.raises(IntegrityError) as info:
            file_utils.get_file("bad.h5", bad_url, cache_subdir="models", file_hash=md5)
    assert (info.value.expected, info.value.received) == (md5, hashlib.md5(bad).hexdigest())
    assert not any(name.startswith(sha(bad)) for name in blobs())
    assert file_utils.get_file.__module__.startswith("keras")  # put back afterwards
