"""The corpus of model files of every era, for the detection and legacy-conversion tests.

- :data:`HEAD_SHAPES`: Keras 3 models with each classifier shape real models have, and
  what tfzoo must find in each (feature layer, heads and widths);
- :func:`write_legacy_h5`: an ``.h5`` written with h5py exactly as Keras 1.x / 2.0-2.2
  wrote it (``keras/engine/topology.py`` ``save_weights_to_hdf5_group`` and
  ``keras/models.py`` ``save_model`` of those versions): root attributes ``keras_version``,
  ``backend`` (2.x only), ``model_config`` and ``training_config`` as UTF-8 JSON bytes; a
  ``model_weights`` group whose ``layer_names`` attribute lists every layer and whose layer
  groups list their arrays in ``weight_names``;
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Expect:
    """What tfzoo must find in a corpus model."""

    feature_layer: str  # the layer whose (pooled) output is the feature
    feature_dim: int
    heads: dict[str, int]  # output name -> classes, in output order


def _trunk(inputs: Any, width: int = 8) -> Any:
    import keras

    x = keras.layers.Conv2D(width, 3, padding="same", name="conv_a")(inputs)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.Activation("relu", name="relu_a")(x)
    return keras.layers.MaxPooling2D(name="pool_a")(x)


def dense_activation() -> Any:
    """conv -> flatten -> Dense(5, linear) -> Activation(softmax)."""
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Flatten(name="flatten")(_trunk(inputs))
    x = keras.layers.Dense(5, name="logits")(x)
    out = keras.layers.Activation("softmax", name="probs")(x)
    return keras.Model(inputs, out, name="dense_activation")


def dense_bn_dropout() -> Any:
    """conv -> GAP -> Dense(6) -> BatchNorm -> Dropout -> Softmax."""
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.GlobalAveragePooling2D(name="gap")(_trunk(inputs))
    x = keras.layers.Dense(6, name="fc")(x)
    x = keras.layers.BatchNormalization(name="fc_bn")(x)
    x = keras.layers.Dropout(0.3, name="drop")(x)
    out = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, out, name="dense_bn_dropout")


def mini_xception() -> Any:
    """A residual separable-conv block, Conv2D(7, 3x3) -> GAP -> Activation(softmax)."""
    import keras

    inputs = keras.Input((16, 16, 1), name="input_1")
    x = _trunk(inputs)
    residual = keras.layers.Conv2D(16, 1, strides=2, padding="same", name="res_conv")(x)
    y = keras.layers.SeparableConv2D(16, 3, padding="same", name="sep_a")(x)
    y = keras.layers.BatchNormalization(name="sep_bn")(y)
    y = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="sep_pool")(y)
    x = keras.layers.Add(name="add_1")([y, residual])
    x = keras.layers.Conv2D(7, 3, padding="same", name="class_maps")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, out, name="mini_xception")


def all_convolutional() -> Any:
    """conv -> Conv2D(4, 1x1) -> GlobalMaxPooling -> Activation(sigmoid) (multi-label)."""
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(4, 1, name="conv_1x1")(_trunk(inputs))
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    out = keras.layers.Activation("sigmoid", name="scores")(x)
    return keras.Model(inputs, out, name="all_convolutional")


def conv_flatten() -> Any:
    """conv -> full-map Conv2D(3, 8x8 valid) -> Flatten -> Softmax."""
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(3, 8, name="full_map")(_trunk(inputs))
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Softmax(name="probs")(x)
    return keras.Model(inputs, out, name="conv_flatten")


def conv_reshape() -> Any:
    """MobileNet v1's top: GAP (kept 1x1) -> Dropout -> Conv2D 1x1 -> Reshape -> softmax."""
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="gap")(_trunk(inputs))
    x = keras.layers.Dropout(0.1, name="dropout")(x)
    x = keras.layers.Conv2D(9, 1, name="conv_preds")(x)
    x = keras.layers.Reshape((9,), name="reshape_2")(x)
    out = keras.layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, out, name="conv_reshape")


def squeezenet() -> Any:
    """A fire module, Dropout, Conv2D(5, 1x1) -> ReLU -> GAP -> softmax (SqueezeNet's top)."""
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = _trunk(inputs)
    squeeze = keras.layers.Conv2D(4, 1, activation="relu", name="fire2_squeeze")(x)
    left = keras.layers.Conv2D(8, 1, activation="relu", name="fire2_expand1x1")(squeeze)
    right = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="fire2_expand3x3")(
        squeeze
    )
    x = keras.layers.Concatenate(name="fire2_concat")([left, right])
    x = keras.layers.Dropout(0.5, name="drop9")(x)
    x = keras.layers.Conv2D(5, 1, name="conv10")(x)
    x = keras.layers.Activation("relu", name="relu_conv10")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Activation("softmax", name="loss")(x)
    return keras.Model(inputs, out, name="squeezenet")


def wide_resnet_age_gender() -> Any:
    """WideResNet age/gender style: one trunk, Flatten, Dense(2) gender and Dense(101) age."""
    import keras

    inputs = keras.Input((16, 16, 3), name="input_1")
    x = _trunk(inputs)
    short = keras.layers.Conv2D(8, 1, name="shortcut")(x)
    y = keras.layers.Conv2D(8, 3, padding="same", name="conv_b")(x)
    x = keras.layers.Add(name="add")([y, short])
    x = keras.layers.BatchNormalization(name="bn_final")(x)
    x = keras.layers.Activation("relu", name="relu_final")(x)
    x = keras.layers.AveragePooling2D(8, name="pool_final")(x)
    flat = keras.layers.Flatten(name="flatten_1")(x)
    gender = keras.layers.Dense(2, activation="softmax", name="pred_gender")(flat)
    age = keras.layers.Dense(101, activation="softmax", name="pred_age")(flat)
    return keras.Model(inputs, [gender, age], name="wide_resnet")


def heads_with_own_layers() -> Any:
    """Two heads that each have a hidden Dense after the shared GAP trunk."""
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    trunk = keras.layers.GlobalAveragePooling2D(name="trunk_gap")(_trunk(inputs))
    a = keras.layers.Dense(6, activation="relu", name="a_hidden")(trunk)
    a = keras.layers.Dense(3, activation="softmax", name="a_out")(a)
    b = keras.layers.Dense(5, activation="relu", name="b_hidden")(trunk)
    b = keras.layers.Dense(4, activation="sigmoid", name="b_out")(b)
    return keras.Model(inputs, [a, b], name="own_layers")


def nested_head() -> Any:
    """Teachable Machine's shape: Sequential(Sequential(trunk, GAP), Sequential(Dense, Dense))."""
    import keras

    trunk = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
        ],
        name="trunk",
    )
    head = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(6, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="scores"),
        ],
        name="head",
    )
    return keras.Sequential([keras.Input((16, 16, 3)), trunk, head], name="nested_head")


#: name -> (builder, what tfzoo must find)
HEAD_SHAPES: dict[str, tuple[Callable[[], Any], Expect]] = {
    "dense_activation": (dense_activation, Expect("flatten", 8 * 8 * 8, {"probs": 5})),
    "dense_bn_dropout": (dense_bn_dropout, Expect("gap", 8, {"softmax": 6})),
    "mini_xception": (mini_xception, Expect("add_1", 16, {"predictions": 7})),
    "all_convolutional": (all_convolutional, Expect("pool_a", 8, {"scores": 4})),
    "conv_flatten": (conv_flatten, Expect("pool_a", 8, {"probs": 3})),
    "conv_reshape": (conv_reshape, Expect("dropout", 8, {"predictions": 9})),
    "squeezenet": (squeezenet, Expect("drop9", 16, {"loss": 5})),
    "wide_resnet": (
        wide_resnet_age_gender,
        Expect("flatten_1", 8, {"pred_gender": 2, "pred_age": 101}),
    ),
    "own_layers": (heads_with_own_layers, Expect("trunk_gap", 8, {"a_out": 3, "b_out": 4})),
    "nested_head": (nested_head, Expect("hidden", 6, {"scores": 3})),
}


# -- legacy files, written with h5py as Keras 1.x / 2.0-2.2 wrote them ----------------------


def write_legacy_h5(
    path: Path,
    model_config: Any,
    weights: list[tuple[str, list[tuple[str, np.ndarray]]]],
    *,
    keras_version: str | None,
    backend: str | None = None,
    training_config: dict[str, Any] | None = None,
) -> Path:
    """An .h5 laid out as Keras 1.x/2.0-2.2's ``save_model`` wrote it.

    ``weights`` lists every layer in model order (layers without weights too, as Keras did)
    with its ``(weight name, array)`` pairs; Keras 2 names such as ``conv2d_1/kernel:0``
    become nested groups, as h5py makes them.
    """
    import h5py

    with h5py.File(path, "w") as f:
        if keras_version is not None:  # Keras 1.0 wrote none
            f.attrs["keras_version"] = keras_version.encode("utf8")
        if backend is not None:  # Keras 2 only
            f.attrs["backend"] = backend.encode("utf8")
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode("utf8") for name, _ in weights]
        if keras_version is not None and backend is not None:
            group.attrs["backend"] = backend.encode("utf8")
            group.attrs["keras_version"] = keras_version.encode("utf8")
        for name, arrays in weights:
            layer = group.create_group(name)
            layer.attrs["weight_names"] = [w.encode("utf8") for w, _ in arrays]
            for weight_name, value in arrays:
                layer.create_dataset(weight_name, value.shape, dtype=value.dtype)[...] = value
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
    return path


def _rand(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.3, shape).astype("float32")


KERAS1_TRAINING = {  # Keras 1's optimizer arguments: Keras 3 cannot compile these
    "optimizer_config": {"class_name": "SGD", "config": {"lr": 0.01, "momentum": 0.0}},
    "loss": "categorical_crossentropy",
    "metrics": ["accuracy"],
    "sample_weight_mode": None,
    "loss_weights": None,
}


def keras1_sequential(path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Keras 1.2.2 Sequential: bare list, Convolution2D(nb_filter, border_mode), Dense(output_dim).

    Returns the file and its weights by Keras 3 layer name (for a reference model).
    """
    conv_w, conv_b = _rand((3, 3, 3, 4), 1), _rand((4,), 2)
    gamma, beta = 1 + _rand((4,), 3), _rand((4,), 4)
    mean, var = _rand((4,), 5), 1 + np.abs(_rand((4,), 6))
    dense_w, dense_b = _rand((8 * 8 * 4, 5), 7), _rand((5,), 8)
    reg = {"name": "WeightRegularizer", "l1": 0.0, "l2": 0.0005}
    config = [
        {
            "class_name": "Convolution2D",
            "config": {
                "name": "convolution2d_1",
                "trainable": True,
                "batch_input_shape": [None, 16, 16, 3],
                "input_dtype": "float32",
                "nb_filter": 4,
                "nb_row": 3,
                "nb_col": 3,
                "init": "glorot_uniform",
                "activation": "relu",
                "border_mode": "same",
                "subsample": [1, 1],
                "dim_ordering": "tf",
                "W_regularizer": reg,
                "b_regularizer": None,
                "activity_regularizer": None,
                "W_constraint": {"name": "MaxNorm", "m": 3, "axis": 0},
                "b_constraint": None,
                "bias": True,
            },
        },
        {
            "class_name": "BatchNormalization",
            "config": {
                "name": "batchnormalization_1",
                "trainable": True,
                "epsilon": 0.001,
                "mode": 0,
                "axis": -1,
                "momentum": 0.99,
                "gamma_regularizer": None,
                "beta_regularizer": None,
            },
        },
        {
            "class_name": "MaxPooling2D",
            "config": {
                "name": "maxpooling2d_1",
                "trainable": True,
                "pool_size": [2, 2],
                "strides": [2, 2],
                "border_mode": "valid",
                "dim_ordering": "tf",
            },
        },
        {"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": True, "p": 0.25}},
        {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True}},
        {
            "class_name": "Dense",
            "config": {
                "name": "dense_1",
                "trainable": True,
                "output_dim": 5,
                "init": "uniform",
                "activation": "softmax",
                "W_regularizer": None,
                "b_regularizer": None,
                "activity_regularizer": None,
                "W_constraint": None,
                "b_constraint": None,
                "bias": True,
                "input_dim": None,
            },
        },
    ]
    weights = [
        ("convolution2d_1", [("convolution2d_1_W:0", conv_w), ("convolution2d_1_b:0", conv_b)]),
        (
            "batchnormalization_1",
            [
                ("batchnormalization_1_gamma:0", gamma),
                ("batchnormalization_1_beta:0", beta),
                ("batchnormalization_1_running_mean:0", mean),
                ("batchnormalization_1_running_std:0", var),
            ],
        ),
        ("maxpooling2d_1", []),
        ("dropout_1", []),
        ("flatten_1", []),
        ("dense_1", [("dense_1_W:0", dense_w), ("dense_1_b:0", dense_b)]),
    ]
    write_legacy_h5(path, config, weights, keras_version="1.2.2", training_config=KERAS1_TRAINING)
    return path, {
        "conv": [conv_w, conv_b],
        "bn": [gamma, beta, mean, var],
        "dense": [dense_w, dense_b],
    }


def keras1_functional_merge(path: Path) -> Path:
    """Keras 1.1 functional Model: 3-element inbound nodes, Merge(mode='sum'), no version."""

    def node(*names: str) -> list[list[list[Any]]]:
        return [[[n, 0, 0] for n in names]]

    def conv(name: str, inbound: str) -> dict[str, Any]:
        return {
            "class_name": "Convolution2D",
            "name": name,
            "config": {
                "name": name,
                "nb_filter": 4,
                "nb_row": 3,
                "nb_col": 3,
                "init": "he_normal",
                "activation": "relu",
                "border_mode": "same",
                "subsample": [1, 1],
                "dim_ordering": "tf",
                "bias": True,
                "trainable": True,
            },
            "inbound_nodes": node(inbound),
        }

    config = {
        "class_name": "Model",
        "config": {
            "name": "model_1",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "input_1",
                    "config": {
                        "batch_input_shape": [None, 16, 16, 3],
                        "input_dtype": "float32",
                        "sparse": False,
                        "name": "input_1",
                    },
                    "inbound_nodes": [],
                },
                conv("convolution2d_1", "input_1"),
                conv("convolution2d_2", "convolution2d_1"),
                {
                    "class_name": "Merge",
                    "name": "merge_1",
                    "config": {
                        "name": "merge_1",
                        "mode": "sum",
                        "concat_axis": -1,
                        "dot_axes": -1,
                        "mode_type": "raw",
                        "output_shape": None,
                        "output_shape_type": "raw",
                        "output_mask": None,
                        "output_mask_type": "raw",
                        "arguments": {},
                    },
                    "inbound_nodes": node("convolution2d_1", "convolution2d_2"),
                },
                {
                    "class_name": "GlobalAveragePooling2D",
                    "name": "globalaveragepooling2d_1",
                    "config": {"name": "globalaveragepooling2d_1", "dim_ordering": "tf"},
                    "inbound_nodes": node("merge_1"),
                },
                {
                    "class_name": "Dense",
                    "name": "dense_1",
                    "config": {
                        "name": "dense_1",
                        "output_dim": 3,
                        "init": "glorot_uniform",
                        "activation": "softmax",
                        "bias": True,
                    },
                    "inbound_nodes": node("globalaveragepooling2d_1"),
                },
            ],
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["dense_1", 0, 0]],
        },
    }
    weights = [
        ("input_1", []),
        (
            "convolution2d_1",
            [
                ("convolution2d_1_W", _rand((3, 3, 3, 4), 11)),
                ("convolution2d_1_b", _rand((4,), 12)),
            ],
        ),
        (
            "convolution2d_2",
            [
                ("convolution2d_2_W", _rand((3, 3, 4, 4), 13)),
                ("convolution2d_2_b", _rand((4,), 14)),
            ],
        ),
        ("merge_1", []),
        ("globalaveragepooling2d_1", []),
        ("dense_1", [("dense_1_W", _rand((4, 3), 15)), ("dense_1_b", _rand((3,), 16))]),
    ]
    return write_legacy_h5(path, config, weights, keras_version=None)


def keras20_sequential(path: Path) -> Path:
    """Keras 2.0.8 Sequential: a bare list, Keras 2 names, batch_input_shape and dtype."""
    config = [
        {
            "class_name": "Conv2D",
            "config": {
                "name": "conv2d_1",
                "trainable": True,
                "batch_input_shape": [None, 16, 16, 1],
                "dtype": "float32",
                "filters": 4,
                "kernel_size": [3, 3],
                "strides": [1, 1],
                "padding": "valid",
                "data_format": "channels_last",
                "dilation_rate": [1, 1],
                "activation": "relu",
                "use_bias": True,
                "kernel_initializer": {
                    "class_name": "VarianceScaling",
                    "config": {
                        "scale": 2.0,
                        "mode": "fan_in",
                        "distribution": "normal",
                        "seed": None,
                    },
                },
                "bias_initializer": {"class_name": "Zeros", "config": {}},
                "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 1e-4}},
                "bias_regularizer": None,
                "activity_regularizer": None,
                "kernel_constraint": None,
                "bias_constraint": None,
            },
        },
        {
            "class_name": "MaxPooling2D",
            "config": {
                "name": "max_pooling2d_1",
                "trainable": True,
                "pool_size": [2, 2],
                "padding": "valid",
                "strides": [2, 2],
                "data_format": "channels_last",
            },
        },
        {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True}},
        {
            "class_name": "Dense",
            "config": {"name": "dense_1", "trainable": True, "units": 16, "activation": "relu"},
        },
        {"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": True, "rate": 0.5}},
        {
            "class_name": "Dense",
            "config": {"name": "dense_2", "trainable": True, "units": 4, "activation": "softmax"},
        },
    ]
    weights = [
        (
            "conv2d_1",
            [("conv2d_1/kernel:0", _rand((3, 3, 1, 4), 21)), ("conv2d_1/bias:0", _rand((4,), 22))],
        ),
        ("max_pooling2d_1", []),
        ("flatten_1", []),
        (
            "dense_1",
            [
                ("dense_1/kernel:0", _rand((7 * 7 * 4, 16), 23)),
                ("dense_1/bias:0", _rand((16,), 24)),
            ],
        ),
        ("dropout_1", []),
        (
            "dense_2",
            [("dense_2/kernel:0", _rand((16, 4), 25)), ("dense_2/bias:0", _rand((4,), 26))],
        ),
    ]
    training = {
        "optimizer_config": {"class_name": "Adam", "config": {"lr": 0.001, "decay": 0.0}},
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
        "sample_weight_mode": None,
        "loss_weights": None,
    }
    return write_legacy_h5(
        path,
        {"class_name": "Sequential", "config": config},
        weights,
        keras_version="2.0.8",
        backend="tensorflow",
        training_config=training,
    )
