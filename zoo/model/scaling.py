"""Does a saved model scale its own pixels? The question behind ``preprocessing="raw"``.

A model file does not record what value range it was trained on. When its first computing
layer is a ``Rescaling`` / ``Normalization`` (EfficientNet, a Keras 3 model built with a
preprocessing layer) it takes raw pixels, and ``raw`` is right. When the image goes straight
into a convolution or Dense layer (fer's mini-Xception, a ``keras.applications`` network saved
after an external ``preprocess_input``), the range lives in the training code only: ``raw`` is
a guess, and a wrong guess costs accuracy silently. :func:`unscaled_entry` finds that case, so
that the provider can say so (see :mod:`zoo.providers.local`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["guessed_entry", "unit_range", "unknown_scaling", "unscaled_entry", "unscaled_message"]

# Layers that move or reshape pixels without changing their scale: walked past.
_PASS = frozenset(
    {
        "InputLayer",
        "Resizing",
        "CenterCrop",
        "Cropping2D",
        "ZeroPadding2D",
        "Reshape",
        "Permute",
        "Dropout",
        "GaussianNoise",
        "SpatialDropout2D",
    }
)
# Layers that compute on the pixels as they come: the model has no scaling of its own.
_COMPUTE = frozenset(
    {
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Conv2DTranspose",
        "DepthwiseConv2D",
        "SeparableConv2D",
        "Dense",
        "LocallyConnected2D",
    }
)


def unscaled_entry(model: Any) -> Any | None:
    """The layer that takes the pixels as given, when nothing before it scales them.

    Walks ``model.layers`` in order past layers that only move pixels (resizing, cropping,
    padding, augmentation) and into nested models. Returns the first convolution or Dense
    layer reached that way; ``None`` when something else comes first: a ``Rescaling``,
    ``Normalization`` or ``BatchNormalization`` (the model scales inside), or a layer whose
    effect is unknown (a ``Lambda``, a custom layer), where staying quiet is the honest answer.
    """
    for layer in getattr(model, "layers", ()):
        kind = type(layer).__name__
        exported = _exported(layer)
        if kind in _PASS or kind.startswith("Random") or exported == "channels":
            continue
        if exported == "preprocess":
            return None
        if kind in _COMPUTE:
            return layer
        if getattr(layer, "layers", None):  # a nested Functional / Sequential model
            return unscaled_entry(layer)
        return None
    return None


def _exported(layer: Any) -> str | None:
    """``"channels"`` or ``"preprocess"`` for the frozen 1x1 convolutions a tfzoo ``.keras``
    export holds in place of its ConvertChannels and caffe-mode Preprocess layers
    (``zoo.export.portable``): a channel map, and the scaling."""
    if type(layer).__name__ != "Conv2D" or layer.trainable:
        return None
    if tuple(getattr(layer, "kernel_size", ())) != (1, 1):
        return None
    return layer.name if layer.name in ("channels", "preprocess") else None


def unscaled_message(name: str, layer: Any) -> str:
    """What to tell the user about :func:`unscaled_entry`'s finding, with the override."""
    return (
        f"{name}: nothing in the model scales its input (the image goes straight into "
        f"{type(layer).__name__} {layer.name!r}), so the file does not say what pixel range it "
        "was trained on; tfzoo feeds pixels unchanged (preprocessing='raw': 0-255 for images "
        "read from files). If it was trained on scaled pixels, say which: preprocessing='unit' "
        "for [0, 1], 'tf' for [-1, 1], 'torch' or 'caffe', or a mapping of scale/offset/mean/"
        "std; preprocessing='raw' keeps this choice and silences this warning"
    )


def guessed_entry(model: Any, preprocessing: object) -> Any | None:
    """:func:`unscaled_entry` when nobody gave ``preprocessing``: the layer that makes
    ``raw`` a guess (None when the mode was given or the model scales its input)."""
    return unscaled_entry(model) if preprocessing is None else None


def unit_range(arrays: Sequence[Any]) -> tuple[float, float] | None:
    """``(low, high)`` when float images all lie in [0, 1] (not all zero): pixels scaled to
    unit range where raw [0, 255] are taken. None otherwise (integers, raw, empty)."""
    import numpy as np

    floats = [np.asarray(a) for a in arrays]
    if not floats or any(a.dtype.kind != "f" or a.size == 0 for a in floats):
        return None
    low = min(float(np.min(a)) for a in floats)
    high = max(float(np.max(a)) for a in floats)
    return (low, high) if low >= 0.0 and 0.0 < high <= 1.0 else None


def unknown_scaling(backbone: Any) -> str | None:
    """Why the pixel range ``backbone`` takes is unknown, or None: a model file (local
    provider) loaded without ``preprocessing=`` whose model has no scaling of its own, so
    ``raw`` was a guess. An export of it records this (``ExportReport.input_scaling``), and
    ``zoo doctor`` makes it a finding."""
    spec = getattr(backbone, "spec", None)
    model = getattr(backbone, "model", None)
    if spec is None or model is None or spec.provider != "local":
        return None
    entry = guessed_entry(model, spec.preprocessing)
    if entry is None:
        return None
    return (
        f"nothing in {spec.name} scales its input (the image goes straight into "
        f"{type(entry).__name__} {entry.name!r}) and no preprocessing was given"
    )
