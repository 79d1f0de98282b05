"""The engine end to end on tiny models: providers, BatchNorm, phases, feature cache, data forms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import zoo
from tests.conftest import MemoryPlugin
from tests.finetune.util import FAST, blobs, fixed_backbone, small_cnn, with_bn_statistics
from zoo.host.manager import PluginHost
from zoo.session import Session, default_session


def _keras_source(tmp: Path) -> tuple[object, dict[str, Any]]:
    return "mobilenet", {"weights": None, "input_shape": (32, 32, 3), "alpha": 0.25}


def _memory_plugin_source(tmp: Path) -> tuple[object, dict[str, Any]]:
    host = PluginHost(entry_points=False)
    host.add_plugin(MemoryPlugin(), "memory")
    return Session(host).load_backbone("tiny", input_shape=(16, 16, 3)), {}


def _from_model_source(tmp: Path) -> tuple[object, dict[str, Any]]:
    model = small_cnn()
    return zoo.Backbone.from_model(model, name="mine", provider="in-memory"), {}


def _local_source(tmp: Path) -> tuple[object, dict[str, Any]]:
    path = tmp / "pretrained.keras"
    small_cnn().save(path)
    return str(path), {}


def _tfhub_source(tmp: Path) -> tuple[object, dict[str, Any]]:
    from tests.providers.conftest import build_reusable_saved_model

    return f"hub:{build_reusable_saved_model(tmp / 'hub')}", {}


def _keras_hub_source(tmp: Path) -> tuple[object, dict[str, Any]]:
    """A tiny KerasHub ResNet preset directory (the zoo-keras-hub plugin's provider)."""
    import keras_hub

    keras_hub.models.ResNetBackbone(  # as the plugin's own tests: ResNet insists on 64 first
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(None, None, 3),
    ).save_to_preset(str(tmp / "preset"))
    return str(tmp / "preset"), {"input_shape": (32, 32, 3)}


def _published_source(tmp: Path) -> tuple[object, dict[str, Any]]:
    """A small CNN exported and published with `zoo publish`, reached through ./zoo.yaml."""
    import zoo.session
    from zoo.export.exporter import export as export_model

    export_model(
        small_cnn(classes=3),
        tmp / "export",
        ["saved_model"],
        class_names=["a", "b", "c"],
        verify=False,
    )
    zoo.publish(tmp / "export", name="team/small", to=tmp / "registry")
    Path("zoo.yaml").write_text(f"registries: [{tmp / 'registry' / 'registry.yaml'}]\n")
    zoo.session.reset()
    return "team/small", {}


#: provider name -> a small source of that provider, with load overrides
SOURCES: dict[str, Callable[[Path], tuple[object, dict[str, Any]]]] = {
    "keras": _keras_source,
    "local": _local_source,
    "tfhub": _tfhub_source,
    "published": _published_source,
    "keras_hub": _keras_hub_source,
}
IN_MEMORY = {"memory-plugin": _memory_plugin_source, "from_model": _from_model_source}


def test_every_registered_provider_has_a_source_here() -> None:
    missing = set(default_session().host.provider_names()) - set(SOURCES)
    assert not missing, f"add a small source for providers {missing} to SOURCES"


@pytest.mark.parametrize(
    "kind",
    [p for p in SOURCES if p in default_session().host.provider_names()] + list(IN_MEMORY),
)
def test_the_recipe_works_through_the_contract_for_every_provider(
    kind: str, tmp_path: Path
) -> None:
    source, overrides = {**SOURCES, **IN_MEMORY}[kind](tmp_path)
    x, y = blobs(64, (12, 12, 1), classes=3)  # other size and channels than the backbones
    result = zoo.finetune(source, (x, y), epochs=3, learning_rate=1e-2, **FAST, **overrides)
    probs = result.model.predict(x[:5], verbose=0)
    assert probs.shape == (5, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert result.model.input_shape == (None, 12, 12, 1)  # raw images as given
    losses = result.history["head"]["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert result.metrics["accuracy"] == result.history["head"]["accuracy"][-1]


def _bn_stats(model: keras.Model) -> list[np.ndarray]:
    bns = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    return [w.numpy().copy() for la in bns for w in (la.moving_mean, la.moving_variance)]


def test_frozen_batchnorm_keeps_its_statistics(backbone: zoo.Backbone, data: Any) -> None:
    before = [w.numpy().copy() for w in backbone.features.weights]
    stats = _bn_stats(backbone.features)
    result = zoo.finetune(backbone, data, epochs=2, cache_features="off", **FAST)
    assert result.feature_cache is None
    after_stats = _bn_stats(backbone.features)
    assert stats and all(np.array_equal(a, b) for a, b in zip(stats, after_stats, strict=True))
    assert all(
        np.array_equal(a, b.numpy()) for a, b in zip(before, backbone.features.weights, strict=True)
    )


def test_train_batchnorm_lets_unfrozen_statistics_move(data: Any) -> None:
    """The check above can fail: with train_batchnorm the same statistics do move."""
    model = with_bn_statistics(small_cnn())
    bb = zoo.Backbone.from_model(model, name="m", provider="p")
    stats = _bn_stats(bb.features)
    zoo.finetune(bb, data, epochs=1, freeze="none", train_batchnorm=True, **FAST)
    assert not all(np.array_equal(a, b) for a, b in zip(stats, _bn_stats(bb.features), strict=True))


def test_phase_2_unfreezes_the_top_layers_at_a_lower_learning_rate(
    backbone: zoo.Backbone, data: Any
) -> None:
    names = [layer.name for layer in backbone.features.layers]
    assert names[-4:] == ["conv2", "bn2", "relu2", "gap"]
    conv1 = backbone.features.get_layer("conv1").kernel.numpy().copy()
    conv2 = backbone.features.get_layer("conv2").kernel.numpy().copy()
    stats = _bn_stats(backbone.features)
    result = zoo.finetune(
        backbone,
        data,
        epochs=2,
        learning_rate=1e-2,
        unfreeze_epochs=2,
        unfreeze_top=4,
        **FAST,
    )
    head, tune = result.phase("head"), result.phase("finetune")
    assert head is not None and tune is not None
    assert tune.learning_rate == pytest.approx(1e-4) and tune.epochs == 2
    assert float(result.model.optimizer.learning_rate) == pytest.approx(1e-4)
    # head phase: classifier kernel + bias; phase 2 adds conv2's; BatchNorm stays frozen
    assert (head.trainable_weights, tune.trainable_weights) == (2, 4)
    assert not backbone.features.get_layer("bn2").trainable
    assert np.array_equal(backbone.features.get_layer("conv1").kernel.numpy(), conv1)
    assert not np.allclose(backbone.features.get_layer("conv2").kernel.numpy(), conv2)
    # BatchNorm still in inference mode: statistics unchanged (keras-team/keras#20285)
    assert all(
        np.array_equal(a, b) for a, b in zip(stats, _bn_stats(backbone.features), strict=True)
    )


@pytest.mark.parametrize("mode", ["memory", "disk"])
def test_feature_cache_gives_the_model_training_without_it_gives(data: Any, mode: str) -> None:
    x, y = data
    runs = {}
    for cache in ("off", mode):
        bb = fixed_backbone()
        runs[cache] = zoo.finetune(
            bb,
            (x, y),
            validation_data=blobs(32, seed=1),
            epochs=3,
            dropout=0.0,
            shuffle=False,
            cache_features=cache,
            **FAST,
        )
    assert runs["off"].feature_cache is None and runs[mode].feature_cache == mode
    assert runs[mode].phase("features") is not None
    np.testing.assert_allclose(
        runs[mode].model.predict(x, verbose=0), runs["off"].model.predict(x, verbose=0), atol=1e-5
    )
    np.testing.assert_allclose(
        runs[mode].history["head"]["loss"], runs["off"].history["head"]["loss"], rtol=1e-4
    )
    assert runs[mode].metrics["val_accuracy"] == pytest.approx(runs["off"].metrics["val_accuracy"])
    # the returned model is compiled, whichever way its head trained
    scores = runs[mode].model.evaluate(*blobs(32, seed=1), verbose=0, return_dict=True)
    assert scores["accuracy"] == pytest.approx(runs[mode].metrics["val_accuracy"])


def test_augmentation_hidden_layers_and_label_smoothing(backbone: zoo.Backbone, data: Any) -> None:
    result = zoo.finetune(
        backbone,
        data,
        epochs=2,
        augmentation=["flip", {"rotation": 0.05}],
        hidden_units=[8],
        label_smoothing=0.1,
        validation_split=0.25,
        **FAST,
    )
    assert result.feature_cache is None  # random inputs each epoch: no cache
    names = [layer.name for layer in result.model.layers]
    assert {"augment_flip", "augment_rotation", "head_dense_0", "classifier"} <= set(names)
    assert "val_accuracy" in result.metrics and np.isfinite(result.metrics["val_loss"])
    assert result.model.loss.label_smoothing == pytest.approx(0.1)


def test_a_tf_data_dataset_batched_or_not(backbone: zoo.Backbone, data: Any) -> None:
    import tensorflow as tf

    x, y = data
    unbatched = tf.data.Dataset.from_tensor_slices((x, y))
    a = zoo.finetune(backbone, unbatched, epochs=1, **FAST)
    b = zoo.finetune(
        backbone, unbatched.batch(8), validation_data=unbatched.batch(8), epochs=1, **FAST
    )
    assert a.num_classes == b.num_classes == 3  # scanned from the labels
    assert a.feature_cache == "memory" and "val_accuracy" in b.metrics


def test_an_image_directory_keeps_class_names(backbone: zoo.Backbone, tmp_path: Path) -> None:
    x, y = blobs(30, (20, 20, 3))
    names = ["cat", "dog", "emu"]
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        folder = tmp_path / "train" / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        keras.utils.save_img(folder / f"{i}.png", img)
    result = zoo.finetune(backbone, tmp_path / "train", epochs=1, validation_split=0.2, **FAST)
    assert result.class_names == ("cat", "dog", "emu") and result.num_classes == 3
    assert result.model.input_shape == (None, 16, 16, 3)  # read at the backbone's size


def test_string_labels_become_class_names(backbone: zoo.Backbone, data: Any) -> None:
    x, y = data
    words = np.array(["zero", "one", "two"])[y]
    result = zoo.finetune(backbone, (x, words), epochs=1, **FAST)
    assert result.class_names == ("one", "two", "zero")


def test_mixed_precision_builds_in_float16_and_restores_the_policy() -> None:
    x, y = blobs(32, (32, 32, 3))
    result = zoo.finetune(
        "mobilenet",
        (x, y),
        weights=None,
        input_shape=(32, 32, 3),
        alpha=0.25,
        epochs=1,
        mixed_precision=True,
        **FAST,
    )
    assert result.backbone.features.layers[1].compute_dtype == "float16"
    assert result.model.output.dtype == "float32"
    assert np.isfinite(result.metrics["loss"])
    assert keras.config.dtype_policy().name == "float32"


def test_mixed_precision_on_a_loaded_backbone_warns(backbone: zoo.Backbone, data: Any) -> None:
    with pytest.warns(zoo.ZooWarning, match="keeps its float32 layers"):
        result = zoo.finetune(backbone, data, epochs=1, mixed_precision=True, **FAST)
    assert result.model.get_layer("classifier").dtype_policy.name == "float32"
    assert keras.config.dtype_policy().name == "float32"
