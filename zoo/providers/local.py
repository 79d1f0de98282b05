"""Built-in plugin: your own saved models — ``.keras``, legacy ``.h5``, SavedModel directories.

Sources are paths (relative or absolute, ``~`` expanded), ``file:`` URIs, ``local:<path>``,
registry entries with ``provider: local`` (a relative ``source`` is relative to the registry
file), and in-memory ``keras.Model`` objects (``zoo.load_backbone(model)``).

- ``.keras``: loaded with Keras's ``safe_mode=True``; before Keras runs, the config is checked
  and a Lambda layer or a config naming a Python callable outside Keras (and outside
  registered / ``custom_objects`` classes) is refused with :class:`UntrustedModelError`
  unless ``trust=True`` (F18).
- ``.h5`` / ``.hdf5``: the ``model_config`` attribute is checked the same way before Keras
  sees it (F20) — Keras's safe mode is not relied on for the legacy format; Keras 1.x /
  2.0-2.2 configs are converted (:mod:`zoo.model.legacy`).
- ``.json`` / ``.yaml`` architectures with ``weights=`` a weights ``.h5``
  (:mod:`zoo.providers.keras_files`).
- A config that embeds a tfzoo layer loading a SavedModel program (``HubLayer``,
  ``SavedModelFeatures``) needs ``trust=True`` too
  (F25, :func:`zoo.providers.keras_files.embedded_programs`).
- SavedModel directories: see :mod:`zoo.savedmodel.loader` (reusable ``__call__`` models whole;
  exported signature graphs cut before their final Dense).

A loaded Keras model is normalized by :meth:`zoo.Backbone.from_model`: each output's
classifier (a Dense, or a pooled class-map convolution) is found, the features are what feed
it (the shared trunk of several heads); ``feature_layer`` (name or ``model.layers`` index),
``classifier_layer`` and ``head`` override. Preprocessing defaults to ``raw`` (the model takes
what it was trained on); say otherwise with ``preprocessing=``. When a file's model has no
scaling of its own (the image goes straight into a convolution), ``raw`` is a guess: a
:class:`~zoo.errors.ZooWarning` (and a note in ``backbone.notes``) names the override
(:mod:`zoo.model.scaling`).
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from zoo import settings
from zoo.errors import (
    InvalidModelError,
    InvalidOptionError,
    SourceNotFoundError,
    ZooWarning,
    path_hint,
)
from zoo.host.hookspecs import hookimpl
from zoo.host.provider import Provider
from zoo.registry import slug
from zoo.spec import InputSpec, ModelSpec

if TYPE_CHECKING:
    from zoo.model.backbone import Backbone

__all__ = ["LocalProvider", "labels_beside"]

_MODEL_SUFFIXES = (".keras", ".h5", ".hdf5", ".json", ".yaml", ".yml")
_ARCH_SUFFIXES = (".json", ".yaml", ".yml")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")  # C:\models\x.keras is a path, not a scheme
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


_IN_MEMORY = "<in-memory keras.Model"


class LocalProvider(Provider):
    """Models saved on disk (or held in memory) as Backbones."""

    name: ClassVar[str] = "local"
    description: ClassVar[str] = "your own models: .keras, .h5, SavedModel directories"
    #: it claims anything that looks like a path: asked after providers of specific formats
    claim_order: ClassVar[int] = 100
    options: ClassVar[Mapping[str, str]] = {
        "trust": "allow Lambda layers / arbitrary callables in .keras and .h5 configs "
        "(runs code from the file)",
        "custom_objects": "mapping of names to your custom classes/functions (.keras, .h5)",
        "signature": "SavedModel signature to use (default: __call__, else serving_default)",
        "output_key": "output of a signature that returns a dict",
        "pooling": "'avg' (default) or 'max' pooling of a spatial feature map",
        "head": "which head of a multi-head model classifier/num_classes describe "
        "(output name or index)",
    }

    def claim(self, source: object) -> str | ModelSpec | None:
        """Claims keras.Model objects, ``file:`` URIs and strings that look like paths."""
        keras = sys.modules.get("keras")  # a Model can only exist if Keras is imported
        if keras is not None and isinstance(source, keras.Model):
            return ModelSpec(
                name=slug(str(source.name)),
                provider=self.name,
                source=f"{_IN_MEMORY} {source.name!r}>",
            )
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        if not isinstance(source, str) or not source.strip():
            return None
        text = source.strip()
        if text.startswith("file:"):
            from zoo.savedmodel.handles import normalize_handle

            return normalize_handle(text)
        if _SCHEME.match(text) and not _DRIVE.match(text):
            return None  # "hub:...", "https://...": another provider's
        looks_like_path = (
            text.lower().endswith(_MODEL_SUFFIXES)
            or text.startswith((".", "~", os.sep, "/"))
            or "/" in text
            or os.sep in text
        )
        if looks_like_path or Path(text).exists():
            return str(settings.user_path(text).absolute())
        return None

    def load_object(self, obj: object, spec: ModelSpec) -> Backbone:
        return _backbone(obj, spec)

    def load(self, spec: ModelSpec) -> Backbone:
        if spec.source.startswith(_IN_MEMORY):
            raise InvalidModelError(
                f"{spec.source} cannot be loaded from its spec: pass the model object itself",
                provider=self.name,
                source=spec.source,
            )
        path = _path_of(spec)
        source = spec.source
        if not path.exists():
            raise SourceNotFoundError(
                f"{source}: no such file or directory (looked for {path}); tfzoo loads .keras, "
                f".h5/.hdf5 files and SavedModel directories{path_hint(path)}",
                provider=self.name,
                source=source,
            )
        if path.is_dir():
            from zoo.savedmodel.handles import find_saved_model
            from zoo.savedmodel.loader import backbone_from_saved_model

            saved = find_saved_model(path, source=source, provider=self.name)
            return backbone_from_saved_model(
                saved, spec, provider=self.name, handle=str(saved), split=True
            )
        if spec.weights is not None and path.suffix.lower() not in _ARCH_SUFFIXES:
            raise InvalidOptionError(
                f"{source}: weights= goes with an architecture file (.json/.yaml from "
                f"model.to_json()); {path.name} holds its own weights. Received: "
                f"weights={spec.weights!r}",
                provider=self.name,
            )
        from zoo.providers.keras_files import load_keras_file  # zipfile: only when loading

        model, notes = load_keras_file(path, spec, weights=_weights_path(spec, path))
        return _backbone(model, spec, (*notes, *_scale_guess(model, spec)), beside=path)


def _path_of(spec: ModelSpec) -> Path:
    """The file a spec names; a relative registry source is relative to its registry file."""
    from zoo.savedmodel.handles import normalize_handle

    path = Path(normalize_handle(spec.source) if spec.source.startswith("file:") else spec.source)
    path = settings.user_path(path)
    if not path.is_absolute():
        path = Path(spec.base_dir or Path.cwd()) / path
    return path


def _backbone(
    model: Any, spec: ModelSpec, notes: Sequence[str] = (), beside: Path | None = None
) -> Backbone:
    """The file's Backbone; its class names from the spec or else ``labels.txt`` beside the
    file ``beside`` (an export's), when they fit the classifier."""
    from zoo.model.backbone import Backbone

    labels = spec.labels
    if labels is None and beside is not None:
        labels = labels_beside(beside)

    pooling = str(spec.options.get("pooling", "avg"))
    return Backbone.from_model(
        model,
        name=spec.name,
        provider="local",
        input_spec=spec.input_spec(InputSpec()),
        feature_layer=spec.feature_layer,
        classifier_layer=spec.classifier_layer,
        head=spec.options.get("head"),
        labels=labels,
        spec=spec,
        pooling=pooling,
        notes=notes,
    )


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


def _scale_guess(model: Any, spec: ModelSpec) -> tuple[str, ...]:
    """Warn (and note) when ``raw`` preprocessing is a guess: the file's model has no scaling
    of its own and nobody said what it was trained on (:mod:`zoo.model.scaling`)."""
    from zoo.model.scaling import guessed_entry, unscaled_message

    entry = guessed_entry(model, spec.preprocessing)
    if entry is None:
        return ()
    message = unscaled_message(spec.name, entry)
    warnings.warn(message, ZooWarning, stacklevel=2)
    return (message,)


def _weights_path(spec: ModelSpec, path: Path) -> Path | None:
    """The weights file named with ``weights=``, relative paths next to the architecture."""
    if spec.weights is None:
        return None
    weights = settings.user_path(spec.weights)
    if not weights.is_absolute():
        beside = path.parent / weights
        weights = beside if beside.exists() else Path.cwd() / weights
    return weights


@hookimpl
def zoo_register_providers(register: Callable[[Provider], None]) -> None:
    """Register the local-file provider."""
    register(LocalProvider())
