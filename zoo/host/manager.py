"""The plugin host: a pluggy PluginManager with the built-ins, entry points and allow/block lists.

Built-in providers are ordinary plugin modules listed in :data:`BUILTIN_PLUGINS` and go through
exactly the same path as third-party ones. A plugin that fails to import, implements a hook
that does not exist, raises inside a hook, or registers a provider whose ``claim()`` raises,
hangs or has a ``claim_order`` that is not a number is reported (a
:class:`~zoo.errors.PluginWarning` and an ``error`` in its :class:`PluginInfo`) and skipped;
the rest keeps working.

Environment:
    ZOO_LOAD_PLUGINS    comma-separated allowlist of entry-point plugins ("" loads none)
    ZOO_BLOCK_PLUGINS   comma-separated plugins not to load (built-ins included)
    ZOO_PLUGIN_TIMEOUT  seconds a plugin may take to import, run one hook or claim a source
                        (default 20)

A plugin that raises anything at import or in a hook -- ``SystemExit`` included, only
``KeyboardInterrupt`` passes -- is reported and skipped (F31). Importing an entry point and
running a hook happen in a worker thread the host waits on for ``ZOO_PLUGIN_TIMEOUT``
seconds; a plugin that hangs is reported (naming it and ``ZOO_BLOCK_PLUGINS``) and skipped.
The trade-off of a thread over a subprocess probe: it costs nothing when plugins behave
(no second interpreter), but a hung plugin's thread cannot be killed; it is a daemon thread
that keeps running (holding that module's import lock) until the process exits, and whatever
it registers afterwards is dropped. A provider's ``claim()`` is bounded the same way
(zoo.host.claims): one that fails is reported once, dropped, and the next provider claims.

No TensorFlow is imported here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from zoo import settings
from zoo.errors import (
    DuplicateNameError,
    NoProviderError,
    PluginError,
    PluginLoadError,
    PluginWarning,
    RegistryError,
    ZooError,
)
from zoo.host import hookspecs
from zoo.host.bounded import TimedOut, bounded, failure
from zoo.host.claims import PROBE_SOURCE, GuardedClaim, guard_provider
from zoo.host.provider import Provider
from zoo.registry import entry_to_spec
from zoo.spec import ModelSpec

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "PluginHost", "PluginInfo"]

ENTRY_POINT_GROUP = "zoo"

#: The built-in plugins: plugin name -> module. Registered exactly like entry points.
BUILTIN_PLUGINS: Mapping[str, str] = {
    "keras_apps": "zoo.providers.keras_apps",
    "local": "zoo.providers.local",
    "published": "zoo.providers.published",
    "tfhub": "zoo.providers.tfhub",
}


@dataclass
class PluginInfo:
    """What the host knows about one plugin (``zoo plugins`` prints this)."""

    name: str  # plugin name: the entry-point name, or the built-in's short name
    module: str  # the module (or object repr) that implements the hooks
    builtin: bool = False  # shipped with tfzoo
    distribution: str | None = None  # the installed distribution that provides it
    version: str | None = None  # that distribution's version
    providers: list[str] = field(default_factory=list)  # provider names it registered
    models: list[str] = field(default_factory=list)  # model names it registered
    error: str | None = None  # why it was skipped, or what it registered wrongly
    blocked: bool = False  # skipped because of ZOO_BLOCK_PLUGINS / ZOO_LOAD_PLUGINS

    @property
    def loaded(self) -> bool:
        """True when its hooks ran (it may still have a partial error)."""
        return not self.blocked and self.error is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (used by `zoo plugins --json`)."""
        return {
            "name": self.name,
            "module": self.module,
            "builtin": self.builtin,
            "distribution": self.distribution,
            "version": self.version,
            "providers": list(self.providers),
            "models": list(self.models),
            "error": self.error,
            "blocked": self.blocked,
        }


class PluginHost:
    """Loads plugins, runs their registration hooks, and answers "which provider is X?".

    Args:
        builtins: built-in plugins to register (name -> module); tests pass fewer.
        entry_points: whether to load plugins from the ``zoo`` entry-point group.

    Example:
        >>> host = PluginHost()
        >>> host.provider("keras")
        <KerasAppsProvider 'keras'>
    """

    def __init__(
        self,
        builtins: Mapping[str, str] = BUILTIN_PLUGINS,
        *,
        entry_points: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self._providers: dict[str, list[tuple[str, Provider]]] = {}
        self._models: dict[str, list[tuple[str, ModelSpec]]] = {}
        self._collected = False
        self._probed = False  # zoo plugins asked each plugin's provider to claim PROBE_SOURCE
        self._claim_failed: set[tuple[str, str]] = set()  # (plugin, provider) whose claim failed
        self._block = set(settings.block_plugins())
        self._timeout = settings.plugin_timeout()
        for name, module in builtins.items():
            self._add_builtin(name, module)
        if entry_points:
            self._load_entry_points()

    # -- loading ---------------------------------------------------------------------------

    def add_plugin(
        self,
        plugin: object,
        name: str,
        *,
        builtin: bool = False,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginInfo:
        """Register a plugin object (a module, class or instance with hook implementations)."""
        module = getattr(plugin, "__name__", None) or type(plugin).__module__
        info = PluginInfo(name, module, builtin, distribution, version)
        if name in self._plugins:
            first = self._plugins[name]
            info.error = str(DuplicateNameError("plugin", name, [first.module, module]))
            self._plugins[f"{name} [{module}]"] = info  # keep it visible in `zoo plugins`
            self._report(info)
            return info
        self._plugins[name] = info
        if name in self._block:
            info.blocked = True
            return info
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            info.error = f"invalid plugin: {exc}"
            self._report(info)
            return info
        unknown = [
            caller.name for caller in self.pm.get_hookcallers(plugin) or [] if not caller.has_spec()
        ]
        if unknown:
            self.pm.unregister(plugin)
            hints = []
            for hook in unknown:
                import difflib

                close = difflib.get_close_matches(hook, _hook_names(), n=1)
                hints.append(f"{hook!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            info.error = f"implements unknown hook {', '.join(hints)}; known hooks: " + ", ".join(
                _hook_names()
            )
            self._report(info)
            return info
        self._collected = False
        return info

    def _add_builtin(self, name: str, module_name: str) -> None:
        if name in self._block:
            self._plugins[name] = PluginInfo(name, module_name, builtin=True, blocked=True)
            return
        module = importlib.import_module(module_name)  # a broken built-in is a bug: let it raise
        self.add_plugin(module, name, builtin=True)

    def _load_entry_points(self) -> None:
        allow = settings.load_plugins()
        if allow is not None and not allow:
            return  # ZOO_LOAD_PLUGINS="": no scan at all
        for ep in _entry_points():
            dist_name, version = ep.dist_name, ep.version
            if allow is not None and ep.name not in allow and dist_name not in allow:
                continue
            if ep.name in self._block or (dist_name is not None and dist_name in self._block):
                self._plugins.setdefault(
                    ep.name, PluginInfo(ep.name, ep.value, False, dist_name, version, blocked=True)
                )
                continue
            what = f"importing plugin {ep.name!r}"
            try:
                plugin = bounded(ep.load, self._timeout, what, ep.name)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a broken plugin must not break tfzoo (F23, F31)
                info = PluginInfo(ep.name, ep.value, False, dist_name, version)
                info.error = f"failed to import {ep.value!r}: {failure(exc, self._timeout)}"
                self._plugins.setdefault(ep.name, info)
                self._report(info)
                continue
            self.add_plugin(plugin, ep.name, distribution=dist_name, version=version)

    def _report(self, info: PluginInfo) -> None:
        if info.error is not None and "ZOO_BLOCK_PLUGINS" not in info.error:
            info.error += f"; to skip it without this warning: ZOO_BLOCK_PLUGINS={info.name}"
        warnings.warn(
            f"tfzoo plugin {info.name!r} ({info.module}) skipped: {info.error}",
            PluginWarning,
            stacklevel=3,
        )

    # -- registration hooks ------------------------------------------------------------------

    def _collect(self) -> None:
        if self._collected:
            return
        self._providers = {}
        self._models = {}
        self._probed = False
        for info in self._plugins.values():
            info.providers.clear()
            info.models.clear()
        self._run_hook("zoo_register_providers", self._provider_register)
        self._run_hook("zoo_register_models", self._model_register)
        self._collected = True

    def _run_hook(
        self, hook_name: str, make_register: Callable[[str, list[Any]], Callable[..., None]]
    ) -> None:
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():  # registration order (pluggy calls LIFO)
            info = self._plugins[impl.plugin_name]
            staged: list[Any] = []
            kwargs = {arg: make_register(info.name, staged) for arg in impl.argnames}
            what = f"plugin {info.name!r} running {hook_name}"
            try:
                bounded(functools.partial(impl.function, **kwargs), self._timeout, what, info.name)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the plugin's fault: report, keep the rest working
                failed = failure(exc, self._timeout)
                info.error = f"{hook_name} {'' if isinstance(exc, TimedOut) else 'raised '}{failed}"
                self._report(info)
                continue
            for kind, name, item in staged:
                self._commit(info, kind, name, item)

    def _provider_register(self, plugin: str, staged: list[Any]) -> Callable[..., None]:
        def register(provider: Provider) -> None:
            name = getattr(provider, "name", None)
            if (
                not isinstance(name, str)
                or not name
                or not callable(getattr(provider, "load", None))
            ):
                raise PluginError(
                    f"register() takes a Provider with a non-empty 'name' and a 'load' method; "
                    f"received {provider!r}",
                    plugin=plugin,
                )
            if ":" in name or name != name.strip():
                raise PluginError(
                    f"a provider name may not contain ':'; received {name!r}", plugin=plugin
                )
            # in the plugin's bounded hook thread: its claim_order checked, its claim bounded
            guard_provider(provider, name, plugin, self._timeout, self._on_claim_failure)
            staged.append(("provider", name, provider))

        return register

    def _model_register(self, plugin: str, staged: list[Any]) -> Callable[..., None]:
        def register(name_or_spec: str | ModelSpec, /, **entry: Any) -> None:
            if isinstance(name_or_spec, ModelSpec):
                if entry:
                    raise PluginError("register(spec) takes no keyword arguments", plugin=plugin)
                spec = name_or_spec.replace(origin=f"plugin {plugin}")
            else:
                try:
                    spec = entry_to_spec(
                        name_or_spec, entry, origin=f"plugin {plugin}", path=f"plugin {plugin}"
                    )
                except RegistryError as exc:
                    raise PluginError(str(exc), plugin=plugin) from None
            staged.append(("model", spec.name, spec))

        return register

    def _commit(self, info: PluginInfo, kind: str, name: str, item: Any) -> None:
        if kind == "provider" and (info.name, name) in self._claim_failed:
            return  # its claim() failed in this process: it stays out
        table: dict[str, list[tuple[str, Any]]] = (
            self._providers if kind == "provider" else self._models
        )
        owners = table.setdefault(name, [])
        owners.append((info.name, item))
        (info.providers if kind == "provider" else info.models).append(name)
        if len(owners) == 2:
            warnings.warn(
                str(DuplicateNameError(kind, name, [p for p, _ in owners])),
                PluginWarning,
                stacklevel=4,
            )

    # -- queries -----------------------------------------------------------------------------

    def providers(self) -> list[Provider]:
        """Usable providers in registration order (names registered twice are left out)."""
        self._collect()
        return [owners[0][1] for owners in self._providers.values() if len(owners) == 1]

    def provider_names(self) -> list[str]:
        """Every registered provider name, conflicting ones included."""
        self._collect()
        return list(self._providers)

    def provider(self, name: str) -> Provider:
        """The provider registered under ``name``.

        Raises:
            NoProviderError: nobody registered it (the message lists who did register what).
            PluginLoadError: nobody registered it and a plugin failed to load (a
                NoProviderError too; the message names the plugin and its error).
            DuplicateNameError: two plugins registered it.
        """
        self._collect()
        owners = self._providers.get(name)
        if not owners:
            known = ", ".join(self._providers) or "none"
            hint = ""
            import difflib

            close = difflib.get_close_matches(name, list(self._providers), n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
            failed = self.failed_plugins()
            if failed:
                raise _load_error(
                    name, f"no provider named {name!r}{hint} (registered: {known})", failed
                )
            raise NoProviderError(
                f"no provider named {name!r}{hint} (registered: {known}); a plugin may be "
                "missing: see `zoo plugins`",
                provider=name,
            )
        if len(owners) > 1:
            raise DuplicateNameError("provider", name, [p for p, _ in owners])
        return owners[0][1]

    def failed_plugins(self) -> list[PluginInfo]:
        """Plugins that were meant to load but registered no provider because of an error."""
        self._collect()
        return [i for i in self._plugins.values() if i.error and not i.blocked and not i.providers]

    def failure_note(self) -> str:
        """One sentence naming the plugins that failed to load and why ("" when none did)."""
        failed = self.failed_plugins()
        if not failed:
            return ""
        listed = "; ".join(f"{i.name!r}: {_clip(i.error or '')}" for i in failed)
        return (
            f"Plugins that failed to load, whose models are missing: {listed} (see `zoo plugins`)"
        )

    def provider_conflicts(self) -> list[DuplicateNameError]:
        """One error per provider name two plugins registered (those providers are unusable)."""
        self._collect()
        return [
            DuplicateNameError("provider", name, [p for p, _ in owners])
            for name, owners in self._providers.items()
            if len(owners) > 1
        ]

    def provider_owner(self, name: str) -> str | None:
        """The plugin that registered provider ``name``."""
        self._collect()
        owners = self._providers.get(name)
        return owners[0][0] if owners else None

    def models(self) -> list[ModelSpec]:
        """Plugin-contributed models; for a name two plugins gave, the first one's spec."""
        self._collect()
        return [owners[0][1] for owners in self._models.values()]

    def model_conflict(self, name: str) -> DuplicateNameError | None:
        """The error to raise if plugins disagree on model ``name``, else None."""
        self._collect()
        owners = self._models.get(name, [])
        if len(owners) > 1:
            return DuplicateNameError("model", name, [p for p, _ in owners])
        return None

    def errors(self) -> dict[str, str]:
        """plugin name -> error, for every plugin that was skipped or misbehaved."""
        self._collect()
        return {n: i.error for n, i in self._plugins.items() if i.error}

    def plugin(self, name: str) -> PluginInfo:
        """What is known about plugin ``name`` (KeyError if it was never seen)."""
        self._collect()
        return self._plugins[name]

    def plugin_names(self) -> list[str]:
        """Names of every plugin seen, loaded or not."""
        return list(self._plugins)

    def info(self) -> list[PluginInfo]:
        """Every plugin seen, in registration order (after its hooks ran).

        Each plugin's provider is first asked once to claim a made-up path
        (:data:`~zoo.host.claims.PROBE_SOURCE`), so that ``zoo plugins`` shows a ``claim()``
        that raises or hangs as an error, as the commands it breaks would report it.
        """
        self._collect()
        self._probe_claims()
        return list(self._plugins.values())

    # -- claims (zoo.host.claims puts a bounded claim on every registered provider) ------

    def _on_claim_failure(self, plugin: str, provider: str, what: str) -> None:
        """A provider's claim() raised, hung or answered nonsense: report it, drop it."""
        self._claim_failed.add((plugin, provider))
        owners = [o for o in self._providers.get(provider, []) if o[0] != plugin]
        if owners:
            self._providers[provider] = owners
        else:
            self._providers.pop(provider, None)
        info = self._plugins.get(plugin)
        if info is None:
            return
        if provider in info.providers:
            info.providers.remove(provider)
        info.error = f"provider {provider!r}: claim() {what}"
        self._report(info)

    def _probe_claims(self) -> None:
        if self._probed:
            return
        self._probed = True
        for owners in list(self._providers.values()):
            for plugin, provider in list(owners):
                guard = vars(provider).get("claim")
                if self._plugins[plugin].builtin or not isinstance(guard, GuardedClaim):
                    continue
                with contextlib.suppress(ZooError):  # "mine, and wrong": a working claim()
                    guard(PROBE_SOURCE)


def _load_error(provider: str, missing: str, failed: list[PluginInfo]) -> PluginLoadError:
    """``missing``, then which plugins failed to load and why; ``.plugin`` the likeliest one."""
    names = [i.name for i in failed]
    keys = {i.name: i.name for i in failed} | {
        i.distribution: i.name for i in failed if i.distribution
    }
    import difflib

    close = difflib.get_close_matches(provider, list(keys), n=1, cutoff=0.5)
    likeliest = keys[close[0]] if close else names[0]
    listed = "; ".join(f"{i.name!r}: {_clip(i.error or '')}" for i in failed)
    one = len(failed) == 1
    return PluginLoadError(
        f"{missing}; {'a plugin' if one else 'plugins'} that may provide it failed to load "
        f"({listed}). Fix or reinstall {'it' if one else 'them'} (`zoo plugins` shows the "
        f"state of each), or block {'it' if one else 'one'} with ZOO_BLOCK_PLUGINS={likeliest}",
        plugin=likeliest,
        provider=provider,
    )


def _clip(text: str, limit: int = 300) -> str:
    """A plugin's error as one bounded line (it may quote anything)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass(frozen=True)
class _EntryPoint:
    """One ``zoo`` entry point as scanned (cached between runs by zoo.startup_cache)."""

    name: str  # the entry-point name: the plugin's name
    value: str  # "module" or "module:attribute"
    dist_name: str | None  # the distribution that declares it
    version: str | None  # that distribution's version

    def load(self) -> Any:
        """Import the module and get the attribute, like importlib.metadata.EntryPoint.load."""
        module_name, _, attrs = self.value.partition(":")
        obj: Any = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
        return obj


def _entry_points() -> list[_EntryPoint]:
    """The ``zoo`` entry points of the installed distributions; the scan is cached.

    ``importlib.metadata`` reads every distribution's metadata (and costs an import of the
    email package): most of a command's start-up. The result is kept under ZOO_HOME while no
    directory of ``sys.path`` changes (installing a distribution changes its directory).
    """
    from zoo import startup_cache

    key = startup_cache.path_key()
    # one cache file per sys.path: `python -c` (cwd first) and the `zoo` script (its bin
    # directory first) would otherwise replace each other's scan on every alternation
    name = "\0".join([ENTRY_POINT_GROUP, sys.executable, *sys.path])
    cached = startup_cache.load("plugins", name, key)
    if isinstance(cached, list):
        try:
            return [_EntryPoint(*row) for row in cached]
        except TypeError:
            pass  # another shape: scan again
    import importlib.metadata

    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        found.append(
            _EntryPoint(
                ep.name,
                ep.value,
                dist.metadata["Name"] if dist is not None else None,
                dist.version if dist is not None else None,
            )
        )
    startup_cache.store("plugins", name, key, [list(vars(e).values()) for e in found])
    return found


def _hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("zoo_"))
