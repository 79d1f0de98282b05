"""Writers of each format: a Keras model (raw pixels in, probabilities out) -> files.

Every format takes raw [0, 255] pixels, because resizing, channel conversion and
preprocessing are layers of the model. A converter that cannot express an op raises
:class:`~zoo.errors.UnsupportedOpError` naming it; the caller writes the other formats.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import ExportError, UnsupportedOpError
from zoo.export.flatbuffer import compact, float_edges
from zoo.export.native import quiet
from zoo.export.portable import builtin_copy
from zoo.export.runtimes import require

if TYPE_CHECKING:
    import keras

__all__ = ["ONNX_OPSET", "write_keras", "write_onnx", "write_saved_model", "write_tflite"]

#: The ONNX opset tf2onnx targets (1.17 writes up to 18; onnxruntime runs far newer).
ONNX_OPSET = 17


def write_keras(model: keras.Model, path: Path) -> None:
    """``model.keras``: the Keras 3 archive, of Keras layers only
    (:func:`~zoo.export.portable.builtin_copy`), so ``keras.saving.load_model`` loads it
    without tfzoo."""
    builtin_copy(model).save(path)


def _input_spec(model: keras.Model) -> Any:
    import tensorflow as tf

    shape = tuple(model.inputs[0].shape)
    return tf.TensorSpec((None, *shape[1:]), model.inputs[0].dtype or "float32", name="image")


def write_saved_model(model: keras.Model, path: Path, class_names: Sequence[str]) -> None:
    """``saved_model/`` with three signatures (serve them with TF Serving or tf.saved_model.load).

    - ``serving_default(image)``: raw pixels (N, H, W, C) -> ``probabilities`` (N, K) and
      ``classes`` (N, K) strings, the class name of every column (TF Serving's classify shape).
    - ``serving_bytes(image_bytes)``: encoded JPEG/PNG/GIF/BMP strings (N,) -> the same; the
      images are decoded, and resized to the model's input size when it has one.
    - ``serve(image)``: raw pixels -> the probabilities tensor (what ``model.export`` writes).
    """
    import keras
    import tensorflow as tf

    spec = _input_spec(model)
    height, width, channels = spec.shape[1:]
    names = tf.constant(list(class_names), dtype=tf.string)

    def probabilities(x: tf.Tensor) -> tf.Tensor:
        return model(x, training=False)

    def classify(x: tf.Tensor) -> dict[str, tf.Tensor]:
        p = probabilities(x)
        return {"probabilities": p, "classes": tf.tile(names[None, :], [tf.shape(p)[0], 1])}

    def decode(data: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.cast(image, spec.dtype)
        if height is not None and width is not None:
            image = tf.image.resize(image, (height, width))
        return image

    def classify_bytes(data: tf.Tensor) -> dict[str, tf.Tensor]:
        images = tf.map_fn(
            decode, data, fn_output_signature=tf.TensorSpec((height, width, channels), spec.dtype)
        )
        return classify(images)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", classify, input_signature=[spec])
    archive.add_endpoint(
        "serving_bytes",
        classify_bytes,
        input_signature=[tf.TensorSpec((None,), tf.string, name="image_bytes")],
    )
    archive.add_endpoint("serve", probabilities, input_signature=[spec])
    if path.exists():
        shutil.rmtree(path)
    archive.write_out(str(path), verbose=False)


def write_tflite(
    saved_model: Path,
    path: Path,
    variant: str,
    representative: np.ndarray | None = None,
    *,
    keep_tensor_names: bool = False,
) -> None:
    """A TFLite flatbuffer from the SavedModel's ``serve`` signature.

    Args:
        saved_model: a directory :func:`write_saved_model` wrote.
        path: the ``.tflite`` file to write.
        variant: "tflite" (float32), "tflite_float16", "tflite_dynamic" or "tflite_int8".
        representative: images (N, H, W, C) int8 calibration runs on (int8 only).
        keep_tensor_names: keep the converter's name of every tensor (the TF ops fused into
            it: what a debugger or Netron shows). By default only the input and output
            tensors keep theirs: the file computes the same and is ~46 KB smaller for a
            MobileNetV2; the ``serve`` signature and its ``image`` / ``output_0`` names stay.
            Either way each distinct quantization vector is stored once
            (:func:`~zoo.export.flatbuffer.compact`).
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["serve"])
    if variant != "tflite":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "tflite_float16":
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "tflite_int8":
        if representative is None:
            raise ExportError("tflite_int8 needs representative images")
        images = representative.astype("float32")

        def samples() -> Iterable[list[np.ndarray]]:
            for i in range(len(images)):
                yield [images[i : i + 1]]

        converter.representative_dataset = samples
        # every op in int8 (but the input's scaling and a final softmax, _int8); input and
        # output stay float so the file takes raw pixels like the others
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        with quiet():  # the converter's C++ lines (zoo.export.native)
            flat = _int8(converter, samples) if variant == "tflite_int8" else converter.convert()
    except Exception as exc:  # the converter raises many kinds of errors
        ops = _tflite_ops(str(exc))
        if ops:
            raise UnsupportedOpError(_op_message(variant, ops), ops=ops, format=variant) from None
        raise ExportError(
            f"{variant}: TFLite conversion failed ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    path.write_bytes(compact(flat, keep_tensor_names=keep_tensor_names))


def _int8(converter: Any, samples: Any) -> bytes:
    """The int8 flatbuffer with its float edges (:func:`~zoo.export.flatbuffer.float_edges`)
    left in float, through TensorFlow's selective quantization (the quantization debugger's
    ``denylisted_nodes``): one calibration, as a plain conversion has.

    A TensorFlow without the debugger, or a model with no such edge, converts as usual.
    """
    import tensorflow as tf

    debugger_api = getattr(tf.lite.experimental, "QuantizationDebugger", None)
    if debugger_api is None:
        return bytes(converter.convert())
    try:
        with warnings.catch_warnings():
            # the debugger runs its model in tf.lite.Interpreter, which warns it is deprecated
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            debugger = debugger_api(converter=converter, debug_dataset=samples)
            edges = float_edges(debugger.calibrated_model)
            if edges:
                debugger.options = tf.lite.experimental.QuantizationDebugOptions(
                    denylisted_nodes=edges
                )
            return bytes(debugger.get_nondebug_quantized_model())
    except Exception:  # the plain conversion says what went wrong, if anything
        converter._experimental_calibrate_only = False  # set by the debugger
        return bytes(converter.convert())


def write_onnx(model: keras.Model, path: Path, opset: int = ONNX_OPSET) -> None:
    """``model.onnx`` through tf2onnx, input ``image`` (N, H, W, C) raw pixels."""
    import tensorflow as tf

    tf2onnx = require("tf2onnx")
    onnx = require("onnx")
    spec = _input_spec(model)
    function = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    try:
        proto, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=opset)
    except Exception as exc:
        ops = _tf2onnx_ops(str(exc))
        if ops:
            raise UnsupportedOpError(_op_message("onnx", ops), ops=ops, format="onnx") from None
        raise ExportError(
            f"onnx: tf2onnx conversion failed ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    # tf2onnx leaves an op it cannot convert in the graph under its TF name (and only logs
    # it), which would make a file no runtime loads: refuse it here, by name
    unknown = sorted(
        {
            node.op_type
            for node in proto.graph.node
            if not onnx.defs.has(node.op_type, node.domain or "")
        }
    )
    if unknown:
        raise UnsupportedOpError(_op_message("onnx", unknown), ops=unknown, format="onnx")
    path.write_bytes(proto.SerializeToString())


def _tflite_ops(message: str) -> list[str]:
    found = re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message)
    for listed in re.findall(r"(?:TF Select|Flex) ops: ([\w, ]+)", message):
        found += [op.strip() for op in listed.split(",") if op.strip()]
    return sorted(set(found))


def _tf2onnx_ops(message: str) -> list[str]:
    found = re.findall(r"Tensorflow op \[[^:\]]+: (\w+)\] is not supported", message)
    found += re.findall(r"'(\w+)': \d+", message) if "Unsupported ops" in message else []
    return sorted(set(found))


def _op_message(fmt: str, ops: Sequence[str]) -> str:
    return f"{fmt} cannot express the op{'s' if len(ops) > 1 else ''} {', '.join(ops)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
