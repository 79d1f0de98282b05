"""tfhub provider: handle mapping, caching, the Backbone contract, and bad sources."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

import zoo
from tests.providers.conftest import HUB_FEATURE_DIM, HubModel, HubServer, tar_bytes
from zoo.errors import InvalidModelError, SourceNotFoundError, UnsafeURLError
from zoo.host.provider import Artifact
from zoo.providers.tfhub import TFHubProvider
from zoo.savedmodel.handles import archive_url, hub_cache_dir, normalize_handle
from zoo.session import Session

MOBILENET = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"

# -- handles (no TensorFlow) -----------------------------------------------------------------


def test_tfhub_handles_use_the_compressed_format_query() -> None:
    assert archive_url(MOBILENET) == MOBILENET + "?tf-hub-format=compressed"
    assert (
        archive_url("https://example.org/m/1?x=1")
        == "https://example.org/m/1?x=1&tf-hub-format=compressed"
    )
    assert archive_url("https://example.org/m.tar.gz") == "https://example.org/m.tar.gz"
    already = MOBILENET + "?tf-hub-format=compressed"
    assert archive_url(already) == already


def test_kaggle_model_urls_map_to_the_kaggle_download_api() -> None:
    url = "https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector/2"
    assert archive_url(url) == (
        "https://www.kaggle.com/api/v1/models/google/mobilenet-v2/tensorFlow2/"
        "100-224-feature-vector/2/download"
    )
    with pytest.raises(SourceNotFoundError, match="not a versioned Kaggle model handle"):
        archive_url(
            "https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector"
        )


def test_normalize_handle_drops_hub_prefix_and_resolves_paths(isolated: Path) -> None:
    assert normalize_handle("hub:" + MOBILENET) == MOBILENET
    assert normalize_handle("hub:models/x") == str(isolated / "models" / "x")
    assert normalize_handle("file:///tmp/some%20model") == "/tmp/some model"


def test_tfhub_cache_dir_follows_tensorflow_hub_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hub_cache_dir(MOBILENET) is None
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    sha1 = hashlib.sha1(MOBILENET.encode()).hexdigest()
    assert hub_cache_dir(MOBILENET) == tmp_path / "hub" / sha1


def test_claims_and_artifacts(session: Session) -> None:
    provider = TFHubProvider()
    assert provider.claim("hub:" + MOBILENET) == MOBILENET
    assert provider.claim("http://127.0.0.1:8000/m/1") == "http://127.0.0.1:8000/m/1"
    assert provider.claim("mobilenet_v2") is None and provider.claim("./x.keras") is None
    spec = session.spec_for("hub:" + MOBILENET)
    assert spec.name == "hub_mobilenet_v2_100_224" and spec.preprocessing == "unit"
    assert provider.artifacts(spec) == [
        Artifact(url=MOBILENET + "?tf-hub-format=compressed", kind="model", archive=True)
    ]
    assert provider.artifacts(spec.replace(source="hub:/data/models/x")) == []


def test_registry_hub_entries_are_complete() -> None:
    specs = zoo.list_models(provider="tfhub")
    families = {"inception", "mobilenet", "efficientnet", "resnet", "bit"}
    assert families <= {t for s in specs for t in s.tags}
    handle = re.compile(r"^https://tfhub\.dev/google/[a-z0-9_/\-]+/\d+$")
    for spec in specs:
        assert handle.match(spec.source), spec.source
        assert "hub" in spec.tags and spec.preprocessing == "unit", spec.name
        assert spec.feature_dim and spec.license and spec.description, spec.name
        assert spec.input_shape is not None and spec.input_shape[2] == 3, spec.name
        assert zoo.get_spec(spec.name).input_spec().value_range == (0.0, 1.0)


# -- loading through a real server -----------------------------------------------------------


def test_hub_backbone_keeps_the_contract(hub_model: HubModel) -> None:
    """A Hub handle over HTTP, pinned by sha256, becomes a Backbone that keeps the contract."""
    from zoo.testing import check_backbone

    backbone = zoo.load_backbone("hub:" + hub_model.url, sha256=hub_model.sha256)
    assert backbone.provider == "tfhub" and backbone.feature_dim == HUB_FEATURE_DIM
    assert backbone.input_spec.shape == (None, None, 3)
    assert backbone.input_spec.value_range == (0.0, 1.0)
    assert backbone.classifier is None
    check_backbone(backbone)


def test_trust_loads_an_unpinned_archive_and_create_adds_a_head(hub_model: HubModel) -> None:
    """trust=True is the explicit opt-in for an unpinned remote model archive (F19)."""
    model = zoo.create(hub_model.url, 5, trust=True, input_shape=(32, 32, 3))
    assert model.layers[-1].units == 5 and model.input_shape == (None, 32, 32, 3)
    assert model.get_layer("preprocess").multiplier == [pytest.approx(1 / 255)] * 3


def test_download_is_cached(hub_model: HubModel, hub_server: HubServer) -> None:
    path = "/google/tiny/feature_vector/1"
    before = hub_server.count(path)
    zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    assert hub_server.count(path) == before + 1


def test_tfhub_cache_dir_is_filled_and_reused(
    hub_model: HubModel, hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TFHUB_CACHE_DIR the model lands in tensorflow_hub's layout and is read from it."""
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    zoo.load_backbone(hub_model.url, sha256=hub_model.sha256)
    cached = hub_cache_dir(hub_model.url)
    assert cached is not None and (cached / "saved_model.pb").is_file()
    assert (cached.parent / f"{cached.name}.descriptor.txt").read_text().startswith("Module: ")
    # a cache filled by tensorflow_hub (or a colleague) is used with no request at all,
    # when the caller trusts it (F26: the rules of a download; see test_tfhub_cache.py)
    offline = hub_server.base + "/not/served/1"
    shutil.copytree(hub_model.directory, hub_cache_dir(offline))  # type: ignore[arg-type]
    before = len(hub_server.requests)
    assert zoo.load_backbone(offline, trust=True).feature_dim == HUB_FEATURE_DIM
    assert len(hub_server.requests) == before


def test_local_hub_directory(hub_model: HubModel) -> None:
    backbone = zoo.load_backbone(f"hub:{hub_model.directory}")
    assert backbone.provider == "tfhub" and backbone.input_spec.mode == "unit"
    with pytest.raises(SourceNotFoundError, match="no such directory"):
        zoo.load_backbone(f"hub:{hub_model.directory}-missing")


def test_registry_entry_pointing_at_a_hub_server(hub_model: HubModel, isolated: Path) -> None:
    (isolated / "zoo.yaml").write_text(
        "models:\n"
        "  tiny_hub:\n"
        "    provider: tfhub\n"
        f"    source: {hub_model.url}\n"
        f"    sha256: {hub_model.sha256}\n"
        "    input_shape: [48, 48, 3]\n"
        "    preprocessing: unit\n"
    )
    backbone = zoo.load_backbone("tiny_hub")
    assert backbone.name == "tiny_hub" and backbone.input_spec.shape == (48, 48, 3)


# -- bad sources -----------------------------------------------------------------------------


def test_hub_url_answering_404_names_the_url(hub_server: HubServer) -> None:
    url = hub_server.base + "/google/missing/1"
    with pytest.raises(SourceNotFoundError, match="404") as info:
        zoo.load_backbone(url, trust=True)
    assert "/google/missing/1" in str(info.value)


def test_archive_that_is_not_a_saved_model(hub_server: HubServer) -> None:
    url = hub_server.add("/google/readme/1", tar_bytes({"README.md": b"# not a model\n"}))
    with pytest.raises(InvalidModelError, match=r"not a SavedModel.*README\.md") as info:
        zoo.load_backbone(url, trust=True)
    assert info.value.source == url


def test_tf1_hub_format_is_refused_with_a_way_out(hub_server: HubServer) -> None:
    url = hub_server.add("/google/tf1/1", tar_bytes({"tfhub_module.pb": b"\x08\x01"}))
    with pytest.raises(InvalidModelError, match="TF1 Hub format"):
        zoo.load_backbone(url, trust=True)


def test_plain_http_to_another_host_is_refused() -> None:
    """http:// only from loopback (tests) or with allow_http=True; refused before connecting."""
    with pytest.raises(UnsafeURLError, match="allow_http"):
        zoo.load_backbone("http://models.example.com/m/1", trust=True)
