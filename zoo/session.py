"""The Session: a plugin host plus the merged registry; names -> specs -> Backbones.

A :class:`Session` ties a :class:`~zoo.host.manager.PluginHost` to the merged
:class:`~zoo.registry.Registry`. Every layer above takes the Session it is given (the engine,
prefetch/lock planning, the CLI); the module-level functions in :mod:`zoo.api` use one default
session, built on first use (``reset()`` forgets it, e.g. after changing ``ZOO_REGISTRY``).
Only ``load_backbone`` and ``create`` import TensorFlow, and only when they run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from zoo.errors import (
    InvalidOptionError,
    NoProviderError,
    PluginError,
    UnknownModelError,
    ZooError,
    brief,
)
from zoo.fields import OVERRIDES
from zoo.host.manager import PluginHost
from zoo.registry import Registry, load_registry_file, registry_locations, slug
from zoo.spec import InputSpec, ModelSpec, check_input_shape

if TYPE_CHECKING:
    import keras

    from zoo.host.provider import Provider
    from zoo.model.backbone import Backbone

__all__ = [
    "CORE_OVERRIDES",
    "Resolved",
    "Session",
    "apply_overrides",
    "default_session",
    "reset",
]

#: Overrides every provider accepts -> their help (derived from zoo.fields.OVERRIDES);
#: anything else must be in the provider's ``options``.
CORE_OVERRIDES: Mapping[str, str] = {name: f.help for name, f in OVERRIDES.items()}


class Resolved(NamedTuple):
    """A source resolved once: its spec (overrides applied), its provider, and the object.

    ``obj`` is what the user passed when it was an object rather than a name (a
    ``keras.Model``); it travels beside the spec, never inside it, so specs stay plain data.
    """

    spec: ModelSpec
    provider: Provider
    obj: object = None


class Session:
    """A plugin host plus the registry merged from every source.

    Args:
        host: the plugin host; a default one (built-ins + entry points) when omitted.
        cwd: the project directory: its ``zoo.yaml`` is read and ``zoo.lock`` written there;
            the working directory when omitted.
        registry_files: the registry files (paths or URLs) merged after the packaged
            catalogue and the plugins' models, in order; when omitted, the user's file,
            ``<cwd>/zoo.yaml`` and ``ZOO_REGISTRY`` (see :func:`zoo.registry.registry_locations`).

    Example:
        >>> session = Session(PluginHost(entry_points=False), registry_files=["team.yaml"])
        >>> session.load_backbone("team_net")  # doctest: +SKIP
    """

    def __init__(
        self,
        host: PluginHost | None = None,
        *,
        cwd: Path | None = None,
        registry_files: Sequence[str | Path] | None = None,
    ) -> None:
        self.host = host if host is not None else PluginHost()
        self._cwd = cwd
        self._files = None if registry_files is None else [str(f) for f in registry_files]
        self._registry: Registry | None = None

    @property
    def cwd(self) -> Path:
        """The project directory (``zoo.yaml``, ``zoo.lock``)."""
        return self._cwd if self._cwd is not None else Path.cwd()

    def registry_files(self) -> list[str]:
        """The registry files merged after the packaged one and the plugins, in order."""
        return list(self._files) if self._files is not None else registry_locations(self._cwd)

    @property
    def registry(self) -> Registry:
        """The merged registry (built on first use)."""
        if self._registry is None:
            from zoo.settings import packaged_registry

            registry = Registry(load_registry_file(packaged_registry()))
            registry.extend(self.host.models())
            for location in self.registry_files():
                registry.extend(load_registry_file(location))
            self._registry = registry
        return self._registry

    # -- names -------------------------------------------------------------------------------

    def list_models(
        self, pattern: str | None = None, *, provider: str | None = None, tag: str | None = None
    ) -> list[ModelSpec]:
        """Registered models matching ``pattern`` (fnmatch on names and aliases)."""
        return self.registry.select(pattern, provider=provider, tag=tag)

    def get_spec(self, name: str) -> ModelSpec:
        """The ModelSpec registered under ``name`` or an alias."""
        spec = self.registry.get(name)
        self._check_conflict(spec)
        return spec

    def _check_conflict(self, spec: ModelSpec) -> None:
        if spec.origin.startswith("plugin "):
            conflict = self.host.model_conflict(spec.name)
            if conflict is not None:
                raise conflict

    # -- sources -----------------------------------------------------------------------------

    def spec_for(self, source: object) -> ModelSpec:
        """The ModelSpec for a registry name, ``provider:source``, path, URL or object."""
        if isinstance(source, ModelSpec):
            return source
        if isinstance(source, str):
            if not source.strip():
                raise UnknownModelError(source)
            found = self.registry.find(source)
            if found is not None:
                self._check_conflict(found)
                return found
            prefix, sep, rest = source.partition(":")
            if sep and rest and prefix in self.host.provider_names():
                claimed = self.host.provider(prefix).claim(rest)
                if isinstance(claimed, ModelSpec):
                    return claimed
                return self._adhoc(prefix, claimed or rest)
        for provider in sorted(self.host.providers(), key=lambda p: p.claim_order):
            claimed = provider.claim(source)
            if isinstance(claimed, ModelSpec):
                return claimed
            if claimed is not None:
                return self._adhoc(provider.name, claimed)
        conflicts = self.host.provider_conflicts()
        if conflicts and _looks_like_a_location(source):
            raise conflicts[0]  # a provider left out for a name clash ("local") might claim it
        if isinstance(source, str):
            raise UnknownModelError(
                source, self.registry.suggest(source), note=self.host.failure_note()
            )
        raise NoProviderError(
            f"no provider accepts a {type(source).__name__} object; pass a registry name, a "
            "path, a URL or 'provider:source'",
        )

    def _adhoc(self, provider: str, source: str) -> ModelSpec:
        entry = self.registry.find_by_source(provider, source)
        if entry is not None:
            return entry
        return ModelSpec(name=_adhoc_name(source), provider=provider, source=source)

    def resolve(self, source: object, overrides: Mapping[str, Any]) -> Resolved:
        """The spec (with overrides applied and checked), its provider, and an object source."""
        spec = self.spec_for(source)
        provider = self.host.provider(spec.provider)
        obj = None if isinstance(source, (str, os.PathLike, ModelSpec)) else source
        return Resolved(apply_overrides(spec, provider, overrides), provider, obj)

    def load_backbone(self, source: object, **overrides: Any) -> Backbone:
        """See :func:`zoo.load_backbone`."""
        from zoo.model.backbone import Backbone

        if isinstance(source, Backbone):
            if overrides:
                raise InvalidOptionError(
                    f"overrides {sorted(overrides)} cannot apply to an already loaded Backbone"
                )
            return source
        return self.load_resolved(*self.resolve(source, overrides))

    def load_resolved(self, spec: ModelSpec, provider: Provider, obj: object = None) -> Backbone:
        """Load what :meth:`resolve` returned (so nothing is resolved twice).

        A :class:`~zoo.errors.ZooError` raised on the way names the model, the provider and
        its plugin (``.model``, ``.provider``, ``.plugin``) where the raiser left them unset:
        shared code (downloads, SavedModel loading) does not know who called it.
        """
        from zoo.download.lockfile import project_directory

        try:
            with project_directory(self._cwd):  # this project's zoo.lock pins the downloads
                return self._load(spec, provider, obj)
        except ZooError as exc:
            if exc.model is None:
                exc.model = spec.name
            if exc.provider is None:
                exc.provider = provider.name
            if exc.plugin is None:
                exc.plugin = self.host.provider_owner(provider.name)
            raise

    def _load(self, spec: ModelSpec, provider: Provider, obj: object) -> Backbone:
        from zoo.download.pins import hashes_required, require_pins
        from zoo.model.backbone import Backbone

        if hashes_required() and not provider.pins_checked_on_load:
            require_pins(provider.artifacts(spec))  # all pinned, or nothing is downloaded
        backbone = provider.load(spec) if obj is None else provider.load_object(obj, spec)
        if not isinstance(backbone, Backbone):
            owner = self.host.provider_owner(provider.name)
            raise PluginError(
                f"provider {provider.name!r} returned {type(backbone).__name__}; a provider's "
                "load() must return a zoo.Backbone",
                plugin=owner,
            )
        return backbone

    def create(
        self,
        source: object,
        num_classes: int,
        *,
        dropout: float = 0.0,
        hidden_units: Sequence[int] = (),
        classifier_activation: str | None = "softmax",
        preprocess: bool = True,
        **overrides: Any,
    ) -> keras.Model:
        """See :func:`zoo.create`."""
        from zoo.model.head import build_classifier

        return build_classifier(
            self.load_backbone(source, **overrides),
            num_classes,
            dropout=dropout,
            hidden_units=hidden_units,
            classifier_activation=classifier_activation,
            preprocess=preprocess,
        )


def apply_overrides(spec: ModelSpec, provider: Provider, overrides: Mapping[str, Any]) -> ModelSpec:
    """Check overrides (and the spec's own options) against what the provider accepts."""
    accepted = {**OVERRIDES, **dict(getattr(provider, "options", {}) or {})}
    for key, where in [(k, "override") for k in overrides] + [
        (k, f"option of {spec.name!r} ({spec.origin})") for k in spec.options
    ]:
        if key not in accepted:
            import difflib

            close = difflib.get_close_matches(key, list(accepted), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InvalidOptionError(
                f"provider {provider.name!r} does not accept the {where} {key!r}; {hint}"
                f"accepted: {', '.join(sorted(accepted))}",
                provider=provider.name,
            )
    channels = spec.input_shape[2] if spec.input_shape else 3
    checks: dict[str, Callable[[object], Any]] = {
        **{name: f.check for name, f in OVERRIDES.items()},
        "input_shape": lambda v: check_input_shape(v, channels=channels),  # (h, w) keeps C
    }
    if spec.options.get("trust") and not overrides.get("trust"):
        _check_trust_origin(spec)
    changes: dict[str, Any] = {}
    options = dict(spec.options)
    for key, value in overrides.items():
        if key not in OVERRIDES:
            options[key] = value
            continue
        try:
            changes[key] = checks[key](value)
        except ValueError as exc:
            raise InvalidOptionError(
                f"the override {key}={brief(value)} is invalid: {exc}"
            ) from None
    result = spec.replace(**changes, options=options)
    if "input_shape" in changes or "preprocessing" in changes:
        _check_channels(result)
    return result


def _check_channels(spec: ModelSpec) -> None:
    """Per-channel preprocessing numbers must fit the channel count an override asks for."""
    if spec.input_shape is None or spec.preprocessing is None:
        return
    channels = spec.input_shape[2]
    numbers = InputSpec.from_preprocessing(spec.preprocessing, shape=spec.input_shape)
    per_channel = max(len(numbers.mean), len(numbers.std))
    bgr = numbers.channel_order == "bgr"
    if per_channel in (1, channels) and not (bgr and channels != 3):
        return
    what = f"{per_channel} per-channel means/stds" if per_channel > 1 else "a BGR channel order"
    raise InvalidOptionError(
        f"input_shape {spec.input_shape} has {channels} channel(s) but the preprocessing of "
        f"{spec.name!r} ({brief(spec.preprocessing)}) has {what}: its weights expect RGB. Keep "
        "3 channels (tfzoo turns grayscale images into RGB itself when fine-tuning or "
        "building a classifier), or also override preprocessing with one mean and std"
    )


def _looks_like_a_location(source: object) -> bool:
    """A path, URL or object rather than a registry name (a clashing provider may own it)."""
    if not isinstance(source, str):
        return True
    return not re.fullmatch(r"[A-Za-z0-9_.\-]+", source) or Path(source).exists()


def _check_trust_origin(spec: ModelSpec) -> None:
    """Only the user's own files, plugins or a pinned registry may set ``trust`` (F19)."""
    from zoo.download.pins import unpinned_remote_registry
    from zoo.errors import UntrustedModelError

    url = unpinned_remote_registry(spec.origin)
    if url is not None:
        raise UntrustedModelError(
            f"{spec.name!r} comes from the unpinned remote registry {url}, which sets "
            "'trust: true'; a registry that can change under you cannot vouch for a program. "
            "Pin the registry (#sha256=... in ZOO_REGISTRY, or `zoo lock`), or pass trust=True "
            "yourself",
            provider=spec.provider,
            source=spec.source,
        )


def _adhoc_name(source: str) -> str:
    tail = source.rstrip("/").rsplit("/", 1)[-1] or source
    tail = re.sub(r"\.(keras|h5|hdf5|tar\.gz|tgz|zip)$", "", tail)
    return slug(tail)


_session: Session | None = None


def default_session() -> Session:
    """The session the module-level functions use (built on first call)."""
    global _session
    if _session is None:
        _session = Session()
    return _session


def reset() -> None:
    """Forget the default session: plugins and registry files are read again on next use."""
    global _session
    _session = None
