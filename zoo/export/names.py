"""The export vocabulary: one table of formats; every other list of names derives from it.

TF-free, so the recipe, the CLI and ``import zoo`` can name formats without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zoo.errors import InvalidOptionError

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "PIP_EXTRA",
    "QUANTIZATIONS",
    "Format",
    "Tolerance",
    "check_formats",
    "tflite_format",
]

#: The pip line that installs every optional export runtime.
PIP_EXTRA = "pip install 'tfzoo[export]'"


@dataclass(frozen=True)
class Tolerance:
    """How far an exported file may drift from the Keras model before it is marked failed."""

    max_abs_diff: float | None  # largest |p_export - p_keras| over all samples; None = not checked
    min_agreement: float  # fraction of samples whose top-1 class matches the Keras model's
    max_accuracy_drop: float | None = None  # accuracy (labels known) may fall at most this much


@dataclass(frozen=True)
class Format:
    """One export format: its file, what converts it, what runs it, what it must match."""

    name: str  # the name in Recipe.export_formats and the report
    filename: str  # file or directory written inside the export directory
    runtime: str  # what the verification runs the file in
    tolerance: Tolerance  # default tolerance of its verification
    description: str  # one line for docs and --help


# Float formats must compute what Keras computes up to float rounding; quantized ones follow
# the targets of issue 15 (agreement >= 99.5% / 99%, accuracy within 1 point).
FORMATS: Mapping[str, Format] = {
    f.name: f
    for f in (
        Format(
            "saved_model",
            "saved_model",
            "tf.saved_model.load",
            Tolerance(1e-5, 0.999),
            "TF SavedModel: serving_default (raw pixels) and serving_bytes (JPEG/PNG bytes)",
        ),
        Format("keras", "model.keras", "keras", Tolerance(1e-5, 0.999), "Keras 3 .keras archive"),
        Format(
            "tflite",
            "model.tflite",
            "litert",
            Tolerance(1e-4, 0.999),
            "TFLite / LiteRT flatbuffer, float32",
        ),
        Format(
            "tflite_float16",
            "model_float16.tflite",
            "litert",
            Tolerance(0.02, 0.995),
            "TFLite, float16 weights",
        ),
        Format(
            "tflite_dynamic",
            "model_dynamic.tflite",
            "litert",
            Tolerance(None, 0.99, 0.01),
            "TFLite, int8 weights with float activations (dynamic range)",
        ),
        Format(
            "tflite_int8",
            "model_int8.tflite",
            "litert",
            Tolerance(None, 0.99, 0.01),
            "TFLite, full-integer int8 (float input/output), calibrated on your images",
        ),
        Format(
            "onnx",
            "model.onnx",
            "onnxruntime",
            Tolerance(1e-4, 0.999),
            "ONNX (tf2onnx), run in onnxruntime",
        ),
    )
}
#: What ``export_formats`` defaults to (in the recipe and ``zoo export``).
DEFAULT_FORMATS = ("saved_model", "keras", "tflite")
#: ``--quantize`` spellings -> the TFLite format they select.
QUANTIZATIONS: Mapping[str, str] = {
    "float32": "tflite",
    "float16": "tflite_float16",
    "dynamic": "tflite_dynamic",
    "int8": "tflite_int8",
}


def tflite_format(quantize: str) -> str:
    """The format name of a ``--quantize`` value (``"int8"`` -> ``"tflite_int8"``)."""
    if quantize not in QUANTIZATIONS:
        raise InvalidOptionError(
            f"quantize must be one of {', '.join(QUANTIZATIONS)}, received {quantize!r}"
        )
    return QUANTIZATIONS[quantize]


def check_formats(formats: Sequence[str] | str, *, field: str = "formats") -> tuple[str, ...]:
    """``formats`` as a tuple of known names, each once, in the order given."""
    if isinstance(formats, str):
        formats = (formats,)
    names = tuple(dict.fromkeys(formats))
    unknown = [f for f in names if f not in FORMATS]
    if unknown or not names:
        raise InvalidOptionError(
            f"{field}: expected a list of {', '.join(FORMATS)}; received {list(formats)!r}"
        )
    return names
