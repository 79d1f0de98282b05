"""Find the input, the classifier and the feature layer of a Keras model.

Used by every provider that starts from a ``keras.Model`` (keras.applications, local files,
plugins) through :meth:`zoo.model.backbone.Backbone.from_model`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import keras

from zoo.errors import InvalidModelError

__all__ = [
    "Split",
    "cut_model",
    "cut_points",
    "feature_pyramid",
    "image_input_shape",
    "input_dtype",
    "resolve_layer",
    "split_model",
]

# Layers that sit between a classifier and the model output without changing what it means.
_PASSTHROUGH = (
    keras.layers.Activation,
    keras.layers.Softmax,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Dropout,
    keras.layers.Identity,
)
_CLASSIFIER_ACTIVATIONS = {"softmax", "sigmoid", "linear"}


@dataclass
class Split:
    """A model split into features and classifier."""

    features: keras.Model  # input -> pooled features
    feature_dim: int  # width of the features
    feature_layer: str | None  # name of the layer whose output the features are
    classifier: keras.layers.Layer | None  # the original classifier layer, if any
    num_classes: int | None  # its number of outputs


def _producer(tensor: Any) -> Any:
    history = getattr(tensor, "_keras_history", None)
    return history.operation if history is not None else None


def _inputs_of(layer: Any, tensor: Any) -> list[Any]:
    history = tensor._keras_history
    node = layer._inbound_nodes[history.node_index]
    return list(node.input_tensors)


def _is_classifier(layer: Any) -> bool:
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if activation not in _CLASSIFIER_ACTIVATIONS:
        return False
    if isinstance(layer, keras.layers.Dense):
        return True
    if isinstance(layer, keras.layers.Conv2D):
        # MobileNet-style heads: a 1x1 convolution over a 1x1 map
        shape = tuple(layer.output.shape)
        return tuple(layer.kernel_size) == (1, 1) and shape[1:3] == (1, 1)
    return False


def resolve_layer(model: keras.Model, ref: str | int, *, source: str, provider: str) -> Any:
    """``model.layers[ref]`` for an int (Python list semantics) or the layer named ``ref``."""
    layers = model.layers
    if isinstance(ref, int):
        try:
            return layers[ref]
        except IndexError:
            raise InvalidModelError(
                f"{source}: layer index {ref} is out of range; the model has {len(layers)} "
                f"layers (valid: {-len(layers)} .. {len(layers) - 1})",
                provider=provider,
                source=source,
            ) from None
    names = [layer.name for layer in layers]
    if ref in names:
        return layers[names.index(ref)]
    close = difflib.get_close_matches(ref, names, n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise InvalidModelError(
        f"{source}: no layer named {ref!r}{hint} (last layers: {', '.join(names[-5:])})",
        provider=provider,
        source=source,
    )


def _find_classifier(model: keras.Model) -> tuple[Any, Any] | None:
    """(classifier layer, its input tensor), walking back from the output."""
    tensor = model.outputs[0]
    for _ in range(16):  # a handful of pass-through layers at most
        layer = _producer(tensor)
        if layer is None:
            return None
        if _is_classifier(layer):
            return layer, _inputs_of(layer, tensor)[0]
        if isinstance(layer, _PASSTHROUGH):
            inputs = _inputs_of(layer, tensor)
            if len(inputs) != 1:
                return None
            tensor = inputs[0]
            continue
        return None
    return None


def _pool(tensor: Any, pooling: str) -> Any:
    rank = len(tensor.shape)
    if rank == 2:
        return tensor
    if rank == 4:
        layer = (
            keras.layers.GlobalMaxPooling2D()
            if pooling == "max"
            else keras.layers.GlobalAveragePooling2D()
        )
        return layer(tensor)
    if rank == 3:
        layer = (
            keras.layers.GlobalMaxPooling1D()
            if pooling == "max"
            else keras.layers.GlobalAveragePooling1D()
        )
        return layer(tensor)
    return keras.layers.Flatten()(tensor)


def split_model(
    model: keras.Model,
    *,
    feature_layer: str | int | None = None,
    classifier_layer: str | int | None = None,
    pooling: str = "avg",
    source: str,
    provider: str,
) -> Split:
    """Split a functional or Sequential model into a pooled feature model and its classifier."""
    if not getattr(model, "inputs", None) or not getattr(model, "outputs", None):
        raise InvalidModelError(
            f"{source}: a subclassed model without a functional graph cannot be split into "
            "features and classifier; save it as a functional or Sequential model",
            provider=provider,
            source=source,
        )
    if len(model.outputs) != 1 and feature_layer is None:
        raise InvalidModelError(
            f"{source}: the model has {len(model.outputs)} outputs; name the one to use with "
            "feature_layer=",
            provider=provider,
            source=source,
        )
    classifier = None
    feature_tensor = None
    if classifier_layer is not None:
        classifier = resolve_layer(model, classifier_layer, source=source, provider=provider)
        feature_tensor = classifier.input
    elif model.outputs:
        found = _find_classifier(model)
        if found is not None:
            classifier, feature_tensor = found
    if feature_layer is not None:
        layer = resolve_layer(model, feature_layer, source=source, provider=provider)
        feature_tensor = layer.output
    elif feature_tensor is None:
        feature_tensor = model.outputs[0]
    producer = _producer(feature_tensor)
    if feature_tensor is model.outputs[0] and len(feature_tensor.shape) == 2:
        features, pooled = model, feature_tensor  # already pooled features: no second graph
    else:
        pooled = _pool(feature_tensor, pooling)
        # a single input is passed bare, so calling the model with a tensor matches its structure
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        features = keras.Model(inputs, pooled, name=f"{model.name}_features")
    num_classes = None
    if classifier is not None:
        num_classes = int(getattr(classifier, "units", 0) or getattr(classifier, "filters", 0))
    return Split(
        features=features,
        feature_dim=int(pooled.shape[-1]),
        feature_layer=getattr(producer, "name", None),
        classifier=classifier,
        num_classes=num_classes,
    )


def image_input_shape(
    model: keras.Model, *, source: str, provider: str
) -> tuple[int | None, int | None, int]:
    """(H, W, C) of an image model's single input; refuses anything else."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise InvalidModelError(
            f"{source}: tfzoo needs a model with one image input, found {len(inputs)} inputs",
            provider=provider,
            source=source,
        )
    shape = tuple(inputs[0].shape)[1:]
    if len(shape) != 3 or shape[2] is None:
        raise InvalidModelError(
            f"{source}: tfzoo needs an image input shaped (height, width, channels), found {shape}",
            provider=provider,
            source=source,
        )
    h, w, c = shape
    return h, w, int(c)


def input_dtype(model: keras.Model) -> str:
    """The dtype of the model's input, as a string."""
    dtype = getattr(model.inputs[0], "dtype", "float32")
    return str(getattr(dtype, "name", dtype))


def feature_pyramid(model: keras.Model) -> keras.Model | None:
    """Multi-level feature maps of a CNN: ``{"P1": stride 2, "P2": stride 4, ...}``.

    A level holds the maps about ``input / 2**k`` on both sides (valid-padding networks such
    as Inception shrink by a few pixels more); its output is the widest of them, the last one
    in graph order among equals: the stage output (a concatenation in Inception and DenseNet,
    not one of the branches feeding it), as timm's ``features_only`` and KerasHub's
    ``pyramid_outputs`` give. Levels deeper than the final map (squeeze-and-excitation
    blocks make 1x1 maps mid-network) are left out. Needs a fixed input size; None when the
    model has fewer than two levels.
    """
    import math

    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        return None
    height, width = inputs[0].shape[1], inputs[0].shape[2]
    if height is None or width is None:
        return None
    levels: dict[int, Any] = {}
    last_level = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.ZeroPadding2D):
            continue  # a padded copy of the map before it, not a stage
        try:
            out = layer.output
        except (AttributeError, ValueError):  # shared layers have no single output
            continue
        shape = getattr(out, "shape", None)
        if shape is None or len(shape) != 4 or not shape[1] or not shape[2]:
            continue
        ky, kx = math.log2(height / shape[1]), math.log2(width / shape[2])
        level = round(ky)
        if level < 1 or round(kx) != level or max(abs(ky - level), abs(kx - level)) >= 0.3:
            continue
        last_level = level
        best = levels.get(level)
        if best is None or shape[3] >= best.shape[3]:
            levels[level] = out
    levels = {k: v for k, v in levels.items() if k <= last_level}
    if len(levels) < 2:
        return None
    maps = {f"P{level}": levels[level] for level in sorted(levels)}
    return keras.Model(inputs[0], maps, name=f"{model.name}_feature_maps")


# -- cut points (the auto recipe probes several) --------------------------------------------------

_POOLED = (
    keras.layers.Flatten,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)


def cut_points(model: keras.Model, feature_layer: str | None, limit: int = 4) -> list[str]:
    """Names of layers whose (pooled) outputs make good features, deepest first.

    The classifier's input (``feature_layer``) first; then, walking back towards the
    input, the vectors between the last feature map and it (``Flatten``, global pooling,
    hidden ``Dense``), then the outputs of the two deepest pyramid levels (the last blocks),
    pooled. A map that only feeds a pooling already listed is the same features and is
    skipped. At most ``limit`` names.
    """
    layers = list(model.layers)
    names = [layer.name for layer in layers]
    found: list[str] = (
        [feature_layer] if feature_layer is not None and feature_layer in names else []
    )
    end = names.index(feature_layer) if found else len(layers)
    for layer in reversed(layers[:end]):
        shape = _shape(layer)
        if shape is None:
            continue
        if len(shape) == 4:
            break  # the last feature map: the vectors are all listed
        if len(shape) == 2 and isinstance(layer, (*_POOLED, keras.layers.Dense)):
            found.append(layer.name)
    for layer in _block_outputs(model, layers[:end])[:2]:
        if layer.name not in found and not _pooled_by(model, layer, found):
            found.append(layer.name)
    return found[:limit]


def _block_outputs(model: keras.Model, layers: list[Any]) -> list[Any]:
    """The last layers of the deepest blocks, deepest first.

    The pyramid levels' outputs when the network has a pyramid; otherwise (small or
    valid-padding networks) the last layer of each feature-map size, walking back.
    """
    pyramid = feature_pyramid(model)
    if pyramid is not None:
        return [_producer(t) for t in list(pyramid.output.values())[::-1]]
    out: list[Any] = []
    size = None
    for layer in reversed(layers):
        shape = _shape(layer)
        if shape is None or len(shape) != 4 or shape[1:3] == size:
            continue
        size = shape[1:3]
        out.append(layer)
    return out


def cut_model(model: keras.Model, names: list[str], pooling: str = "avg") -> keras.Model:
    """One model from ``model``'s input to the pooled outputs of the layers ``names``.

    One graph: the layers the cuts share run once per batch.
    """
    outputs = []
    for name in names:
        tensor = resolve_layer(model, name, source=model.name, provider="").output
        outputs.append(_pool(tensor, pooling))
    return keras.Model(model.inputs[0], outputs, name=f"{model.name}_cuts")


def _shape(layer: Any) -> tuple[Any, ...] | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):  # shared layers have no single output
        return None


def _pooled_by(model: keras.Model, layer: Any, names: list[str]) -> bool:
    """Whether some layer in ``names`` is a pooling or Flatten fed by ``layer`` alone."""
    for other in model.layers:
        if other.name not in names or not isinstance(other, _POOLED):
            continue
        try:
            source = _producer(other.input)
        except (AttributeError, ValueError):
            continue
        if source is layer:
            return True
    return False
