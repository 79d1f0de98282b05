"""keras.applications provider: every architecture keeps the Backbone contract at weights=None."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo.errors import InvalidOptionError, SourceNotFoundError
from zoo.providers.keras_apps import MODULE_PREPROCESSING
from zoo.testing import check_backbone

KERAS_SPECS = zoo.list_models(provider="keras")
# Over ~40M parameters or slow to build: run with the slow marker (CI runs them too).
SLOW = {
    "convnext_base",
    "convnext_large",
    "convnext_xlarge",
    "efficientnet_b6",
    "efficientnet_b7",
    "efficientnet_v2_l",
    "efficientnet_v2_m",
    "inception_resnet_v2",
    "nasnet_large",
    "resnet152",
    "resnet152_v2",
    "resnet101",
    "resnet101_v2",
}
# The smallest input each architecture accepts without weights.
MIN_SIZE = {"inception_v3": 75, "inception_resnet_v2": 75, "xception": 71}
# The smallest member of each keras.applications module trains a head for one step; its
# larger siblings run the same code at other widths and depths, so they check the rest of
# the contract (shapes, preprocessing, feature maps, registry feature_dim) without the step,
# which is most of the cost of a big network (ConvNeXt's grouped convolutions compile XLA
# kernels for the gradient). A test below keeps one representative per module.
TRAIN_STEP = {
    "convnext_tiny",
    "densenet121",
    "efficientnet_b0",
    "efficientnet_v2_b0",
    "inception_resnet_v2",
    "inception_v3",
    "mobilenet",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "nasnet_mobile",
    "resnet50",
    "resnet50_v2",
    "vgg16",
    "vgg19",
    "xception",
}


def _params(names: list[str]) -> list[object]:
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


@pytest.mark.parametrize("name", _params([s.name for s in KERAS_SPECS]))
def test_contract_for_every_architecture(name: str) -> None:
    size = MIN_SIZE.get(name, 32)
    backbone = zoo.load_backbone(name, weights=None, input_shape=(size, size, 3))
    spec = zoo.get_spec(name)
    assert backbone.name == name and backbone.provider == "keras"
    assert backbone.input_spec.shape == (size, size, 3)
    assert backbone.input_spec.mode == spec.preprocessing
    assert backbone.feature_dim == spec.feature_dim, "registry feature_dim is stale"
    assert backbone.classifier is None  # weights=None: no top unless asked
    # one eager step: graph tracing is tested elsewhere
    check_backbone(backbone, eager=True, train_step=name in TRAIN_STEP)


def test_every_keras_module_has_one_architecture_that_trains_a_step() -> None:
    modules: dict[str, list[str]] = {}
    for spec in KERAS_SPECS:
        module = getattr(keras.applications, spec.source).__module__.rsplit(".", 1)[-1]
        modules.setdefault(module, []).append(spec.name)
    chosen = {m: sorted(set(names) & TRAIN_STEP) for m, names in modules.items()}
    assert all(len(names) == 1 for names in chosen.values()), chosen
    assert sum(len(v) for v in chosen.values()) == len(TRAIN_STEP)


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "vgg16", "efficientnet_b0"])
def test_contract_with_a_traced_train_step(name: str) -> None:
    """The train step traced into a graph as `fit` does: one family per preprocessing kind."""
    check_backbone(zoo.load_backbone(name, weights=None, input_shape=(32, 32, 3)))


def test_every_keras_function_has_an_entry_with_the_module_preprocessing() -> None:
    functions = {n: f for n, f in vars(keras.applications).items() if inspect.isfunction(f)}
    by_source = {s.source: s for s in KERAS_SPECS}
    for fn_name, fn in functions.items():
        spec = by_source[fn_name]
        assert fn_name in spec.aliases
        module = fn.__module__.rsplit(".", 1)[-1]
        assert spec.preprocessing == MODULE_PREPROCESSING[module], fn_name


def test_inception_v3_with_a_new_head_as_in_the_seed() -> None:
    model = zoo.create("inception_v3", 5, weights=None)
    last = model.layers[-1]
    assert isinstance(last, keras.layers.Dense) and last.units == 5
    assert tuple(last.input.shape) == (None, 2048)
    assert model.input_shape == (None, 299, 299, 3)


@pytest.mark.parametrize(
    ("name", "classifier", "feature_dim"),
    [
        ("resnet50", "predictions", 2048),
        ("vgg16", "predictions", 4096),
        ("mobilenet", "conv_preds", 1024),
        ("mobilenet_v3_small", "logits", 1024),
    ],
)
def test_include_top_keeps_the_classifier(name: str, classifier: str, feature_dim: int) -> None:
    backbone = zoo.load_backbone(name, weights=None, include_top=True, input_shape=(64, 64, 3))
    assert backbone.classifier is not None and backbone.classifier.name == classifier
    assert backbone.num_classes == 1000
    assert backbone.feature_dim == feature_dim
    check_backbone(backbone, train_step=False)


def test_features_are_the_input_of_the_original_classifier() -> None:
    backbone = zoo.load_backbone(
        "resnet50", weights=None, include_top=True, input_shape=(32, 32, 3)
    )
    images = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    x = backbone.preprocess(images)
    feats = backbone.features(x)
    manual = backbone.classifier(feats)
    np.testing.assert_allclose(
        np.asarray(manual), np.asarray(backbone.model(x)), rtol=1e-5, atol=1e-6
    )


def test_weights_from_a_local_file(tmp_path: Path) -> None:
    donor = keras.applications.MobileNetV2(
        weights=None, include_top=False, pooling="avg", input_shape=(32, 32, 3)
    )
    path = tmp_path / "mnv2.weights.h5"
    donor.save_weights(path)
    backbone = zoo.load_backbone("mobilenet_v2", weights=str(path), input_shape=(32, 32, 3))
    x = np.random.default_rng(2).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(backbone.features(x)), np.asarray(donor(x)), rtol=1e-5)
    with pytest.raises(SourceNotFoundError, match=r"weights file .* not found"):
        zoo.load_backbone("mobilenet_v2", weights=str(tmp_path / "nope.h5"))


def test_raw_source_forms_reach_the_same_entry() -> None:
    session_spec = zoo.get_spec("densenet121")
    from zoo.session import default_session

    s = default_session()
    assert s.spec_for("keras:DenseNet121") is session_spec
    assert s.spec_for(keras.applications.DenseNet121) is session_spec
    assert s.spec_for("DenseNet121") is session_spec
    backbone = zoo.load_backbone(
        keras.applications.DenseNet121, weights=None, input_shape=(32, 32, 3)
    )
    assert backbone.input_spec.mode == "torch"


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(SourceNotFoundError, match="did you mean 'ResNet50'"):
        zoo.load_backbone("keras:ResNet05")
    with pytest.raises(InvalidOptionError, match="did you mean 'weights'"):
        zoo.load_backbone("vgg16", wieghts=None)
    with pytest.raises(InvalidOptionError, match="does not take 'alpha'"):
        zoo.load_backbone("vgg16", weights=None, alpha=0.5)
    with pytest.raises(InvalidOptionError, match="pooling must be"):
        zoo.load_backbone("vgg16", weights=None, pooling="mean")
    with pytest.raises(InvalidOptionError, match="refused the arguments"):
        zoo.load_backbone("inception_v3", weights=None, input_shape=(32, 32, 3))
    with pytest.raises(InvalidOptionError, match="input_shape"):
        zoo.load_backbone("vgg16", input_shape=(32,))


def test_options_reach_keras() -> None:
    backbone = zoo.load_backbone("mobilenet_v2", weights=None, alpha=0.35, input_shape=(32, 32, 3))
    assert backbone.feature_dim == 1280
    narrow = backbone.count_params()
    assert (
        narrow
        < zoo.load_backbone("mobilenet_v2", weights=None, input_shape=(32, 32, 3)).count_params()
    )
    maxed = zoo.load_backbone("vgg16", weights=None, pooling="max", input_shape=(32, 32, 3))
    assert isinstance(maxed.features.layers[-1], keras.layers.GlobalMaxPooling2D)


def test_create_takes_raw_pixels_by_default() -> None:
    model = zoo.create("vgg16", 3, weights=None, input_shape=(32, 32, 3))
    assert model.get_layer("preprocess").reverse_channels  # caffe: BGR inside the model
    plain = zoo.create("vgg16", 3, weights=None, input_shape=(32, 32, 3), preprocess=False)
    assert "preprocess" not in [layer.name for layer in plain.layers]
    logits = zoo.create(
        "vgg16",
        3,
        weights=None,
        input_shape=(32, 32, 3),
        classifier_activation=None,
        dropout=0.2,
        hidden_units=[16],
    )
    assert logits.layers[-1].activation.__name__ == "linear"
    assert [layer.name for layer in logits.layers][-4:] == [
        "head_dropout_0",
        "head_dense_0",
        "head_dropout",
        "classifier",
    ]
    with pytest.raises(InvalidOptionError, match="num_classes"):
        zoo.create("vgg16", 0, weights=None)


@pytest.mark.parametrize(
    ("name", "size", "stages"),
    [
        (
            "resnet50",
            64,
            [
                "conv1_relu",
                "conv2_block3_out",
                "conv3_block4_out",
                "conv4_block6_out",
                "conv5_block3_out",
            ],
        ),
        ("inception_v3", 299, [None, None, "mixed2", "mixed7", "mixed10"]),
        ("efficientnet_b0", 64, [None, None, None, None, "top_activation"]),
    ],
)
def test_feature_maps_are_the_stage_outputs(name: str, size: int, stages: list[str | None]) -> None:
    """Multi-level maps P1..P5 (strides 2..32), even for valid-padding Inception."""
    backbone = zoo.load_backbone(name, weights=None, input_shape=(size, size, 3))
    assert backbone.feature_maps is not None
    outputs = backbone.feature_maps.output
    assert list(outputs) == ["P1", "P2", "P3", "P4", "P5"]  # no 1x1 squeeze-excite "level"
    for level, (key, tensor) in enumerate(outputs.items(), start=1):
        assert abs(math.log2(size / tensor.shape[1]) - level) < 0.3, (key, tensor.shape)
        if stages[level - 1] is not None:
            assert tensor._keras_history.operation.name == stages[level - 1]
    images = np.random.default_rng(3).uniform(0, 255, (2, size, size, 3)).astype("float32")
    x = backbone.preprocess(images)
    maps = backbone.feature_maps(x)
    pooled = np.asarray(maps["P5"]).mean(axis=(1, 2))
    np.testing.assert_allclose(pooled, np.asarray(backbone.features(x)), rtol=1e-4, atol=1e-5)
