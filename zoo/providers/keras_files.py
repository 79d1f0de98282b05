"""Keras model files on disk -> ``keras.Model``, checked before Keras runs any of it.

The ``local`` provider's file loader (TensorFlow is imported only when a file is loaded):

- ``.keras``: the config in the zip is checked (:func:`unsafe_parts`), then
  ``keras.saving.load_model(safe_mode=not trust, compile=False)``.
- ``.h5`` / ``.hdf5``: the ``model_config`` attribute is read with h5py and checked the
  same way (Keras's safe mode does not cover the legacy format). A config that Keras 3
  reads as it is goes to ``keras.saving.load_model``; one from Keras 1.x / 2.0-2.2 is
  converted (:mod:`zoo.model.legacy`), built, and its ``model_weights`` group loaded by
  layer name. The saved training config is never compiled (Keras 2 optimizer arguments
  such as ``lr`` do not exist in Keras 3).
- ``.json`` / ``.yaml`` (``model.to_json()`` / ``to_yaml()``) with ``weights=`` an ``.h5``
  of ``save_weights`` (Keras 1/2 layout, or a Keras 3 ``.weights.h5``).

A file that is not such a model — a weights-only ``.h5`` alone, JSON that is no Keras
config, an HDF5 file of another program — is an :class:`InvalidModelError` saying what the
file is and what to pass instead.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from zoo.errors import InvalidModelError, UntrustedModelError
from zoo.spec import ModelSpec

__all__ = ["embedded_programs", "load_keras_file", "unsafe_parts"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ARCH_SUFFIXES = (".json", ".yaml", ".yml")


def _fail(source: str, message: str) -> InvalidModelError:
    return InvalidModelError(message, provider="local", source=source)


def load_keras_file(path: Path, spec: ModelSpec, *, weights: Path | None) -> tuple[Any, list[str]]:
    """Check a model file, then load it; returns the model and what was converted.

    Args:
        path: a ``.keras``, ``.h5``/``.hdf5`` or ``.json``/``.yaml`` architecture file.
        spec: its ModelSpec (``trust``, ``custom_objects`` options).
        weights: the weights file for an architecture file (``weights=``).
    """
    # registers zoo's own layers, so configs naming them are known
    import zoo.model.layers
    import zoo.savedmodel.loader  # noqa: F401  (HubLayer, SavedModelFeatures)

    source = spec.source
    trust = bool(spec.options.get("trust", False))
    custom_objects = dict(spec.options.get("custom_objects") or {})
    with path.open("rb") as fh:
        head = fh.read(8)
    if path.suffix.lower() in _ARCH_SUFFIXES and head != _HDF5_MAGIC:
        config = _arch_config(path, source)
        _check_trust(config, source, trust, custom_objects)
        return _from_architecture(config, path, weights, spec, custom_objects)
    attrs: dict[str, str] = {}
    if path.suffix.lower() in (".tflite", ".onnx"):
        raise _fail(
            source,
            f"{source} is a {'TFLite' if path.suffix.lower() == '.tflite' else 'an ONNX'} "
            "file: a compiled model, not a Keras one, so it has no layers to cut, freeze or "
            "train (nor a Keras model for zoo doctor to inspect); zoo predict and zoo "
            "evaluate run it as it is, with --preprocessing MODE when it needs scaled pixels. "
            "To fine-tune, start from the .keras / .h5 / SavedModel it was converted from",
        )
    if zipfile.is_zipfile(path):
        kind, config = ".keras", _keras_config(path, source)
    elif head == _HDF5_MAGIC:
        kind = ".h5"
        config, attrs = h5_config(path, source)
    elif head.startswith(b"PK\x03\x04"):
        raise _fail(
            source,
            f"{source} begins like a zip archive (a .keras file) but its end is missing or "
            f"damaged ({path.stat().st_size} bytes): truncated or corrupt, a download or copy "
            "cut short? Save or copy it again",
        )
    else:
        raise _fail(
            source,
            f"{source} is neither a .keras archive nor an HDF5 (.h5) Keras model "
            f"(first bytes: {head!r}); tfzoo loads .keras, .h5/.hdf5, .json + weights and "
            "SavedModel directories",
        )
    suffixes = (".h5", ".hdf5") if kind == ".h5" else (".keras",)
    if path.suffix.lower() not in suffixes:
        raise _fail(
            source,
            f"{source} holds a {kind} model but is named {path.name!r}; Keras picks the loader "
            f"by the suffix: rename it to end in {kind}",
        )
    _check_trust(config, source, trust, custom_objects)
    if kind == ".h5":
        from zoo.model import legacy

        conv = legacy.convert_config(config, source=source)
        if conv.notes:
            return _legacy_h5(path, conv, attrs, source, custom_objects)
        try:
            return _keras_load(path, source, trust, custom_objects), []
        except UntrustedModelError:
            raise
        except InvalidModelError as refused:
            # a Keras 2 file that needed no conversion but that Keras 3's own loader still
            # refuses: build it and read its weights ourselves; if that fails too, say
            # what Keras said
            try:
                model, notes = _legacy_h5(path, conv, attrs, source, custom_objects)
            except InvalidModelError:
                raise refused from None
            return model, [*notes, f"Keras 3 refused it ({refused}); built by tfzoo instead"]
    from zoo.providers.keras_archive import unwrap_nested_ends

    rewritten = unwrap_nested_ends(config)
    if rewritten is not None:
        note = (
            "a nested model's one input / output written as a list of one, as Keras 3.8 and "
            "earlier wrote it, read as one tensor (this Keras refuses that form, "
            "keras-team/keras#20084)"
        )
        return _keras_load(path, source, trust, custom_objects, rewritten), [note]
    return _keras_load(path, source, trust, custom_objects), []


def _check_trust(config: Any, source: str, trust: bool, custom_objects: dict[str, Any]) -> None:
    if trust:
        return
    programs = embedded_programs(config)
    if programs:  # the file's own trust/sha256 never count: only the caller's trust (F25)
        from zoo.savedmodel.hub_layer import embedded_program_error

        raise embedded_program_error(*programs[0], source=source)
    found = unsafe_parts(config, allowed=set(custom_objects))
    if found:
        raise UntrustedModelError(
            f"{source} would run Python code when loaded: {', '.join(found[:5])}. Load it "
            "only if you trust where it came from: trust=True (`--trust` on the command line)",
            provider="local",
            source=source,
        )


def _keras_load(
    path: Path,
    source: str,
    trust: bool,
    custom_objects: dict[str, Any],
    rewritten: Any = None,
) -> Any:
    """``keras.saving.load_model``; of a copy holding ``rewritten`` as its config if given."""
    import keras

    from zoo.providers.keras_archive import load_rewritten

    try:
        if rewritten is not None:
            return load_rewritten(path, rewritten, trust=trust, custom_objects=custom_objects)
        return keras.saving.load_model(
            str(path), custom_objects=custom_objects or None, compile=False, safe_mode=not trust
        )
    except Exception as exc:  # Keras raises bare ValueError/TypeError for everything
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc):
            raise UntrustedModelError(
                f"{source}: Keras refused to deserialize code from the file ({text}); pass "
                "trust=True (`--trust` on the command line) only if you trust it",
                provider="local",
                source=source,
            ) from exc
        raise _fail(source, f"{source} could not be loaded as a Keras model: {text}") from exc


def _era(attrs: dict[str, str]) -> str:
    version = attrs.get("keras_version")
    backend = attrs.get("backend")
    if not version:
        return "a Keras 1.x file (no keras_version recorded)"
    return f"a Keras {version} file" + (f" ({backend} backend)" if backend else "")


def _legacy_h5(
    path: Path, conv: Any, attrs: dict[str, str], source: str, custom_objects: dict[str, Any]
) -> tuple[Any, list[str]]:
    """Build a converted legacy config and load the file's ``model_weights`` into it."""
    import h5py

    from zoo.model import legacy

    model = legacy.build_model(conv, custom_objects=custom_objects or None, source=source)
    with h5py.File(path, "r") as f:
        group = f.get("model_weights", f)
        if not legacy.is_legacy_weights(group):
            raise _fail(source, f"{source} has a model config but no weights (model_weights)")
        legacy.load_h5_weights(model, group, source=source)
    notes = [f"converted {_era(attrs)}: " + "; ".join(conv.notes)] if conv.notes else []
    if attrs.get("training_config"):
        notes.append("loaded without compiling (its Keras 1/2 training config is not used)")
    return model, notes


def _from_architecture(
    config: Any, path: Path, weights: Path | None, spec: ModelSpec, custom_objects: dict[str, Any]
) -> tuple[Any, list[str]]:
    """``model_from_json`` + ``load_weights`` for an architecture file and its weights."""
    import h5py

    from zoo.model import legacy

    source = spec.source
    if weights is None:
        raise _fail(
            source,
            f"{source} is a model architecture without weights; pass the weights file too: "
            f"zoo.load_backbone({path.name!r}, weights='weights.h5')",
        )
    if not weights.is_file():
        raise _fail(source, f"{source}: the weights file {weights} does not exist")
    conv = legacy.convert_config(config, source=source)
    model = legacy.build_model(conv, custom_objects=custom_objects or None, source=source)
    attrs = {k: str(v) for k, v in config.items() if k in ("keras_version", "backend")}
    notes = [f"architecture from {path.name} ({_era(attrs)}), weights from {weights.name}"]
    if conv.notes:
        notes.append("converted: " + "; ".join(conv.notes))
    with weights.open("rb") as fh:
        if fh.read(8) != _HDF5_MAGIC:
            raise _fail(source, f"{source}: the weights file {weights} is not an HDF5 (.h5) file")
    with h5py.File(weights, "r") as f:
        group = f.get("model_weights", f)
        legacy_layout = legacy.is_legacy_weights(group)
        if legacy_layout:
            legacy.load_h5_weights(model, group, source=source)
    if not legacy_layout:
        try:
            model.load_weights(str(weights))
        except Exception as exc:  # Keras raises bare ValueError for any mismatch
            raise _fail(
                source, f"{source}: the weights in {weights.name} do not fit the model: {exc}"
            ) from exc
    return model, notes


def _arch_config(path: Path, source: str) -> Any:
    """The model config in a ``to_json()`` / ``to_yaml()`` file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() == ".json":
            config = json.loads(text)
        else:  # alias bombs refused as in registry files (F30)
            from zoo.registry_yaml import safe_load_bounded

            config = safe_load_bounded(text, str(path))
    except (ValueError, Exception) as exc:
        raise _fail(source, f"{source} is not valid {path.suffix[1:].upper()}: {exc}") from exc
    if isinstance(config, list) or (
        isinstance(config, dict) and "class_name" in config and "config" in config
    ):
        return config
    keys = list(config)[:6] if isinstance(config, dict) else type(config).__name__
    raise _fail(
        source,
        f"{source} is not a Keras model config (model.to_json() writes class_name and config; "
        f"this file holds {keys}); pass a .keras/.h5 model, or the architecture JSON with "
        "weights=",
    )


def _keras_config(path: Path, source: str) -> Any:
    try:
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("config.json"))
    except RecursionError:  # a hostile file (F30): no model nests its config that deep
        raise _fail(source, f"{source}: its config.json nests too deeply to be a model") from None
    except (KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise _fail(
            source,
            f"{source} is a zip archive without a valid config.json, so not a .keras model: {exc}",
        ) from exc


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def h5_config(path: Path, source: str) -> tuple[Any, dict[str, str]]:
    """The parsed ``model_config`` of an .h5 file and its root attributes as text."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            attrs = {
                k: _text(f.attrs[k])
                for k in ("keras_version", "backend", "training_config")
                if k in f.attrs
            }
            keys = sorted(f.keys())
            weights_only = "layer_names" in f.attrs or (
                "model_weights" not in f
                and ("layers" in f or "_layer_checkpoint_dependencies" in f)
            )
    except OSError as exc:
        raise _fail(source, f"{source} is not a readable HDF5 file: {exc}") from exc
    if raw is None:
        if weights_only:
            raise _fail(
                source,
                f"{source} holds only weights (model.save_weights()), no model architecture; "
                "pass the architecture with it — zoo.load_backbone('model.json', "
                f"weights={path.name!r}) — or build the model in code, load the weights, and "
                "pass the keras.Model",
            )
        shown = ", ".join(keys[:6]) or "nothing"
        raise _fail(
            source,
            f"{source} is an HDF5 file but not a Keras model (no model_config; it holds "
            f"{shown}); pass a model saved with model.save(), or an architecture .json with "
            "weights=",
        )
    try:
        return json.loads(_text(raw)), attrs
    except ValueError as exc:
        raise _fail(source, f"{source}: its model_config is not valid JSON: {exc}") from exc


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


def _keras2_builtin(module: str, cls: str) -> bool:
    """A model or layer class of Keras 2 itself that Keras 3 has under the same name.

    ``tf_keras`` (Keras 2 since TF 2.16) writes ``"module": "tf_keras.src.engine.functional"``
    for a nested model; Keras 3 builds such a class from its own, by name, and imports nothing.
    """
    import keras

    if module != "tf_keras" and not module.startswith("tf_keras."):
        return False
    return cls in ("Functional", "Sequential", "Model") or isinstance(
        getattr(keras.layers, cls, None), type
    )


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
                or _keras2_builtin(module, cls)
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
