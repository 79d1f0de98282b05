"""The module-level API re-exported by ``zoo``: list, look up, load, create, fine-tune,
export, fetch and lock; compare, predict, evaluate, publish; trust.

Each function takes an optional ``session=`` and otherwise uses the default
:class:`~zoo.session.Session` (built on first use; :func:`zoo.session.reset` forgets it).
Only ``load_backbone``, ``create``, ``finetune`` and ``export`` import TensorFlow, and only
when they run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from zoo.session import Session, default_session
from zoo.spec import ModelSpec

if TYPE_CHECKING:
    import keras

    from zoo.download.lockfile import LockFile
    from zoo.download.trust import TrustEntry
    from zoo.export.report import ExportReport
    from zoo.finetune.recipe import Recipe
    from zoo.finetune.result import FinetuneResult
    from zoo.model.backbone import Backbone
    from zoo.prefetch import Fetched
    from zoo.workflows.compare import Comparison
    from zoo.workflows.evaluate import Evaluation
    from zoo.workflows.predict import PredictionReport
    from zoo.workflows.publish import Published

__all__ = [
    "compare",
    "create",
    "evaluate",
    "export",
    "fetch",
    "finetune",
    "get_spec",
    "list_models",
    "load_backbone",
    "lock",
    "predict",
    "publish",
    "trust",
    "trusted",
    "untrust",
]


def _session(session: Session | None) -> Session:
    return session if session is not None else default_session()


def list_models(
    pattern: str | None = None,
    *,
    provider: str | None = None,
    tag: str | None = None,
    session: Session | None = None,
) -> list[ModelSpec]:
    """Registered models, sorted by name. Never imports TensorFlow.

    Args:
        pattern: fnmatch pattern matched against names and aliases ("resnet*").
        provider: only models of this provider ("keras", "tfhub", ...).
        tag: only models carrying this tag.
        session: the Session to ask (the default one when omitted); so for every function here.

    Example:
        >>> [s.name for s in zoo.list_models("efficientnet_v2_*")][:2]
        ['efficientnet_v2_b0', 'efficientnet_v2_b1']
    """
    return _session(session).list_models(pattern, provider=provider, tag=tag)


def get_spec(name: str, *, session: Session | None = None) -> ModelSpec:
    """The ModelSpec of a registered name or alias.

    Raises:
        UnknownModelError: the name is unknown; ``.suggestions`` holds the closest names.

    Example:
        >>> zoo.get_spec("InceptionV3").name
        'inception_v3'
    """
    return _session(session).get_spec(name)


def load_backbone(
    name_or_source: object, *, session: Session | None = None, **overrides: Any
) -> Backbone:
    """Load a model as a normalized :class:`~zoo.Backbone`.

    Args:
        name_or_source: a registry name or alias, ``"provider:source"``, a path or URL a
            provider claims, a ``keras.applications`` function, a ``keras.Model``, or a
            Backbone (returned as is).
        **overrides: ``weights``, ``input_shape``, ``preprocessing``, ``feature_layer``,
            ``classifier_layer``, ``labels``, ``sha256``, and the provider's own options.

    Example:
        >>> bb = zoo.load_backbone("inception_v3", weights=None, input_shape=(96, 96, 3))
        >>> bb.feature_dim
        2048
    """
    return _session(session).load_backbone(name_or_source, **overrides)


def create(
    name_or_source: object,
    num_classes: int,
    *,
    dropout: float = 0.0,
    hidden_units: Sequence[int] = (),
    classifier_activation: str | None = "softmax",
    preprocess: bool = True,
    session: Session | None = None,
    **overrides: Any,
) -> keras.Model:
    """A backbone with a fresh classification head, ready to compile and fit.

    The model takes raw [0, 255] pixels: the backbone's preprocessing is a layer inside it
    (pass ``preprocess=False`` to feed preprocessed input instead).

    Args:
        name_or_source: anything :func:`load_backbone` takes.
        num_classes: outputs of the new Dense classifier.
        dropout: dropout rate before the classifier.
        hidden_units: widths of hidden Dense layers before the classifier.
        classifier_activation: "softmax" (default), "sigmoid", or None for logits.
        preprocess: put preprocessing inside the model.
        **overrides: as for :func:`load_backbone`.

    Example:
        >>> model = zoo.create("inception_v3", 5, weights=None)
        >>> model.layers[-1].units
        5
    """
    return _session(session).create(
        name_or_source,
        num_classes,
        dropout=dropout,
        hidden_units=hidden_units,
        classifier_activation=classifier_activation,
        preprocess=preprocess,
        **overrides,
    )


def finetune(
    source_or_backbone: object,
    train_data: object,
    *,
    validation_data: object = None,
    num_classes: int | None = None,
    recipe: Recipe | Mapping[str, Any] | str | None = None,
    session: Session | None = None,
    **recipe_overrides: Any,
) -> FinetuneResult:
    """Put a new head on a backbone, train it (and optionally the backbone), export it.

    By default (``recipe="auto"``) the cut point, what trains (the head, the top layers, all
    layers) and for how many epochs are chosen by validation within ``time_budget`` seconds
    (:mod:`zoo.finetune.auto`); ``result.trials`` lists what was tried and ``result.recipe``
    is the plain recipe that reproduces the chosen run. ``recipe="classic"`` is the Keras
    transfer-learning recipe: the backbone is frozen and called with ``training=False``; the
    head trains on features computed once (when nothing random happens before the
    backbone); with ``unfreeze_epochs`` a second phase unfreezes the backbone (all or
    ``unfreeze_top`` layers) at a learning rate 100x lower.

    Args:
        source_or_backbone: a :class:`~zoo.Backbone`, or anything :func:`zoo.load_backbone`
            takes (registry name, ``"keras:ResNet50"``, a path ...).
        train_data: ``(x, y)`` arrays of raw [0, 255] images and class ids (or names), a
            ``tf.data.Dataset`` of ``(images, labels)``, or a directory of class folders.
        validation_data: the same forms; metrics of the final model are computed on it.
        num_classes: outputs of the new head; inferred from the labels when omitted.
        recipe: ``"auto"`` (default), ``"classic"``, a :class:`~zoo.Recipe` (run as it is
            when its ``auto`` is False) or a mapping of its fields (a registry entry's
            ``recipe:`` block gives defaults; the fields set are kept by the search).
        session: the :class:`~zoo.session.Session` that resolves and loads the source
            (the default session when omitted).
        **recipe_overrides: recipe fields, e.g. ``epochs``, ``batch_size``, ``learning_rate``,
            ``freeze``, ``unfreeze_top``, ``unfreeze_epochs``, ``cache_features``,
            ``strategy``, ``export_dir``; and ``zoo.load_backbone`` overrides (``weights``,
            ``input_shape`` ...) when a source is loaded here.

    Returns:
        The model (raw pixels in, class probabilities out), the history and wall time of
        every phase, the final metrics and the export paths.

    Raises:
        DataError: the data does not fit the backbone or the labels (before training).
        TrainingDivergedError: the loss became NaN or infinite.

    Example:
        >>> result = zoo.finetune("mobilenet_v2", (x, y), weights=None, epochs=5,
        ...                       unfreeze_epochs=2, export_dir="out")
        >>> result.metrics["accuracy"], result.exports["tflite"]
    """
    from zoo.finetune.engine import Finetuner

    tuner = Finetuner(
        source_or_backbone,
        num_classes=num_classes,
        recipe=recipe,
        session=session,
        **recipe_overrides,
    )
    return tuner.fit(train_data, validation_data)


def fetch(
    names: Sequence[str] | None = None,
    *,
    require_hashes: bool | None = None,
    progress: bool | None = None,
    session: Session | None = None,
) -> list[Fetched]:
    """Download every artifact of the named models into the cache (``zoo fetch``).

    Without names, the models of the project's ``zoo.yaml``. Afterwards they load with
    ``ZOO_OFFLINE=1``. See :func:`zoo.prefetch.prefetch`.

    Example:
        >>> [f.artifact.url for f in zoo.fetch(["mobilenet_v2"])]  # doctest: +SKIP
    """
    from zoo.prefetch import prefetch

    return prefetch(names, require_hashes=require_hashes, progress=progress, session=session)


def lock(
    names: Sequence[str] | None = None,
    *,
    require_hashes: bool | None = None,
    progress: bool | None = None,
    session: Session | None = None,
) -> LockFile:
    """Fetch the named models' artifacts and pin them in the project's ``zoo.lock``.

    See :func:`zoo.prefetch.lock_project` (``zoo lock``).

    Example:
        >>> zoo.lock(["mobilenet_v2"]).path  # doctest: +SKIP
        PosixPath('zoo.lock')
    """
    from zoo.prefetch import lock_project

    return lock_project(names, require_hashes=require_hashes, progress=progress, session=session)


def trust(prefix: str) -> str:
    """Trust every model archive under ``prefix`` (as ``zoo trust PREFIX``); TF-free.

    Unpinned archives under it then load without ``trust=True``; the first load of each
    records its sha256 in the trust store (``ZOO_HOME/trust.json``) and later loads must
    match it (changed bytes are refused, naming both hashes).

    Returns:
        The prefix as stored (normalized, ending in ``/``).

    Example:
        >>> zoo.trust("https://models.example.com/team/")
        'https://models.example.com/team/'
    """
    from zoo.download.trust import add_prefix

    return add_prefix(prefix)


def untrust(prefix: str) -> list[str]:
    """Stop trusting ``prefix`` (as ``zoo untrust PREFIX``): what was removed.

    Removes the prefix (and narrower ones), forgets first-use hashes under it, switches off
    a built-in publisher it names; given one recorded URL, forgets just its hash.

    Raises:
        InvalidOptionError: nothing is trusted under ``prefix``.
    """
    from zoo.download.trust import remove_prefix

    return remove_prefix(prefix)


def trusted() -> list[TrustEntry]:
    """Built-in publishers, your trusted prefixes and the first-use hashes (``zoo trust --list``).

    Example:
        >>> [e.prefix for e in zoo.trusted() if e.origin == "built-in"][0]
        'https://tfhub.dev/google/'
    """
    from zoo.download.trust import trusted as entries

    return entries()


def predict(
    model: Any,
    images: Any,
    *,
    top_k: int = 5,
    batch_size: int = 32,
    strict: bool = False,
    format: str | None = None,
    trust: bool = False,
    progress: bool | None = None,
    session: Session | None = None,
    preprocessing: str | None = None,
) -> PredictionReport:
    """Top-k class names with probabilities for images (as ``zoo predict``).

    Args:
        model: an export directory (``zoo export`` / ``zoo finetune --export``), a SavedModel
            directory, a ``.keras``/``.h5``/``.tflite``/``.onnx`` file, a FinetuneResult, a
            ``keras.Model``, or a name published with ``zoo publish`` (``team/my_model``).
            Class names come from the export's ``labels.txt``.
        images: image paths, folders (searched recursively), ``.npy`` files or arrays, one
            or a list; each image is resized and converted to the model's input.
        top_k: classes per image, most likely first.
        batch_size: images per model call.
        strict: stop at an undecodable image (default: report it in ``.skipped``).
        format: which export of a directory to run ("saved_model", "keras", "tflite",
            "onnx"); default the first present in that order.
        trust: load a ``.keras`` file outside Keras safe mode.
        progress: force the progress bar (shown on a terminal for large folders).
        preprocessing: for a ``.keras`` / ``.h5`` file that is not a tfzoo export and was
            trained on scaled pixels: how to scale the raw ones ("unit", "tf", "torch",
            "caffe", ...); refused for anything else, which takes raw pixels.

    Example:
        >>> report = zoo.predict("out/", "photos/", top_k=3)
        >>> report.predictions[0].top
        [('daisy', 0.91), ('tulip', 0.06), ('rose', 0.02)]
    """
    from zoo.workflows.predict import predict as run

    return run(
        model,
        images,
        top_k=top_k,
        batch_size=batch_size,
        strict=strict,
        format=format,
        trust=trust,
        progress=progress,
        session=_session(session),
        preprocessing=preprocessing,
    )


def evaluate(
    model: Any,
    data: str | Path,
    *,
    batch_size: int = 32,
    strict: bool = False,
    format: str | None = None,
    trust: bool = False,
    progress: bool | None = None,
    confusion_png: str | Path | None = None,
    mistakes_png: str | Path | None = None,
    max_mistakes: int = 16,
    session: Session | None = None,
    preprocessing: str | None = None,
) -> Evaluation:
    """Accuracy, per-class precision/recall/F1/support, confusion matrix, worst mistakes.

    Args:
        model: as for :func:`predict` (its ``labels.txt`` names the classes).
        data: a directory with one sub-directory of images per class; a class the model
            does not know is refused (DataError listing the model's and the data's classes).
        confusion_png: write the confusion matrix here (needs matplotlib).
        mistakes_png: write a contact sheet of the worst mistakes here (image, true and
            predicted class, confidence).
        max_mistakes: images on the contact sheet.
        batch_size, strict, format, trust, progress, preprocessing: as for :func:`predict`.

    Example:
        >>> result = zoo.evaluate("out/", "flowers/val", confusion_png="confusion.png")
        >>> round(result.accuracy, 3), result.per_class[0].f1
        (0.912, 0.88)
    """
    from zoo.workflows.evaluate import evaluate as run

    return run(
        model,
        data,
        batch_size=batch_size,
        strict=strict,
        format=format,
        trust=trust,
        progress=progress,
        confusion_png=confusion_png,
        mistakes_png=mistakes_png,
        max_mistakes=max_mistakes,
        session=_session(session),
        preprocessing=preprocessing,
    )


def compare(
    data: Any,
    candidates: Sequence[Any],
    *,
    folds: int = 5,
    seed: int = 0,
    batch_size: int = 32,
    image_size: tuple[int, int] | None = None,
    time_budget: float | None = None,
    progress: bool | None = None,
    plot: str | Path | None = None,
    session: Session | None = None,
    **overrides: Any,
) -> Comparison:
    """Which backbone to start from: rank candidates by a linear probe on frozen features.

    Each candidate runs frozen once over the data; a multinomial logistic regression is then
    cross-validated (stratified ``folds``-fold) on the cached features.

    Args:
        data: a directory with one sub-directory of images per class, or ``(x, y)`` arrays.
        candidates: registry names, globs (``"efficientnet_b*"``), paths, handles, models.
        folds: cross-validation folds (each class needs at least this many images).
        seed: the fold assignment's seed (the result is reproducible).
        batch_size: images per backbone call.
        image_size: (H, W) to resize to for backbones of free size (default 224) or for all.
        time_budget: seconds shared by all candidates; the rest report "time budget".
        progress: force the progress bar on/off (default: on a terminal).
        plot: write a bar chart PNG of the accuracies here (needs matplotlib).
        session: the Session whose registry and plugins resolve the names.
        **overrides: passed to every ``load_backbone`` (``weights=None``, ...).

    Returns:
        A Comparison: ``rows`` best first (``accuracy``, ``spread``, ``images_per_second``,
        ``parameters``, ``feature_dim``, ``seconds``; ``error`` for candidates that failed).

    Example:
        >>> result = zoo.compare("flowers/", ["mobilenet_v2", "efficientnet_b*"], folds=3)
        >>> result.best.candidate
        'efficientnet_b0'
    """
    from zoo.workflows.compare import compare as run

    return run(
        data,
        candidates,
        folds=folds,
        seed=seed,
        batch_size=batch_size,
        image_size=image_size,
        time_budget=time_budget,
        progress=progress,
        plot=plot,
        session=_session(session),
        **overrides,
    )


def publish(
    export_dir: str | Path,
    *,
    name: str,
    to: str | Path,
    force: bool = False,
    description: str = "",
    license: str | None = None,
    tags: Sequence[str] = (),
    result: Any = None,
    evaluation: Any = None,
) -> Published:
    """Publish an export into a team registry directory (as ``zoo publish``).

    Writes ``artifacts/<sha256>.tar.gz`` (content-addressed), an entry in ``registry.yaml``
    (labels, input shape and preprocessing, source backbone, metrics, license, description,
    tags, the pinned sha256) and a model card ``<name>/<version>/README.md``. Serve the
    directory over HTTP(S); colleagues set ``ZOO_REGISTRY=<url>/registry.yaml`` and use
    ``name`` like any other model (``zoo predict team/my_model img.jpg``, ``zoo lock``).

    Args:
        export_dir: a tfzoo export (``saved_model/`` and ``labels.txt``, as ``zoo export``
            and ``zoo finetune --export`` write it); anything else is refused.
        name: ``namespace/model`` or ``model``; it resolves to the latest version, and
            ``name:N`` to version N.
        to: the registry directory (created if needed).
        force: publish different bytes under an already published name as the next version
            (without it, that is refused; old versions always stay).
        description, license, tags: for the entry and the card.
        result: the FinetuneResult (or ``zoo finetune --json`` output) it came from: backbone,
            recipe and metrics go into the entry and the card.
        evaluation: an Evaluation (or ``zoo evaluate --json`` output): metrics, per-class
            table and confusion matrix go into the card.

    Example:
        >>> p = zoo.publish("out/", name="team/flowers", to="registry/", license="MIT")
        >>> p.versioned_name
        'team/flowers:1'
    """
    from zoo.workflows.publish import publish as run

    return run(
        export_dir,
        name=name,
        to=to,
        force=force,
        description=description,
        license=license,
        tags=tags,
        result=result,
        evaluation=evaluation,
    )


def export(
    model: object,
    directory: str | Path,
    formats: Sequence[str] | str = ("saved_model", "keras", "tflite"),
    *,
    data: object = None,
    validation_data: object = None,
    class_names: Sequence[str] | None = None,
    trust: bool = False,
    session: Session | None = None,
    preprocessing: str | None = None,
    **options: Any,
) -> ExportReport:
    """Export a classifier and check every file in its own runtime against the Keras model.

    Formats: ``saved_model`` (signatures for raw pixels and for JPEG/PNG bytes, both giving
    probabilities and class names), ``keras``, ``tflite`` (float32), ``tflite_float16``,
    ``tflite_dynamic``, ``tflite_int8`` (calibrated on ``data``) and ``onnx``. Each file is
    run in LiteRT, onnxruntime, the loaded SavedModel or Keras, on ``validation_data`` (or
    a sample of ``data``), and compared with ``model``: max |Δp|, top-1 agreement, accuracy,
    size and latency go into ``export_report.json`` beside the files.

    Args:
        model: a ``keras.Model``, a :class:`~zoo.FinetuneResult` (its model and class
            names), a :class:`~zoo.Backbone` (its whole model, its ``input_spec``'s
            preprocessing in front: the files take raw pixels), or a saved model file
            (``.keras``/``.h5``, loaded through the local provider's safety checks, the same
            way; ``labels.txt`` beside it names the classes).
        directory: where the files go.
        formats: names of ``zoo.export.FORMATS``.
        data: training images (a directory of class folders, an array or ``(x, y)``).
        validation_data: held-out images to check on, the same forms.
        class_names: names of the outputs.
        trust: allow Lambda layers and arbitrary callables in a model file.
        session: the Session that loads a model file.
        preprocessing: a model file's training range ("unit", "tf", ...): the files scale
            raw pixels that way.
        **options: ``verify``, ``samples``, ``representative``, ``tolerances``,
            ``timing_runs``, ``seed``, ``keep_tensor_names`` of
            :func:`zoo.export.exporter.export`.

    Returns:
        The :class:`~zoo.export.ExportReport`; ``report.ok`` is False when a file failed
        its tolerance (the files are still written).

    Raises:
        UnsupportedOpError: a format cannot express an op (the others are written).
        ExportError: too few representative images for int8.
        MissingDependencyError: an optional runtime is missing (pip install 'tfzoo[export]').

    Example:
        >>> report = zoo.export(result, "out", ["tflite_int8", "onnx"], data="photos/train")
        >>> report.ok, report["tflite_int8"].agreement
    """
    from zoo.errors import InvalidOptionError
    from zoo.export.exporter import export as _export
    from zoo.model.head import pixels_model
    from zoo.model.scaling import unknown_scaling
    from zoo.workflows.runner import labels_beside

    keras_model: Any = model
    backbone: Any = None  # a file's or the given Backbone: exported with its preprocessing
    if preprocessing is not None and not isinstance(model, str | Path):
        raise InvalidOptionError(f"preprocessing= is for model files; got {type(model).__name__}")
    if isinstance(model, str | Path):
        scaled = {"preprocessing": preprocessing} if preprocessing is not None else {}
        backbone = _session(session).load_backbone(str(model), trust=trust, **scaled)
        class_names = class_names if class_names is not None else labels_beside(Path(model))
    elif hasattr(model, "recipe") and hasattr(model, "model"):  # a FinetuneResult
        if class_names is None and getattr(model, "class_names", None):
            class_names = list(getattr(model, "class_names", ()))
        keras_model = model.model
    elif hasattr(model, "features") and hasattr(model, "model"):  # a Backbone
        backbone = model
    if backbone is not None:
        keras_model = pixels_model(cast("Backbone", backbone))  # exports take raw pixels
    return _export(
        keras_model, directory, formats, data=data, validation_data=validation_data,
        class_names=class_names, unknown_scaling=unknown_scaling(backbone), **options,
    )  # fmt: skip
