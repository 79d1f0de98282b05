"""Built-in plugin: your own saved models — ``.keras``, legacy ``.h5``, SavedModel directories.

Sources are paths (relative or absolute, ``~`` expanded), ``file:`` URIs, ``local:<path>``,
registry entries with ``provider: local`` (a relative ``source`` is relative to the registry
file), and in-memory ``keras.Model`` objects (``zoo.load_backbone(model)``).

- ``.keras``: loaded with Keras's ``safe_mode=True``; before Keras runs, the config is checked
  and a Lambda layer or a config naming a Python callable outside Keras (and outside
  registered / ``custom_objects`` classes) is refused with :class:`UntrustedModelError`
  unless ``trust=True`` (F18).
- ``.h5`` / ``.hdf5``: the legacy loader; the ``model_config`` attribute is checked the same
  way before Keras sees it (F20) — Keras's safe mode is not relied on for the legacy format.
- SavedModel directories: see :mod:`zoo.savedmodel.loader` (reusable ``__call__`` models whole;
  exported signature graphs cut before their final Dense).

A loaded Keras model is normalized by :meth:`zoo.Backbone.from_model`: the final Dense is the
classifier, the features are what feed it; ``feature_layer`` (name or ``model.layers`` index)
and ``classifier_layer`` override. Preprocessing defaults to ``raw`` (the model takes what it
was trained on); say otherwise with ``preprocessing=``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from zoo.errors import InvalidModelError, SourceNotFoundError, UntrustedModelError
from zoo.host.hookspecs import hookimpl
from zoo.host.provider import Provider
from zoo.registry import slug
from zoo.spec import InputSpec, ModelSpec

if TYPE_CHECKING:
    from zoo.model.backbone import Backbone

__all__ = ["LocalProvider", "embedded_programs", "unsafe_parts"]

_MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
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
            return str(Path(text).expanduser().absolute())
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
                ".h5/.hdf5 files and SavedModel directories",
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
        return _backbone(_load_keras_file(path, spec), spec)


def _path_of(spec: ModelSpec) -> Path:
    """The file a spec names; a relative registry source is relative to its registry file."""
    from zoo.savedmodel.handles import normalize_handle

    path = Path(normalize_handle(spec.source) if spec.source.startswith("file:") else spec.source)
    path = path.expanduser()
    if not path.is_absolute():
        path = Path(spec.base_dir or Path.cwd()) / path
    return path


def _backbone(model: Any, spec: ModelSpec) -> Backbone:
    from zoo.model.backbone import Backbone

    pooling = str(spec.options.get("pooling", "avg"))
    return Backbone.from_model(
        model,
        name=spec.name,
        provider="local",
        input_spec=spec.input_spec(InputSpec()),
        feature_layer=spec.feature_layer,
        classifier_layer=spec.classifier_layer,
        labels=spec.labels,
        spec=spec,
        pooling=pooling,
    )


def _load_keras_file(path: Path, spec: ModelSpec) -> Any:
    """Check a .keras / .h5 file's config, then load it with Keras (safe mode unless trusted)."""
    import keras

    # registers zoo's own layers, so configs naming them are known
    import zoo.model.layers
    import zoo.savedmodel.loader  # noqa: F401  (HubLayer, SavedModelFeatures)

    source = spec.source
    trust = bool(spec.options.get("trust", False))
    custom_objects = dict(spec.options.get("custom_objects") or {})
    with path.open("rb") as fh:
        head = fh.read(8)
    if zipfile.is_zipfile(path):
        kind, config = ".keras", _keras_config(path, source)
    elif head == _HDF5_MAGIC:
        kind, config = ".h5", _h5_config(path, source)
    else:
        raise InvalidModelError(
            f"{source} is neither a .keras archive nor an HDF5 (.h5) Keras model "
            f"(first bytes: {head!r}); tfzoo loads .keras, .h5/.hdf5 and SavedModel directories",
            provider="local",
            source=source,
        )
    suffixes = (".h5", ".hdf5") if kind == ".h5" else (".keras",)
    if path.suffix.lower() not in suffixes:
        raise InvalidModelError(
            f"{source} holds a {kind} model but is named {path.name!r}; Keras picks the loader "
            f"by the suffix: rename it to end in {kind}",
            provider="local",
            source=source,
        )
    if not trust:
        programs = embedded_programs(config)
        if programs:
            from zoo.savedmodel.hub_layer import embedded_program_error

            raise embedded_program_error(*programs[0], source=source)
        found = unsafe_parts(config, allowed=set(custom_objects))
        if found:
            raise UntrustedModelError(
                f"{source} would run Python code when loaded: {', '.join(found[:5])}. Load it "
                "only if you trust where it came from, with trust=True",
                provider="local",
                source=source,
            )
    try:
        return keras.saving.load_model(
            str(path), custom_objects=custom_objects or None, compile=False, safe_mode=not trust
        )
    except Exception as exc:  # Keras raises bare ValueError/TypeError for everything
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc):
            raise UntrustedModelError(
                f"{source}: Keras refused to deserialize code from the file ({text}); pass "
                "trust=True only if you trust it",
                provider="local",
                source=source,
            ) from exc
        raise InvalidModelError(
            f"{source} could not be loaded as a Keras model: {text}",
            provider="local",
            source=source,
        ) from exc


def _keras_config(path: Path, source: str) -> Any:
    try:
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("config.json"))
    except (KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise InvalidModelError(
            f"{source} is a zip archive without a valid config.json, so not a .keras model: {exc}",
            provider="local",
            source=source,
        ) from exc


def _h5_config(path: Path, source: str) -> Any:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            keys = sorted(f.keys())
    except OSError as exc:
        raise InvalidModelError(
            f"{source} is not a readable HDF5 file: {exc}", provider="local", source=source
        ) from exc
    if raw is None:
        hint = " (it looks like a weights-only file)" if keys else ""
        raise InvalidModelError(
            f"{source} is an HDF5 file without a model_config, so not a saved Keras model"
            f"{hint}; build the model in code and load weights with model.load_weights()",
            provider="local",
            source=source,
        )
    try:
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except ValueError as exc:
        raise InvalidModelError(
            f"{source}: its model_config is not valid JSON: {exc}", provider="local", source=source
        ) from exc


_PROGRAM_LAYERS = {"HubLayer": "handle", "SavedModelFeatures": "directory"}


def embedded_programs(config: Any) -> list[tuple[str, str, str]]:
    """tfzoo layers in a model config that load a SavedModel program: (layer, what, name).

    A ``HubLayer`` names a handle (a remote archive or a local directory), a
    ``SavedModelFeatures`` a directory; either runs that program when the file is loaded, so
    the file needs the caller's trust whatever its config says (F25).
    """
    found: list[tuple[str, str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        names = {str(node.get("class_name", "")), str(node.get("registered_name", ""))}
        names |= {n.rsplit(">", 1)[-1] for n in names}
        inner = node["config"] if isinstance(node.get("config"), dict) else {}
        for layer, key in _PROGRAM_LAYERS.items():
            if layer in names:
                found.append((layer, str(inner.get(key, "?"))[:200], str(inner.get("name", "?"))))
        for value in node.values():
            walk(value)

    walk(config)
    return found


def unsafe_parts(config: Any, *, allowed: set[str] | None = None) -> list[str]:
    """What in a Keras model config would run Python code from the file (F18, F20).

    Lambda layers (their function is bytecode or a name to import), serialized Python lambdas,
    and any object or function whose ``module`` is outside Keras and which is neither a
    registered serializable nor named in ``allowed`` (the user's ``custom_objects``).
    """
    import keras

    allowed = allowed or set()
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        cls = node.get("class_name")
        inner = node["config"] if isinstance(node.get("config"), dict) else {}
        if cls == "Lambda" and "Lambda" not in allowed:
            found.append(f"Lambda layer {inner.get('name', '?')!r}")
        elif cls == "__lambda__" or node.get("function_type") == "lambda":
            found.append("a serialized Python lambda")
        elif isinstance(cls, str) and isinstance(node.get("module"), str):
            module = node["module"]
            registered = node.get("registered_name")
            known = (
                module == "keras"
                or module.startswith("keras.")
                or cls in allowed
                or (registered in allowed)
                or (
                    isinstance(registered, str)
                    and keras.saving.get_registered_object(registered) is not None
                )
            )
            if not known:
                found.append(f"{module}.{cls}")
        for value in node.values():
            walk(value)

    walk(config)
    return list(dict.fromkeys(found))


@hookimpl
def zoo_register_providers(register: Callable[[Provider], None]) -> None:
    """Register the local-file provider."""
    register(LocalProvider())
