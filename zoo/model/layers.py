"""Keras layers tfzoo puts into the models it builds. Registered for ``.keras`` saving."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from zoo.spec import InputSpec

__all__ = ["ConvertChannels", "Preprocess"]


@keras.saving.register_keras_serializable(package="zoo")
class Preprocess(keras.layers.Layer):  # type: ignore[misc]
    """Raw [0, 255] pixels -> the network's input, inside the model (so exports serve as is).

    Computes ``x[..., ::-1] if reverse_channels else x``, then ``x * multiplier + bias`` per
    channel. Build it from a backbone's input spec with :meth:`from_input_spec`.
    """

    def __init__(
        self,
        multiplier: Sequence[float] = (1.0,),
        bias: Sequence[float] = (0.0,),
        reverse_channels: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.multiplier = [float(v) for v in multiplier]
        self.bias = [float(v) for v in bias]
        self.reverse_channels = bool(reverse_channels)

    @classmethod
    def from_input_spec(cls, spec: InputSpec, **kwargs: Any) -> Preprocess:
        """The layer that applies ``spec.preprocess``."""
        m, b = spec.affine()
        return cls(
            multiplier=m.tolist(),
            bias=b.tolist(),
            reverse_channels=spec.channel_order == "bgr" and spec.channels == 3,
            dtype=spec.dtype,
            **kwargs,
        )

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, self.compute_dtype)
        if self.reverse_channels:
            x = ops.flip(x, axis=-1)
        m = ops.convert_to_tensor(self.multiplier, dtype=self.compute_dtype)
        b = ops.convert_to_tensor(self.bias, dtype=self.compute_dtype)
        return x * m + b

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            multiplier=self.multiplier, bias=self.bias, reverse_channels=self.reverse_channels
        )
        return config


# ITU-R BT.601 luma, as tf.image.rgb_to_grayscale
_LUMA = (0.2989, 0.587, 0.114)


@keras.saving.register_keras_serializable(package="zoo")
class ConvertChannels(keras.layers.Layer):  # type: ignore[misc]
    """Grayscale <-> RGB inside the model: 1 -> 3 repeats the channel, 3 -> 1 takes the luma."""

    def __init__(self, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if channels not in (1, 3):
            raise ValueError(f"ConvertChannels converts to 1 or 3 channels, received {channels}")
        self.channels = int(channels)

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, self.compute_dtype)
        if self.channels == 3:
            return ops.repeat(x, 3, axis=-1)
        luma = ops.convert_to_tensor(_LUMA, dtype=self.compute_dtype)
        return ops.sum(x * luma, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*tuple(input_shape)[:-1], self.channels)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(channels=self.channels)
        return config
