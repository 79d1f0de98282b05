"""Fixtures of the fine-tune engine's tests: an in-memory backbone and learnable data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.finetune.util import blobs, small_cnn, with_bn_statistics


@pytest.fixture
def backbone() -> Any:
    """An in-memory Backbone (Backbone.from_model) with BatchNorm and 'unit' preprocessing."""
    import zoo

    model = with_bn_statistics(small_cnn())
    return zoo.Backbone.from_model(
        model, name="small_cnn", provider="memory", input_spec=zoo.InputSpec.from_mode("unit")
    )


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    """96 training images of 3 classes."""
    return blobs()
