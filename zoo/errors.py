"""The one exception tree of tfzoo.

Every error tfzoo raises on purpose is a :class:`ZooError`; callers can catch that one class.
Errors carry context as attributes (``.model``, ``.provider``, ``.plugin``, ``.source``,
``.url``) and their message says what was wrong, what was received, and what to do::

    ZooError
    ├── RegistryError              a registry file is unreadable or invalid (.path, .line, .field)
    ├── UnknownModelError          a name is in no registry (.model, .suggestions); LookupError
    ├── InvalidOptionError         an argument/override/option with a bad name or value;
    │                              TypeError and ValueError
    ├── PluginError                a plugin misbehaved (.plugin)
    │   ├── PluginLoadError        an entry point failed to import or register
    │   └── DuplicateNameError     two plugins registered one provider/model name (.plugins)
    ├── ProviderError              a provider could not turn a source into a Backbone
    │   │                          (.provider, .source)
    │   ├── NoProviderError        no registered provider claims the source
    │   ├── SourceNotFoundError    the path / URL / handle does not exist
    │   ├── InvalidModelError      the artifact exists but is not a usable model
    │   ├── UntrustedModelError    loading would run code nobody vouched for (trust=True)
    │   └── MissingDependencyError an optional package is needed ("pip install ...")
    ├── FetchError                 a download failed (.url)
    │   ├── IntegrityError         sha256 or size mismatch (.expected, .received)
    │   ├── OfflineError           ZOO_OFFLINE=1 and the artifact is not cached
    │   ├── UnsafeURLError         scheme, host or redirect refused by policy
    │   └── ArchiveError           an archive is corrupt, unsafe or too large
    ├── FinetuneError              the fine-tune engine cannot go on
    │   ├── DataError              the data does not fit the backbone or the labels
    │   └── TrainingDivergedError  the loss became NaN or infinite
    └── ExportError                an export could not be written (.report, when one exists)
        └── UnsupportedOpError     a format cannot express an op of the model (.ops, .format,
                                   .working: the formats that were written)

Warnings: ``ZooWarning`` (a UserWarning) and ``PluginWarning`` for plugins that were skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ArchiveError",
    "DataError",
    "DuplicateNameError",
    "ExportError",
    "FetchError",
    "FinetuneError",
    "IntegrityError",
    "InvalidModelError",
    "InvalidOptionError",
    "MissingDependencyError",
    "NoProviderError",
    "OfflineError",
    "PluginError",
    "PluginLoadError",
    "PluginWarning",
    "ProviderError",
    "RegistryError",
    "SourceNotFoundError",
    "TrainingDivergedError",
    "UnknownModelError",
    "UnsafeURLError",
    "UnsupportedOpError",
    "UntrustedModelError",
    "ZooError",
    "ZooWarning",
]


class ZooError(Exception):
    """Base class of every error tfzoo raises on purpose."""


class RegistryError(ZooError):
    """A registry file is unreadable or one of its entries is invalid.

    The message starts with ``file:line: field:`` so editors can jump to it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        if field is not None:
            where += f"{field}: "
        super().__init__(where + message)


class UnknownModelError(ZooError, LookupError):
    """A model name is in no registry; ``.suggestions`` holds the closest names."""

    def __init__(self, model: str, suggestions: Sequence[str] = ()) -> None:
        self.model = model
        self.suggestions = list(suggestions)
        message = f"unknown model {model!r}"
        if self.suggestions:
            message += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        else:
            message += "; run `zoo list` to see the registered models"
        super().__init__(message)

    def __str__(self) -> str:  # LookupError would otherwise quote the message like a KeyError
        return str(self.args[0])


class InvalidOptionError(ZooError, TypeError, ValueError):
    """An argument, override or registry option with a bad name or value."""

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        self.provider = provider
        super().__init__(message)


class PluginError(ZooError):
    """A plugin failed to load or registered something invalid."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(message)


class PluginLoadError(PluginError):
    """An entry-point plugin raised on import or broke the hook contract."""


class DuplicateNameError(PluginError):
    """Two plugins registered the same provider or model name."""

    def __init__(self, kind: str, name: str, plugins: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.plugins = list(plugins)
        listed = " and ".join(repr(p) for p in self.plugins)
        super().__init__(
            f"{kind} {name!r} is registered by both {listed}; block one of them with "
            f"ZOO_BLOCK_PLUGINS={self.plugins[-1]}",
            plugin=self.plugins[-1],
        )


class ProviderError(ZooError):
    """A provider could not turn a source into a Backbone."""

    def __init__(
        self, message: str, *, provider: str | None = None, source: str | None = None
    ) -> None:
        self.provider = provider
        self.source = source
        super().__init__(message)


class NoProviderError(ProviderError):
    """No registered provider claims the source."""


class SourceNotFoundError(ProviderError):
    """The path, URL or handle does not exist."""


class InvalidModelError(ProviderError):
    """The artifact exists but is not a model the provider can use."""


class UntrustedModelError(ProviderError):
    """Loading the artifact would run code that nobody vouched for."""


class MissingDependencyError(ProviderError):
    """An optional package is needed; the message names the pip command."""


class FetchError(ZooError):
    """A download failed."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(message)


class IntegrityError(FetchError):
    """The bytes received do not match the pinned sha256 or the announced size."""

    def __init__(
        self, message: str, *, url: str | None = None, expected: str = "", received: str = ""
    ) -> None:
        self.expected = expected
        self.received = received
        super().__init__(message, url=url)


class OfflineError(FetchError):
    """Offline mode is on and the artifact is not in the cache."""


class UnsafeURLError(FetchError):
    """A URL, redirect or host was refused by the download policy."""


class ArchiveError(FetchError):
    """An archive is corrupt, holds unsafe members, or expands beyond the cap."""


class FinetuneError(ZooError):
    """The fine-tune engine cannot go on."""


class DataError(FinetuneError):
    """The training data does not fit the backbone or the labels."""


class TrainingDivergedError(FinetuneError):
    """The loss became NaN or infinite."""


class ExportError(ZooError):
    """An export could not be written; ``.report`` holds what was (an ExportReport) or None."""

    def __init__(self, message: str, *, report: object = None) -> None:
        self.report = report
        super().__init__(message)


class UnsupportedOpError(ExportError):
    """A format cannot express an op of the model; the other formats were still written."""

    def __init__(
        self,
        message: str,
        *,
        ops: Sequence[str] = (),
        format: str | None = None,
        working: Sequence[str] = (),
        report: object = None,
    ) -> None:
        self.ops = list(ops)
        self.format = format
        self.working = list(working)
        super().__init__(message, report=report)


class ZooWarning(UserWarning):
    """Base class of tfzoo's warnings."""


class PluginWarning(ZooWarning):
    """A plugin was skipped or refused something; the rest of tfzoo keeps working."""
