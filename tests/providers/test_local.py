"""local provider: your own .keras, .h5 and SavedModels as Backbones (seed flow 1), safety."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import tiny_cnn
from tests.providers.conftest import HUB_FEATURE_DIM, HubModel
from zoo.errors import (
    InvalidModelError,
    InvalidOptionError,
    SourceNotFoundError,
    UntrustedModelError,
)
from zoo.session import reset
from zoo.testing import check_backbone

FORMATS = ["keras", "h5", "export", "tf_saved_model"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Seed flow 1's model: a small CNN trained a few batches, saved in every format."""
    root = tmp_path_factory.mktemp("trained")
    model = tiny_cnn((32, 32, 3), 10)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (32, 32, 32, 3)).astype("float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, np.arange(32) % 10, batch_size=8, epochs=1, verbose=0)
    paths = {
        "keras": root / "cnn.keras",
        "h5": root / "cnn.h5",
        "export": root / "cnn_export",
        "tf_saved_model": root / "cnn_tf_saved_model",
    }
    model.save(paths["keras"])
    model.save(paths["h5"])
    model.export(str(paths["export"]), verbose=False)
    tf.saved_model.save(model, str(paths["tf_saved_model"]))
    probe = rng.uniform(0, 1, (3, 32, 32, 3)).astype("float32")
    flatten = keras.Model(model.inputs[0], model.get_layer("flatten").output)
    return {
        "paths": paths,
        "probe": probe,
        "flatten": np.asarray(flatten(probe)),
        "output": np.asarray(model(probe)),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_seed_flow_1_own_model_gets_a_new_head(trained: dict[str, Any], fmt: str) -> None:
    """.keras, .h5 and SavedModel: features are the Flatten output; a new head trains alone."""
    path = trained["paths"][fmt]
    backbone = zoo.load_backbone(str(path))
    assert backbone.provider == "local"
    assert backbone.feature_layer == "flatten"
    assert backbone.feature_dim == 15 * 15 * 4
    assert backbone.classifier is not None and backbone.classifier.name == "predictions"
    assert backbone.num_classes == 10 and backbone.input_spec.shape == (32, 32, 3)
    probe = trained["probe"]
    feats = np.asarray(backbone.features(probe))
    np.testing.assert_allclose(feats, trained["flatten"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(backbone.classifier(feats)), trained["output"], rtol=1e-5, atol=1e-6
    )
    check_backbone(backbone)

    model = zoo.create(str(path), 15)
    head = model.layers[-1]
    assert isinstance(head, keras.layers.Dense) and head.units == 15
    for layer in model.layers[:-1]:
        layer.trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    before = {id(w): w.numpy().copy() for w in model.weights}
    model.train_on_batch(probe * 255.0, np.array([0, 7, 14]))
    changed = {id(w) for w in model.weights if not np.array_equal(before[id(w)], w.numpy())}
    assert changed == {id(w) for w in head.weights}


def test_feature_layer_by_index_and_name(trained: dict[str, Any]) -> None:
    """Index semantics are Python list indices on model.layers; names work too."""
    path = str(trained["paths"]["keras"])
    by_index = zoo.load_backbone(path, feature_layer=-3)  # [conv, bn, pool, flatten, predictions]
    assert by_index.feature_layer == "pool" and by_index.feature_dim == 4
    assert zoo.load_backbone(path, feature_layer="bn").feature_layer == "bn"
    with pytest.raises(InvalidModelError, match="out of range"):
        zoo.load_backbone(path, feature_layer=7)


def test_feature_layer_of_an_exported_saved_model(trained: dict[str, Any]) -> None:
    """An exported graph is cut at a named layer; an index has no meaning there."""
    path = str(trained["paths"]["export"])
    pooled = zoo.load_backbone(path, feature_layer="pool")
    assert pooled.feature_layer == "pool" and pooled.feature_dim == 4
    check_backbone(pooled)
    with pytest.raises(InvalidOptionError, match="no list of layers"):
        zoo.load_backbone(path, feature_layer=-2)
    with pytest.raises(InvalidOptionError, match=r"no layer 'nope'.*flatten"):
        zoo.load_backbone(path, feature_layer="nope")


def test_exported_saved_model_fine_tunes(trained: dict[str, Any]) -> None:
    """The cut graph keeps its variables: a trainable backbone's weights change with Adam."""
    backbone = zoo.load_backbone(str(trained["paths"]["export"]))
    model = zoo.create(backbone, 3, preprocess=False)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    kernel = next(w for w in backbone.features.weights if "conv" in w.name and w.ndim == 4)
    before = kernel.numpy().copy()
    model.train_on_batch(trained["probe"], np.array([0, 1, 2]))
    assert not np.allclose(before, kernel.numpy())


def test_model_on_an_exported_backbone_saves_and_exports(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    """zoo.create on a cut SavedModel round-trips through .keras (and zoo) and model.export."""
    model = zoo.create(str(trained["paths"]["export"]), 3)
    x = trained["probe"] * 255.0
    model.save(tmp_path / "head.keras")
    # the file names the SavedModel directory it runs: only the caller may vouch for it (F25)
    with pytest.raises(UntrustedModelError, match="embeds a SavedModelFeatures"):
        zoo.load_backbone(str(tmp_path / "head.keras"))
    again = zoo.load_backbone(str(tmp_path / "head.keras"), trust=True)
    assert again.num_classes == 3 and again.model is not None
    np.testing.assert_allclose(np.asarray(again.model(x)), np.asarray(model(x)), atol=1e-6)
    model.export(str(tmp_path / "head_export"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "head_export"))  # keep it: it owns the variables
    np.testing.assert_allclose(reloaded.serve(x).numpy(), np.asarray(model(x)), atol=1e-6)


def test_in_memory_model_file_uri_and_registry_entry(
    trained: dict[str, Any], isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_cnn((32, 32, 3), 10)
    in_memory = zoo.load_backbone(model)
    assert in_memory.provider == "local" and in_memory.name == "tiny_cnn"
    assert in_memory.model is model
    path = trained["paths"]["keras"]
    assert zoo.load_backbone(path.as_uri()).feature_layer == "flatten"
    models = isolated / "models"
    models.mkdir()
    (models / "mine.keras").write_bytes(path.read_bytes())
    (models / "registry.yaml").write_text(
        "models:\n"
        "  my_net:\n"
        "    provider: local\n"
        "    source: mine.keras\n"  # relative to this registry file, not to the cwd
        "    preprocessing: unit\n"
        "    labels: [a, b, c, d, e, f, g, h, i, j]\n"
    )
    monkeypatch.setenv("ZOO_REGISTRY", str(models / "registry.yaml"))
    reset()
    backbone = zoo.load_backbone("my_net")
    assert backbone.input_spec.mode == "unit" and backbone.labels is not None
    assert backbone.labels[9] == "j"
    assert zoo.load_backbone("local:models/mine.keras").name == "mine"


def test_signature_only_saved_model_with_dict_outputs(signature_model: Path) -> None:
    """Input spec from the signature; output_key picks an output; a wrong key lists them."""
    embedding = zoo.load_backbone(str(signature_model), output_key="embedding")
    assert embedding.input_spec.shape == (8, 8, 3)
    assert embedding.feature_dim == 6 and embedding.classifier is None
    check_backbone(embedding)
    logits = zoo.load_backbone(str(signature_model), output_key="logits")
    assert logits.feature_dim == 3 and logits.num_classes == 4  # pooled @ head: cut
    with pytest.raises(InvalidOptionError, match="available outputs: embedding, logits") as info:
        zoo.load_backbone(str(signature_model), output_key="probabilities")
    # raised by the shared SavedModel code: named after the provider that used it, not tfhub
    assert (info.value.provider, info.value.plugin) == ("local", "local")
    with pytest.raises(InvalidOptionError, match=r"several outputs \(embedding, logits\)"):
        zoo.load_backbone(str(signature_model))
    with pytest.raises(InvalidOptionError, match="no signature 'serve'"):
        zoo.load_backbone(str(signature_model), signature="serve", output_key="logits")


def test_reusable_saved_model_from_a_path_keeps_the_contract(hub_model: HubModel) -> None:
    backbone = zoo.load_backbone(str(hub_model.directory))
    assert backbone.provider == "local" and backbone.feature_dim == HUB_FEATURE_DIM
    assert backbone.input_spec.mode == "raw"
    check_backbone(backbone)
    with pytest.raises(InvalidOptionError, match="reusable SavedModel"):
        zoo.load_backbone(str(hub_model.directory), feature_layer="conv")


# -- bad inputs ------------------------------------------------------------------------------


def test_missing_path(isolated: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="no such file or directory") as info:
        zoo.load_backbone("./nope.keras")
    assert info.value.source == str(isolated / "nope.keras")


def test_directory_that_is_not_a_saved_model(isolated: Path) -> None:
    (isolated / "empty_dir").mkdir()
    (isolated / "empty_dir" / "notes.txt").write_text("hello")
    with pytest.raises(InvalidModelError, match=r"not a SavedModel.*notes\.txt") as info:
        zoo.load_backbone("./empty_dir")
    assert info.value.source is not None and info.value.source.endswith("empty_dir")


def test_files_that_are_not_models(isolated: Path) -> None:
    (isolated / "text.h5").write_text("not hdf5")
    with pytest.raises(InvalidModelError, match=r"text\.h5 is neither a \.keras"):
        zoo.load_backbone("./text.h5")
    with h5py.File(isolated / "weights.h5", "w") as f:
        f.create_dataset("kernel", data=np.zeros(3))
    with pytest.raises(
        InvalidModelError, match=r"weights\.h5 is an HDF5 file but not a Keras model .*kernel"
    ):
        zoo.load_backbone("./weights.h5")
    with zipfile.ZipFile(isolated / "broken.keras", "w") as zf:
        zf.writestr("readme.txt", "no config")
    with pytest.raises(InvalidModelError, match=r"broken\.keras is a zip archive without"):
        zoo.load_backbone("./broken.keras")


def test_unknown_bare_name_is_not_taken_for_a_path() -> None:
    with pytest.raises(zoo.UnknownModelError, match="did you mean"):
        zoo.load_backbone("inceptoin_v3")


# -- code in model files (F18, F20) ----------------------------------------------------------


def _lambda_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((4, 4, 3)),
            keras.layers.Lambda(lambda x: x * 3.0, name="triple"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(2, name="predictions"),
        ]
    )


def test_keras_file_with_lambda_needs_trust(tmp_path: Path) -> None:
    """F18: a .keras Lambda layer is refused by default and loads with trust=True."""
    path = tmp_path / "lambda.keras"
    _lambda_model().save(path)
    with pytest.raises(UntrustedModelError, match="Lambda layer 'triple'") as info:
        zoo.load_backbone(str(path))
    assert info.value.source == str(path)
    trusted = zoo.load_backbone(str(path), trust=True)
    assert trusted.num_classes == 2 and trusted.feature_layer == "flatten"


def test_keras_config_naming_an_arbitrary_callable_is_refused(tmp_path: Path) -> None:
    """F18: a config pointing at a function outside Keras (os.system) is refused."""
    path = tmp_path / "evil.keras"
    keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Dense(2, name="d")]).save(path)
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(files["config.json"])
    config["config"]["layers"][1]["config"]["activation"] = {
        "module": "os",
        "class_name": "function",
        "config": "system",
        "registered_name": "system",
    }
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    with pytest.raises(UntrustedModelError, match=r"os\.function"):
        zoo.load_backbone(str(path))


def test_legacy_h5_with_lambda_is_refused_by_default(tmp_path: Path) -> None:
    """F20: a Keras 2 style .h5 whose Lambda holds bytecode is refused unless trusted."""
    from keras.src.utils import python_utils

    path = tmp_path / "legacy_lambda.h5"
    _lambda_model().save(path)
    with h5py.File(path, "r+") as f:  # rewrite the Lambda as tf.keras 2 wrote it
        config = json.loads(f.attrs["model_config"])
        lam = config["config"]["layers"][1]["config"]
        lam["function"] = list(python_utils.func_dump(lambda x: x * 3.0))
        lam["function_type"] = "lambda"
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(UntrustedModelError, match="Lambda layer 'triple'"):
        zoo.load_backbone(str(path))
    trusted = zoo.load_backbone(str(path), trust=True)
    x = np.ones((1, 4, 4, 3), "float32")
    assert trusted.model is not None
    np.testing.assert_allclose(np.asarray(trusted.model.get_layer("triple")(x)), 3.0 * x)
