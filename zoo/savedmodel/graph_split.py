"""Split an exported SavedModel's signature into features and its classifier, by its graph.

A SavedModel written by ``model.export(...)`` (Keras 3) or ``tf.saved_model.save`` has no
layers to walk, only a signature function. Its graph still says what the Keras model said:
the last ``MatMul`` with a variable kernel (+ ``BiasAdd``, + ``Softmax``/``Sigmoid``) is the
classifier, and the tensor that feeds it is what ``model.layers[-2].output`` was. This module
inlines the signature's function calls (Grappler's function inlining, as
``convert_variables_to_constants_v2`` does), finds that tensor, and prunes the graph to a
function ``(image, *variable values) -> features``. The variables stay variables: the caller
feeds their current values, so gradients reach them and fine-tuning works.

Exported graphs are inference graphs: BatchNorm layers in them always use their moving
statistics, whatever ``training`` says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from zoo.errors import InvalidModelError, InvalidOptionError

__all__ = ["GraphSplit", "split_signature"]

_PASS = {"Identity", "IdentityN", "Cast", "StopGradient", "Snapshot"}
_ACTIVATIONS = {"Softmax": "softmax", "Sigmoid": "sigmoid"}
_CALL_OPS = {"StatefulPartitionedCall", "PartitionedCall"}


@dataclass
class GraphSplit:
    """What :func:`split_signature` found."""

    function: Any  # ConcreteFunction (image, *variable values) -> features
    variables: list[Any]  # the tf.Variables fed after the image, in order
    trainable: list[bool]  # whether each was trainable when saved
    input_spec: tf.TensorSpec  # the image input
    feature_shape: tuple[int | None, ...]  # including the batch dimension
    feature_scope: str | None  # name scope of the op producing the features ("flatten")
    classifier: tuple[Any, Any | None, str, str] | None  # kernel, bias, activation, scope


def _node_name(tensor_name: str) -> str:
    return tensor_name.lstrip("^").split(":")[0]


def _scope_of(op_name: str) -> str | None:
    """The Keras layer name an op belongs to: ``.../model_1/flatten_1/Reshape`` -> ``flatten``."""
    parts = op_name.split("/")
    if len(parts) < 2 or parts[-2] in _CALL_OPS:
        return None  # an op outside any layer scope (a tf.Module's plain function)
    return re.sub(r"_\d+$", "", parts[-2])


def _inline(fn: Any, source: str, provider: str | None) -> Any:
    try:
        from tensorflow.python.framework import convert_to_constants
    except ImportError as exc:  # a TensorFlow without the private helper: say so plainly
        raise InvalidModelError(
            f"{source}: this TensorFlow cannot inline SavedModel functions ({exc}); "
            "load the model with signature=/output_key= as an opaque feature extractor",
            provider=provider,
            source=source,
        ) from exc
    return convert_to_constants._run_inline_graph_optimization(
        fn, lower_control_flow=False, aggressive_inlining=True
    )


class _Graph:
    """The inlined GraphDef of a signature with its inputs, outputs and variable reads."""

    def __init__(self, fn: Any, source: str, provider: str | None) -> None:
        self.graph_def = _inline(fn, source, provider)
        self.nodes = {n.name: n for n in self.graph_def.node}
        n_captured = len(fn.captured_inputs)
        n_inputs = len(fn.inputs) - n_captured
        self.input_nodes = [_node_name(t.name) for t in fn.inputs[:n_inputs]]
        by_handle = {id(v.handle): v for v in fn.variables}
        captured = [_node_name(t.name) for t in fn.inputs[n_inputs:]]
        self.variable_of_placeholder = {
            name: by_handle[id(t)]
            for name, t in zip(captured, fn.captured_inputs, strict=True)
            if id(t) in by_handle
        }
        trainable = {id(v) for v in fn.trainable_variables}
        self.trainable = {
            name: id(v) in trainable for name, v in self.variable_of_placeholder.items()
        }
        self.consumers: dict[str, list[str]] = {}
        for node in self.graph_def.node:
            for inp in node.input:
                if not inp.startswith("^"):
                    self.consumers.setdefault(_node_name(inp), []).append(node.name)

    def skip_passthrough(self, name: str) -> str:
        while self.nodes[name].op in _PASS and self.nodes[name].input:
            name = _node_name(self.nodes[name].input[0])
        return name

    def variable_read(self, name: str) -> str | None:
        """The placeholder of the variable a ``ReadVariableOp`` (maybe cast) reads, or None."""
        name = self.skip_passthrough(name)
        node = self.nodes[name]
        if node.op != "ReadVariableOp":
            return None
        placeholder = self.skip_passthrough(_node_name(node.input[0]))
        return placeholder if placeholder in self.variable_of_placeholder else None

    def reads(self) -> dict[str, str]:
        """ReadVariableOp node -> placeholder of the variable it reads."""
        return {
            node.name: placeholder
            for node in self.graph_def.node
            if node.op == "ReadVariableOp"
            and (placeholder := self.variable_read(node.name)) is not None
        }

    def ancestors(self, name: str) -> set[str]:
        seen, stack = set(), [name]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(_node_name(i) for i in self.nodes[current].input if not i.startswith("^"))
        return seen

    def find_classifier(self, output: str) -> tuple[str, tuple[Any, Any | None, str, str]] | None:
        """(feature node, (kernel, bias, activation, scope)) when a Dense ends the graph."""
        name = self.skip_passthrough(output)
        activation = "linear"
        if self.nodes[name].op in _ACTIVATIONS:
            activation = _ACTIVATIONS[self.nodes[name].op]
            name = self.skip_passthrough(_node_name(self.nodes[name].input[0]))
        bias = None
        node = self.nodes[name]
        if node.op in ("BiasAdd", "AddV2", "Add"):
            bias_placeholder = self.variable_read(_node_name(node.input[1]))
            if bias_placeholder is None:
                return None
            bias = self.variable_of_placeholder[bias_placeholder]
            name = self.skip_passthrough(_node_name(node.input[0]))
            node = self.nodes[name]
        if node.op != "MatMul" or node.attr["transpose_a"].b or node.attr["transpose_b"].b:
            return None
        kernel_placeholder = self.variable_read(_node_name(node.input[1]))
        if kernel_placeholder is None:
            return None
        kernel = self.variable_of_placeholder[kernel_placeholder]
        feature = node.input[0]
        return feature, (kernel, bias, activation, _scope_of(node.name) or "classifier")

    def scope_output(self, scope: str, source: str, provider: str | None) -> str:
        """The tensor leaving the ops of the Keras layer ``scope`` (its output)."""
        pattern = re.compile(rf"(^|/){re.escape(scope)}(_\d+)?/")
        members: list[str] = [n for n in self.nodes if pattern.search(n)]
        if not members:
            scopes = sorted(
                {s for s in (_scope_of(n) for n in self.nodes) if s and not s.startswith("Func")}
            )
            raise InvalidOptionError(
                f"{source}: the exported graph has no layer {scope!r}; layers seen in it: "
                f"{', '.join(scopes[:30])}",
                provider=provider,
            )
        inside = set(members)
        leaving = [
            n
            for n in members
            if self.nodes[n].op not in ("Const", "ReadVariableOp")
            and any(c not in inside for c in self.consumers.get(n, []))
        ]
        if not leaving:
            raise InvalidOptionError(
                f"{source}: layer {scope!r} has no output that other layers use", provider=provider
            )
        return f"{leaving[-1]}:0"


def split_signature(
    fn: Any,
    *,
    output_index: int,
    feature_layer: str | None,
    source: str,
    provider: str | None,
) -> GraphSplit | None:
    """Find features (and the classifier) in a signature function; None if nothing to split.

    Args:
        fn: the signature's ConcreteFunction (one image input).
        output_index: which flat output to follow (dict outputs are sorted by key).
        feature_layer: a Keras layer name whose output is the feature; None to detect the
            classifier and take its input.
        source: for messages.
        provider: for messages.
    """
    graph = _Graph(fn, source, provider)
    if len(graph.input_nodes) != 1:
        return None
    output = _node_name(fn.outputs[output_index].name)
    found = graph.find_classifier(output)
    classifier = None
    if feature_layer is not None:
        feature = graph.scope_output(feature_layer, source, provider)
        if found is not None and _node_name(found[0]) == _node_name(feature):
            classifier = found[1]
    elif found is not None:
        feature, classifier = found
    else:
        return None
    feature_node = _node_name(feature)
    needed = graph.ancestors(feature_node)
    reads = {r: p for r, p in graph.reads().items() if r in needed}
    position = {p: i for i, p in enumerate(graph.variable_of_placeholder)}
    placeholders = sorted(set(reads.values()), key=position.__getitem__)
    variables = [graph.variable_of_placeholder[p] for p in placeholders]
    input_spec = tf.nest.flatten(fn.structured_input_signature)[0]

    def body() -> None:
        fed = {
            p: tf.compat.v1.placeholder(v.dtype, v.shape, name=f"zoo_var_{i}")
            for i, (p, v) in enumerate(zip(placeholders, variables, strict=True))
        }
        tf.graph_util.import_graph_def(
            graph.graph_def, input_map={f"{r}:0": fed[p] for r, p in reads.items()}, name="g"
        )

    wrapped = tf.compat.v1.wrap_function(body, [])
    g = wrapped.graph
    feeds = [g.get_tensor_by_name(f"g/{graph.input_nodes[0]}:0")] + [
        g.get_tensor_by_name(f"zoo_var_{i}:0") for i in range(len(variables))
    ]
    feature_tensor = g.get_tensor_by_name(f"g/{feature if ':' in feature else feature + ':0'}")
    try:
        pruned = wrapped.prune(feeds=feeds, fetches=feature_tensor)
    except (ValueError, tf.errors.OpError) as exc:
        if feature_layer is None:
            return None  # an unusual graph: the caller falls back to the whole signature
        raise InvalidModelError(
            f"{source}: cannot cut the exported graph at layer {feature_layer!r}: {exc}",
            provider=provider,
            source=source,
        ) from exc
    return GraphSplit(
        function=pruned,
        variables=variables,
        trainable=[graph.trainable[p] for p in placeholders],
        input_spec=input_spec,
        feature_shape=tuple(feature_tensor.shape.as_list()),
        feature_scope=_scope_of(feature_node),
        classifier=classifier,
    )
