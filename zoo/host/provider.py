"""The Provider base class: what a plugin hands the host through ``zoo_register_providers``.

A provider turns a :class:`~zoo.spec.ModelSpec` into a :class:`~zoo.model.backbone.Backbone`.
It must be cheap to construct and to ask :meth:`Provider.claim`: neither may import
TensorFlow, because listing models and resolving names must stay fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from zoo.download.artifact import Artifact
    from zoo.model.backbone import Backbone
    from zoo.spec import ModelSpec


def __getattr__(name: str) -> object:
    # Artifact is re-exported on first use: importing zoo.download (its fetcher, filelock,
    # the HTTP stack) was a third of every command's start-up, `zoo list` included
    if name == "Artifact":
        from zoo.download.artifact import Artifact

        return Artifact
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Artifact", "Provider"]


class Provider:
    """Base class of providers. Subclass it, set ``name``, implement :meth:`load`.

    Example:
        >>> class Mine(Provider):
        ...     name = "mine"
        ...     def load(self, spec):
        ...         ...  # build a keras.Model from spec.source, return Backbone.from_model(...)
    """

    #: Unique provider name; also the prefix of raw sources (``"mine:<source>"``).
    name: ClassVar[str] = ""
    #: One line for ``zoo plugins``.
    description: ClassVar[str] = ""
    #: Provider-specific options a registry entry (``options:``) or an override may set,
    #: mapped to a one-line help text. Anything else is refused with a "did you mean".
    options: ClassVar[Mapping[str, str]] = {}
    #: Providers are asked to claim a raw source in increasing ``claim_order`` (then in
    #: registration order). A catch-all claim (any path, like the built-in ``local``) sets a
    #: high value so that providers recognizing something specific are asked first. A finite
    #: number: anything else is refused when the provider registers.
    claim_order: ClassVar[int] = 0
    #: True when :meth:`load` downloads at most one artifact and only through
    #: ``zoo.download.fetch`` (which refuses it unpinned in require-hashes mode): the Session
    #: then skips asking :meth:`artifacts` before loading, which may cost a model build.
    pins_checked_on_load: ClassVar[bool] = False

    def claim(self, source: object) -> str | ModelSpec | None:
        """Say whether a raw source (not a registry name) is for this provider.

        Called with what the user passed to ``zoo.load_backbone`` when it is neither a
        registry name nor ``"<provider>:<source>"`` (then with the part after the colon).
        Return the normalized source string to claim it (it becomes ``ModelSpec.source``;
        a registry entry with the same provider and source lends its metadata), a complete
        ModelSpec, or None to let the next provider look. Must be cheap and must not import
        TensorFlow. The default claims nothing. When ``source`` is an object (not a string
        or path), :meth:`load_object` receives it. Each call is bounded by
        ``ZOO_PLUGIN_TIMEOUT``; one that raises anything but a ZooError, times out or returns
        something else is reported and the provider is not asked again.
        """
        return None

    def artifacts(self, spec: ModelSpec) -> list[Artifact]:
        """The files loading ``spec`` downloads, without downloading them. Default: none."""
        return []

    def load(self, spec: ModelSpec) -> Backbone:
        """Load the model that ``spec`` describes and return it as a Backbone.

        Raise a :class:`~zoo.errors.ProviderError` subclass naming the source when it cannot.
        """
        raise NotImplementedError(f"provider {self.name!r} does not implement load()")

    def load_object(self, obj: object, spec: ModelSpec) -> Backbone:
        """Load an object the user passed (one :meth:`claim` accepted), e.g. a ``keras.Model``.

        ``spec`` is what :meth:`claim` returned, with overrides applied. The object is handed
        over beside the spec, never inside it. Default: ``load(spec)`` (the claimed source
        string says everything, as for a ``keras.applications`` function).
        """
        return self.load(spec)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
