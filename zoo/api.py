"""The module-level API re-exported by ``zoo``: list, look up, load, create, fine-tune.

Each function takes an optional ``session=`` and otherwise uses the default
:class:`~zoo.session.Session` (built on first use; :func:`zoo.session.reset` forgets it).
Only ``load_backbone``, ``create`` and ``finetune`` import TensorFlow, and only when they run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zoo.session import Session, default_session
from zoo.spec import ModelSpec

if TYPE_CHECKING:
    import keras

    from zoo.finetune.recipe import Recipe
    from zoo.finetune.result import FinetuneResult
    from zoo.model.backbone import Backbone

__all__ = ["create", "finetune", "get_spec", "list_models", "load_backbone"]


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
