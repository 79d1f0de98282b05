"""ModelSpec and InputSpec: what a registry entry says about a model. Plain data, no TensorFlow.

Preprocessing is one affine map per channel, applied to raw pixels in [0, 255]::

    y = ((x[..., order] * scale + offset) - mean) / std

Every keras.applications mode ("tf", "torch", "caffe") and every Hub convention ([0, 1])
is one setting of these numbers, so a backbone's value range is derived, never stored.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from zoo.errors import brief

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "PREPROCESSING_MODES",
    "SHA256_RE",
    "InputSpec",
    "ModelSpec",
    "check_input_shape",
    "check_labels",
    "check_layer_ref",
    "check_preprocessing",
    "check_sha256",
    "check_weights",
]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

#: Named preprocessing presets: mode -> (scale, offset, mean, std, channel_order).
PREPROCESSING_MODES: dict[str, tuple[float, float, tuple[float, ...], tuple[float, ...], str]] = {
    # raw pixels: the network normalizes inside (EfficientNet, ConvNeXt, MobileNetV3)
    "raw": (1.0, 0.0, (0.0,), (1.0,), "rgb"),
    # [0, 1]: the TF Hub image convention
    "unit": (1.0 / 255.0, 0.0, (0.0,), (1.0,), "rgb"),
    # [-1, 1]: Inception, Xception, MobileNet V1/V2, ResNetV2, NASNet
    "tf": (1.0 / 127.5, -1.0, (0.0,), (1.0,), "rgb"),
    # ImageNet mean/std on [0, 1]: DenseNet and PyTorch-trained weights
    "torch": (1.0 / 255.0, 0.0, _IMAGENET_MEAN, _IMAGENET_STD, "rgb"),
    # BGR with the ImageNet mean subtracted on [0, 255]: VGG, ResNet V1
    "caffe": (1.0, 0.0, (103.939, 116.779, 123.68), (1.0,), "bgr"),
}

ChannelOrder = Literal["rgb", "bgr"]
_PREPROCESSING_KEYS = {"scale", "offset", "mean", "std", "channel_order", "interpolation"}


@dataclass(frozen=True)
class InputSpec:
    """What a backbone expects as input, and how raw [0, 255] pixels become that.

    Example:
        >>> spec = InputSpec.from_mode("tf", shape=(299, 299, 3))
        >>> spec.value_range
        (-1.0, 1.0)
    """

    shape: tuple[int | None, int | None, int] = (None, None, 3)  # (H, W, C); None = any size
    dtype: str = "float32"  # dtype of the tensor the network takes
    mode: str = "raw"  # name of the preset the numbers came from, or "custom"
    scale: float = 1.0  # multiplies raw pixels first
    offset: float = 0.0  # added after scaling
    mean: tuple[float, ...] = (0.0,)  # subtracted per channel after scale/offset
    std: tuple[float, ...] = (1.0,)  # divides per channel last
    channel_order: ChannelOrder = "rgb"  # order of channels the network wants
    interpolation: str = "bilinear"  # how to resize images to `shape`

    @classmethod
    def from_mode(
        cls, mode: str, shape: Sequence[int | None] = (None, None, 3), **kwargs: Any
    ) -> InputSpec:
        """Build an InputSpec from a named preset (see ``PREPROCESSING_MODES``)."""
        try:
            scale, offset, mean, std, order = PREPROCESSING_MODES[mode]
        except KeyError:
            known = ", ".join(sorted(PREPROCESSING_MODES))
            raise ValueError(f"unknown preprocessing mode {brief(mode)}; known: {known}") from None
        h, w, c = tuple(shape)
        return cls(
            shape=(h, w, int(c or 3)),
            mode=mode,
            scale=scale,
            offset=offset,
            mean=mean,
            std=std,
            channel_order=order,  # type: ignore[arg-type]
            **kwargs,
        )

    @classmethod
    def from_preprocessing(
        cls, preprocessing: str | Mapping[str, Any], shape: Sequence[int | None] = (None, None, 3)
    ) -> InputSpec:
        """Build from a registry ``preprocessing`` value: a mode name or a mapping of numbers.

        A mapping may start from a ``mode`` and change ``scale``, ``offset``, ``mean``, ``std``,
        ``channel_order`` or ``interpolation``.
        """
        if isinstance(preprocessing, str):
            return cls.from_mode(preprocessing, shape)
        data = dict(preprocessing)
        base = cls.from_mode(str(data.pop("mode", "raw")), shape)
        unknown = set(data) - _PREPROCESSING_KEYS
        if unknown:
            known = sorted(_PREPROCESSING_KEYS)
            raise ValueError(f"unknown preprocessing keys {brief(sorted(unknown))}; known: {known}")
        for key in ("mean", "std"):
            if key in data:
                value = data[key]
                data[key] = tuple(
                    float(v) for v in (value if isinstance(value, Sequence) else [value])
                )
        for key in ("scale", "offset"):
            if key in data:
                data[key] = float(data[key])
        # NaN, infinity or a zero divisor make every pixel NaN or constant: never a model
        for key in ("scale", "offset", "mean", "std"):
            values = data.get(key, ())
            for v in values if isinstance(values, tuple) else (values,):
                if not math.isfinite(v):
                    raise ValueError(f"preprocessing {key} must be finite, received {brief(v)}")
                if key in ("std", "scale") and v == 0:
                    raise ValueError(
                        f"preprocessing {key} may not be 0 (it would make every pixel "
                        f"{'NaN' if key == 'std' else 'the same'})"
                    )
        if data.get("channel_order", "rgb") not in ("rgb", "bgr"):
            raise ValueError(
                f"channel_order must be 'rgb' or 'bgr', received {brief(data['channel_order'])}"
            )
        return dataclasses.replace(base, mode="custom" if data else base.mode, **data)

    @property
    def channels(self) -> int:
        """Number of input channels."""
        return self.shape[2]

    @property
    def size(self) -> tuple[int | None, int | None]:
        """(height, width), None where the network accepts any size."""
        return self.shape[0], self.shape[1]

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (multiplier, bias) so that ``y = x[..., order] * m + b``."""
        import numpy as np

        c = self.channels
        mean = np.broadcast_to(np.asarray(self.mean, dtype="float64"), (c,))
        std = np.broadcast_to(np.asarray(self.std, dtype="float64"), (c,))
        return self.scale / std, (self.offset - mean) / std

    @property
    def value_range(self) -> tuple[float, float]:
        """(low, high) the network sees when raw pixels span [0, 255]."""
        import numpy as np

        m, b = self.affine()
        ends = np.stack([b, 255.0 * m + b])
        return float(np.round(ends.min(), 6)), float(np.round(ends.max(), 6))

    def preprocess(self, x: Any) -> Any:
        """Map raw pixels in [0, 255] (array or tensor, channels last) to the network's input.

        Works on NumPy arrays, eager tensors and symbolic Keras tensors alike.
        """
        from keras import ops

        m, b = self.affine()
        x = ops.cast(x, self.dtype)
        if self.channel_order == "bgr" and self.channels == 3:
            x = ops.flip(x, axis=-1)
        if self.is_identity:
            return x
        return x * ops.cast(m, self.dtype) + ops.cast(b, self.dtype)

    @property
    def is_identity(self) -> bool:
        """True when preprocessing leaves raw pixels unchanged (mode "raw")."""
        import numpy as np

        m, b = self.affine()
        return self.channel_order == "rgb" and bool(np.all(m == 1.0) and np.all(b == 0.0))

    def with_shape(self, shape: Sequence[int | None]) -> InputSpec:
        """A copy with another (H, W, C) shape."""
        h, w, c = tuple(shape)
        return dataclasses.replace(self, shape=(h, w, int(c or self.channels)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (used by `zoo info --json`)."""
        data = dataclasses.asdict(self)
        data["shape"] = list(self.shape)
        data["value_range"] = list(self.value_range)
        return data


@dataclass(frozen=True)
class ModelSpec:
    """One named model: which provider loads it, from where, and what is known about it.

    Instances come from registry files, from plugins (``zoo_register_models``) or are made
    ad hoc for a raw source such as ``"./my_model.keras"``.
    """

    name: str  # registry name, lower snake case ("inception_v3")
    provider: str  # name of the provider that loads it ("keras", "local", "tfhub", ...)
    source: str  # what the provider loads: function name, path, URL or handle
    weights: str | None = None  # "imagenet", None, a local path or URL (provider-specific)
    sha256: str | None = None  # pin of the downloaded artifact (source or weights URL)
    input_shape: tuple[int | None, int | None, int] | None = None  # (H, W, C); None = ask provider
    preprocessing: str | Mapping[str, Any] | None = None  # mode name or numbers; None = provider
    feature_layer: str | int | None = None  # layer (name or index) whose output is the feature
    classifier_layer: str | int | None = None  # layer that is the original classifier
    feature_dim: int | None = None  # width of the pooled features, when known without loading
    labels: tuple[str, ...] | None = None  # class names of the original classifier
    license: str | None = None  # SPDX id or short text
    description: str = ""  # one line for listings
    tags: tuple[str, ...] = ()  # free-form tags for `zoo list --tag`
    aliases: tuple[str, ...] = ()  # other names that resolve to this entry
    recipe: Mapping[str, Any] | None = None  # fine-tune recipe defaults (see zoo.finetune)
    options: Mapping[str, Any] = field(default_factory=dict)  # provider-specific arguments
    origin: str = "<ad hoc>"  # where it was defined: "file:line" or "plugin NAME" (display)
    base_dir: str | None = None  # directory relative paths resolve against: the registry file's

    def input_spec(self, default: InputSpec | None = None) -> InputSpec:
        """The InputSpec this entry describes, on top of what the provider found (`default`).

        The entry's ``preprocessing`` and ``input_shape`` win over the provider's defaults.
        """
        spec = default if default is not None else InputSpec()
        if self.preprocessing is not None:
            spec = InputSpec.from_preprocessing(self.preprocessing, shape=spec.shape)
            if default is not None:
                spec = dataclasses.replace(spec, dtype=default.dtype)
        if self.input_shape is not None:
            spec = spec.with_shape(self.input_shape)
        return spec

    def matches(self, pattern: str) -> bool:
        """fnmatch on the name and every alias (case-insensitive)."""
        from fnmatch import fnmatchcase

        pat = pattern.lower()
        return any(fnmatchcase(n.lower(), pat) for n in (self.name, *self.aliases))

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (used by `zoo list --json` and `zoo info --json`)."""
        data: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            data[f.name] = value
        return data


# -- field checks, shared by registry entries and load-time overrides ------------------------
# Each raises ValueError with the reason; the registry names file, line and field around it,
# zoo.load_backbone names the override. zoo.fields says which field gets which check.

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_sha256(value: object) -> str | None:
    """A sha256 pin, lower-cased: 64 hexadecimal digits."""
    if value is None:
        return None
    if not isinstance(value, str) or not SHA256_RE.match(value.lower()):
        raise ValueError(f"a sha256 is 64 hexadecimal digits, received {brief(value)}")
    return value.lower()


def check_input_shape(
    value: object, *, channels: int | None = None
) -> tuple[int | None, int | None, int] | None:
    """``(height, width, channels)``; given ``channels``, ``(height, width)`` takes those."""
    if value is None:
        return None
    dims = list(value) if isinstance(value, list | tuple) else []
    if len(dims) == 2 and channels is not None:
        dims.append(channels)
    if len(dims) != 3 or not (
        all(d is None or _positive(d) for d in dims[:2]) and _positive(dims[2])
    ):
        raise ValueError(
            "expected [height, width, channels] with positive integers (null for a free "
            f"height/width), received {brief(value)}"
        )
    return dims[0], dims[1], dims[2]


def check_preprocessing(value: object) -> str | dict[str, Any] | None:
    """A preprocessing mode name or a mapping of numbers that InputSpec accepts."""
    if value is None:
        return None
    if not isinstance(value, str | Mapping):
        raise ValueError(f"expected a mode name or a mapping, received {brief(value)}")
    try:
        InputSpec.from_preprocessing(value)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    return dict(value) if isinstance(value, Mapping) else value


def check_layer_ref(value: object) -> str | int | None:
    """A layer name, or an index into ``model.layers`` (Python list semantics)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"expected a layer name or index, received {brief(value)}")


def check_weights(value: object) -> str | None:
    """``"imagenet"``, a path or URL (path-like objects become strings), or None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    raise ValueError(f"expected a string or null, received {brief(value)}")


def check_labels(value: object) -> tuple[str, ...] | None:
    """Class names: a list of strings."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, received {brief(value)}")
    return tuple(value)
