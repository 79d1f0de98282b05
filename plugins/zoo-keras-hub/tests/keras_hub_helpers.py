"""Helpers shared by the zoo-keras-hub tests (imported by name: this directory is on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: A ResNet small enough to build in a fraction of a second (89k parameters).
TINY_RESNET: dict[str, Any] = {
    "input_conv_filters": [64],
    "input_conv_kernel_sizes": [3],
    "stackwise_num_filters": [64, 16],
    "stackwise_num_blocks": [1, 1],
    "stackwise_num_strides": [1, 2],
    "block_type": "basic_block",
}
#: ImageNet mean/std as a KerasHub converter writes them: x * scale + offset.
IMAGENET_SCALE = [1 / (255 * 0.229), 1 / (255 * 0.224), 1 / (255 * 0.225)]
IMAGENET_OFFSET = [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]


def save_tiny_preset(path: Path, *, converter: bool = True, image_shape: Any = None) -> Any:
    """A tiny ResNet saved as a KerasHub preset (with an ImageNet-normalizing converter)."""
    import keras_hub

    backbone = keras_hub.models.ResNetBackbone(
        **TINY_RESNET, image_shape=image_shape or (None, None, 3)
    )
    backbone.save_to_preset(str(path))
    if converter:
        keras_hub.layers.ResNetImageConverter(
            image_size=(32, 32), scale=IMAGENET_SCALE, offset=IMAGENET_OFFSET
        ).save_to_preset(str(path))
    return backbone


def images(n: int = 4, size: int = 32, seed: int = 0) -> Any:
    """Raw [0, 255] float32 images."""
    import numpy as np

    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")
