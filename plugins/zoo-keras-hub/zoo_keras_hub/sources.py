"""What a ``keras_hub`` source is: preset handles, preset directories, the preset weights.

Shared by the provider (claiming, no TensorFlow) and the loader (KerasHub); it imports
neither, so the two never import each other at module level.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PRESET_WEIGHTS", "PROVIDER_NAME", "REMOTE_SCHEMES", "is_preset_dir"]

#: The provider's name (the prefix of raw sources, ``keras_hub:ResNetBackbone``); the
#: loader names it in its errors.
PROVIDER_NAME = "keras_hub"
#: The ``weights`` value meaning "the weights stored with the preset".
PRESET_WEIGHTS = "preset"
#: Preset handles KerasHub downloads itself.
REMOTE_SCHEMES = ("kaggle://", "hf://", "gs://", "modelscope://")
# Files `save_to_preset` writes next to config.json; one of them marks a preset directory.
_PRESET_MARKERS = ("metadata.json", "model.weights.h5", "model.weights.json", "task.json")


def is_preset_dir(path: Path) -> bool:
    """A directory holding config.json and a file `save_to_preset` writes beside it."""
    return (path / "config.json").is_file() and any(
        (path / marker).is_file() for marker in _PRESET_MARKERS
    )
