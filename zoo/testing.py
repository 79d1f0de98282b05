"""The shared Backbone contract test, for tfzoo's own tests and for plugin authors.

Example (in a plugin's test suite)::

    from zoo.testing import check_backbone

    def test_my_provider_keeps_the_contract():
        check_backbone(zoo.load_backbone("my:tiny", weights=None))

Every check raises AssertionError with a message naming the backbone and what was wrong.

:func:`isolated_zoo` gives each test its own tfzoo state (a conftest.py fixture)::

    @pytest.fixture(autouse=True)
    def isolated(tmp_path, monkeypatch):
        with isolated_zoo(tmp_path, monkeypatch) as work:
            yield work

:func:`freeze_imports` (called once at the top of that conftest.py) keeps the garbage
collection that ``isolated_zoo`` runs after each test from rescanning TensorFlow's and
Keras's million import-time objects: a suite of many small tests runs markedly faster.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from typing import TYPE_CHECKING, Any

from zoo.settings import SETTINGS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import numpy as np
    import pytest

    from zoo.model.backbone import Backbone
    from zoo.session import Session

__all__ = [
    "ZOO_ENVIRONMENT",
    "check_backbone",
    "freeze_imports",
    "isolated_zoo",
    "plugin_session",
    "random_images",
]

#: The environment variables that change what tfzoo does (every ZOO_* setting, and
#: tensorflow_hub's cache, which tfzoo reads models from); a test starts without them.
ZOO_ENVIRONMENT = (*SETTINGS, "TFHUB_CACHE_DIR")


def freeze_imports() -> None:
    """Import TensorFlow and Keras, then move every object alive now out of the collector's view.

    ``keras.backend.clear_session()`` (run by :func:`isolated_zoo` after each test) calls
    ``gc.collect()``, which walks every tracked object: with TensorFlow imported that is over
    a million module-level objects, 0.2-1 s per test. After :func:`gc.freeze` a collection
    walks only what was made later (the test's models and tensors are still freed). Call it
    once per test process, before the first test; :func:`isolated_zoo` freezes again after
    each test's collection.
    """
    import keras  # noqa: F401  (imported for its import-time objects)
    import tensorflow  # noqa: F401

    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def isolated_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Own ``ZOO_HOME`` and working directory, none of the user's settings, fresh sessions.

    Yields the working directory (``tmp_path / "work"``, where ``./zoo.yaml`` and ``zoo.lock``
    are looked for). The default session is reset before and after, and Keras's global
    state is cleared afterwards.
    """
    from zoo.session import reset

    for name in ZOO_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "zoo_home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    reset()
    try:
        yield work
    finally:
        reset()
        if "keras" in sys.modules:
            sys.modules["keras"].backend.clear_session()  # and gc.collect()
        # What outlives a test after that collection is long-lived (caches, pytest's own
        # records): frozen too, so the next test's collection walks only what it made. Without
        # it the survivors of hundreds of tests made every teardown 0.2-1 s (a quarter of the
        # suite); refcounting still frees frozen objects, only their cycles are not searched
        gc.freeze()


def plugin_session(plugin: object, name: str) -> Session:
    """A Session with the built-in plugins and ``plugin`` only (no installed entry point).

    So a plugin's tests see its own registrations and nothing another installed plugin adds::

        backbone = plugin_session(zoo_tiny, "tiny").load_backbone("tiny_cnn")
    """
    from zoo.host.manager import PluginHost
    from zoo.session import Session

    host = PluginHost(entry_points=False)
    host.add_plugin(plugin, name)
    return Session(host)


def random_images(backbone: Backbone, batch: int = 2, size: int = 64, seed: int = 0) -> np.ndarray:
    """Raw [0, 255] float32 images shaped for ``backbone`` (free dimensions become ``size``)."""
    import numpy as np

    h, w, c = backbone.input_spec.shape
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, size=(batch, h or size, w or size, c)).astype("float32")


def _check(condition: bool, backbone: Backbone, message: str) -> None:
    if not condition:
        raise AssertionError(f"{backbone.name} ({backbone.provider}): {message}")


def check_backbone(
    backbone: Backbone,
    *,
    batch: int = 2,
    size: int = 64,
    train_step: bool = True,
    eager: bool = False,
) -> dict[str, Any]:
    """Check that ``backbone`` keeps the Backbone contract; return what was measured.

    Checks: the input spec is an image spec whose preprocessing maps [0, 255] onto its stated
    value range; ``features`` runs on a batch and gives finite ``(batch, feature_dim)``;
    ``feature_maps`` (when given) gives a dict of finite ``(batch, h, w, c)`` maps;
    classifier, ``num_classes``, ``heads`` (the classifier is one of them) and ``labels``
    agree; and (``train_step``) a fresh head from :func:`zoo.model.head.build_classifier` on
    the frozen backbone trains one step, changing the head and leaving the backbone's
    weights untouched.

    Args:
        backbone: the Backbone under test.
        batch: batch size of the probe.
        size: height/width used where the input spec leaves them free.
        train_step: also train one step of a new head.
        eager: run that step eagerly. The default traces it into a graph as ``fit`` does,
            which also catches layers that cannot be traced; eager is ~4x faster for one
            step of a large network (tfzoo's own test over all 40 keras.applications uses it).
    """
    import keras
    import numpy as np

    from zoo.model.backbone import Backbone
    from zoo.model.head import build_classifier

    _check(isinstance(backbone, Backbone), backbone, f"not a Backbone: {type(backbone)}")
    spec = backbone.input_spec
    _check(len(spec.shape) == 3 and spec.channels >= 1, backbone, f"input shape {spec.shape}")
    model_shape = tuple(backbone.features.inputs[0].shape)[1:]
    _check(
        all(a is None or b is None or a == b for a, b in zip(model_shape, spec.shape, strict=True)),
        backbone,
        f"input_spec.shape {spec.shape} disagrees with the feature model's input {model_shape}",
    )

    low, high = spec.value_range
    _check(low < high, backbone, f"empty value range {spec.value_range}")
    extremes = np.stack(
        [np.zeros((2, 2, spec.channels)), np.full((2, 2, spec.channels), 255.0)]
    ).astype("float32")
    pre = np.asarray(backbone.preprocess(extremes))
    _check(
        np.isclose(pre.min(), low, atol=1e-3) and np.isclose(pre.max(), high, atol=1e-3),
        backbone,
        f"preprocess maps [0, 255] to [{pre.min():.4g}, {pre.max():.4g}], value_range says "
        f"{spec.value_range}",
    )

    images = random_images(backbone, batch, size)
    feats = np.asarray(backbone.features(backbone.preprocess(images), training=False))
    _check(
        feats.shape == (batch, backbone.feature_dim),
        backbone,
        f"features gave {feats.shape}, expected {(batch, backbone.feature_dim)}",
    )
    _check(bool(np.all(np.isfinite(feats))), backbone, "features are not finite")
    result: dict[str, Any] = {"feature_shape": feats.shape, "value_range": (low, high)}
    if backbone.feature_maps is not None:
        maps = backbone.feature_maps(backbone.preprocess(images), training=False)
        _check(
            isinstance(maps, dict) and bool(maps),
            backbone,
            f"feature_maps must give a non-empty dict of maps, gave {type(maps).__name__}",
        )
        shapes = {}
        for level, fmap in maps.items():
            arr = np.asarray(fmap)
            _check(
                arr.ndim == 4 and arr.shape[0] == batch,
                backbone,
                f"feature map {level!r} has shape {arr.shape}, expected (batch, h, w, channels)",
            )
            _check(bool(np.all(np.isfinite(arr))), backbone, f"feature map {level!r} not finite")
            shapes[level] = arr.shape
        result["feature_maps"] = shapes

    _check(
        (backbone.classifier is None) == (backbone.num_classes is None),
        backbone,
        f"classifier {backbone.classifier} but num_classes {backbone.num_classes}",
    )
    heads = getattr(backbone, "heads", None) or {}
    if heads:
        _check(
            any(
                h.classifier is backbone.classifier and h.num_classes == backbone.num_classes
                for h in heads.values()
            ),
            backbone,
            f"classifier {getattr(backbone.classifier, 'name', None)!r} is none of its heads "
            f"{list(heads)}",
        )
    if backbone.labels is not None:
        _check(
            len(backbone.labels) == backbone.num_classes,
            backbone,
            f"{len(backbone.labels)} labels for {backbone.num_classes} classes",
        )
    if not train_step:
        return result

    # both ends of the network and every non-trainable weight (BatchNorm statistics)
    watched = [
        *backbone.features.weights[:4],
        *backbone.features.weights[-4:],
        *backbone.features.non_trainable_weights,
    ]
    was_trainable = backbone.trainable
    backbone.trainable = False
    try:
        # logits and squared error: unlike softmax cross-entropy, whose gradient is exactly
        # zero in float32 once huge raw features saturate the softmax on the right classes,
        # this step always moves the head, so the check cannot flake
        model = build_classifier(backbone, 3, backbone_training=False, classifier_activation=None)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=eager)
        before_head = [np.array(w) for w in model.get_layer("classifier").get_weights()]
        before_backbone = [w.numpy() for w in watched]
        targets = np.eye(3, dtype="float32")[np.arange(batch) % 3]
        loss = float(np.asarray(model.train_on_batch(images, targets)))
        _check(np.isfinite(loss), backbone, f"training loss is {loss}")
        after_head = model.get_layer("classifier").get_weights()
        _check(
            any(not np.allclose(a, b) for a, b in zip(before_head, after_head, strict=True)),
            backbone,
            "one training step did not change the new head",
        )
        after_backbone = [w.numpy() for w in watched]
        _check(
            all(np.array_equal(a, b) for a, b in zip(before_backbone, after_backbone, strict=True)),
            backbone,
            "a training step on the frozen backbone changed its weights",
        )
        result["loss"] = loss
    finally:
        backbone.trainable = was_trainable
    return result
