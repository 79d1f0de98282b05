"""The model a ``.keras`` export saves: tfzoo's own layers swapped for Keras built-ins.

A fine-tuned classifier carries :class:`~zoo.model.layers.Preprocess` and
:class:`~zoo.model.layers.ConvertChannels`. Saved as they are, ``keras.saving.load_model``
finds them only in a process that imported ``zoo.model.layers`` first (``import zoo`` does
not: it loads lazily), and never without tfzoo installed. :func:`builtin_copy` gives the same
model built from Keras layers only, computing the same numbers:

- ``Preprocess`` without a channel swap -> ``Rescaling(scale=multiplier, offset=bias)``
  (the same ``x * m + b``);
- ``Preprocess`` that swaps RGB to BGR (caffe mode) -> a frozen 1x1 ``Conv2D`` whose kernel
  is the channel permutation times the multiplier: each output is one product plus zeros
  plus the bias, exact;
- ``ConvertChannels`` -> a frozen 1x1 ``Conv2D``: ones (1 -> 3 channels, exact) or the luma
  weights (3 -> 1).

Every other layer is shared with the model, not copied (its weights are the same objects);
nested models are rebuilt only when they hold one of tfzoo's layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

__all__ = ["builtin_copy"]


def _holds_ours(model: keras.Model) -> bool:
    """Whether ``model`` holds one of tfzoo's layers, at any depth."""
    from zoo.model.layers import ConvertChannels, Preprocess

    layers = model._flatten_layers(include_self=False)
    return any(isinstance(layer, (Preprocess, ConvertChannels)) for layer in layers)


def builtin_copy(model: keras.Model) -> keras.Model:
    """``model`` with tfzoo's layers replaced by built-in equivalents (``model`` itself when
    it has none)."""
    import keras

    if not _holds_ours(model):
        return model

    def swap(layer: Any) -> Any:
        if isinstance(layer, keras.Model) and _holds_ours(layer):
            return builtin_copy(layer)
        return _builtin(layer) or layer

    return keras.models.clone_model(model, clone_function=swap)


def _builtin(layer: Any) -> Any:
    """The built-in layer computing what ``layer`` computes, or None for any other layer."""
    import keras

    from zoo.model.layers import _LUMA, ConvertChannels, Preprocess

    if isinstance(layer, Preprocess):
        m = np.asarray(layer.multiplier, dtype="float32")
        b = np.asarray(layer.bias, dtype="float32")
        if not layer.reverse_channels:
            scale: Any = float(m[0]) if m.size == 1 else m.tolist()
            offset: Any = float(b[0]) if b.size == 1 else b.tolist()
            return keras.layers.Rescaling(scale, offset, name=layer.name, dtype=layer.dtype_policy)
        channels = max(m.size, b.size)
        m = np.broadcast_to(m, (channels,))
        kernel = np.zeros((1, 1, channels, channels), "float32")
        for out in range(channels):  # output channel `out` reads input channel C-1-out
            kernel[0, 0, channels - 1 - out, out] = m[out]
        return _fixed_conv(layer, kernel, np.broadcast_to(b, (channels,)))
    if isinstance(layer, ConvertChannels):
        if layer.channels == 3:
            return _fixed_conv(layer, np.ones((1, 1, 1, 3), "float32"), None)
        luma = np.asarray(_LUMA, "float32").reshape(1, 1, 3, 1)
        return _fixed_conv(layer, luma, None)
    return None


def _fixed_conv(layer: Any, kernel: np.ndarray, bias: np.ndarray | None) -> Any:
    """A frozen 1x1 convolution in ``layer``'s place, built with ``kernel`` and ``bias``."""
    import keras

    conv = keras.layers.Conv2D(
        kernel.shape[-1],
        1,
        use_bias=bias is not None,
        trainable=False,
        name=layer.name,
        dtype=layer.dtype_policy,
    )
    conv.build(tuple(layer.input.shape))
    conv.set_weights([kernel] if bias is None else [kernel, np.asarray(bias, "float32")])
    return conv
