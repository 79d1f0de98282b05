"""SavedModel, TFLite and ONNX files as numpy callables, and what their graphs declare.

Each ``*_parts`` opens one file and returns :class:`Parts`: its declared input (refused when it
is not an image), a call ``(N, H, W, C) float32 -> (N, classes)``, and what the file says of
itself: the class names a TFLite file packs, a quantized softmax's tolerance, an integer input
(the file scales its images itself), and whether its graph scales the pixels before the first
layer with weights (``scales_input``; None: it cannot be told). ``zoo.workflows.runner``
builds the :class:`~zoo.workflows.runner.Runner` from them.

Channels-first ONNX files (what PyTorch exports: ``(N, 3, H, W)``) are fed transposed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import InvalidModelError, MissingDependencyError, ZooWarning
from zoo.export.native import quiet

__all__ = [
    "Parts",
    "check_output",
    "embedded_labels",
    "image_shape",
    "onnx_parts",
    "saved_model_parts",
    "tflite_parts",
]


@dataclass
class Parts:
    """One opened model file: see the module docstring."""

    input_shape: tuple[int | None, int | None, int | None]  # (H, W, C) without the batch
    call: Any  # numpy (N, H, W, C) float32 -> numpy (N, classes)
    labels: tuple[str, ...] | None = None  # class names the file packs (TFLite metadata)
    tolerance: float = 1e-3  # how far a row of its probabilities may sum from 1
    integer_input: bool = False  # takes integer images, which it scales itself
    scales_input: bool | None = None  # its graph scales the pixels first (None: unknown)
    first_layer: str = ""  # the op the pixels go into when scales_input is False
    tfzoo_export: bool = False  # a SavedModel zoo.export wrote (probabilities, class names)
    keep: Any = None  # what the call needs alive (a loaded SavedModel)


#: ops the pixels pass through unchanged in value range on their way to the first layer
_PASS = {
    "PAD", "PADV2", "RESHAPE", "TRANSPOSE", "CAST", "QUANTIZE", "DEQUANTIZE",  # TFLite
    "Transpose", "Pad", "Reshape", "Cast", "Identity", "Unsqueeze", "Squeeze",  # ONNX
}  # fmt: skip
#: ops that scale them (a Rescaling, Normalization or preprocess step in the graph)
_SCALE = {"MUL", "ADD", "SUB", "DIV", "Mul", "Add", "Sub", "Div", "BatchNormalization"}
#: layers with weights: pixels that reach one first were not scaled by the graph
_WEIGHTED = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV",
    "Conv", "ConvTranspose", "Gemm", "MatMul",
}  # fmt: skip


def _first_layer(consumers: Any, start: Any) -> tuple[bool | None, str]:
    """Follow the pixels from ``start`` through pass-through ops: (scaled?, op reached).

    ``consumers(tensor)`` lists the ops reading a tensor as ``(op type, output tensor)``."""
    tensor = start
    for _ in range(16):
        found = consumers(tensor)
        if len(found) != 1:
            return None, ""
        (kind, output) = found[0]
        if kind in _SCALE:
            return True, kind
        if kind in _WEIGHTED:
            return False, kind
        if kind not in _PASS:
            return None, kind
        tensor = output
    return None, ""


def image_shape(dims: Sequence[Any], source: str) -> tuple[int | None, int | None, int | None]:
    """(H, W, C) of an input declared (batch, H, W, C); anything else is not an image."""
    values = [None if d is None or int(d) < 0 else int(d) for d in list(dims)]
    if len(values) != 4:
        raise InvalidModelError(
            f"{source} takes inputs shaped {tuple(values)}, not images (batch, height, width, "
            "channels): predict and evaluate run image classifiers",
            source=source,
        )
    return values[1], values[2], values[3]


def check_output(dims: Sequence[Any] | None, outputs: int, source: str) -> None:
    """InvalidModelError unless the model has one output declared (batch, classes) (a
    ``dims`` of None: not declared, checked on the first call)."""
    if outputs != 1:
        raise InvalidModelError(
            f"{source} has {outputs} outputs; predict and evaluate need a classifier with one "
            "output of class scores (batch, classes)",
            source=source,
        )
    if dims is None:
        return
    try:
        shape = tuple(None if d is None or int(d) < 0 else int(d) for d in dims)
    except (TypeError, ValueError):  # a shape of unknown rank
        return
    if len(shape) != 2:
        raise InvalidModelError(
            f"{source} outputs shape {shape}, not class scores (batch, classes): it is not an "
            "image classifier (a detector or a feature extractor?); predict and evaluate run "
            "classifiers",
            source=source,
        )


#: the largest label file read out of a TFLite file (ImageNet's 1,000 names are ~10 KB)
_MAX_LABEL_FILE = 4 << 20


def embedded_labels(path: Path, classes: int) -> tuple[str, ...] | None:
    """The class names a ``.tflite`` file packs with its metadata, if one file fits.

    The metadata writers append the associated files (``labels.txt``, ``labelmap.txt``) to the
    model as a zip. A text file naming exactly ``classes`` names is used (a name with "label"
    in it first, then the zip's order, which is the metadata's); one that names another number
    is not guessed at: a warning says so and classes are named by their index.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as packed:
            members = [
                m
                for m in packed.infolist()
                if m.filename.lower().endswith(".txt") and m.file_size <= _MAX_LABEL_FILE
            ]
            members.sort(key=lambda m: "label" not in m.filename.lower())
            found = {}
            for member in members:
                text = packed.read(member).decode("utf8", errors="replace")
                found[member.filename] = tuple(n for n in map(str.strip, text.splitlines()) if n)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None  # no associated files, or none readable: not a label source
    for names in found.values():
        if len(names) == classes:
            return names
    if found:
        counts = ", ".join(f"{name} ({len(v)} lines)" for name, v in found.items())
        warnings.warn(
            f"{path} packs {counts} but outputs {classes} classes: its classes are named by "
            "index; put one class name per line, in output order, into labels.txt beside it",
            ZooWarning,
            stacklevel=4,
        )
    return None


def saved_model_parts(path: Path) -> Parts:
    """A SavedModel directory's ``serving_default`` signature (a zoo.export one returns
    probabilities and class names: its probabilities are used)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise InvalidModelError(f"{path} has no serving_default signature", source=str(path))
    inputs = signature.structured_input_signature[1]
    if len(inputs) != 1:
        raise InvalidModelError(f"{path} takes {len(inputs)} inputs; predict needs one")
    ((key, spec),) = inputs.items()

    def call(x: np.ndarray) -> np.ndarray:
        out = signature(**{key: tf.constant(x, dtype=spec.dtype)})
        if "probabilities" in out:  # a zoo.export SavedModel: probabilities and class names
            return np.asarray(out["probabilities"].numpy())
        if len(out) != 1:
            raise InvalidModelError(
                f"{path} returns {sorted(out)}; predict needs one output", source=str(path)
            )
        return np.asarray(next(iter(out.values())).numpy())

    declared = signature.structured_outputs
    ours = "probabilities" in declared
    if ours:
        declared = {"probabilities": declared["probabilities"]}
    input_shape = image_shape(spec.shape, str(path))
    (first, *_) = declared.values()
    check_output(getattr(first, "shape", None), len(declared), str(path))
    integer = spec.dtype.is_integer
    return Parts(input_shape, call, integer_input=integer, tfzoo_export=ours, keep=loaded)


def tflite_parts(path: Path) -> Parts:
    """A ``.tflite`` file in LiteRT (``ai_edge_litert`` when installed, else tf.lite)."""
    import importlib

    try:  # LiteRT, TFLite's successor, when installed; else TensorFlow's own interpreter
        interpreter_class = importlib.import_module("ai_edge_litert.interpreter").Interpreter
    except ImportError:
        import tensorflow as tf

        interpreter_class = tf.lite.Interpreter
    try:
        with warnings.catch_warnings():  # its deprecation notice: LiteRT is used when installed
            warnings.simplefilter("ignore", UserWarning)
            interpreter = interpreter_class(model_path=str(path))
    except (ValueError, RuntimeError) as exc:
        raise InvalidModelError(f"{path} is not a valid TFLite model: {exc}") from exc
    (detail,) = interpreter.get_input_details()[:1]
    output = interpreter.get_output_details()[0]
    state = {"batch": -1}
    # a file converted with a fixed batch (its signature says 1, not -1) cannot be resized
    # (XNNPACK refuses to prepare it): it runs one image at a time
    fixed = int(detail.get("shape_signature", detail["shape"])[0]) > 0
    input_shape = image_shape(detail.get("shape_signature", detail["shape"]), str(path))
    outputs = interpreter.get_output_details()
    check_output(output.get("shape_signature", output["shape"]), len(outputs), str(path))
    to_input = _tflite_input(detail, str(path))

    def invoke(x: np.ndarray) -> np.ndarray:
        if state["batch"] != len(x):
            interpreter.resize_tensor_input(detail["index"], [len(x), *x.shape[1:]])
            with quiet():  # LiteRT's "Created ... XNNPACK delegate" line
                interpreter.allocate_tensors()
            state["batch"] = len(x)
        interpreter.set_tensor(detail["index"], to_input(x))
        interpreter.invoke()
        result = interpreter.get_tensor(output["index"]).astype("float32")
        out_scale, out_zero = output.get("quantization", (0.0, 0))
        return np.asarray((result - out_zero) * out_scale if out_scale else result)

    def call(x: np.ndarray) -> np.ndarray:
        if fixed and len(x) != 1:
            return np.concatenate([invoke(x[i : i + 1]) for i in range(len(x))])
        return invoke(x)

    try:
        ops = interpreter._get_ops_details()  # LiteRT and tf.lite both have it
    except AttributeError:
        ops = []

    def consumers(tensor: int) -> list[tuple[str, Any]]:
        return [
            (op["op_name"], int(op["outputs"][0]) if len(op["outputs"]) else None)
            for op in ops
            if tensor in [int(i) for i in op["inputs"]]
        ]

    scales, first = _first_layer(consumers, int(detail["index"]))
    return Parts(
        input_shape,
        call,
        labels=embedded_labels(path, int(output["shape"][-1])),
        tolerance=_quantized_sum_tolerance(interpreter, output, ops),
        integer_input=np.dtype(detail["dtype"]).kind != "f",
        scales_input=scales,
        first_layer=first,
    )


def _tflite_input(detail: dict[str, Any], source: str) -> Any:
    """Raw pixels -> what a TFLite file's input takes: float as is; an integer input through
    its quantization when that holds the pixels' range 0-255 (a file whose float input was
    raw pixels, as tfzoo's are), else as TFLite image classifiers take integer images
    (EfficientNet-Lite's uint8 input, quantized as (0.0126, 131) for [-1.65, 1.56]): uint8
    the pixels as they are, int8 the pixels - 128, said in a warning. Never wrapped around."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return lambda x: x.astype(dtype)
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    scale, zero = detail.get("quantization", (0.0, 0))
    if scale and low - 0.5 <= zero and 255 / scale + zero <= high + 0.5:
        return lambda x: np.clip(np.round(x / scale + zero), low, high).astype(dtype)
    shift = 0 if low == 0 else -128
    warnings.warn(
        f"{source} takes {dtype.name} images, and its input quantization ({scale:g}, {zero}) "
        "does not hold raw pixels 0-255: fed the pixels as they are"
        + (" minus 128" if shift else "")
        + ", as TFLite image classifiers take integer images",
        ZooWarning,
        stacklevel=4,
    )
    return lambda x: np.clip(np.round(x) + shift, low, high).astype(dtype)


def _quantized_sum_tolerance(interpreter: Any, output: dict[str, Any], ops: list[Any]) -> float:
    """How far from 1 the rows of a TFLite model's probabilities may sum.

    A fully integer model computes its softmax in int8 (steps of 1/256) and dequantizes the
    result: each of the ``classes`` probabilities is rounded by up to half a step. The step
    is the scale of what the output's ``DEQUANTIZE`` reads (or of the output itself when it
    is quantized); a float model has neither and keeps the float tolerance.
    """
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    step = float(output.get("quantization", (0.0, 0))[0] or 0.0)
    for op in ops:
        if op.get("op_name") == "DEQUANTIZE" and output["index"] in list(op["outputs"]):
            source = tensors.get(int(op["inputs"][0]), {})
            step = max(step, float(source.get("quantization", (0.0, 0))[0] or 0.0))
    classes = int(output["shape"][-1])
    return max(1e-3, classes * step / 2 + 1e-3)


def onnx_parts(path: Path) -> Parts:
    """A ``.onnx`` file in onnxruntime; a channels-first input (N, 3, H, W), as PyTorch
    exports images, is fed the pixels transposed."""
    import importlib

    try:
        onnxruntime = importlib.import_module("onnxruntime")
    except ImportError:
        raise MissingDependencyError(
            f"{path} is an ONNX model; running it needs onnxruntime: pip install onnxruntime",
            source=str(path),
        ) from None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own classes (InvalidProtobuf, Fail, ...)
        raise InvalidModelError(
            f"{path} is not a valid ONNX model (truncated or corrupt?): {exc}", source=str(path)
        ) from exc
    (first,) = session.get_inputs()[:1]
    dims = [d if isinstance(d, int) else None for d in first.shape]
    # (N, C, H, W) with C of an image's 1 or 3 and a last axis that is not: channels first
    nchw = len(dims) == 4 and dims[1] in (1, 3) and dims[3] not in (1, 3, 4)
    if nchw:
        dims = [dims[0], dims[2], dims[3], dims[1]]
    dtype = np.float16 if "float16" in first.type else np.float32

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=dtype)
        return np.asarray(
            session.run(None, {first.name: x.transpose(0, 3, 1, 2) if nchw else x})[0]
        )

    input_shape = image_shape(dims, str(path))
    outputs = session.get_outputs()
    out_dims = [d if isinstance(d, int) else None for d in outputs[0].shape]
    check_output(out_dims, len(outputs), str(path))
    scales, layer = _onnx_first_layer(path, first.name)
    return Parts(input_shape, call, scales_input=scales, first_layer=layer)


def _onnx_first_layer(path: Path, name: str) -> tuple[bool | None, str]:
    """Whether the ONNX graph scales its input before its first layer (needs ``onnx``)."""
    try:
        import onnx
    except ImportError:
        return None, ""
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # onnx's own decode errors: not known
        return None, ""
    nodes = [(n.op_type, list(n.input), list(n.output)) for n in graph.node]

    def consumers(tensor: str) -> list[tuple[str, Any]]:
        return [(kind, out[0] if out else None) for kind, ins, out in nodes if tensor in ins]

    return _first_layer(consumers, name)
