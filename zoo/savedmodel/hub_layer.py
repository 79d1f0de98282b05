"""HubLayer: a TF2 SavedModel (TF Hub, Kaggle, or your own) as a real Keras 3 layer.

``hub.KerasLayer`` is a Keras 2 layer and cannot go into a Keras 3 model; Keras's own
``TFSMLayer`` cannot be fine-tuned with Adam (the restored variable names contain ``:``,
which becomes an invalid optimizer scope name) and never passes ``training`` to the model.
This layer takes ``hub.KerasLayer``'s arguments, so ported code changes one name:

- the SavedModel's variables are wrapped in Keras variables (same storage, no copy) with
  clean names, trainable as the model saved them (``trainable_variables``);
- ``training=True`` reaches the wrapped ``__call__`` only when the layer is trainable *and*
  the model trains, so BatchNorm statistics move only then (as ``hub.KerasLayer`` does);
- the model's ``regularization_losses`` are added while the layer is trainable;
- a model containing it exports with ``model.export(...)`` and, with a string handle, saves
  to ``.keras`` (the config holds the handle; weights are saved as usual).

tensorflow_hub is never imported (it imports tf_keras).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf

from zoo.errors import InvalidModelError, InvalidOptionError, UntrustedModelError
from zoo.savedmodel import handles as hub_handles

__all__ = ["HubLayer", "embedded_program_error", "keras_safe_mode", "load_saved_model"]

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-]")


def load_saved_model(
    path: str | os.PathLike[str],
    *,
    source: str,
    provider: str | None,
    tags: Sequence[str] | str | None = None,
    options: Any = None,
) -> Any:
    """``tf.saved_model.load`` with errors turned into :class:`InvalidModelError`."""
    try:
        return tf.saved_model.load(str(path), tags=tags, options=options)
    except (OSError, ValueError, RuntimeError, tf.errors.OpError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidModelError(
            f"{source} could not be loaded as a TF2 SavedModel: {first}",
            provider=provider,
            source=source,
        ) from exc


def keras_safe_mode() -> bool | None:
    """The safe mode of the Keras load in progress: True, False, or None outside any load.

    ``keras.saving.load_model(..., safe_mode=...)`` holds it while it deserializes layers;
    ``from_config`` called directly (``keras.models.clone_model`` of an in-process model)
    sees None.
    """
    try:
        from keras.src.saving.serialization_lib import in_safe_mode
    except ImportError:  # pragma: no cover - a Keras that moved it: assume a safe load
        return True
    value = in_safe_mode()
    return None if value is None else bool(value)


def embedded_program_error(
    layer: str, what: str, name: str, *, source: str | None = None
) -> UntrustedModelError:
    """The refusal of a model file that embeds a SavedModel program (F25)."""
    return UntrustedModelError(
        f"{source or 'the model file'} embeds a {layer} {name!r} that loads the SavedModel "
        f"program {what!r}; "
        "a file cannot vouch for the program it names (its trust, sha256 and directory "
        "settings are ignored). Load it only if you trust the file: "
        "zoo.load_backbone(path, trust=True), `--trust` on the command line, or "
        "keras.saving.load_model(path, safe_mode=False)",
        source=source or what,
    )


def clean_variable_name(name: str) -> str:
    """``'block/conv:0'`` -> ``'block_conv'``: a name Keras and optimizers accept as a scope."""
    return _UNSAFE_NAME.sub("_", name.removesuffix(":0")) or "variable"


def wrap_variable(variable: Any, trainable: bool) -> keras.Variable:
    """A Keras variable sharing ``variable``'s storage (the SavedModel keeps reading it)."""
    return keras.Variable(
        initializer=variable,
        trainable=trainable,
        dtype=variable.dtype,
        autocast=False,
        name=clean_variable_name(variable.name),
    )


@keras.saving.register_keras_serializable(package="zoo")
class HubLayer(keras.layers.Layer):  # type: ignore[misc]
    """A TF2 SavedModel as a Keras 3 layer: ``hub.KerasLayer``'s arguments, on Keras 3.

    Args:
        handle: a TF Hub / Kaggle handle or URL, a local SavedModel directory (``hub:`` prefix
            allowed; see :mod:`zoo.savedmodel.handles`), or an already loaded SavedModel object.
        trainable: fine-tune the SavedModel's trainable variables (default False).
        arguments: extra keyword arguments for every call of the model.
        signature: call this signature instead of ``__call__`` (default: ``__call__`` when
            the model has one, else ``serving_default`` or the only signature).
        output_key: the output to return when the model returns a dict.
        signature_outputs_as_dict: return the whole dict of a signature's outputs.
        output_shape: output shape without the batch dimension, when it cannot be inferred.
        tags: graph tags passed to ``tf.saved_model.load``.
        load_options: a ``tf.saved_model.LoadOptions``.
        sha256: pin of the downloaded archive (remote handles).
        trust: vouch for an unpinned remote archive (a model is a program; F19).
        allow_http: permit plain http to a non-loopback host.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Example:
        >>> model = keras.Sequential([
        ...     keras.Input((224, 224, 3)),
        ...     zoo.HubLayer("https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
        ...                  trainable=False, sha256="..."),
        ...     keras.layers.Dense(5),
        ... ])
    """

    def __init__(
        self,
        handle: Any,
        trainable: bool = False,
        arguments: Mapping[str, Any] | None = None,
        *,
        signature: str | None = None,
        output_key: str | None = None,
        signature_outputs_as_dict: bool = False,
        output_shape: Sequence[int | None] | None = None,
        tags: Sequence[str] | str | None = None,
        load_options: Any = None,
        sha256: str | None = None,
        trust: bool = False,
        allow_http: bool = False,
        **kwargs: Any,
    ) -> None:
        loaded = kwargs.pop("_loaded", None)  # internal: an object a provider already loaded
        super().__init__(trainable=trainable, **kwargs)
        self._handle = str(handle) if isinstance(handle, os.PathLike) else handle
        self._arguments = dict(arguments or {})
        self._signature = signature
        self._output_key = output_key
        self._as_dict = bool(signature_outputs_as_dict)
        self._output_shape = tuple(output_shape) if output_shape is not None else None
        self._tags = tags
        self._sha256 = sha256
        self._trust = bool(trust)
        self._allow_http = bool(allow_http)
        source = self._handle if isinstance(self._handle, str) else type(handle).__name__
        self._source = source
        if loaded is not None:
            obj = loaded
        elif isinstance(self._handle, str):
            path = hub_handles.resolve(
                self._handle, sha256=sha256, trust=trust, allow_http=allow_http
            )
            obj = load_saved_model(
                path, source=source, provider=None, tags=tags, options=load_options
            )
        else:
            obj = handle
        self._obj = obj
        self._fn = self._select_callable()
        self._accepts_training = self._signature is None and _accepts_training(self._fn)
        self._input_spec_hint = _input_spec(self._fn, self._signature is not None)
        self._check_outputs()
        self._regularization_losses = list(getattr(obj, "regularization_losses", []) or [])
        for variable, is_trainable in self._variables_of():
            self._track_variable(wrap_variable(variable, is_trainable))
        self.built = True

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HubLayer:
        """Rebuild from a saved config; trust comes from the caller, never from the file (F25).

        In a safe-mode Keras load the layer is refused: it would download or load and run
        the program its handle names. With ``safe_mode=False`` (tfzoo's ``trust=True``) the
        caller vouches for the file and so for its program.
        """
        config = dict(config)
        safe = keras_safe_mode()
        if safe is None:  # rebuilt in this process (clone_model): its own config
            return super().from_config(config)  # type: ignore[no-any-return]
        if safe:
            raise embedded_program_error(
                "HubLayer", str(config.get("handle")), str(config.get("name", "?"))
            )
        config["trust"] = True
        return super().from_config(config)  # type: ignore[no-any-return]

    # -- loading -------------------------------------------------------------------------------

    def _select_callable(self) -> Any:
        name, fn = select_signature(self._obj, self._signature, self._source)
        if name is None and self._as_dict:
            signatures = ", ".join(sorted(getattr(self._obj, "signatures", {}) or {}))
            raise InvalidOptionError(
                "signature_outputs_as_dict=True needs a signature; the SavedModel "
                f"{self._source} is called through __call__ (signatures: {signatures or 'none'})"
            )
        self._signature = name
        return fn

    def _check_outputs(self) -> None:
        """A signature's outputs are known now: check ``output_key`` before any call."""
        keys = output_keys(self._fn) if self._signature is not None else None
        if keys is not None and (self._output_key is not None or not self._as_dict):
            pick_output(
                keys,
                self._output_key,
                self._described,
                hint=" or pass signature_outputs_as_dict=True",
            )

    @property
    def _described(self) -> str:
        """What returned the outputs, for messages."""
        if self._signature is None:
            return self._source
        return f"signature {self._signature!r} of {self._source}"

    def _variables_of(self) -> list[tuple[Any, bool]]:
        """(variable, trainable) pairs: the Reusable SavedModel lists, else what the call uses."""
        obj = self._obj
        if self._signature is None and hasattr(obj, "variables"):
            everything = list(obj.variables)
            trainable_ids = {id(v) for v in getattr(obj, "trainable_variables", []) or []}
        else:
            functions = (
                [self._fn]
                if self._signature is not None
                else list(getattr(self._fn, "concrete_functions", []) or [])
            )
            everything, trainable_ids = [], set()
            for fn in functions:
                everything.extend(fn.variables)
                trainable_ids.update(id(v) for v in fn.trainable_variables)
        seen: set[int] = set()
        pairs = []
        for v in everything:
            if id(v) not in seen:
                seen.add(id(v))
                pairs.append((v, id(v) in trainable_ids))
        return pairs

    # -- calling -------------------------------------------------------------------------------

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        kwargs = dict(self._arguments)
        if self.trainable:
            for loss in self._regularization_losses:
                self.add_loss(loss())
        if self._signature is not None:
            if isinstance(inputs, Mapping):
                kwargs.update(inputs)
            else:
                name, spec = self._input_spec_hint or ("inputs", None)
                kwargs[name] = _cast(inputs, spec)
            result = self._fn(**kwargs)
        else:
            spec = self._input_spec_hint[1] if self._input_spec_hint else None
            x = inputs if isinstance(inputs, Mapping) else _cast(inputs, spec)
            if self._accepts_training:
                # like BatchNormalization: a frozen layer always runs in inference mode
                kwargs["training"] = bool(training) and self.trainable
            result = self._fn(x, **kwargs)
        if isinstance(result, Mapping) and not self._as_dict:
            result = result[pick_output(list(result), self._output_key, self._described)]
        if self._output_shape is not None and not isinstance(result, Mapping):
            result = tf.ensure_shape(result, (None, *self._output_shape))
        return result

    # -- introspection -------------------------------------------------------------------------

    @property
    def resolved_object(self) -> Any:
        """The loaded SavedModel object (as ``hub.KerasLayer.resolved_object``)."""
        return self._obj

    @property
    def signature(self) -> str | None:
        """The signature called, or None for ``__call__``."""
        return self._signature

    def expected_input(self) -> tuple[tuple[int | None, ...], str] | None:
        """(shape without batch, dtype) of the single input the model takes, when known."""
        if self._input_spec_hint is None or self._input_spec_hint[1] is None:
            return None
        spec = self._input_spec_hint[1]
        return tuple(spec.shape.as_list()[1:]), spec.dtype.name

    def get_config(self) -> dict[str, Any]:
        if not isinstance(self._handle, str):
            raise InvalidOptionError(
                "a HubLayer made from a loaded object cannot be saved to .keras (its config "
                "needs a handle); create it from the handle or directory string, or save the "
                "model with model.export(...) instead"
            )
        for key, value in self._arguments.items():
            try:
                json.dumps(value)
            except TypeError:
                raise InvalidOptionError(
                    f"HubLayer arguments[{key!r}] = {value!r} is not JSON-serializable, so the "
                    "layer cannot be saved to .keras; use model.export(...)"
                ) from None
        config: dict[str, Any] = super().get_config()
        config.update(
            handle=self._handle,
            arguments=self._arguments or None,
            signature=self._signature,
            output_key=self._output_key,
            signature_outputs_as_dict=self._as_dict,
            output_shape=list(self._output_shape) if self._output_shape is not None else None,
            tags=self._tags,
            sha256=self._sha256,
            trust=self._trust,
            allow_http=self._allow_http,
        )
        return config

    def __repr__(self) -> str:
        via = f"signature={self._signature!r}" if self._signature else "__call__"
        return f"<HubLayer {self._source} ({via}), trainable={self.trainable}>"


def select_signature(
    obj: Any, signature: str | None, source: str, *, provider: str | None = None
) -> tuple[str | None, Any]:
    """What to call in a loaded SavedModel: ``(None, obj)`` or ``(name, obj.signatures[name])``.

    With ``signature`` unset: ``__call__`` when the object has one, else ``serving_default``,
    else the only signature; several signatures and no ``__call__`` need ``signature=``.

    Raises:
        InvalidModelError: the object is neither callable nor has signatures.
        InvalidOptionError: ``signature`` names none of them, or one must be chosen.
    """
    signatures = dict(getattr(obj, "signatures", {}) or {})
    if signature is None and callable(obj):
        return None, obj
    if not signatures and not callable(obj):
        raise InvalidModelError(
            f"{source} is neither callable (no __call__) nor has signatures; it is "
            "not a TF2 Hub model or exported model",
            provider=provider,
            source=source,
        )
    names = ", ".join(sorted(signatures)) or "none"
    if signature is None:
        if "serving_default" in signatures:
            signature = "serving_default"
        elif len(signatures) == 1:
            signature = next(iter(signatures))
        else:
            raise InvalidOptionError(
                f"{source} has several signatures ({names}) and no __call__; choose one with "
                "signature="
            )
    if signature not in signatures:
        raise InvalidOptionError(
            f"{source} has no signature {signature!r}; available: {names}"
            + (" (and __call__: leave signature unset)" if callable(obj) else "")
        )
    return signature, signatures[signature]


def output_keys(fn: Any) -> list[str] | None:
    """The keys of a signature's dict outputs in ``tf.nest``'s flat order (sorted), or None."""
    outputs = fn.structured_outputs
    return sorted(outputs) if isinstance(outputs, Mapping) else None


def pick_output(keys: Sequence[str], output_key: str | None, source: str, *, hint: str = "") -> str:
    """The output to take from a dict with ``keys``: ``output_key``, or the only one there is.

    ``source`` says what returned the dict; ``hint`` adds another way out to the message.
    """
    if output_key is None and len(keys) == 1:
        return keys[0]
    if output_key is None and sorted(keys) == ["classes", "probabilities"]:
        return "probabilities"  # a zoo.export SavedModel: the numbers, not the names
    if output_key is not None and output_key in keys:
        return output_key
    names = ", ".join(sorted(keys))
    if output_key is not None:
        raise InvalidOptionError(
            f"{source} has no output {output_key!r}; available outputs: {names}"
        )
    raise InvalidOptionError(
        f"{source} returns several outputs ({names}); choose one with output_key={hint} "
        f"(available outputs: {names})"
    )


def _accepts_training(fn: Any) -> bool:
    import inspect

    # a restored object's own signature is (*args, **kwargs); its restored __call__ has names
    for target in (fn, fn.__call__):
        try:
            if "training" in inspect.signature(target).parameters:
                return True
        except (TypeError, ValueError):
            continue
    return False


def _input_spec(fn: Any, is_signature: bool) -> tuple[str, Any] | None:
    """(argument name, TensorSpec) of the model's single tensor input, when there is one."""
    if is_signature:
        specs = fn.structured_input_signature[1]
        if len(specs) == 1:
            name, spec = next(iter(specs.items()))
            return name, spec
        return None
    if not hasattr(fn, "concrete_functions"):  # a loaded object: what its __call__ was traced for
        fn = fn.__call__ if callable(fn) else None
    specs = []
    for concrete in getattr(fn, "concrete_functions", []) or []:
        args = concrete.structured_input_signature[0]
        if args and isinstance(args[0], tf.TensorSpec):
            specs.append(args[0])
    if not specs or len({s.shape.rank for s in specs}) != 1:
        return None
    # traced more than once (training True / False, or several sizes): what all traces allow
    shape = specs[0].shape
    for other in specs[1:]:
        shape = tf.TensorShape(
            [
                a if a == b else None
                for a, b in zip(shape.as_list(), other.shape.as_list(), strict=True)
            ]
        )
    return "inputs", tf.TensorSpec(shape, specs[0].dtype)


def _cast(x: Any, spec: Any) -> Any:
    """Cast float inputs to the float dtype the SavedModel was traced with."""
    if spec is None or not spec.dtype.is_floating:
        return x
    dtype = getattr(x, "dtype", None)
    if dtype is not None and tf.as_dtype(dtype).is_floating and tf.as_dtype(dtype) != spec.dtype:
        return tf.cast(x, spec.dtype)
    return x
