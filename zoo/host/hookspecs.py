"""The plugin contract: the hooks a tfzoo plugin may implement.

A plugin is a module (or any object) with functions decorated by ``zoo.hookimpl`` and named
exactly like the hooks below; a misspelt hook name is reported as a plugin error. Install a
plugin by exposing it as an entry point in the ``zoo`` group::

    [project.entry-points.zoo]
    my_plugin = "my_package.zoo_plugin"

Each docstring below is the reference for plugin authors (docs/plugins.md is generated from it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from zoo.host.provider import Provider

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "zoo"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Marks a plugin's function (or method) as the implementation of the hook of that name.
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def zoo_register_providers(register: Callable[[Provider], None]) -> None:
    """Hand the host your providers.

    Call ``register(provider)`` once per :class:`zoo.host.provider.Provider` instance. The host
    checks that it has a non-empty ``name`` and a ``load`` method, records that your plugin
    registered it (``zoo plugins`` shows this), and refuses a name that another plugin also
    registered: a name claimed twice is unusable, and using it raises
    :class:`zoo.errors.DuplicateNameError` naming both plugins.

    Keep this hook cheap: it runs whenever tfzoo starts, also for ``zoo list``. Do not import
    TensorFlow here or in your provider's constructor; import it inside ``Provider.load``.

    :param register: callback taking one Provider instance.
    :return: nothing; return values are ignored.

    Example::

        @zoo.hookimpl
        def zoo_register_providers(register):
            register(MyProvider())
    """


@hookspec
def zoo_register_models(register: Callable[..., None]) -> None:
    """Contribute named models (a catalogue in code).

    Call ``register(name, **entry)`` with the same keys a ``registry.yaml`` entry takes
    (``provider`` and ``source`` are required; see docs/registry.md), or
    ``register(model_spec)`` with a ready :class:`zoo.ModelSpec`. Entries are validated
    exactly like registry files; an invalid one is reported against your plugin.

    Plugin models sit between the packaged registry and the user's files: the user's
    ``registry.yaml``, ``./zoo.yaml`` and ``ZOO_REGISTRY`` files override them by name. Two
    plugins registering the same name make that name unusable until one is blocked, and the
    error names both plugins.

    :param register: callback ``register(name, **entry)`` or ``register(spec)``.
    :return: nothing; return values are ignored.

    Example::

        @zoo.hookimpl
        def zoo_register_models(register):
            register("tiny_cnn", provider="mine", source="tiny", input_shape=[32, 32, 3],
                     preprocessing="unit", tags=["demo"])
    """
