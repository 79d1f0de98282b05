"""Fresh weights: ``Recipe.from_scratch``, and the auto recipe's from-scratch candidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.finetune.util import FAST, blobs, fixed_backbone

SCRATCH: dict[str, Any] = {**FAST, "from_scratch": True, "freeze": "none", "train_batchnorm": True}


def test_reinitialize_draws_fresh_weights_from_the_seed() -> None:
    import keras

    from zoo.finetune.freezing import reinitialize

    pretrained = fixed_backbone()
    before = pretrained.model.get_weights()
    fresh = []
    for _ in range(2):
        backbone = fixed_backbone()
        keras.utils.set_random_seed(7)
        reinitialize(backbone)
        fresh.append(backbone.model.get_weights())
    for a, b in zip(*fresh, strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, same weights
    kernel = pretrained.model.get_layer("conv1").kernel
    index = next(i for i, w in enumerate(pretrained.model.weights) if w is kernel)
    assert not np.allclose(fresh[0][index], before[index])
    bn = pretrained.model.get_layer("bn1")
    assert float(np.abs(np.asarray(bn.moving_mean)).max()) > 0  # trained statistics ...
    fresh_bn = fresh[0][
        next(i for i, w in enumerate(pretrained.model.weights) if w is bn.moving_mean)
    ]
    np.testing.assert_array_equal(fresh_bn, 0.0)  # ... start again


def test_from_scratch_trains_fresh_weights_and_reproduces(tmp_path: Path) -> None:
    import zoo

    x, y = blobs(32)
    runs = [zoo.finetune(fixed_backbone(), (x, y), **SCRATCH, epochs=2) for _ in range(2)]
    transfer = zoo.finetune(fixed_backbone(), (x, y), **FAST, freeze="none", epochs=2)
    first, second = (r.model.predict(x[:8], verbose=0) for r in runs)
    np.testing.assert_allclose(first, second, atol=1e-6)
    assert not np.allclose(first, transfer.model.predict(x[:8], verbose=0), atol=1e-3)
    (tmp_path / "recipe.yaml").write_text(runs[0].recipe.to_yaml())
    assert zoo.Recipe.from_yaml(tmp_path / "recipe.yaml").from_scratch


def test_from_scratch_with_frozen_layers_is_refused() -> None:
    import zoo

    with pytest.raises(zoo.InvalidOptionError, match=r"from_scratch=True.*freeze='none'"):
        zoo.Recipe(from_scratch=True)
    with pytest.raises(zoo.InvalidOptionError, match="true or false"):
        zoo.Recipe(from_scratch="yes", freeze="none")  # type: ignore[arg-type]


def _spots(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The class is which half a bright spot sits in: plain for pixels, nearly invisible
    to features averaged over the whole image (small_cnn's global pooling)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0, 60, (n, 16, 16, 3)).astype("float32")
    for i, label in enumerate(y):
        row, col = rng.integers(4, 10), rng.integers(3, 5) + 8 * label
        x[i, row : row + 2, col : col + 2, :] += 180.0
    return x, y


def test_auto_tries_fresh_weights_when_pixels_probe_better() -> None:
    """The pixels separate the classes better than any cut: transfer has a baseline to beat;
    the trial is in the table, and a chosen one is the plain recipe result.recipe holds."""
    import zoo
    from zoo.finetune.auto import PIXELS

    x, y = _spots(48)
    result = zoo.finetune(fixed_backbone(), (x, y), verbose=0, seed=0, batch_size=16, epochs=3)
    pixels = [t for t in result.trials if t.cut == PIXELS]
    assert len(pixels) == 1 and pixels[0].trained == "linear probe"
    cuts = [t.val_accuracy for t in result.trials if t.trained == "linear probe"][:-1]
    assert pixels[0].val_accuracy >= max(cuts) and pixels[0].val_accuracy > 0.5
    scratch = [t for t in result.trials if t.trained == "from scratch"]
    assert len(scratch) == 1 and scratch[0].steps > 0
    chosen = next(t for t in result.trials if t.chosen)
    assert result.recipe.from_scratch == (chosen.trained == "from scratch")
    if result.recipe.from_scratch:
        assert result.recipe.freeze == "none" and result.recipe.train_batchnorm


def test_auto_skips_fresh_weights_when_features_are_perfect_too() -> None:
    import zoo

    x, y = blobs(48)  # bright rows: pixels and pooled features both probe at 1.0
    result = zoo.finetune(fixed_backbone(), (x, y), verbose=0, seed=0, batch_size=16, epochs=2)
    probes = {t.cut: t.val_accuracy for t in result.trials if t.trained == "linear probe"}
    assert set(probes.values()) == {1.0} and "input pixels" in probes
    assert not [t for t in result.trials if t.trained == "from scratch"]


def test_auto_keeps_transfer_when_the_user_fixed_freezing() -> None:
    import zoo

    x, y = blobs(48)
    result = zoo.finetune(
        fixed_backbone(), (x, y), verbose=0, seed=0, batch_size=16, epochs=2, freeze=-2
    )
    assert not [t for t in result.trials if t.trained == "from scratch" or t.cut == "input pixels"]
    assert not result.recipe.from_scratch
