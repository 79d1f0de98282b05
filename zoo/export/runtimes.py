"""Each exported file run in its own runtime, behind one call: ``runner(images) -> probabilities``.

The optional runtimes (tf2onnx, onnxruntime, ai-edge-litert) come with ``pip install
'tfzoo[export]'``; :func:`require` turns a missing one into a MissingDependencyError that
says so. TFLite files run in LiteRT (``ai_edge_litert``); only when it is not installed does
the deprecated ``tf.lite.Interpreter`` that TensorFlow still ships stand in, with a warning,
so the default exports keep working on a plain install.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from zoo.errors import MissingDependencyError, ZooWarning
from zoo.export.names import PIP_EXTRA
from zoo.export.native import quiet

__all__ = ["Runner", "load_runner", "require"]

#: images (N, H, W, C) float32 raw pixels -> probabilities (N, K) float32.
Runner = Callable[[np.ndarray], np.ndarray]

# module -> (distribution, what it is for)
_OPTIONAL = {
    "tf2onnx": ("tf2onnx", "ONNX export"),
    "onnx": ("onnx", "ONNX export"),
    "onnxruntime": ("onnxruntime", "running ONNX files"),
    "ai_edge_litert": ("ai-edge-litert", "running TFLite files in LiteRT"),
}


def require(module: str) -> ModuleType:
    """Import an optional runtime or raise MissingDependencyError naming the pip line."""
    try:
        return importlib.import_module(module)
    except ImportError:
        dist, purpose = _OPTIONAL.get(module, (module, "export"))
        raise MissingDependencyError(
            f"{purpose} needs the {dist!r} package; install it with {PIP_EXTRA} "
            f"(or pip install {dist})",
            source=module,
        ) from None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def load_runner(format_name: str, path: Path) -> tuple[Runner, str]:
    """A callable running the file at ``path`` and the runtime's name with its version."""
    if format_name == "keras":
        return _keras_runner(path)
    if format_name == "saved_model":
        return _saved_model_runner(path)
    if format_name.startswith("tflite"):
        return _tflite_runner(path)
    if format_name == "onnx":
        return _onnx_runner(path)
    raise ValueError(f"no runtime for format {format_name!r}")


def _keras_runner(path: Path) -> tuple[Runner, str]:
    import keras

    import zoo.model.layers  # noqa: F401  (registers the layers fine-tuned models use)

    model = keras.saving.load_model(path, compile=False)  # inference only: no optimizer state

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(x, training=False))

    return run, f"keras {keras.__version__}"


def _saved_model_runner(path: Path) -> tuple[Runner, str]:
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(signature(image=tf.constant(x))["probabilities"])

    return run, f"tf.saved_model {tf.__version__} (serving_default)"


def _interpreter(path: Path) -> tuple[Any, str]:
    try:
        litert = importlib.import_module("ai_edge_litert.interpreter")
    except ImportError:
        import tensorflow as tf

        warnings.warn(
            f"ai-edge-litert is not installed: {path.name} is verified in the deprecated "
            f"tf.lite.Interpreter; {PIP_EXTRA} runs it in LiteRT",
            ZooWarning,
            stacklevel=4,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its own deprecation notice, said once above
            return tf.lite.Interpreter(model_path=str(path)), f"tf.lite {tf.__version__}"
    return litert.Interpreter(model_path=str(path)), f"litert {_version('ai-edge-litert')}"


def _tflite_runner(path: Path) -> tuple[Runner, str]:
    interpreter, name = _interpreter(path)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    shape: list[int] = []

    def run(x: np.ndarray) -> np.ndarray:
        # resizing reallocates every tensor: only when the batch size changes
        if list(x.shape) != shape:
            interpreter.resize_tensor_input(inp["index"], list(x.shape))
            with quiet():  # LiteRT's "Created ... XNNPACK delegate" line
                interpreter.allocate_tensors()
            shape[:] = list(x.shape)
        interpreter.set_tensor(inp["index"], _quantize(x, inp))
        interpreter.invoke()
        return _dequantize(interpreter.get_tensor(out["index"]), out)

    return run, name


def _quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float input for an integer-input file: by the file's own scale and zero point."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return np.asarray(x, dtype=dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.asarray(np.clip(np.round(x / scale + zero), info.min, info.max), dtype=dtype)


def _dequantize(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if np.dtype(detail["dtype"]).kind == "f":
        return np.asarray(y, dtype="float32")
    scale, zero = detail["quantization"]
    return np.asarray((np.asarray(y, dtype="float32") - zero) * scale, dtype="float32")


def _onnx_runner(path: Path) -> tuple[Runner, str]:
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # the default
    # onnxruntime's pool threads busy-wait between ops by default: on a CPU shared with other
    # processes the waiting thread takes the core the working one needs (on 2 shared cores
    # a MobileNetV2 batch of 32 took 70-200 ms instead of 40-65 ms, and the SavedModel 77-82
    # ms). Without spinning they sleep until there is work, and the figure measures the
    # model rather than the neighbours.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {name: x.astype("float32")})[0])

    return run, f"onnxruntime {ort.__version__} (no spin-wait)"
