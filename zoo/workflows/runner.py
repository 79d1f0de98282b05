"""An exported model as one callable: raw pixels in, class probabilities out.

:func:`open_model` accepts what ``zoo export`` / ``zoo finetune --export`` write, and more:

- an export directory (``saved_model/``, ``model.keras``, ``model.tflite``, ``model.onnx``,
  ``labels.txt``): the first present of SavedModel, ``.keras``, TFLite, ONNX, or ``format=``;
- a SavedModel directory (its ``serving_default`` signature), a ``.keras`` / ``.h5`` file
  (Keras safe mode unless ``trust=True``), a ``.tflite`` file (``ai_edge_litert`` when
  installed, else ``tf.lite.Interpreter``), a ``.onnx`` file (needs ``onnxruntime``);
- a :class:`~zoo.finetune.result.FinetuneResult` or a ``keras.Model``.

Labels come from ``labels.txt`` beside the model file (or in the export directory above a
``saved_model/``); else, for a ``.tflite`` file, from the label file its metadata packs into
it (a zip appended to the model, as TFLite Model Maker and the metadata writers make); without
either, classes are named by their index.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import (
    InvalidModelError,
    InvalidOptionError,
    MissingDependencyError,
    SourceNotFoundError,
    ZooWarning,
)

if TYPE_CHECKING:
    from zoo.session import Session

__all__ = ["FORMATS", "Runner", "labels_beside", "open_model"]

#: Keras model files, by suffix
_KERAS_FILES = (".keras", ".h5", ".hdf5")

#: The formats an export directory can hold, in the order one is chosen, and their paths.
FORMATS: dict[str, str] = {
    "saved_model": "saved_model",
    "keras": "model.keras",
    "tflite": "model.tflite",
    "onnx": "model.onnx",
}


@dataclass
class Runner:
    """A model ready to run: ``runner(pixels)`` -> probabilities ``(N, classes)``."""

    source: str  # what was opened (a path, "FinetuneResult", ...)
    kind: str  # "keras", "saved_model", "tflite", "onnx"
    input_shape: tuple[int | None, int | None, int | None]  # (H, W, C) without the batch
    call: Any  # numpy (N, H, W, C) float32 -> numpy (N, classes)
    labels: tuple[str, ...] | None = None  # class names, when known
    #: how far a row of probabilities may sum from 1: more for a quantized softmax, whose
    #: probabilities come in steps (1/256 for int8: 10 classes may sum to 1 +- 0.02)
    tolerance: float = 1e-3
    _reading: str = "probabilities"  # how outputs become probabilities: zoo.model.outputs

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        from zoo.model.outputs import ONE_OUTPUT, describe, reading, to_probabilities

        out = np.asarray(self.call(np.asarray(pixels, dtype="float32")), dtype="float64")
        if out.ndim != 2:
            raise InvalidModelError(
                f"{self.source} returns shape {out.shape[1:]} for each image; predict needs "
                "a classifier with one output of class scores (batch, classes)",
                source=self.source,
            )
        kind = reading(out, self.tolerance)
        if kind != self._reading and self._reading in ("probabilities", "sigmoid"):
            # once outputs are seen not to be probabilities, they never are
            warnings.warn(f"{self.source} {describe(kind)}", ZooWarning, stacklevel=2)
            self._reading = kind
        out = to_probabilities(out, self._reading)
        if self.labels is not None and out.shape[1] != len(self.labels):
            one = " (its one output is p(class 1) of two)" if self._reading in ONE_OUTPUT else ""
            raise InvalidModelError(
                f"{self.source} outputs {out.shape[1]} classes{one} but its labels name "
                f"{len(self.labels)}; fix labels.txt: one class name per line, in output order",
                source=self.source,
            )
        return out

    def label(self, index: int) -> str:
        """The name of class ``index``."""
        return self.labels[index] if self.labels is not None else str(index)


def labels_beside(path: Path) -> tuple[str, ...] | None:
    """``labels.txt`` next to ``path`` (in a directory; above a ``saved_model/``), if any."""
    folders = [path] if path.is_dir() else [path.parent]
    if path.is_dir() and path.name == "saved_model":
        folders.append(path.parent)
    for folder in folders:
        candidate = folder / "labels.txt"
        if candidate.is_file():
            names = [n.strip() for n in candidate.read_text(encoding="utf8").splitlines()]
            return tuple(n for n in names if n)
    return None


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


def open_model(
    model: Any,
    *,
    format: str | None = None,
    trust: bool = False,
    session: Session | None = None,
    preprocessing: str | None = None,
) -> Runner:
    """The runner of ``model`` (see the module docstring).

    ``preprocessing`` (a mode of ``zoo.spec.PREPROCESSING_MODES``: "unit", "tf", "torch",
    "caffe", ...) scales the raw pixels before a ``.keras`` / ``.h5`` file that is not a
    tfzoo export sees them: a model trained on scaled pixels. Anything else is refused
    with it (exports and FinetuneResults take raw pixels and scale them themselves).

    Raises:
        SourceNotFoundError: a path that does not exist, or an export without ``format``.
        InvalidModelError: a file or directory that is not a model tfzoo can run.
        MissingDependencyError: a ``.onnx`` file without ``onnxruntime``.
    """
    from zoo.finetune.result import FinetuneResult

    if preprocessing is not None:
        _check_scalable(model)
    if isinstance(model, FinetuneResult):
        return _keras_runner(model.model, "FinetuneResult", model.class_names)
    if not isinstance(model, (str, Path)):
        if "keras" in type(model).__module__ or hasattr(model, "predict"):
            return _keras_runner(model, type(model).__name__, None)
        raise InvalidOptionError(
            f"cannot run {type(model).__name__}: give an export directory or file, a "
            "FinetuneResult or a keras.Model"
        )
    path = Path(model).expanduser()
    if not path.exists():
        published = _published(str(model), session)
        if published is not None:
            return open_model(published, format=format, trust=trust)
        raise SourceNotFoundError(
            f"{path}: no such file or directory, nor a published model name in the registry",
            source=str(path),
        )
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        return open_model(_choose(path, format), trust=trust, session=session)
    if format is not None and format not in FORMATS:
        raise InvalidOptionError(f"format is one of {', '.join(FORMATS)}; received {format!r}")
    labels = labels_beside(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        return _saved_model_runner(path, labels)
    if suffix in _KERAS_FILES:
        import zoo.model.layers
        import zoo.savedmodel.hub_layer  # noqa: F401

        loaded = _load_keras_file(path, trust)
        runner = _keras_runner(loaded, str(path), labels, preprocessing)  # refuses non-images
        if preprocessing is None:
            _warn_if_unscaled(loaded, path)
        return runner
    if suffix == ".tflite":
        return _tflite_runner(path, labels)
    if suffix == ".onnx":
        return _onnx_runner(path, labels)
    raise InvalidModelError(
        f"{path} is not a model tfzoo can run: expected an export directory, a SavedModel "
        "directory, or a .keras, .h5, .tflite or .onnx file",
        source=str(path),
    )


def _load_keras_file(path: Path, trust: bool) -> Any:
    """``keras.saving.load_model``, its failures as InvalidModelError: an HDF5 file without
    a model (weights only, or other data) is described the way ``zoo info`` describes it."""
    import keras

    try:
        return keras.saving.load_model(str(path), compile=False, safe_mode=not trust)
    except (ValueError, OSError, TypeError) as exc:
        if path.suffix.lower() != ".keras":
            from zoo.providers.keras_files import h5_config

            h5_config(path, str(path))  # raises for weights only, not HDF5, no model_config
        raise InvalidModelError(
            f"{path}: Keras cannot load it as a model: {exc}", source=str(path)
        ) from exc


def _check_scalable(model: Any) -> None:
    """InvalidOptionError unless ``model`` is a Keras model file that is not a tfzoo export."""
    path = Path(model).expanduser() if isinstance(model, (str, Path)) else None
    if path is None or path.suffix.lower() not in _KERAS_FILES or path.is_dir():
        what = path.name if path is not None else type(model).__name__
        raise InvalidOptionError(
            f"preprocessing applies to a .keras or .h5 model file that takes scaled pixels; "
            f"{what} is not one (exports, SavedModels, TFLite and ONNX files take raw pixels)"
        )
    if (path.parent / "export_report.json").is_file():
        raise InvalidOptionError(
            f"{path} is a tfzoo export: it takes raw pixels and scales them itself, so "
            "preprocessing would scale them twice; drop it"
        )


def _warn_if_unscaled(model: Any, path: Path) -> None:
    """Say so when nothing in a model file (not a tfzoo export: no export_report.json beside
    it, where the range was settled when it was made) scales the raw pixels it is fed."""
    from zoo.model.scaling import unscaled_entry

    entry = unscaled_entry(model)
    if entry is None or (path.parent / "export_report.json").is_file():
        return
    warnings.warn(
        f"{path.name}: nothing in the model scales its input (the image goes straight into "
        f"{type(entry).__name__} {entry.name!r}), so it is fed pixels unchanged (0-255). If it "
        "was trained on scaled pixels, export it with them first: zoo.export(zoo.load_backbone"
        "(path, preprocessing='unit' or 'tf' ...), OUT, ['keras']), or pass preprocessing= "
        "(zoo predict --preprocessing unit|tf|...)",
        ZooWarning,
        stacklevel=4,
    )


def _published(name: str, session: Session | None) -> Path | None:
    """The export directory of a published registry name (downloaded), or None."""
    from zoo.session import default_session

    spec = (session or default_session()).registry.find(name)
    if spec is None:
        return None
    if spec.provider != "published":
        raise InvalidModelError(
            f"{name} is a backbone (provider {spec.provider!r}), not an exported classifier; "
            f"fine-tune and export it first: zoo finetune {name} --data DIR --export OUT",
            source=name,
        )
    from zoo.providers.published import export_dir

    return export_dir(spec)


def _choose(directory: Path, format: str | None) -> Path:
    if format is not None:
        if format not in FORMATS:
            raise InvalidOptionError(f"format is one of {', '.join(FORMATS)}; received {format!r}")
        chosen = directory / FORMATS[format]
        if not chosen.exists():
            raise SourceNotFoundError(
                f"{directory} holds no {format} export ({chosen.name})", source=str(directory)
            )
        return chosen
    for name in FORMATS.values():
        if (directory / name).exists():
            return directory / name
    held = ", ".join(sorted(p.name for p in directory.iterdir())[:8]) or "nothing"
    raise InvalidModelError(
        f"{directory} is not a tfzoo export (no {', '.join(FORMATS.values())}); it holds: {held}",
        source=str(directory),
    )


def _shape(dims: Sequence[Any], source: str) -> tuple[int | None, int | None, int | None]:
    """(H, W, C) of an input declared (batch, H, W, C); anything else is not an image."""
    values = [None if d is None or int(d) < 0 else int(d) for d in list(dims)]
    if len(values) != 4:
        raise InvalidModelError(
            f"{source} takes inputs shaped {tuple(values)}, not images (batch, height, width, "
            "channels): predict and evaluate run image classifiers",
            source=source,
        )
    return values[1], values[2], values[3]


def _check_output(dims: Sequence[Any] | None, outputs: int, source: str) -> None:
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


def _keras_runner(
    model: Any, source: str, labels: Sequence[str] | None, preprocessing: str | None = None
) -> Runner:
    shape = model.input_shape
    if isinstance(shape, list):
        if len(shape) != 1:
            raise InvalidModelError(f"{source} takes {len(shape)} inputs; predict needs one")
        shape = shape[0]
    scale = _scaling(preprocessing, shape[-1]) if preprocessing is not None else None

    from zoo.model.head import call_model

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(call_model(model, scale(x) if scale is not None else x))

    input_shape = _shape(shape, source)
    outputs = getattr(model, "outputs", None) or []
    if outputs:  # a subclassed model declares none: checked on the first call
        _check_output(tuple(outputs[0].shape), len(outputs), source)
    return Runner(source, "keras", input_shape, call, tuple(labels) if labels else None)


def _scaling(preprocessing: str, channels: int | None) -> Any:
    """Raw pixels -> what a model trained with ``preprocessing`` takes (numpy in and out)."""
    from zoo.spec import InputSpec

    try:
        spec = InputSpec.from_mode(preprocessing, (None, None, channels or 3))
    except ValueError as exc:
        raise InvalidOptionError(str(exc)) from None
    return lambda x: np.asarray(spec.preprocess(x), dtype="float32")


def _saved_model_runner(path: Path, labels: tuple[str, ...] | None) -> Runner:
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
    if "probabilities" in declared:  # a zoo.export SavedModel: probabilities and class names
        declared = {"probabilities": declared["probabilities"]}
    input_shape = _shape(spec.shape, str(path))
    (first, *_) = declared.values()
    _check_output(getattr(first, "shape", None), len(declared), str(path))
    runner = Runner(str(path), "saved_model", input_shape, call, labels)
    runner._loaded = loaded  # type: ignore[attr-defined]  # keep the variables alive
    return runner


def _tflite_runner(path: Path, labels: tuple[str, ...] | None) -> Runner:
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
    to_input = _tflite_input(detail, str(path))

    def invoke(x: np.ndarray) -> np.ndarray:
        if state["batch"] != len(x):
            interpreter.resize_tensor_input(detail["index"], [len(x), *x.shape[1:]])
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

    shape = detail.get("shape_signature", detail["shape"])
    tolerance = _quantized_sum_tolerance(interpreter, output)
    input_shape = _shape(shape, str(path))
    outputs = interpreter.get_output_details()
    _check_output(output.get("shape_signature", output["shape"]), len(outputs), str(path))
    if labels is None:
        labels = embedded_labels(path, int(output["shape"][-1]))
    return Runner(str(path), "tflite", input_shape, call, labels, tolerance)


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


def _quantized_sum_tolerance(interpreter: Any, output: dict[str, Any]) -> float:
    """How far from 1 the rows of a TFLite model's probabilities may sum.

    A fully integer model computes its softmax in int8 (steps of 1/256) and dequantizes the
    result: each of the ``classes`` probabilities is rounded by up to half a step. The step
    is the scale of what the output's ``DEQUANTIZE`` reads (or of the output itself when it
    is quantized); a float model has neither and keeps the float tolerance.
    """
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    step = float(output.get("quantization", (0.0, 0))[0] or 0.0)
    try:
        ops = interpreter._get_ops_details()  # LiteRT and tf.lite both have it
    except AttributeError:
        ops = []
    for op in ops:
        if op.get("op_name") == "DEQUANTIZE" and output["index"] in list(op["outputs"]):
            source = tensors.get(int(op["inputs"][0]), {})
            step = max(step, float(source.get("quantization", (0.0, 0))[0] or 0.0))
    classes = int(output["shape"][-1])
    return max(1e-3, classes * step / 2 + 1e-3)


def _onnx_runner(path: Path, labels: tuple[str, ...] | None) -> Runner:
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

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {first.name: x})[0])

    dims = [d if isinstance(d, int) else None for d in first.shape]
    input_shape = _shape(dims, str(path))
    outputs = session.get_outputs()
    out_dims = [d if isinstance(d, int) else None for d in outputs[0].shape]
    _check_output(out_dims, len(outputs), str(path))
    return Runner(str(path), "onnx", input_shape, call, labels)
