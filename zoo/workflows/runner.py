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

from zoo import settings
from zoo.errors import (
    InvalidModelError,
    InvalidOptionError,
    SourceNotFoundError,
    ZooWarning,
    path_hint,
)
from zoo.export.report import REPORT_NAME
from zoo.providers.local import labels_beside
from zoo.workflows.model_files import (
    Parts,
    check_output,
    image_shape,
    onnx_parts,
    saved_model_parts,
    tflite_parts,
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
    path = settings.user_path(model)
    if not path.exists():
        published = _published(str(model), session)
        if published is not None:
            return open_model(published, format=format, trust=trust)
        raise SourceNotFoundError(
            f"{path}: no such file or directory, nor a published model name in the registry"
            f"{path_hint(path)}",
            source=str(path),
        )
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        chosen = _choose(path, format)
        return open_model(chosen, trust=trust, session=session, preprocessing=preprocessing)
    if format is not None and format not in FORMATS:
        raise InvalidOptionError(f"format is one of {', '.join(FORMATS)}; received {format!r}")
    labels = labels_beside(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        return _file_runner(path, "saved_model", saved_model_parts(path), labels, preprocessing)
    if suffix in _KERAS_FILES:
        import zoo.model.layers
        import zoo.savedmodel.hub_layer  # noqa: F401

        loaded = _load_keras_file(path, trust)
        runner = _keras_runner(loaded, str(path), labels, preprocessing)  # refuses non-images
        if preprocessing is None:
            _warn_if_unscaled(loaded, path)
        return runner
    if suffix == ".tflite":
        return _file_runner(path, "tflite", tflite_parts(path), labels, preprocessing)
    if suffix == ".onnx":
        return _file_runner(path, "onnx", onnx_parts(path), labels, preprocessing)
    raise InvalidModelError(
        f"{path} is not a model tfzoo can run: expected an export directory, a SavedModel "
        "directory, or a .keras, .h5, .tflite or .onnx file",
        source=str(path),
    )


def _load_keras_file(path: Path, trust: bool) -> Any:
    """The model in a ``.keras`` / ``.h5`` file, loaded as the ``local`` provider loads it:
    its config checked for code before Keras reads it (F18, F20), a Keras 1/2 file Keras 3
    refuses converted (:mod:`zoo.model.legacy`), every failure an InvalidModelError."""
    from zoo.providers.keras_files import load_keras_file
    from zoo.spec import ModelSpec

    spec = ModelSpec(name=path.stem, provider="local", source=str(path), options={"trust": trust})
    try:
        model, _ = load_keras_file(path, spec, weights=None)
    except RecursionError:  # a hostile file (F30): no model nests its config that deep
        raise InvalidModelError(
            f"{path}: its config nests too deeply to be a model", source=str(path)
        ) from None
    return model


def _check_scalable(model: Any) -> None:
    """InvalidOptionError unless ``model`` is a model file or SavedModel that is not a tfzoo
    export (an export takes raw pixels and scales them itself), or an export of a model
    whose range was not given (``input_scaling: unknown``)."""
    path = settings.user_path(model) if isinstance(model, (str, Path)) else None
    scaling = _export_scaling(path) if path is not None else None
    model_dir = path is not None and path.is_dir() and (path / "saved_model.pb").is_file()
    if path is not None and path.is_dir() and not model_dir and scaling == "unknown":
        return  # an export directory of a model of unknown range: its files take what it took
    if path is None or (path.is_dir() and not model_dir) or (path.suffix == "" and not model_dir):
        what = path.name if path is not None else type(model).__name__
        raise InvalidOptionError(
            f"preprocessing applies to a model file or SavedModel that takes scaled pixels; "
            f"{what} is not one (exports and fine-tune results take raw pixels)"
        )
    if scaling == "known":
        raise InvalidOptionError(
            f"{path} is a tfzoo export: it takes raw pixels and scales them itself, so "
            "preprocessing would scale them twice; drop it"
        )


def _export_scaling(path: Path) -> str | None:
    """For a file or SavedModel tfzoo exported (``export_report.json`` beside it or in it),
    its report's ``input_scaling``: ``"known"`` (settled when it was made) or ``"unknown"``
    (nobody gave the range of the model it came from); None when it is not an export."""
    import json

    for folder in (path.parent, path):
        report = folder / REPORT_NAME
        if report.is_file():
            try:
                data = json.loads(report.read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError):
                return "known"  # a damaged report still marks an export
            unknown = isinstance(data, dict) and data.get("input_scaling") == "unknown"
            return "unknown" if unknown else "known"
    return None


def _file_runner(
    path: Path, kind: str, parts: Parts, labels: tuple[str, ...] | None, preprocessing: str | None
) -> Runner:
    """The Runner of a SavedModel, TFLite or ONNX file: ``preprocessing`` scales the pixels
    first; without it, a file that is not a tfzoo export and whose graph is not seen to scale
    its input gets a warning that says so (pixels 0-255 fed as they are)."""
    call = parts.call
    if preprocessing is not None:
        if parts.integer_input:
            raise InvalidOptionError(
                f"{path} takes integer images, which it scales itself; drop preprocessing"
            )
        scale = _scaling(preprocessing, parts.input_shape[-1])
        call = lambda x: parts.call(scale(x))  # noqa: E731
    elif not (parts.integer_input or parts.scales_input):
        scaling = _export_scaling(path) or ("known" if parts.tfzoo_export else None)
        if scaling != "known":
            _warn_unscaled(path, parts, exported=scaling == "unknown")
    runner = Runner(str(path), kind, parts.input_shape, call, labels or parts.labels)
    runner.tolerance = parts.tolerance
    runner._keep = parts.keep  # type: ignore[attr-defined]  # a SavedModel's variables
    return runner


def _warn_unscaled(path: Path, parts: Parts, *, exported: bool) -> None:
    seen = (
        f"its graph shows no scaling step before its first layer ({parts.first_layer}; a "
        "converter may have folded one into that layer's weights)"
        if parts.scales_input is False
        else "tfzoo cannot tell whether its graph scales its input"
    )
    what = (
        "is a tfzoo export of a model whose pixel range was not given (its "
        "export_report.json says input_scaling: unknown)"
        if exported
        else f"is not a tfzoo export and {seen}"
    )
    warnings.warn(
        f"{path.name} {what}, so tfzoo cannot tell what pixel range "
        "it was trained on: it is fed pixels unchanged (0-255). "
        "If it was trained on scaled pixels, say which: preprocessing='unit' for [0, 1] (TF "
        "Hub's convention), 'tf' for [-1, 1], 'torch' or 'caffe' (zoo predict / zoo evaluate "
        "--preprocessing MODE); preprocessing='raw' keeps 0-255 and silences this warning",
        ZooWarning,
        stacklevel=5,
    )


def _warn_if_unscaled(model: Any, path: Path) -> None:
    """Say so when nothing in a model file (not a tfzoo export: no export_report.json beside
    it, where the range was settled when it was made) scales the raw pixels it is fed."""
    from zoo.model.scaling import unscaled_entry

    entry = unscaled_entry(model)
    if entry is None or _export_scaling(path) == "known":
        return
    warnings.warn(
        f"{path.name}: nothing in the model scales its input (the image goes straight into "
        f"{type(entry).__name__} {entry.name!r}), so it is fed pixels unchanged (0-255). If it "
        "was trained on scaled pixels, pass preprocessing= (zoo predict --preprocessing "
        "unit|tf|...), or export it with them: zoo export MODEL OUT --preprocessing tf "
        "(zoo.export(path, OUT, preprocessing='tf'), which keeps its labels.txt)",
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

    input_shape = image_shape(shape, source)
    outputs = getattr(model, "outputs", None) or []
    if outputs:  # a subclassed model declares none: checked on the first call
        check_output(tuple(outputs[0].shape), len(outputs), source)
    return Runner(source, "keras", input_shape, call, tuple(labels) if labels else None)


def _scaling(preprocessing: str, channels: int | None) -> Any:
    """Raw pixels -> what a model trained with ``preprocessing`` takes (numpy in and out)."""
    from zoo.spec import InputSpec

    try:
        spec = InputSpec.from_mode(preprocessing, (None, None, channels or 3))
    except ValueError as exc:
        raise InvalidOptionError(str(exc)) from None
    return lambda x: np.asarray(spec.preprocess(x), dtype="float32")
