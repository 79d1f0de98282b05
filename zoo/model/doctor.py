"""The preprocessing-contract check: does what you feed a backbone match what it wants?

Wrong value ranges silently ruin accuracy (0–255 data into a [-1, 1] network, images scaled
twice, BGR vs RGB for caffe-mode models, EfficientNet preprocessed although it normalizes
inside). :func:`diagnose` runs an image through a backbone's ``preprocess`` and features,
measures what the network would see, and explains each mismatch.

Example:
    >>> from zoo.model.doctor import diagnose, reference_image
    >>> image, source = reference_image()
    >>> report = diagnose(zoo.load_backbone("mobilenet_v2", weights=None), image, source)
    >>> [f.message for f in report.findings if f.level == "warn"]
    []
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from zoo.errors import (
    DataError,
    InvalidOptionError,
    MissingDependencyError,
    SourceNotFoundError,
)

if TYPE_CHECKING:
    import numpy as np

    from zoo.model.backbone import Backbone

__all__ = ["Diagnosis", "Finding", "diagnose", "load_image", "reference_image"]

# Real photos shipped by dependencies: (package, path inside it, description).
_REFERENCE_PHOTOS = (
    ("sklearn.datasets", "images/china.jpg", "scikit-learn's china.jpg"),
    ("skimage.data", "astronaut.png", "scikit-image's astronaut.png"),
    ("skimage.data", "chelsea.png", "scikit-image's chelsea.png"),
)


@dataclass
class Finding:
    """One observation: ``ok``, ``info`` (worth knowing) or ``warn`` (a likely mistake)."""

    level: Literal["ok", "info", "warn"]
    message: str


@dataclass
class Diagnosis:
    """What the image was, what the network wants, what it would see, and what is wrong."""

    model: str  # backbone name
    expects: dict[str, Any]  # the backbone's input spec (shape, dtype, mode, value_range)
    image: dict[str, Any]  # the image as given: source, shape, dtype, range, kind
    network_input: dict[str, Any]  # after resizing and preprocess: range, mean/std per channel
    features: dict[str, Any]  # feature vector stats
    mistakes: list[dict[str, Any]] = field(default_factory=list)  # simulated classic mistakes
    findings: list[Finding] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """Messages of the ``warn`` findings."""
        return [f.message for f in self.findings if f.level == "warn"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``zoo doctor --json``)."""
        return asdict(self)


def reference_image() -> tuple[np.ndarray, str]:
    """A real photo shipped by an installed dependency, as uint8 RGB (H, W, 3)."""
    for package, relative, description in _REFERENCE_PHOTOS:
        try:
            found = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if found is None or not found.submodule_search_locations:
            continue
        for location in found.submodule_search_locations:
            path = Path(location) / relative
            if path.is_file():
                return load_image(path), description
    raise MissingDependencyError(
        "no reference photo found: install scikit-learn (pip install 'tfzoo[doctor]') or pass "
        "--image PATH"
    )


def load_image(path: str | Path) -> np.ndarray:
    """An image file (JPEG, PNG, GIF, BMP) as an array, or a ``.npy`` array as saved."""
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise SourceNotFoundError(f"image not found: {p}", source=str(p))
    if p.suffix == ".npy":
        array: np.ndarray = np.load(p, allow_pickle=False)
        return array[0] if array.ndim == 4 and array.shape[0] == 1 else array
    import tensorflow as tf

    try:
        image = tf.io.decode_image(p.read_bytes(), expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        raise DataError(f"{p} is not an image TensorFlow can decode: {exc}") from None
    return np.asarray(image)


def _stats(x: np.ndarray) -> dict[str, Any]:
    import numpy as np

    flat = x.reshape(-1, x.shape[-1]).astype("float64")
    return {
        "shape": list(x.shape),
        "dtype": str(x.dtype),
        "min": round(float(flat.min()), 4),
        "max": round(float(flat.max()), 4),
        "mean": [round(float(v), 4) for v in flat.mean(axis=0)],
        "std": [round(float(v), 4) for v in flat.std(axis=0)],
        "finite": bool(np.all(np.isfinite(flat))),
    }


def _kind(low: float, high: float) -> str:
    if high > 1.5 and low >= -0.5:
        return "raw [0, 255]"
    if low >= 0.0 and high <= 1.0:
        return "unit [0, 1]"
    if low >= -1.01 and high <= 1.01:
        return "signed [-1, 1]"
    return "normalized (mean-subtracted)"


def _fit(image: np.ndarray, backbone: Backbone, findings: list[Finding]) -> np.ndarray:
    """Channels and size as the network wants them, through the layers the engine uses.

    :func:`zoo.model.head.fit_layers` gives the same ``Resizing`` and ``ConvertChannels`` layers
    :func:`zoo.model.head.build_classifier` puts into the model, so the doctor sees what the
    network is fed. An alpha channel is dropped here and said so in the report.
    """
    import numpy as np

    from zoo.model.head import fit_layers  # imports Keras: not at module import

    spec = backbone.input_spec
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise DataError(f"an image is (height, width, channels); received shape {image.shape}")
    if image.shape[-1] == 4 and spec.channels != 4:
        # decoded PNGs may carry alpha: zoo.finetune reads image files as RGB (or grayscale),
        # dropping it too, but refuses 4-channel arrays
        image = image[..., :3]
        findings.append(
            Finding(
                "info",
                "RGBA image: the alpha channel is dropped, as zoo.finetune does when it reads "
                "image files; 4-channel arrays it refuses (pass x[..., :3])",
            )
        )
    try:
        layers = fit_layers(spec, image.shape, model=backbone.name)
    except InvalidOptionError as exc:
        raise DataError(str(exc)) from None
    channels, (h, w) = image.shape[-1], spec.size
    if channels == 1 and spec.channels == 3:
        findings.append(Finding("info", "grayscale image: replicated to 3 channels"))
    elif channels == 3 and spec.channels == 1:
        findings.append(Finding("info", "RGB image: converted to 1 channel (luma)"))
    if h is not None and w is not None and image.shape[:2] != (h, w):
        findings.append(
            Finding(
                "info",
                f"resized from {image.shape[0]}x{image.shape[1]} to {h}x{w} ({spec.interpolation})",
            )
        )
        if abs((image.shape[1] / image.shape[0]) / (w / h) - 1) > 0.1:
            findings.append(
                Finding("info", "the aspect ratio changes; center-crop first to avoid distortion")
            )
    x = image[None].astype("float32")
    for layer in layers:
        x = layer(x)
    fitted: np.ndarray = np.asarray(x, dtype="float32")[0]
    return fitted


def diagnose(backbone: Backbone, image: np.ndarray, source: str = "array") -> Diagnosis:
    """Run ``image`` through ``backbone.preprocess`` and ``features`` and explain mismatches.

    Args:
        backbone: the backbone to check.
        image: (H, W, C) or (H, W) array as your pipeline would feed it.
        source: where the image came from, for the report.
    """
    import numpy as np

    from zoo.model.scaling import unknown_scaling

    spec = backbone.input_spec
    low, high = spec.value_range
    findings: list[Finding] = []
    unknown = unknown_scaling(backbone)
    if unknown is not None:  # raw is a guess: the range checks below assume it is right
        findings.append(
            Finding(
                "warn",
                f"{unknown}, so tfzoo feeds it raw pixels (0-255), a guess the checks below "
                "rely on: say what it was trained on, -o preprocessing=unit|tf|torch|caffe "
                "(or raw)",
            )
        )
    given = _stats(image if image.ndim == 3 else image[..., None])
    kind = _kind(given["min"], given["max"])
    given.update(source=source, kind=kind)
    if image.dtype == np.uint16 or given["max"] > 255.5:
        findings.append(
            Finding(
                "warn", f"values up to {given['max']:g}: a 16-bit image? scale to [0, 255] first"
            )
        )
    fitted = _fit(image, backbone, findings)
    batch = fitted[None]
    seen = np.asarray(backbone.preprocess(batch))[0]
    network_input = _stats(seen)
    network_input["expected_range"] = [low, high]

    if kind != "raw [0, 255]":
        findings.append(
            Finding(
                "warn",
                f"the image holds {kind} values, but preprocess expects raw pixels in [0, 255]: "
                f"the network sees [{network_input['min']:g}, {network_input['max']:g}] instead "
                f"of [{low:g}, {high:g}]. Feed raw pixels and let tfzoo preprocess.",
            )
        )
        if spec.mode == "raw":
            findings.append(
                Finding(
                    "warn",
                    "this network normalizes inside its graph (EfficientNet, ConvNeXt, "
                    "MobileNetV3 style): do not call preprocess_input or rescale yourself",
                )
            )
    else:
        span = high - low
        inside = (
            network_input["min"] >= low - 1e-3 * span and network_input["max"] <= high + 1e-3 * span
        )
        findings.append(
            Finding(
                "ok" if inside else "warn",
                f"network input spans [{network_input['min']:g}, {network_input['max']:g}] within "
                f"the expected [{low:g}, {high:g}]"
                if inside
                else f"network input spans [{network_input['min']:g}, {network_input['max']:g}], "
                f"outside the expected [{low:g}, {high:g}]",
            )
        )
    if spec.channel_order == "bgr":
        findings.append(
            Finding(
                "info",
                "this network wants BGR (caffe mode): preprocess converts RGB to BGR, so feed RGB "
                "(PIL, TensorFlow and Keras load RGB; OpenCV loads BGR: convert it first)",
            )
        )

    features = np.asarray(backbone.features(seen[None], training=False))[0]
    feature_stats = {
        "dim": int(features.shape[-1]),
        "finite": bool(np.all(np.isfinite(features))),
        "mean": round(float(features.mean()), 4),
        "std": round(float(features.std()), 4),
    }
    if not feature_stats["finite"]:
        findings.append(Finding("warn", "the features are not finite (NaN or inf)"))

    mistakes = _simulate_mistakes(backbone, fitted, kind)
    return Diagnosis(
        model=backbone.name,
        expects={**spec.to_dict(), "provider": backbone.provider},
        image=given,
        network_input=network_input,
        features=feature_stats,
        mistakes=mistakes,
        findings=findings,
    )


def _simulate_mistakes(backbone: Backbone, fitted: np.ndarray, kind: str) -> list[dict[str, Any]]:
    """What the network would see after each classic mistake, starting from a raw image."""
    import numpy as np

    if kind != "raw [0, 255]":
        return []
    spec = backbone.input_spec
    pre = backbone.preprocess
    cases = {
        "images scaled to [0, 1] before preprocess": fitted / 255.0,
        "preprocess applied twice": np.asarray(pre(fitted[None]))[0],
    }
    if spec.channels == 3:
        cases["BGR image fed as RGB (OpenCV)"] = fitted[..., ::-1]
    out = []
    low, high = spec.value_range
    for name, x in cases.items():
        seen = _stats(np.asarray(pre(x[None].astype("float32")))[0])
        out.append(
            {
                "mistake": name,
                "network_sees": [seen["min"], seen["max"]],
                "expected": [low, high],
                "mean": seen["mean"],
            }
        )
    return out
