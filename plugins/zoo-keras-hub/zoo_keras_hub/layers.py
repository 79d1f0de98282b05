"""Keras layers the plugin puts into the models it builds. Registered for ``.keras`` saving."""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["ClassToken"]


@keras.saving.register_keras_serializable(package="zoo_keras_hub")
class ClassToken(keras.layers.Layer):  # type: ignore[misc]
    """``(batch, tokens, dim) -> (batch, dim)``: the first token (ViT's class token).

    KerasHub's ViT and DeiT classifiers pool this way (``pooling="token"``).
    """

    def call(self, inputs: Any) -> Any:
        return inputs[:, 0]

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], input_shape[-1])
