"""zoo.HubLayer: the seed's Hub recipe on Keras 3, training, optimizers, export and saving."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.providers.conftest import HUB_FEATURE_DIM, HubModel
from zoo.errors import InvalidOptionError


def _hub_weights(layer: zoo.HubLayer) -> dict[str, np.ndarray]:
    return {v.name: v.numpy().copy() for v in layer.weights}


def test_seed_flow_3_sequential_hub_recipe_fits_five_images(hub_model: HubModel) -> None:
    """The classic recipe, ported by changing one name, fits 5 random 299x299 images exactly."""
    hub = zoo.HubLayer(hub_model.url, trainable=False, sha256=hub_model.sha256)
    model = keras.Sequential(
        [
            hub,
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(5),
        ]
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (5, 299, 299, 3)).astype("float32")
    labels = np.arange(5)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    before = _hub_weights(hub)
    model.fit(images, labels, epochs=40, batch_size=5, verbose=0)
    _, accuracy = model.evaluate(images, labels, verbose=0)
    assert accuracy == 1.0
    assert hub.trainable_weights == [] and len(hub.non_trainable_weights) == 3
    after = _hub_weights(hub)
    for name, value in before.items():  # frozen: kernel, scale and the moving mean untouched
        np.testing.assert_array_equal(value, after[name], err_msg=name)
    assert model.losses == []  # regularization losses only while trainable


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_trainable_hub_layer_fine_tunes_with_every_optimizer(
    hub_model: HubModel, optimizer: str
) -> None:
    """trainable=True: the SavedModel's variables train, the moving statistic moves."""
    hub = zoo.HubLayer(hub_model.url, trainable=True, sha256=hub_model.sha256)
    model = keras.Sequential([keras.Input((32, 32, 3)), hub, keras.layers.Dense(3)])
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert [w.name for w in hub.trainable_weights] == ["conv_kernel", "scale"]
    assert [w.name for w in hub.non_trainable_weights] == ["bn_moving_mean"]
    before = _hub_weights(hub)
    x = np.random.default_rng(1).uniform(0, 1, (4, 32, 32, 3)).astype("float32")
    model.fit(x, np.arange(4) % 3, epochs=2, verbose=0)
    after = _hub_weights(hub)
    assert not np.allclose(before["conv_kernel"], after["conv_kernel"])
    assert not np.allclose(before["bn_moving_mean"], after["bn_moving_mean"])
    slot_names = [v.path for v in model.optimizer.variables]
    assert all(":" not in name for name in slot_names), slot_names
    model(x)
    assert len(model.losses) == 1 and float(model.losses[0]) > 0  # the L2 penalty


def test_training_reaches_the_model_only_when_trainable_and_training(hub_model: HubModel) -> None:
    """Inference calls and frozen layers run the SavedModel with training=False."""
    x = np.random.default_rng(2).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
    frozen = zoo.HubLayer(hub_model.directory)
    mean = frozen.resolved_object.moving_mean
    frozen(x, training=True)
    assert not np.any(mean.numpy())  # frozen: training=True is not passed on
    live = zoo.HubLayer(hub_model.directory, trainable=True)
    live(x, training=False)
    assert not np.any(live.resolved_object.moving_mean.numpy())
    live(x, training=True)
    assert np.any(live.resolved_object.moving_mean.numpy())


def test_model_with_hub_layer_exports_and_reloads_for_inference(
    hub_model: HubModel, tmp_path: Path
) -> None:
    """model.export(...) writes a SavedModel that serves the same outputs."""
    inputs = keras.Input((24, 24, 3))
    outputs = keras.layers.Dense(2)(zoo.HubLayer(hub_model.directory)(inputs))
    model = keras.Model(inputs, outputs)
    model.export(str(tmp_path / "exported"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "exported"))
    x = np.random.default_rng(3).uniform(0, 1, (3, 24, 24, 3)).astype("float32")
    np.testing.assert_allclose(reloaded.serve(x).numpy(), np.asarray(model(x)), atol=1e-6)


def test_model_with_hub_layer_saves_to_keras_and_keeps_fine_tuned_weights(
    hub_model: HubModel, tmp_path: Path
) -> None:
    """.keras holds the handle in the config and the (fine-tuned) weights."""
    hub = zoo.HubLayer(hub_model.url, trainable=True, sha256=hub_model.sha256)
    model = keras.Sequential([keras.Input((16, 16, 3)), hub, keras.layers.Dense(2)])
    hub.weights[0].assign(hub.weights[0] * 2.0)  # stands in for fine-tuning
    model.save(tmp_path / "with_hub.keras")
    # the file names a program, so only the caller's trust loads it (F25)
    reloaded = keras.saving.load_model(tmp_path / "with_hub.keras", safe_mode=False)
    x = np.random.default_rng(4).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-5)
    layer = reloaded.layers[0]
    assert isinstance(layer, zoo.HubLayer) and layer.get_config()["handle"] == hub_model.url


def test_hub_layer_from_a_loaded_object_explains_why_it_cannot_save(
    hub_model: HubModel, tmp_path: Path
) -> None:
    """A layer built from an object has no handle for its config: clear error, export works."""
    layer = zoo.HubLayer(tf.saved_model.load(str(hub_model.directory)))
    model = keras.Sequential([keras.Input((8, 8, 3)), layer])
    assert model(np.zeros((1, 8, 8, 3), "float32")).shape == (1, HUB_FEATURE_DIM)
    with pytest.raises(InvalidOptionError, match=r"cannot be saved to \.keras"):
        model.save(tmp_path / "no.keras")


def test_signature_arguments_and_output_key(signature_model: Path) -> None:
    """signature / output_key / signature_outputs_as_dict behave like hub.KerasLayer's."""
    x = np.random.default_rng(5).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    pooled = x.mean(axis=(1, 2))
    obj = tf.saved_model.load(str(signature_model))
    w = obj.signatures["serving_default"].variables
    w_value = next(v for v in w if v.shape == (3, 6)).numpy()
    layer = zoo.HubLayer(signature_model, signature="serving_default", output_key="embedding")
    np.testing.assert_allclose(np.asarray(layer(x)), np.maximum(pooled @ w_value, 0), rtol=1e-5)
    both = zoo.HubLayer(signature_model, signature_outputs_as_dict=True)
    assert sorted(both(x)) == ["embedding", "logits"]
    with pytest.raises(InvalidOptionError, match="available outputs: embedding, logits"):
        zoo.HubLayer(signature_model, output_key="probabilities")
    with pytest.raises(InvalidOptionError, match="returns several outputs"):
        zoo.HubLayer(signature_model)
    with pytest.raises(InvalidOptionError, match="available: serving_default"):
        zoo.HubLayer(signature_model, signature="serve", output_key="logits")


def test_errors_name_the_provider_that_raised_them(tmp_path: Path) -> None:
    """A bare HubLayer is no provider's; through a provider the error names that provider."""
    missing = str(tmp_path / "missing")
    with pytest.raises(zoo.SourceNotFoundError, match="no such directory") as bare:
        zoo.HubLayer(missing)
    assert (bare.value.provider, bare.value.model) == (None, None)
    with pytest.raises(zoo.SourceNotFoundError, match="no such directory") as hub:
        zoo.load_backbone(f"hub:{missing}")
    assert (hub.value.provider, hub.value.plugin, hub.value.model) == ("tfhub", "tfhub", "missing")


def test_arguments_reach_the_call(tmp_path: Path) -> None:
    """``arguments`` are passed as keyword arguments to every call."""

    class Scaled(tf.Module):  # type: ignore[misc]
        @tf.function
        def __call__(self, x: tf.Tensor, factor: float = 1.0) -> tf.Tensor:
            return tf.reduce_mean(x, axis=[1, 2]) * factor

    module = Scaled()
    spec = tf.TensorSpec([None, None, None, 3], tf.float32)
    module.__call__.get_concrete_function(spec, 3.0)
    tf.saved_model.save(module, str(tmp_path / "scaled"))
    layer = zoo.HubLayer(tmp_path / "scaled", arguments={"factor": 3.0})
    x = np.ones((1, 4, 4, 3), "float32")
    np.testing.assert_allclose(np.asarray(layer(x)), np.full((1, 3), 3.0))
    assert layer.get_config()["arguments"] == {"factor": 3.0}


def test_hub_paths_never_import_tensorflow_hub_or_tf_keras(hub_model: HubModel) -> None:
    """HubLayer and both providers work without tensorflow_hub (which drags in tf_keras)."""
    import subprocess
    import sys

    code = (
        "import sys, keras, zoo\n"
        f"layer = zoo.HubLayer({str(hub_model.directory)!r}, trainable=True)\n"
        "keras.Sequential([keras.Input((8, 8, 3)), layer, keras.layers.Dense(2)])\n"
        f"zoo.load_backbone({str(hub_model.directory)!r})\n"
        f"zoo.load_backbone('hub:' + {str(hub_model.directory)!r})\n"
        "print([m for m in ('tf_keras', 'tensorflow_hub') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_call_returning_a_dict_needs_an_output_key(tmp_path: Path) -> None:
    """A reusable model returning a dict: output_key picks; none or a wrong one lists keys."""

    class TwoHeads(tf.Module):  # type: ignore[misc]
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            pooled = tf.reduce_mean(x, axis=[1, 2])
            return {"pooled": pooled, "doubled": 2.0 * pooled}

    tf.saved_model.save(TwoHeads(), str(tmp_path / "two"))
    x = np.ones((1, 4, 4, 3), "float32")
    picked = zoo.HubLayer(tmp_path / "two", output_key="doubled")
    np.testing.assert_allclose(np.asarray(picked(x)), np.full((1, 3), 2.0))
    with pytest.raises(InvalidOptionError, match="available outputs: doubled, pooled"):
        zoo.HubLayer(tmp_path / "two")(x)
    with pytest.raises(InvalidOptionError, match="no output 'logits'"):
        zoo.HubLayer(tmp_path / "two", output_key="logits")(x)
