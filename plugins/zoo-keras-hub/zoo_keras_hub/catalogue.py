"""The offline catalogue of KerasHub image presets (``presets.json``). Pure Python, no TensorFlow.

``presets.json`` is generated from the installed keras-hub by ``python -m
zoo_keras_hub.generate``; this module only reads it, so registering the plugin's models for
``zoo list`` costs a JSON parse, not a KerasHub import.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Catalogue", "PresetInfo", "catalogue"]

_PATH = Path(__file__).with_name("presets.json")


@dataclass(frozen=True)
class PresetInfo:
    """What the catalogue knows about one built-in preset without downloading it."""

    name: str  # the KerasHub preset name, also the tfzoo model name
    backbone: str  # KerasHub Backbone class ("ResNetBackbone")
    family: str  # KerasHub model family ("resnet"), used as a tag
    description: str  # KerasHub's one-line description
    params: int | None  # parameter count KerasHub states
    kaggle_handle: str | None  # where KerasHub downloads it from
    image_size: tuple[int, int] | None  # native resolution, when the preset states it

    def registry_entry(self) -> dict[str, Any]:
        """Keyword arguments for the host's ``register(name, **entry)``."""
        entry: dict[str, Any] = {
            "provider": "keras_hub",
            "source": self.name,
            "weights": "preset",
            "description": self.description or f"KerasHub {self.backbone} preset",
            "tags": ["keras-hub", self.family],
        }
        if self.image_size is not None:
            entry["input_shape"] = [self.image_size[0], self.image_size[1], 3]
        return entry


class Catalogue:
    """Read access to ``presets.json``: presets, backbone classes and their arguments."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.keras_hub_version: str = str(data.get("keras_hub_version", ""))
        self.backbones: dict[str, dict[str, Any]] = dict(data.get("backbones", {}))
        self._presets: dict[str, dict[str, Any]] = dict(data.get("presets", {}))

    def __iter__(self) -> Iterator[PresetInfo]:
        return (self.preset(name) for name in self._presets)

    def __contains__(self, name: object) -> bool:
        return name in self._presets

    def __len__(self) -> int:
        return len(self._presets)

    def preset(self, name: str) -> PresetInfo:
        """The catalogue entry of preset ``name`` (KeyError if it is not an image preset)."""
        raw = self._presets[name]
        size = raw.get("image_size")
        return PresetInfo(
            name=name,
            backbone=raw["backbone"],
            family=self.backbones.get(raw["backbone"], {}).get("family", "keras-hub"),
            description=raw.get("description") or "",
            params=raw.get("params"),
            kaggle_handle=raw.get("kaggle_handle"),
            image_size=(int(size[0]), int(size[1])) if size else None,
        )

    def arguments(self) -> dict[str, list[str]]:
        """Architecture argument -> the backbone classes that take it."""
        found: dict[str, list[str]] = {}
        for cls, info in self.backbones.items():
            for arg in info.get("arguments", []):
                found.setdefault(arg, []).append(cls)
        return dict(sorted(found.items()))


@functools.cache
def catalogue() -> Catalogue:
    """The packaged catalogue (read once)."""
    return Catalogue(json.loads(_PATH.read_text(encoding="utf-8")))
