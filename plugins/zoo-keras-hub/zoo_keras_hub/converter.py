"""A KerasHub image converter's numbers -> a tfzoo InputSpec. Pure Python and NumPy.

KerasHub's ``ImageConverter`` resizes to ``image_size`` and computes ``x * scale + offset``,
where ``scale`` and ``offset`` are each None, one number, or one number per channel. tfzoo's
InputSpec computes ``(x * scale + offset - mean) / std``; per-channel numbers become
``mean = -offset / scale`` and ``std = 1 / scale``. When the result equals a named mode
("unit", "tf", "torch", ...) the spec carries that name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from zoo.plugin_api import PREPROCESSING_MODES, InputSpec

__all__ = ["input_spec_from_converter"]

Numbers = float | Sequence[float] | None


def _per_channel(value: Numbers, default: float, channels: int, what: str) -> list[float]:
    if value is None:
        return [default] * channels
    if isinstance(value, int | float):
        return [float(value)] * channels
    values = [float(v) for v in value]
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise ValueError(
            f"the image converter's {what} has {len(values)} values for {channels} channels; "
            f"received {what}={list(value)}"
        )
    return values


def input_spec_from_converter(
    *,
    image_size: Sequence[int | None] | None,
    scale: Numbers,
    offset: Numbers,
    interpolation: str = "bilinear",
    channels: int = 3,
) -> InputSpec:
    """The InputSpec that does what a KerasHub image converter does (resize aside).

    Example:
        >>> input_spec_from_converter(image_size=(224, 224), scale=1 / 255, offset=None).mode
        'unit'
    """
    s = _per_channel(scale, 1.0, channels, "scale")
    o = _per_channel(offset, 0.0, channels, "offset")
    if any(v == 0.0 for v in s):
        raise ValueError(f"the image converter's scale has a zero; received scale={scale!r}")
    h, w = (tuple(image_size) if image_size else (None, None))[:2]
    shape = (h, w, channels)
    if len(set(s)) == 1 and len(set(o)) == 1:
        spec = InputSpec(shape=shape, mode="custom", scale=s[0], offset=o[0])
    else:
        spec = InputSpec(
            shape=shape,
            mode="custom",
            mean=tuple(-oc / sc for oc, sc in zip(o, s, strict=True)),
            std=tuple(1.0 / sc for sc in s),
        )
    m, b = spec.affine()
    for mode in PREPROCESSING_MODES:
        named = InputSpec.from_mode(mode, shape, interpolation=interpolation)
        nm, nb = named.affine()
        if named.channel_order == "rgb" and np.allclose(m, nm) and np.allclose(b, nb, atol=1e-6):
            return named
    return dataclasses.replace(spec, interpolation=interpolation)
