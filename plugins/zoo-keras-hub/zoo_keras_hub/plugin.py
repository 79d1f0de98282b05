"""The plugin module named by the entry point: the two registration hooks, nothing heavy.

Both hooks run whenever tfzoo starts (``zoo list`` included), so they read the packaged
catalogue (JSON) and never import KerasHub or TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoo.plugin_api import Provider, hookimpl

from zoo_keras_hub.catalogue import catalogue
from zoo_keras_hub.provider import KerasHubProvider

__all__ = ["zoo_register_models", "zoo_register_providers"]


@hookimpl
def zoo_register_providers(register: Callable[[Provider], None]) -> None:
    """Register the ``keras_hub`` provider."""
    register(KerasHubProvider())


@hookimpl
def zoo_register_models(register: Callable[..., Any]) -> None:
    """Register one model per KerasHub image preset, named like the preset."""
    for preset in catalogue():
        register(preset.name, **preset.registry_entry())
