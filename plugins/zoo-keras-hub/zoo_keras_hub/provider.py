"""The ``keras_hub`` provider: which sources it claims and which options it takes. No TensorFlow.

Sources:

- a built-in KerasHub preset name (``resnet_50_imagenet``; each image preset is also a
  registry name), downloaded by KerasHub from Kaggle on first use;
- ``kaggle://owner/model/keras/variation[/version]`` and ``hf://owner/repo`` preset handles;
- a local preset directory, as ``backbone.save_to_preset(path)`` writes it;
- ``keras_hub:<BackboneClass>`` (``keras_hub:ResNetBackbone``): a fresh architecture built from
  its constructor arguments, given as options; ``weights=None`` or a local weights file.

``weights`` is ``"preset"`` (the preset's own weights; the default for presets), ``None``
(random initialization) or a local ``.weights.h5`` file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from zoo.plugin_api import ModelSpec, Provider, slug

from zoo_keras_hub.catalogue import catalogue
from zoo_keras_hub.sources import PRESET_WEIGHTS, PROVIDER_NAME, REMOTE_SCHEMES, is_preset_dir

if TYPE_CHECKING:
    from zoo.plugin_api import Backbone

__all__ = ["PRESET_WEIGHTS", "REMOTE_SCHEMES", "KerasHubProvider", "is_preset_dir"]


def _options() -> dict[str, str]:
    options = {
        "pooling": "how the backbone output becomes the feature vector: 'avg', 'max', or "
        "'token' (the class token; the default for ViT-like token outputs)",
    }
    for arg, classes in catalogue().arguments().items():
        shown = ", ".join(classes[:3]) + (
            f" and {len(classes) - 3} more" if len(classes) > 3 else ""
        )
        options[arg] = f"architecture argument of {shown}"
    return options


def _adhoc_name(source: str) -> str:
    parts = [p for p in re.split(r"[/\\]", source.split("://", 1)[-1]) if p]
    if len(parts) > 1 and parts[-1].isdigit():  # kaggle handle version
        parts.pop()
    return slug(parts[-1] if parts else source, "keras_hub_model")


class KerasHubProvider(Provider):
    """KerasHub image backbones (presets, handles, preset directories, Backbone classes).

    Example:
        >>> bb = zoo.load_backbone("keras_hub:ResNetBackbone", weights=None,
        ...     input_conv_filters=[64], input_conv_kernel_sizes=[3],
        ...     stackwise_num_filters=[64], stackwise_num_blocks=[1],
        ...     stackwise_num_strides=[1], block_type="basic_block")
    """

    name: ClassVar[str] = PROVIDER_NAME
    description: ClassVar[str] = (
        "KerasHub image backbones: presets, kaggle:// and hf:// handles, preset directories, "
        "Backbone classes"
    )
    options: ClassVar[Mapping[str, str]] = _options()

    def claim(self, source: object) -> str | ModelSpec | None:
        """Claims preset handles and local preset directories (not bare names: use a prefix)."""
        if not isinstance(source, str | os.PathLike):
            return None
        text = os.fspath(source)
        if isinstance(text, bytes):
            return None
        if text.startswith(REMOTE_SCHEMES):
            return self._preset_spec(text)
        path = Path(text).expanduser()
        if path.is_dir() and is_preset_dir(path):
            return self._preset_spec(text)
        return None

    def _preset_spec(self, source: str) -> ModelSpec:
        return ModelSpec(
            name=_adhoc_name(source),
            provider=self.name,
            source=source,
            weights=PRESET_WEIGHTS,
            tags=("keras-hub",),
        )

    def load(self, spec: ModelSpec) -> Backbone:
        """Build or download the KerasHub backbone and normalize it (imports KerasHub)."""
        from zoo_keras_hub import loader

        return loader.load(spec, provider=self.name)
