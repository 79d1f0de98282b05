"""zoo-keras-hub: KerasHub image backbones as tfzoo Backbones (a tfzoo plugin).

Installing the distribution is all it takes: its entry point (group ``zoo``) registers the
``keras_hub`` provider and one model per KerasHub image preset::

    >>> import zoo
    >>> [s.name for s in zoo.list_models("resnet_50*", provider="keras_hub")]
    ['resnet_50_imagenet']
    >>> bb = zoo.load_backbone("./my_preset_dir")        # what save_to_preset wrote
    >>> bb = zoo.load_backbone("keras_hub:ResNetBackbone", weights=None, ...)  # arguments

Importing this package does not import KerasHub or TensorFlow; loading a model does.
"""

from __future__ import annotations

from zoo_keras_hub.provider import PRESET_WEIGHTS, KerasHubProvider

__version__ = "0.1.0"

__all__ = ["PRESET_WEIGHTS", "KerasHubProvider", "__version__"]
