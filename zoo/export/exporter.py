"""``export``: a Keras classifier -> the files asked for, each verified, and ``export_report.json``.

Order of work: check the options and the optional runtimes (before anything is written),
read the samples, write every format (one that fails is recorded, the others still go on),
``labels.txt``, verify each file in its own runtime, write the report. A format that could
not be written raises :class:`~zoo.errors.UnsupportedOpError` / ExportError after the
report is written; a file outside its tolerance is only marked ``failed`` in the report
(``report.ok`` is False) and a ZooWarning says so.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import ExportError, InvalidOptionError, UnsupportedOpError, ZooWarning
from zoo.export import formats as writers
from zoo.export.names import DEFAULT_FORMATS, FORMATS, Tolerance, check_formats
from zoo.export.report import ExportReport, FormatReport
from zoo.export.runtimes import Runner, require
from zoo.export.samples import Samples, load_samples, noise
from zoo.export.verify import keras_run, predict, reference, time_all, verify_file

if TYPE_CHECKING:
    import keras

__all__ = ["export", "refuse_short_calibration"]

#: int8 calibration wants at least this many images by default (TFLite's guide: ~100-500).
MIN_REPRESENTATIVE = 100
#: ... and runs on up to this many (or ``representative``, if larger): the activation ranges
#: of a deep network settle slowly (MobileNetV2 in bench/export.py: 500 images give 97-98%
#: top-1 agreement with Keras, all 1,437 give 99%); the time it takes grows with the count.
MAX_REPRESENTATIVE = 1000


def refuse_short_calibration(formats: Iterable[str], count: int | None) -> None:
    """Before a fine-tune trains: raise ExportError when its export asks for tflite_int8 and
    its ``count`` training images are fewer than int8 calibrates on (None: not known yet,
    the export checks). Refused after training, the trained model would be lost."""
    if "tflite_int8" not in formats or count is None or count >= MIN_REPRESENTATIVE:
        return
    raise ExportError(
        f"tflite_int8 needs at least {MIN_REPRESENTATIVE} representative images to calibrate "
        f"on, and the training data has {count}; nothing was trained. Add training images, "
        "or export without int8 and convert later with zoo export MODEL_FILE OUT --quantize "
        f"int8 --data DIR --representative {max(count, 1)}"
    )


def export(
    model: keras.Model,
    directory: str | Path,
    formats: Sequence[str] | str = DEFAULT_FORMATS,
    *,
    data: Any = None,
    validation_data: Any = None,
    class_names: Sequence[str] | None = None,
    verify: bool = True,
    samples: int = 256,
    representative: int = MIN_REPRESENTATIVE,
    tolerances: Mapping[str, Tolerance | Mapping[str, float | None]] | None = None,
    timing_runs: int = 10,
    seed: int = 0,
    keep_tensor_names: bool = False,
    write_others: bool = False,
    unknown_scaling: str | None = None,
) -> ExportReport:
    """Write ``model`` in each format into ``directory``, check each against ``model``.

    Args:
        model: a Keras classifier taking raw pixels (N, H, W, C), giving (N, K) probabilities.
        directory: created if needed; files of earlier exports there are replaced.
        formats: names of :data:`zoo.export.names.FORMATS`.
        data: training images: a directory of class folders, an array, or ``(images,
            labels)``; int8 calibrates on it, and it is checked on when there is no
            ``validation_data``.
        validation_data: held-out images, the same forms; the files are checked on them.
        class_names: names of the K outputs; defaults to the folder names of a ``data``
            directory with K classes, else "0" ... "K-1".
        verify: run every file in its runtime and compare (False: write only).
        samples: at most this many held-out images are compared.
        representative: int8 needs at least this many images; it calibrates on all there
            are, up to :data:`MAX_REPRESENTATIVE` (or this number, if larger).
        tolerances: per format, a :class:`Tolerance` or a mapping of its fields, replacing
            the format's default.
        timing_runs: calls timed at least per latency figure, more until they add up to
            0.25 s, every runtime interleaved with the others
            (:func:`~zoo.export.verify.latencies`); 0: no latency.
        seed: picks the samples.
        keep_tensor_names: keep the name of every tensor in the TFLite files (the TF ops
            fused into it, for debuggers and Netron). By default only the inputs and outputs
            keep theirs: the files compute the same, are smaller (~46 KB for a MobileNetV2),
            and keep their ``serve`` signature.
        write_others: when int8 has too few images to calibrate on, write and check the
            other formats before raising (a fine-tune's export: its model exists nowhere
            else); by default nothing is written.
        unknown_scaling: why the pixel range the model takes is unknown (a file nothing
            said it of, see ``zoo.model.scaling``): a note, and ``input_scaling="unknown"``.

    Returns:
        The ExportReport (also written as ``export_report.json``); ``report.ok`` is False
        when a file is outside its tolerance.

    Raises:
        UnsupportedOpError: a format cannot express an op (the other formats are written).
        ExportError: too few representative images for int8, or a conversion failed.
        MissingDependencyError: an optional runtime is missing ("pip install 'tfzoo[export]'").
    """
    names = check_formats(formats)
    shape = _input_shape(model)
    _num_classes(model)  # a classifier (one (N, K) output), checked before anything is read
    tols = _tolerances(names, tolerances)
    if "onnx" in names:
        require("tf2onnx")
        require("onnx")
        if verify:
            require("onnxruntime")
    if representative < 1:
        raise InvalidOptionError(f"representative must be at least 1, received {representative}")

    train = (
        load_samples(data, shape, max(MAX_REPRESENTATIVE, representative, samples), seed)
        if data is not None
        else None
    )
    short: ExportError | None = None
    try:
        calibration = _calibration(names, train, representative, data)
    except ExportError as exc:
        if not write_others or names == ("tflite_int8",):
            raise
        calibration, short = None, exc
    held_out = _held_out(train, validation_data, shape, samples, seed)
    model, notes, outputs = _as_probabilities(model, held_out)
    names_out = _class_names(class_names, held_out, train, _num_classes(model))
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)

    reports: dict[str, FormatReport] = {}
    errors: dict[str, ExportError] = {}
    if short is not None:
        errors["tflite_int8"] = short
        reports["tflite_int8"] = FormatReport(
            "tflite_int8", None, FORMATS["tflite_int8"].runtime, "error", problems=[str(short)]
        )
    writing = tuple(n for n in names if n not in errors)
    _write_all(model, out, writing, names_out, calibration, reports, errors, keep_tensor_names)
    if class_names is not None or held_out.class_names is not None or (train and train.class_names):
        (out / "labels.txt").write_text("".join(f"{n}\n" for n in names_out))

    timed: list[tuple[FormatReport, Runner]] = []
    if verify:
        expected, ref, run = reference(model, held_out, outputs)
        timed.append((ref, run))
    else:  # nothing to compare with: the model is not run at all
        expected = np.zeros((0, len(names_out)), "float32")
        ref = FormatReport("keras (in memory)", None, "keras", "reference")
    for name in names:
        if name in reports:
            continue
        path = out / FORMATS[name].filename
        if verify:
            reports[name], runner = verify_file(
                name, path, held_out, expected, ref.accuracy, tols[name], class_names=names_out
            )
            if runner is not None:
                timed.append((reports[name], runner))
        else:
            reports[name] = FormatReport(name, str(path), FORMATS[name].runtime, "unverified")
    if timing_runs and timed:  # every runtime at once: load on a shared CPU hits all alike
        time_all(timed, held_out.images, timing_runs)
    del timed  # the runtimes (interpreters, sessions, loaded models) go now
    report = ExportReport(
        model=model.name,
        directory=str(out),
        samples=len(held_out),
        sample_source=held_out.source,
        labels_known=held_out.labels is not None,
        class_names=names_out,
        reference=ref,
        formats=[reports[n] for n in names],
        representative=len(calibration) if calibration is not None else None,
        notes=[*notes, *([_unknown_note(unknown_scaling)] if unknown_scaling else [])],
        input_scaling="unknown" if unknown_scaling else "known",
    )
    report.write()
    if errors:
        raise _combined(errors, report)
    failed = [f for f in report.formats if f.status == "failed"]
    if failed:
        warnings.warn(
            "export verification failed for "
            + "; ".join(f"{f.format}: {', '.join(f.problems)}" for f in failed)
            + f" (the files are written; see {out / 'export_report.json'})",
            ZooWarning,
            stacklevel=2,
        )
    return report


def _write_all(
    model: keras.Model,
    out: Path,
    names: tuple[str, ...],
    class_names: list[str],
    calibration: np.ndarray | None,
    reports: dict[str, FormatReport],
    errors: dict[str, ExportError],
    keep_tensor_names: bool = False,
) -> None:
    """Write each format; one that fails gets an "error" row and the others go on."""
    tflite = [n for n in names if n.startswith("tflite")]
    saved = out / FORMATS["saved_model"].filename
    scratch = None
    if "saved_model" not in names and tflite:  # TFLite converts from a SavedModel
        scratch = Path(tempfile.mkdtemp(prefix="zoo-export-"))
        saved = scratch / "saved_model"
    try:
        for name in sorted(names, key=list(FORMATS).index):  # the SavedModel before TFLite
            path = out / FORMATS[name].filename
            try:
                if name == "keras":
                    writers.write_keras(model, path)
                elif name == "saved_model" or (name in tflite and not saved.exists()):
                    writers.write_saved_model(model, saved, class_names)
                if name in tflite:
                    writers.write_tflite(
                        saved, path, name, calibration, keep_tensor_names=keep_tensor_names
                    )
                elif name == "onnx":
                    writers.write_onnx(model, path)
            except ExportError as exc:
                if path.is_file():
                    path.unlink()  # never a half-written file under the final name
                errors[name] = exc
                reports[name] = FormatReport(
                    name, None, FORMATS[name].runtime, "error", problems=[str(exc)]
                )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _combined(errors: dict[str, ExportError], report: ExportReport) -> ExportError:
    working = [f.format for f in report.formats if f.path is not None]
    tail = (
        f"; these formats were written: {', '.join(working)}"
        if working
        else "; no format could be written"
    )
    ops = sorted({op for e in errors.values() if isinstance(e, UnsupportedOpError) for op in e.ops})
    message = "; ".join(str(e) for e in errors.values()) + tail
    if ops:
        return UnsupportedOpError(
            message, ops=ops, format=", ".join(errors), working=working, report=report
        )
    return ExportError(message, report=report)


def _input_shape(model: keras.Model) -> tuple[int, int, int]:
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise InvalidOptionError(
            f"export takes a model with one image input (N, H, W, C); {model.name} has inputs "
            f"{[tuple(i.shape) for i in model.inputs]}"
        )
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise InvalidOptionError(
            f"export needs a fixed input size; {model.name} takes {shape}: rebuild it with "
            "input_shape=(H, W, C)"
        )
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def _num_classes(model: keras.Model) -> int:
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise InvalidOptionError(
            f"export takes a classifier with one (N, K) output; {model.name} gives "
            f"{[tuple(o.shape) for o in model.outputs]}"
        )
    return int(model.outputs[0].shape[1])


def _as_probabilities(
    model: keras.Model, held_out: Samples
) -> tuple[keras.Model, list[str], np.ndarray | None]:
    """``model``, or ``model`` ending in the layers that turn its outputs into probabilities
    (zoo.model.outputs: a softmax over logits; ``[1 - p, p]`` for one sigmoid output), as
    read off its outputs on the held-out images; the note that says so; and those outputs
    when they are the exported model's own (already probabilities: not computed again).
    Every file then gives probabilities (what the SavedModel's ``probabilities`` output
    promises), and the checks compare probabilities, not raw scores."""
    from zoo.model.outputs import describe, probability_model, reading

    out = predict(keras_run(model), held_out.images)
    kind = reading(out)
    if kind == "probabilities":
        return model, [], out
    note = (
        f"{model.name} {describe(kind)}; the exported files end in "
        + ("a softmax" if kind == "logits" else "that conversion")
        + " and output probabilities"
    )
    warnings.warn(note, ZooWarning, stacklevel=3)
    return probability_model(model, kind), [note], None


def _tolerances(
    names: tuple[str, ...], given: Mapping[str, Tolerance | Mapping[str, float | None]] | None
) -> dict[str, Tolerance]:
    out = {n: FORMATS[n].tolerance for n in names}
    for name, value in (given or {}).items():
        if name not in FORMATS:
            raise InvalidOptionError(f"tolerances: unknown format {name!r}")
        if isinstance(value, Tolerance):
            out[name] = value
            continue
        fields = {**vars(FORMATS[name].tolerance)}
        unknown = set(value) - set(fields)
        if unknown:
            raise InvalidOptionError(
                f"tolerances[{name!r}]: unknown keys {sorted(unknown)}; known: {sorted(fields)}"
            )
        fields.update(value)
        out[name] = Tolerance(**fields)
    return out


def _calibration(
    names: tuple[str, ...], train: Samples | None, needed: int, data: Any
) -> np.ndarray | None:
    if "tflite_int8" not in names:
        return None
    have = len(train) if train is not None else 0
    if have < needed:
        where = f"from {data}" if isinstance(data, str | Path) else "in data"
        raise ExportError(
            f"tflite_int8 needs at least {needed} representative images to calibrate on; "
            f"received {have} {where}. Give more training images, or lower the minimum "
            f"(zoo export --representative {max(have, 1)}, zoo.export(representative=...))"
        )
    assert train is not None
    return train.images[: max(MAX_REPRESENTATIVE, needed)]


def _held_out(
    train: Samples | None, validation: Any, shape: tuple[int, int, int], count: int, seed: int
) -> Samples:
    if validation is not None:
        return load_samples(validation, shape, count, seed)
    if train is not None:  # no held-out images: said, so an accuracy is not read as one
        taken = train.take(np.arange(min(count, len(train))))
        taken.source = f"training images, no validation data: {taken.source}"
        return taken
    return noise(shape, min(count, 64), seed)


def _class_names(
    given: Sequence[str] | None, held_out: Samples, train: Samples | None, k: int
) -> list[str]:
    """The names of the model's ``k`` outputs, and every folder's labels turned into them.

    Names: ``given`` (``class_names=``, ``labels.txt``), else the class folders of the data
    when there are ``k`` of them, else the output indices. A directory's labels count its
    own folders in sorted order, so each is mapped through the folder's name to the model's
    output of that name: a ``--val`` folder holding two of ten classes is scored against
    those two outputs, not outputs 0 and 1. Folders that name no output: no accuracy.
    """
    sources = [s for s in (train, held_out) if s is not None and s.class_names is not None]
    if given is not None:
        names = [str(n) for n in given]
        if len(names) != k:
            raise InvalidOptionError(
                f"class_names: the model has {k} outputs, received {len(names)} names"
            )
    else:
        folders = [list(s.class_names or ()) for s in sources if len(s.class_names or ()) == k]
        names = folders[0] if folders else [str(i) for i in range(k)]
    for source in {id(s): s for s in sources}.values():
        if source.labels is None:
            continue
        folder_names = list(source.class_names or ())
        unknown = [c for c in folder_names if c not in names]
        if unknown:
            source.labels = None
            warnings.warn(
                f"{source.source}: the class folders {', '.join(unknown[:5])} name none of "
                f"the model's {k} outputs ({', '.join(names[:10])}"
                f"{', ...' if k > 10 else ''}): accuracy is not computed; name the folders "
                "after the classes, or give class_names= (labels.txt beside a model file)",
                ZooWarning,
                stacklevel=3,
            )
            continue
        source.labels = np.array([names.index(c) for c in folder_names])[source.labels]
    return names


def _unknown_note(why: str) -> str:
    return (
        f"input scaling unknown: {why}, so these files take the pixels it took, whatever "
        "range that was; export with --preprocessing MODE (zoo.export(..., "
        "preprocessing=...)) to settle it"
    )
