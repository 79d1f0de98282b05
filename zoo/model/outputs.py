"""What a classifier's outputs are, read off its numbers: probabilities, logits, or one output.

Every classifier tfzoo builds ends in a softmax. Models users bring often do not: a
``Dense(K)`` trained ``from_logits=True``, or a binary classifier with one sigmoid output
(``Dense(1, "sigmoid")``, below 0.5 class 0). ``zoo predict`` / ``evaluate`` and ``zoo
export`` turn each into probabilities over every class the same way, and say so
(:func:`describe`), never a softmax over a single column (which is 1.0 for every image).

Readings (:func:`reading`):

- ``"probabilities"``: (N, K) rows of non-negative numbers that sum to 1: kept;
- ``"logits"``: (N, K > 1) rows that do not: softmax;
- ``"sigmoid"``: (N, 1) within [0, 1]: p(class 1), and the probabilities are ``[1 - p, p]``;
- ``"logit"``: (N, 1) outside [0, 1]: a binary logit, sigmoid first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ONE_OUTPUT", "describe", "probability_model", "reading", "to_probabilities"]

#: the readings of a classifier with one output (two classes)
ONE_OUTPUT = ("sigmoid", "logit")


def reading(out: np.ndarray, tolerance: float = 1e-3) -> str:
    """The reading of a batch of outputs (N, K) (see the module docstring)."""
    if out.shape[1] == 1:
        inside = bool(((out >= -1e-6) & (out <= 1 + 1e-6)).all())
        return "sigmoid" if inside else "logit"
    sums = out.sum(axis=1)
    if (out < -1e-6).any() or not np.allclose(sums, 1.0, atol=tolerance):
        return "logits"
    return "probabilities"


def to_probabilities(out: np.ndarray, kind: str) -> np.ndarray:
    """``out`` (N, K) as probabilities (N, max(K, 2)), read as ``kind``."""
    if kind == "probabilities":
        return out
    if kind == "logits":
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))
    p = out if kind == "sigmoid" else 1.0 / (1.0 + np.exp(-out))
    p = np.clip(p, 0.0, 1.0)
    return np.concatenate([1.0 - p, p], axis=1)


def describe(kind: str) -> str:
    """What was done to outputs read as ``kind``, for a warning (empty for probabilities)."""
    return {
        "probabilities": "",
        "logits": "does not output probabilities (rows do not sum to 1); applying softmax to "
        "its outputs, as for logits",
        "sigmoid": "has one output, within [0, 1]: read as a binary classifier's sigmoid, "
        "p(class 1); its probabilities are [1 - p, p] for classes 0 and 1 (labels.txt names "
        "the two, class 0 first)",
        "logit": "has one output, outside [0, 1]: read as a binary classifier's logit; its "
        "probabilities are [1 - sigmoid(z), sigmoid(z)] for classes 0 and 1 (labels.txt names "
        "the two, class 0 first)",
    }[kind]


def probability_model(model: Any, kind: str) -> Any:
    """``model`` (one (N, K) output read as ``kind``) with layers after it that give the
    probabilities :func:`to_probabilities` gives: a Softmax, or sigmoid and ``[1 - p, p]``.
    Plain Keras layers, so every export format can express them."""
    if kind == "probabilities":
        return model
    import keras

    out = model.outputs[0]
    if kind == "logits":
        probs = keras.layers.Softmax(name="probabilities")(out)
    else:
        p = out if kind == "sigmoid" else keras.layers.Activation("sigmoid", name="sigmoid")(out)
        not_p = keras.layers.Rescaling(-1.0, offset=1.0, name="one_minus_p")(p)
        probs = keras.layers.Concatenate(name="probabilities")([not_p, p])
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # no list of one
    return keras.Model(inputs, probs, name=model.name)
