"""Classifier and feature detection on every head shape real models have (issue 12)."""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from tests.model.corpus import HEAD_SHAPES
from zoo.errors import InvalidModelError, ZooWarning
from zoo.testing import check_backbone


@pytest.mark.parametrize("shape", sorted(HEAD_SHAPES))
def test_each_head_shape_saved_as_keras_and_h5(isolated: Path, shape: str) -> None:
    """Saved as .keras and .h5, each head gives the feature that feeds it, never class scores."""
    build, expect = HEAD_SHAPES[shape]
    model = build()
    for suffix in (".keras", ".h5"):
        path = isolated / f"{shape}{suffix}"
        model.save(path)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ZooWarning)  # a detected head warns about nothing
            # (preprocessing given: these models take pixels into a conv, where raw is a guess)
            backbone = zoo.load_backbone(str(path), preprocessing="raw")
        assert backbone.feature_layer == expect.feature_layer, backbone.notes
        assert backbone.feature_dim == expect.feature_dim
        assert {k: h.num_classes for k, h in backbone.heads.items()} == expect.heads
        assert list(backbone.heads) == list(expect.heads)  # output order
        first = next(iter(expect.heads.values()))
        assert backbone.num_classes == first
        assert backbone.feature_dim not in expect.heads.values() or shape == "dense_bn_dropout"
        assert any("classifier" in note for note in backbone.notes)
        assert backbone.input_spec.shape == tuple(model.inputs[0].shape[1:])
    check_backbone(backbone)


def test_features_are_what_feeds_the_classifier(isolated: Path) -> None:
    """mini-Xception: the feature is the pooled map before the class-map convolution."""
    model = HEAD_SHAPES["mini_xception"][0]()
    backbone = zoo.load_backbone(model)
    x = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 1)).astype("float32")
    inner = keras.Model(model.inputs, model.get_layer("add_1").output)
    expected = np.asarray(inner(x)).mean(axis=(1, 2))
    np.testing.assert_allclose(np.asarray(backbone.features(x)), expected, rtol=1e-5, atol=1e-6)
    assert backbone.classifier is model.get_layer("class_maps")
    assert backbone.hints == {"feature_layer": "add_1"}  # a convolutional head: say the override


def test_multi_head_model_choose_a_head(isolated: Path) -> None:
    """WideResNet age/gender: the trunk is the feature; head= picks which head is described."""
    model = HEAD_SHAPES["wide_resnet"][0]()
    backbone = zoo.load_backbone(model)
    assert (backbone.classifier.name, backbone.num_classes) == ("pred_gender", 2)
    assert backbone.hints["head"] == "pred_gender"
    for choice in ("pred_age", 1, -1):
        chosen = zoo.load_backbone(model, head=choice)
        assert (chosen.classifier.name, chosen.num_classes) == ("pred_age", 101)
        assert chosen.feature_layer == "flatten_1"
    with pytest.raises(InvalidModelError, match=r"0: 'pred_gender' \(2 classes\), 1: 'pred_age'"):
        zoo.load_backbone(model, head="pred_agee")
    with pytest.raises(InvalidModelError, match="no head 5"):
        zoo.load_backbone(model, head=5)
    described = backbone.describe()
    assert described["heads"] == {
        "pred_gender": {"classifier": "pred_gender", "num_classes": 2},
        "pred_age": {"classifier": "pred_age", "num_classes": 101},
    }
    assert any("2 heads on one trunk" in n for n in described["notes"])


def test_multi_head_create_builds_one_new_head_on_the_trunk(isolated: Path) -> None:
    model = HEAD_SHAPES["wide_resnet"][0]()
    path = isolated / "wrn.h5"
    model.save(path)
    new = zoo.create(str(path), 7)
    assert len(new.outputs) == 1 and tuple(new.outputs[0].shape) == (None, 7)
    assert isinstance(new.layers[-1], keras.layers.Dense) and new.layers[-1].units == 7
    x = np.random.default_rng(1).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    y = np.arange(4) % 7
    result = zoo.finetune(str(path), (x, y), num_classes=7, epochs=1, batch_size=2)
    assert result.model.outputs[0].shape[-1] == 7


def test_heads_with_their_own_layers_are_said_to(isolated: Path) -> None:
    backbone = zoo.load_backbone(HEAD_SHAPES["own_layers"][0]())
    assert backbone.feature_layer == "trunk_gap"
    assert any("have layers of their own" in n for n in backbone.notes)


def test_no_classifier_gives_the_last_output_and_says_so(isolated: Path) -> None:
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="gap")(x))
    with pytest.warns(ZooWarning, match="no classifier found.*'gap' is the feature"):
        backbone = zoo.load_backbone(model)
    assert (backbone.feature_layer, backbone.feature_dim, backbone.classifier) == ("gap", 6, None)
    assert backbone.hints == {"feature_layer": "gap"}
    check_backbone(backbone, train_step=False)


def test_class_scores_are_never_the_feature(isolated: Path) -> None:
    """A softmax output with no recognizable classifier is refused, naming feature_layer=."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(inputs)
    x = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    out = keras.layers.Activation("softmax", name="probs")(x)
    with pytest.raises(InvalidModelError, match=r"class scores.*feature_layer=.*'hidden'"):
        zoo.load_backbone(keras.Model(inputs, out))
    backbone = zoo.load_backbone(keras.Model(inputs, out), feature_layer="hidden")
    assert backbone.feature_dim == 8


def test_keras_applications_tops_still_detected(isolated: Path) -> None:
    model = keras.applications.MobileNet(weights=None, input_shape=(32, 32, 3), alpha=0.25)
    backbone = zoo.load_backbone(model)
    assert (backbone.classifier.name, backbone.num_classes) == ("conv_preds", 1000)
    no_top = keras.applications.MobileNetV2(
        weights=None, include_top=False, pooling="avg", input_shape=(32, 32, 3), alpha=0.35
    )
    with pytest.warns(ZooWarning, match="no classifier"):
        plain = zoo.load_backbone(no_top)
    assert plain.classifier is None and plain.feature_dim == 1280  # its 1x1 conv is no classifier
