"""Find the input, the classifier and the feature layer of a Keras model.

Used by every provider that starts from a ``keras.Model`` (keras.applications, local files,
plugins) through :meth:`zoo.model.backbone.Backbone.from_model`.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field
from typing import Any

import keras

from zoo.errors import InvalidModelError, ZooWarning
from zoo.model.graph import flatten

__all__ = [
    "Head",
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
    keras.layers.ReLU,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianDropout,
    keras.layers.GaussianNoise,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.BatchNormalization,
    keras.layers.Identity,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalMaxPooling1D,
)
_GLOBAL_POOLS = (
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)
_SCORE_ACTIVATIONS = {"softmax", "sigmoid"}
_CLASSIFIER_ACTIVATIONS = {"softmax", "sigmoid", "linear"}


@dataclass
class Head:
    """One classifier of a model: the layer, its width, and the output it gives."""

    name: str  # the model output's layer name (what ``head=`` takes; also the layer's own)
    classifier: keras.layers.Layer  # the Dense or Conv2D that scores the classes
    num_classes: int  # its number of outputs
    rule: str  # how it was found, in words
    feature: Any = None  # the tensor that feeds it


@dataclass
class Split:
    """A model split into features and classifier."""

    features: keras.Model  # input -> pooled features
    feature_dim: int  # width of the features
    feature_layer: str | None  # name of the layer whose output the features are
    classifier: keras.layers.Layer | None  # the original classifier layer, if any
    num_classes: int | None  # its number of outputs
    heads: list[Head] = field(default_factory=list)  # every classifier, in output order
    detection: list[str] = field(default_factory=list)  # which rules found what, in words
    hints: dict[str, str | int] = field(default_factory=dict)  # overrides to pass when unsure
    model: keras.Model | None = None  # the model split: the flat one when it was nested


def _producer(tensor: Any) -> Any:
    history = getattr(tensor, "_keras_history", None)
    return history.operation if history is not None else None


def _inputs_of(layer: Any, tensor: Any) -> list[Any]:
    history = tensor._keras_history
    node = layer._inbound_nodes[history.node_index]
    return list(node.input_tensors)


def _activation(layer: Any) -> str:
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    return str(getattr(getattr(layer, "activation", None), "__name__", "linear"))


def _spatial(tensor: Any) -> tuple[Any, ...]:
    return tuple(tensor.shape)[1:3]


def _units(layer: Any) -> int:
    return int(getattr(layer, "units", 0) or getattr(layer, "filters", 0))


def _walk_head(tensor: Any) -> tuple[Any, Any, list[str]] | None:
    """(classifier layer, its input tensor, layers passed) walking back from an output.

    A Dense with a softmax/sigmoid/linear activation is a classifier when no ReLU comes
    after it (a Dense then ReLU is a hidden layer). A Conv2D is one when its class maps are
    reduced to one value per class — a global pooling after it, or a 1x1 map (a full-map
    kernel, or MobileNet's 1x1 convolution on a 1x1 map) — and a softmax/sigmoid says the
    values are class scores (SqueezeNet, all-convolutional nets, mini-Xception); a linear
    1x1 convolution on a 1x1 map is one too (MobileNet with logits).
    """
    passed: list[str] = []
    scores = pooled = relu = False
    for _ in range(16):  # a handful of pass-through layers at most
        layer = _producer(tensor)
        if layer is None:
            return None
        activation = _activation(layer)
        if isinstance(layer, keras.layers.Dense):
            if activation in _CLASSIFIER_ACTIVATIONS and not relu:
                return layer, _inputs_of(layer, tensor)[0], passed
            return None
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(
            layer, keras.layers.DepthwiseConv2D
        ):
            one_by_one = _spatial(layer.output) == (1, 1)
            reduced = pooled or one_by_one
            said_scores = scores or activation in _SCORE_ACTIVATIONS
            logits = one_by_one and tuple(layer.kernel_size) == (1, 1) and not relu
            logits = logits and activation == "linear"
            if reduced and (said_scores or logits):
                return layer, _inputs_of(layer, tensor)[0], passed
            return None
        if not isinstance(layer, _PASSTHROUGH):
            return None
        if isinstance(layer, (keras.layers.Activation, keras.layers.Softmax, keras.layers.ReLU)):
            if activation in _SCORE_ACTIVATIONS:
                scores = True
            elif activation != "linear":
                relu = True
        if isinstance(layer, _GLOBAL_POOLS):
            pooled = True
        inputs = _inputs_of(layer, tensor)
        if len(inputs) != 1:
            return None
        kind = type(layer).__name__
        passed.append(f"{kind}({activation})" if kind == "Activation" else kind)
        tensor = inputs[0]
    return None


def _find_head(tensor: Any) -> Head | None:
    found = _walk_head(tensor)
    if found is None:
        return None
    layer, feature, passed = found
    kind = type(layer).__name__
    if isinstance(layer, keras.layers.Conv2D):
        kind = f"{kind} {'x'.join(map(str, layer.kernel_size))}"
    path = f", past {' -> '.join(reversed(passed))}" if passed else ""
    rule = f"{kind} {layer.name!r} ({_units(layer)} outputs, {_activation(layer)}){path}"
    output = _producer(tensor)
    return Head(output.name, layer, _units(layer), rule, feature)


def _ends_in_scores(tensor: Any) -> bool:
    """Whether an output is class scores (the result of a softmax or sigmoid)."""
    for _ in range(16):
        layer = _producer(tensor)
        if layer is None:
            return False
        if _activation(layer) in _SCORE_ACTIVATIONS:
            return True
        if not isinstance(layer, _PASSTHROUGH) or len(_inputs_of(layer, tensor)) != 1:
            return False
        tensor = _inputs_of(layer, tensor)[0]
    return False


def _ancestry(tensor: Any, tensors: dict[int, Any]) -> set[int]:
    """Ids of ``tensor`` and every tensor it depends on (``tensors`` maps them back)."""
    seen: set[int] = set()
    stack = [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        tensors[id(t)] = t
        layer = _producer(t)
        if layer is not None and not isinstance(layer, keras.layers.InputLayer):
            stack.extend(_inputs_of(layer, t))
    return seen


def _shared_trunk(model: keras.Model, features: list[Any]) -> Any:
    """The last tensor every one of ``features`` depends on (the shared trunk)."""
    if all(f is features[0] for f in features):
        return features[0]
    tensors: dict[int, Any] = {}
    common = _ancestry(features[0], tensors)
    for f in features[1:]:
        common &= _ancestry(f, tensors)
    # a functional model's layers are in topological order: the latest producer is the deepest
    position = {id(layer): i for i, layer in enumerate(model.layers)}
    return tensors[max(common, key=lambda i: position.get(id(_producer(tensors[i])), -1))]


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


def _pool(tensor: Any, pooling: str, name: str) -> Any:
    """``tensor`` pooled to (batch, features) by a new layer called ``name``: never Keras's
    automatic name, which a model loaded from a file may hold already (a saved model's own
    ``global_average_pooling2d``: "The name ... is used 2 times in the model")."""
    rank = len(tensor.shape)
    if rank == 2:
        return tensor
    if rank in (3, 4):
        dims = "2D" if rank == 4 else "1D"
        kind = "Max" if pooling == "max" else "Average"
        return getattr(keras.layers, f"Global{kind}Pooling{dims}")(name=name)(tensor)
    return keras.layers.Flatten(name=name)(tensor)


def _fail(source: str, provider: str, message: str) -> InvalidModelError:
    return InvalidModelError(f"{source}: {message}", provider=provider, source=source)


def _choose_head(heads: list[Head], head: str | int, source: str, provider: str) -> Head:
    """The head ``head=`` names (output or classifier name, or index in output order)."""
    listing = ", ".join(f"{i}: {h.name!r} ({h.num_classes} classes)" for i, h in enumerate(heads))
    if isinstance(head, int) and not isinstance(head, bool):
        if -len(heads) <= head < len(heads):
            return heads[head]
    elif isinstance(head, str):
        for h in heads:
            if head in (h.name, h.classifier.name):
                return h
    raise _fail(
        source,
        provider,
        f"no head {head!r}; the model's heads are {listing or 'none'} (pass head= a name or "
        "an index)",
    )


def _layer_names(model: keras.Model, count: int = 5) -> str:
    return ", ".join(repr(layer.name) for layer in model.layers[-count:])


def _unnested(model: keras.Model, *refs: str | int | None) -> keras.Model | None:
    """The flat model (:func:`zoo.model.graph.flatten`) when an output comes out of a nested
    model (its classifier is inside) and the given layer refs do not name the nesting."""
    if not any(isinstance(_producer(out), keras.Model) for out in model.outputs):
        return None
    names = {layer.name for layer in model.layers}
    if any(isinstance(ref, int) or (ref is not None and ref in names) for ref in refs):
        return None
    return flatten(model)


def split_model(
    model: keras.Model,
    *,
    feature_layer: str | int | None = None,
    classifier_layer: str | int | None = None,
    head: str | int | None = None,
    pooling: str = "avg",
    headless: bool = False,
    source: str,
    provider: str,
) -> Split:
    """Split a functional or Sequential model into a pooled feature model and its classifiers.

    Each output is walked back to its classifier (:func:`_walk_head`); the feature is the
    tensor feeding it, or with several heads the last tensor all of them depend on (the
    shared trunk). ``head`` picks which head ``classifier``/``num_classes`` describe
    (default: the first). A model with no classifier gives its last output as the feature,
    with a warning, unless that output is class scores (a softmax/sigmoid): that is refused.
    ``headless=True`` says the provider built the model without a classifier: its output
    is the feature, no detection and no warning.
    """
    if not getattr(model, "inputs", None) or not getattr(model, "outputs", None):
        raise _fail(
            source,
            provider,
            "a subclassed model without a functional graph cannot be split into features and "
            "classifier; save it as a functional or Sequential model",
        )
    detection: list[str] = []
    flat = _unnested(model, feature_layer, classifier_layer)
    if flat is not None:
        model = flat
        detection.append("nested models read as one graph of their own layers")
    hints: dict[str, str | int] = {}
    heads: list[Head] = []
    feature_tensor = None
    if headless and classifier_layer is None and feature_layer is None:
        feature_tensor = model.outputs[0]
        detection.append(
            f"feature {getattr(_producer(feature_tensor), 'name', '?')!r}: the output of a "
            "model built without its classifier"
        )
    elif classifier_layer is not None:
        layer = resolve_layer(model, classifier_layer, source=source, provider=provider)
        heads = [Head(layer.name, layer, _units(layer), "given with classifier_layer=")]
        feature_tensor = layer.input
        detection.append(f"classifier {layer.name!r}: given with classifier_layer=")
    else:
        found = [_find_head(out) for out in model.outputs]
        heads = [h for h in found if h is not None]
        for h in heads:
            detection.append(f"classifier {h.name!r}: {h.rule}")
        if heads and len(heads) == len(found):
            feature_tensor = _shared_trunk(model, [h.feature for h in heads])
            if len(heads) > 1:
                detection.append(
                    f"{len(heads)} heads on one trunk: the feature is the last tensor every "
                    "head depends on"
                )
                private = [h.name for h in heads if h.feature is not feature_tensor]
                if private:
                    detection.append(
                        f"heads {', '.join(map(repr, private))} have layers of their own after "
                        "the trunk; they are not part of the features"
                    )
                hints["head"] = heads[0].name
        elif len(found) > 1 and feature_layer is None:
            names = [getattr(_producer(o), "name", "?") for o in model.outputs]
            missing = [n for n, h in zip(names, found, strict=True) if h is None]
            raise _fail(
                source,
                provider,
                f"the model has {len(found)} outputs ({', '.join(map(repr, names))}) and "
                f"{', '.join(map(repr, missing))} ends in no classifier tfzoo recognizes; name "
                "the layer to use as the feature with feature_layer=",
            )
    if feature_layer is not None:
        layer = resolve_layer(model, feature_layer, source=source, provider=provider)
        feature_tensor = layer.output
        detection.append(f"feature {layer.name!r}: given with feature_layer=")
    elif feature_tensor is None:
        feature_tensor = model.outputs[0]
        last = getattr(_producer(feature_tensor), "name", "?")
        if _ends_in_scores(feature_tensor):
            raise _fail(
                source,
                provider,
                f"its output {last!r} is class scores (a softmax/sigmoid), but no classifier "
                "layer before it was recognized, so tfzoo cannot tell where the features "
                f"are; name the feature layer with feature_layer= (last layers: "
                f"{_layer_names(model)})",
            )
        message = (
            f"no classifier found at the output: the last layer's output {last!r} is the "
            "feature; if the model has a classifier, name the feature layer with feature_layer="
        )
        detection.append(message)
        hints["feature_layer"] = last
        warnings.warn(f"{source}: {message}", ZooWarning, stacklevel=4)
    chosen = heads[0] if heads else None
    if head is not None:
        chosen = _choose_head(heads, head, source, provider)
        detection.append(f"head {chosen.name!r}: chosen with head=")
    producer = _producer(feature_tensor)
    if feature_tensor is model.outputs[0] and len(feature_tensor.shape) == 2:
        features, pooled = model, feature_tensor  # already pooled features: no second graph
    else:
        pooled = _pool(feature_tensor, pooling, f"zoo_{pooling}_pool")
        # a single input is passed bare, so calling the model with a tensor matches its structure
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        features = keras.Model(inputs, pooled, name=f"{model.name}_features")
    name = getattr(producer, "name", None)
    if feature_layer is None and heads:
        spatial = len(feature_tensor.shape) == 4
        how = f", {pooling}-pooled" if spatial else ""
        detection.append(f"feature {name!r}: the tensor feeding the classifier{how}")
        if any(isinstance(h.classifier, keras.layers.Conv2D) for h in heads) or len(heads) > 1:
            hints.setdefault("feature_layer", str(name))
    return Split(
        features=features,
        feature_dim=int(pooled.shape[-1]),
        feature_layer=name,
        classifier=chosen.classifier if chosen else None,
        num_classes=chosen.num_classes if chosen else None,
        heads=heads,
        detection=detection,
        hints=dict(sorted(hints.items(), key=lambda item: item[0] != "feature_layer")),
        model=model,
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
    for i, name in enumerate(names):
        tensor = resolve_layer(model, name, source=model.name, provider="").output
        outputs.append(_pool(tensor, pooling, f"zoo_cut{i}_{pooling}_pool"))
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
