"""A Keras model's own layers replayed on new tensors: inlined, or flattened out of nesting.

Keras gives no public way to call a functional model's layers one by one on new inputs
(``clone_model(input_tensors=...)`` refuses a tensor that is not a fresh ``Input``:
"Output with path `0` is not connected to `inputs`"), so both functions go through the
graph's ``_run_through_graph``; each returns None where that is not possible (a subclassed
model, a private API that moved), and the caller keeps the model as one nested layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras

__all__ = ["flatten", "inline"]


def _graph(model: Any) -> Any:
    """The functional graph behind a Functional or a (built) Sequential model."""
    return getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model


def _replay(model: Any, x: Any, operation_fn: Callable[[Any], Any]) -> Any:
    run = getattr(_graph(model), "_run_through_graph", None)
    if run is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
            return run(x, operation_fn=operation_fn)
    except (ValueError, TypeError, AttributeError):
        return None


def inline(model: keras.Model, x: Any) -> Any:
    """``model``'s own layers called on ``x`` one by one (the same layers and weights), or
    None when it is not a graph Keras can replay that way (a subclassed model).

    An exported file is then one flat graph: loaded back, its classifier is found at its
    output. Called as one nested layer, the wrapper's last layer was the whole model, and
    ``zoo info`` / a fine-tune of the export said "no classifier found at the output" and
    took its probabilities for the features."""
    return _replay(model, x, lambda op: op)


class _Unflattenable(Exception):
    """A nested model on the way that cannot be replayed layer by layer."""


def _leaf(op: Any) -> Any:
    if not isinstance(op, keras.Model):
        return op

    def call(x: Any, *args: Any, **kwargs: Any) -> Any:
        out = _replay(op, x, _leaf)
        if out is None:
            raise _Unflattenable(op.name)
        return out

    return call


def flatten(model: keras.Model) -> keras.Model | None:
    """``model`` with every nested Functional / Sequential model replaced by its own layers,
    or None when that cannot be done (a subclassed model inside, two layers of one name).

    A Teachable Machine file is ``Sequential(Sequential(MobileNet, pooling),
    Sequential(Dense, Dense))``: its classifier is two models deep, where the detection of
    :func:`zoo.model.introspect.split_model`, which reads the top graph, does not see it.
    The flat model has copies of the layers of ``model`` with their weights (shared layers
    would keep the nested graphs as their first nodes, whose outputs ``layer.output`` gives).
    """
    inputs = getattr(model, "inputs", None)
    if not inputs:
        return None
    x = inputs[0] if len(inputs) == 1 else inputs
    try:
        outputs = _replay(model, x, _leaf)
    except _Unflattenable:
        return None
    if outputs is None:
        return None
    try:
        shared = keras.Model(x, outputs, name=model.name)
        # the shared layers' first nodes are still the nested graphs' (``layer.output`` is
        # theirs, not connected to this input): clone them, one node each, with the weights
        flat = keras.models.clone_model(shared)
    except (ValueError, TypeError):  # two nested layers of one name; an unclonable layer
        return None
    for layer in shared.layers:
        flat.get_layer(layer.name).set_weights(layer.get_weights())
    return flat
