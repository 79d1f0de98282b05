"""Keras 1.x / 2.x model files that Keras 3 refuses, converted in tfzoo's own code.

Keras 3 reads many Keras 2 ``.h5`` files itself, but not those of Keras 1.x and 2.0-2.2:
a Sequential config saved as a bare list of layers, ``batch_input_shape`` on the first
layer (Keras 3 takes it for ``input_shape`` and adds a second batch axis), ``input_dtype``,
Keras 1 argument names (``nb_filter``, ``border_mode``, ``output_dim``, ``init``,
``W_regularizer`` ...), layers that were renamed (``Convolution2D``) or removed (``Merge``).
:func:`convert_config` rewrites such a config into one Keras 3's ``from_config`` builds,
and says what it changed; :func:`load_h5_weights` reads a legacy weights group
(``layer_names`` / ``weight_names`` attributes, as Keras 1 and 2 wrote it) into the model.
Nothing here imports ``tf_keras``; only h5py, json and Keras 3.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import InvalidModelError

__all__ = ["Conversion", "build_model", "convert_config", "is_legacy_weights", "load_h5_weights"]

# Keras 1 layer names -> Keras 2/3 names (the others kept their names)
_RENAMED_LAYERS = {
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
    "AtrousConvolution1D": "Conv1D",
    "AtrousConvolution2D": "Conv2D",
    "SeparableConvolution2D": "SeparableConv2D",
    "Deconvolution2D": "Conv2DTranspose",
}
# Keras 1 argument names -> Keras 2/3 names, for every layer
_RENAMED_ARGS = {
    "init": "kernel_initializer",
    "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer",
    "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint",
    "bias": "use_bias",
    "border_mode": "padding",
    "dim_ordering": "data_format",
    "subsample": "strides",
    "subsample_length": "strides",
    "atrous_rate": "dilation_rate",
    "nb_filter": "filters",
    "output_dim": "units",
    "filter_length": "kernel_size",
    "input_dtype": "dtype",
    "beta_init": "beta_initializer",
    "gamma_init": "gamma_initializer",
}
# Keras 1 initializer strings that Keras 3 no longer knows
_RENAMED_INITIALIZERS = {
    "uniform": "random_uniform",
    "normal": "random_normal",
    "zero": "zeros",
    "one": "ones",
}
_MERGE_MODES = {
    "sum": "Add",
    "mul": "Multiply",
    "concat": "Concatenate",
    "ave": "Average",
    "max": "Maximum",
}


@dataclass
class Conversion:
    """A converted model config and what was changed to get it."""

    config: dict[str, Any]  # {"class_name": "Sequential" | "Model" ..., "config": {...}}
    notes: list[str] = field(default_factory=list)  # one line per kind of change

    def note(self, text: str) -> None:
        """Record a change once."""
        if text not in self.notes:
            self.notes.append(text)


def _fail(source: str, message: str) -> InvalidModelError:
    return InvalidModelError(f"{source}: {message}", provider="local", source=source)


def _regularizer(value: Any, conv: Conversion) -> Any:
    # Keras 1: {"name": "WeightRegularizer", "l1": 0.0, "l2": 0.01}
    if isinstance(value, dict) and "class_name" not in value and "name" in value:
        conv.note("Keras 1 weight regularizers -> L1L2")
        return {
            "class_name": "L1L2",
            "config": {"l1": float(value.get("l1", 0.0)), "l2": float(value.get("l2", 0.0))},
        }
    return value


def _constraint(value: Any, conv: Conversion) -> Any:
    # Keras 1: {"name": "MaxNorm", "m": 2, "axis": 0}
    if isinstance(value, dict) and "class_name" not in value and "name" in value:
        name = str(value["name"])
        if name == "MaxNorm":
            conv.note("Keras 1 constraints -> Keras 3 constraints")
            return {
                "class_name": "MaxNorm",
                "config": {"max_value": value.get("m", 2), "axis": value.get("axis", 0)},
            }
        if name in ("NonNeg", "UnitNorm"):
            conv.note("Keras 1 constraints -> Keras 3 constraints")
            config = {"axis": value["axis"]} if name == "UnitNorm" and "axis" in value else {}
            return {"class_name": name, "config": config}
        conv.note(f"Keras 1 constraint {name} dropped (it only acts while training)")
        return None
    return value


def _initializer(value: Any, conv: Conversion) -> Any:
    if isinstance(value, str) and value in _RENAMED_INITIALIZERS:
        conv.note("Keras 1 initializer names -> Keras 3 names")
        return _RENAMED_INITIALIZERS[value]
    if isinstance(value, dict) and value.get("class_name") == "VarianceScaling":
        inner = value.get("config", {})
        if inner.get("distribution") == "normal":  # Keras 2.0-2.2 meant a truncated normal
            conv.note("VarianceScaling distribution 'normal' -> 'truncated_normal'")
            value = copy.deepcopy(value)
            value["config"]["distribution"] = "truncated_normal"
    return value


def _layer_config(cls: str, config: dict[str, Any], conv: Conversion, source: str) -> str:
    """Rewrite one layer's ``config`` in place; return its Keras 3 class name."""
    if cls in _RENAMED_LAYERS:
        conv.note(f"Keras 1 layer {cls} -> {_RENAMED_LAYERS[cls]}")
        cls = _RENAMED_LAYERS[cls]
    for old, new in _RENAMED_ARGS.items():
        if old in config:
            if old != "input_dtype":
                conv.note("Keras 1 argument names (nb_filter, border_mode, init, ...) renamed")
            config.setdefault(new, config.pop(old))
    if "nb_row" in config or "nb_col" in config:
        config["kernel_size"] = [config.pop("nb_row", 1), config.pop("nb_col", 1)]
    if "p" in config and cls in ("Dropout", "SpatialDropout2D", "GaussianDropout"):
        config["rate"] = config.pop("p")
    data_format = config.get("data_format")
    if data_format in ("tf", "th", "default"):
        if data_format == "th":
            raise _fail(
                source,
                f"layer {config.get('name')!r} uses Keras 1's channels-first 'th' ordering, "
                "which tfzoo does not convert (its kernels would need re-ordering); re-save "
                "the model channels-last",
            )
        config["data_format"] = "channels_last"
    for key in ("kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer"):
        if key in config:
            config[key] = _initializer(config[key], conv)
    for key in list(config):
        if key.endswith("_regularizer"):
            config[key] = _regularizer(config[key], conv)
        elif key.endswith("_constraint"):
            config[key] = _constraint(config[key], conv)
    if cls == "BatchNormalization":
        axis = config.get("axis")
        if isinstance(axis, list) and len(axis) == 1:  # TF 2.x Keras 2 saved [3]; Keras 3: 3
            config["axis"] = axis[0]
        mode = config.pop("mode", 0)
        if mode not in (0, None):
            raise _fail(
                source,
                f"BatchNormalization {config.get('name')!r} uses Keras 1 mode={mode}, which "
                "Keras 3 has no equivalent for",
            )
    if cls == "DepthwiseConv2D" and "groups" in config:
        # Keras 2 saves Conv's groups=1 on DepthwiseConv2D too; Keras 3 refuses the argument
        # (keras#19441: every Keras 2 MobileNet, every Teachable Machine keras_model.h5)
        groups = config.pop("groups")
        if groups not in (1, None):
            raise _fail(
                source,
                f"DepthwiseConv2D {config.get('name')!r} has groups={groups}, which Keras 3's "
                "DepthwiseConv2D has no equivalent for",
            )
        conv.note("DepthwiseConv2D's Keras 2 argument groups=1 dropped (Keras 3 has none)")
    if cls == "LeakyReLU" and "alpha" in config:
        config["negative_slope"] = config.pop("alpha")
    if cls == "ThresholdedReLU":
        conv.note("ThresholdedReLU -> ReLU(threshold=theta) (Keras 3 removed it)")
        config["threshold"] = config.pop("theta", 1.0)
        cls = "ReLU"
    if cls == "Merge":
        cls = _merge(config, conv, source)
    if "input_dim" in config and "batch_input_shape" not in config:
        config["batch_input_shape"] = [None, config.pop("input_dim")]
    else:
        config.pop("input_dim", None)
    if cls == "InputLayer" and "batch_input_shape" in config:
        config["batch_shape"] = config.pop("batch_input_shape")  # Keras 3 reads both: no note
    return cls


def _merge(config: dict[str, Any], conv: Conversion, source: str) -> str:
    mode = config.get("mode")
    if config.get("mode_type", "raw") != "raw" or mode not in _MERGE_MODES:
        raise _fail(
            source,
            f"Keras 1 Merge layer {config.get('name')!r} with mode={mode!r} has no Keras 3 "
            "equivalent (a Python function mode is code from the file)",
        )
    conv.note(f"Keras 1 Merge(mode={mode!r}) -> {_MERGE_MODES[mode]}")
    axis = config.get("concat_axis", -1)
    for key in list(config):
        if key not in ("name", "trainable"):
            del config[key]
    if mode == "concat":
        config["axis"] = axis
    return _MERGE_MODES[mode]


def _input_layer(layer_config: dict[str, Any], index: int) -> dict[str, Any]:
    """The explicit InputLayer Keras 3 needs instead of a ``batch_input_shape`` argument."""
    config = layer_config["config"]
    shape = config.pop("batch_input_shape")
    input_config = {"batch_shape": shape, "name": f"input_{index}", "sparse": False}
    if "dtype" in config:
        input_config["dtype"] = config["dtype"]
    return {"class_name": "InputLayer", "config": input_config}


def _keras3_model_module(layer: dict[str, Any], conv: Conversion) -> None:
    """A nested model's Keras 2 module (``tf_keras.src.engine.functional``) -> Keras 3's."""
    module = layer.get("module")
    if not isinstance(module, str) or module == "keras" or module.startswith("keras.src.models"):
        return
    conv.note(f"nested {layer['class_name']} of Keras 2 ({module}) -> Keras 3's")
    if layer["class_name"] == "Sequential":
        layer.update(module="keras", registered_name=None)
    else:
        layer.update(
            class_name="Functional",
            module="keras.src.models.functional",
            registered_name="Functional",
        )


def _convert_model(config: Any, conv: Conversion, source: str, depth: int = 0) -> dict[str, Any]:
    """A model config ({"class_name", "config"} or a bare Sequential list) in Keras 3 form."""
    if isinstance(config, list):
        conv.note("Sequential config saved as a bare list of layers (Keras 1.x-2.2)")
        config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": config}}
    if not isinstance(config, dict) or "class_name" not in config:
        raise _fail(source, "the model config is not a Keras model config (no class_name)")
    cls = config["class_name"]
    inner = config.get("config")
    if cls == "Sequential" and isinstance(inner, list):
        conv.note("Sequential config saved as a bare list of layers (Keras 1.x-2.2)")
        inner = {"name": "sequential", "layers": inner}
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        raise _fail(source, f"the {cls} config has no list of layers")
    inner = copy.deepcopy(inner)
    layers: list[dict[str, Any]] = []
    for layer in inner["layers"]:
        if not isinstance(layer, dict) or "class_name" not in layer:
            raise _fail(source, f"a layer entry is not a Keras layer config: {str(layer)[:80]}")
        if layer["class_name"] in ("Sequential", "Model", "Functional"):
            nested = _convert_model(layer, conv, source, depth + 1)
            layer = {**layer, "class_name": nested["class_name"], "config": nested["config"]}
            _keras3_model_module(layer, conv)
        else:
            layer = dict(layer)
            layer["config"] = dict(layer.get("config") or {})
            layer["class_name"] = _layer_config(layer["class_name"], layer["config"], conv, source)
        layers.append(layer)
    if cls == "Sequential" and layers and "batch_input_shape" in layers[0].get("config", {}):
        conv.note("batch_input_shape on the first layer -> an InputLayer")
        layers.insert(0, _input_layer(layers[0], depth + 1))
    for layer in layers[1:]:
        layer.get("config", {}).pop("batch_input_shape", None)
    inner["layers"] = layers
    for key in ("input_layers", "output_layers"):
        # Keras 2 wrote one input / output as [[name, node, tensor]]; Keras 3 builds that as
        # a list of one, which the next layer of an enclosing Sequential takes for two inputs
        ends = inner.get(key)
        if isinstance(ends, list) and len(ends) == 1 and isinstance(ends[0], list):
            inner[key] = ends[0]
    return {"class_name": cls, "config": inner}


def convert_config(config: Any, *, source: str) -> Conversion:
    """Rewrite a Keras 1/2 model config for Keras 3; ``notes`` says what was changed.

    Args:
        config: the parsed ``model_config`` (or ``model.to_json()``) value.
        source: the file, for error messages.

    Raises:
        InvalidModelError: the config is not a Keras model, or uses something with no Keras 3
            equivalent (Keras 1 channels-first ordering, a Merge with a Python mode, BN modes).
    """
    conv = Conversion(config={})
    conv.config = _convert_model(config, conv, source)
    return conv


def build_model(conv: Conversion, *, custom_objects: dict[str, Any] | None, source: str) -> Any:
    """The Keras 3 model of a converted config, with fresh weights."""
    import keras

    cls = conv.config["class_name"]
    builder = keras.Sequential if cls == "Sequential" else keras.Model
    try:
        return builder.from_config(conv.config["config"], custom_objects=custom_objects)
    except Exception as exc:  # Keras raises bare ValueError/TypeError for everything
        text = str(exc).rsplit("Exception encountered:", 1)[-1].strip()  # the innermost cause
        text = text.splitlines()[0] if text else type(exc).__name__
        text = text.split(" Full object config:")[0]  # Keras appends the whole config
        if len(text) > 400:
            text = text[:400] + " ..."
        raise _fail(source, f"could not build the converted {cls} in Keras 3: {text}") from exc


def is_legacy_weights(group: Any) -> bool:
    """Whether an h5py group holds weights the way Keras 1/2 wrote them."""
    return "layer_names" in group.attrs or "layer_names0" in group.attrs


def _attribute(group: Any, name: str) -> list[Any]:
    """An attribute list; Keras 2.2+ split big ones into ``name0``, ``name1``, ... (64 KB each)."""
    if name in group.attrs:
        return list(group.attrs[name])
    values: list[Any] = []
    index = 0
    while f"{name}{index}" in group.attrs:
        values.extend(group.attrs[f"{name}{index}"])
        index += 1
    return values


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def load_h5_weights(model: Any, group: Any, *, source: str) -> int:
    """Set ``model``'s weights from a Keras 1/2 weights group, matched by layer name.

    Each layer group lists its arrays in ``weight_names`` in the order Keras 1/2 kept them
    (the layer's trainable weights, then its non-trainable ones: kernel, bias; gamma, beta,
    moving mean, moving variance; for a nested model all its trainable weights first).
    Returns how many layers got weights.

    Raises:
        InvalidModelError: a layer is missing or its arrays do not fit the model.
    """
    import numpy as np

    names = [_text(n) for n in _attribute(group, "layer_names")]
    by_name = {layer.name: layer for layer in _all_layers(model)}
    loaded = 0
    for name in names:
        layer_group = group[name]
        weight_names = [_text(n) for n in _attribute(layer_group, "weight_names")]
        if not weight_names:
            continue
        layer = by_name.get(name)
        if layer is None:
            raise _fail(
                source,
                f"the weights name a layer {name!r} that the model does not have (layers: "
                f"{', '.join(list(by_name)[:8])} ...); these weights belong to another model",
            )
        values = [np.asarray(layer_group[w]) for w in weight_names]
        # Keras 2 wrote a layer's trainable weights, then its non-trainable ones; for a
        # nested model with BatchNormalization that is not Keras 3's layer-by-layer order
        variables = list(layer.trainable_weights) + list(layer.non_trainable_weights)
        expected = [tuple(w.shape) for w in variables]
        received = [tuple(v.shape) for v in values]
        if expected != received:
            raise _fail(
                source,
                f"layer {name!r} expects weights shaped {expected}, the file holds {received}",
            )
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
        loaded += 1
    return loaded


def _all_layers(model: Any) -> list[Any]:
    """Layers of a model; Keras 1/2 stored a nested model's weights under the nested name."""
    return list(getattr(model, "layers", []))
