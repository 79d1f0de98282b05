"""The one exception tree of tfzoo.

Every error tfzoo raises on purpose is a :class:`ZooError`; callers can catch that one class.
Errors carry context as attributes: every ZooError has ``.model``, ``.provider`` and
``.plugin`` (None when unknown; a Session fills in the model, provider and plugin of an error
raised while it loads a model), and some add their own (``.source``, ``.url``, ``.path``).
Their message says what was wrong, what was received, and what to do.

A class is filed under the room that raises it; a class with two parents is drawn under both
(``tests/test_errors_tree.py`` checks that this drawing is the real class hierarchy)::

    ZooError
    ├── RegistryError              a registry file is unreadable or invalid (.path, .line, .field)
    ├── UnknownModelError          a name is in no registry (.model, .suggestions); LookupError
    ├── InvalidOptionError         an argument/override/option with a bad name or value;
    │                              TypeError and ValueError
    ├── MissingDependencyError     an optional package is needed ("pip install ...")
    ├── PluginError                a plugin misbehaved (.plugin)
    │   ├── PluginLoadError        what was asked for is missing and a plugin failed to load
    │   └── DuplicateNameError     two plugins registered one provider/model name (.plugins)
    ├── ProviderError              a provider could not turn a source into a Backbone
    │   │                          (.provider, .source)
    │   ├── NoProviderError        no registered provider claims the source or has the name
    │   │   └── PluginLoadError    (also a PluginError, above)
    │   ├── SourceNotFoundError    the path / URL / handle does not exist
    │   │   └── RemoteNotFoundError  (also a FetchError, below)
    │   ├── InvalidModelError      the artifact exists but is not a usable model
    │   └── UntrustedModelError    loading would run code nobody vouched for (trust=True)
    ├── FetchError                 a download failed or was refused (.url)
    │   ├── IntegrityError         sha256 or size mismatch (.expected, .received)
    │   ├── OfflineError           ZOO_OFFLINE=1 and the artifact is not cached
    │   ├── UnsafeURLError         scheme, host or redirect refused by policy
    │   ├── ArchiveError           an archive is corrupt, unsafe or too large
    │   ├── LockFileError          ./zoo.lock is unreadable or invalid (.path, .field)
    │   └── RemoteNotFoundError    the server answered 404 or 410 (.url, .source)
    ├── FinetuneError              the fine-tune engine cannot go on
    │   ├── DataError              the data does not fit the backbone or the labels
    │   └── TrainingDivergedError  the loss became NaN or infinite
    └── ExportError                an export could not be written (.report, when one exists)
        └── UnsupportedOpError     a format cannot express an op of the model (.ops, .format,
                                   .working: the formats that were written)

    ZooWarning                     a UserWarning
    └── PluginWarning              a plugin was skipped or refused something

Example:
    >>> try:
    ...     zoo.load_backbone("https://example.org/gone/1")
    ... except zoo.FetchError as exc:  # a 404 is a FetchError (and a SourceNotFoundError)
    ...     print(exc.provider, exc.url)
"""

from __future__ import annotations

import os
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
    "LockFileError",
    "MissingDependencyError",
    "NoProviderError",
    "OfflineError",
    "PluginError",
    "PluginLoadError",
    "PluginWarning",
    "ProviderError",
    "RegistryError",
    "RemoteNotFoundError",
    "SourceNotFoundError",
    "TrainingDivergedError",
    "UnknownModelError",
    "UnsafeURLError",
    "UnsupportedOpError",
    "UntrustedModelError",
    "ZooError",
    "ZooWarning",
]


def brief(value: object, limit: int = 80) -> str:  # a helper, not part of __all__
    """A bounded ``repr(value)``: messages never carry unbounded values (F30).

    ``reprlib`` cuts containers by depth and length before formatting, so a deeply nested or
    huge value (an expanded YAML alias bomb) costs no more than a small one.
    """
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict = 3, 8, 8, 6
    short.maxstring = short.maxother = short.maxlong = limit
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_LISTED = 2000  # directory entries a path hint looks at, at most
_PATH_CHARS = 1024  # a suggested path is quoted whole up to this length


def path_hint(path: str | os.PathLike[str]) -> str:  # a helper, not part of __all__
    """``"; did you mean '.../model.keras'?"`` for a path that does not exist (or ``""``).

    The first missing part of ``path`` is compared with the names in the directory above it
    (at most ``_LISTED`` of them, so a huge directory costs no more than a small one); the
    names are quoted with :func:`brief`, so none prints a control character.
    """
    import difflib
    import itertools
    from pathlib import Path

    try:
        given = Path(path)
        missing, parent, rest = given.name, given.parent, Path()
        while not parent.exists() and parent != parent.parent:
            missing, parent, rest = parent.name, parent.parent, Path(missing) / rest
        if not missing or not parent.is_dir():
            return ""
        with os.scandir(parent) as entries:
            names = [e.name for e in itertools.islice(entries, _LISTED)]
    except (OSError, TypeError, ValueError):
        return ""
    close = difflib.get_close_matches(missing, names, n=2, cutoff=0.6)
    if not close:
        return ""
    shown = (brief(str(parent / c / rest), _PATH_CHARS) for c in close)
    return "; did you mean " + " or ".join(shown) + "?"


class ZooError(Exception):
    """Base class of every error tfzoo raises on purpose.

    ``model``, ``provider`` and ``plugin`` say where it comes from when that is known; the
    Session sets those still None on an error raised while it loads a model.
    """

    model: str | None = None  # the model name (registry name or ad-hoc name)
    provider: str | None = None  # the provider that raised it
    plugin: str | None = None  # the plugin that registered that provider


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
        super().__init__(_located(message, path, line, field))


def _located(message: str, path: str | None, line: int | None, field: str | None) -> str:
    """``file:line: field: message``, the prefix editors jump to."""
    where = ""
    if path is not None:
        where = f"{path}:{line}: " if line is not None else f"{path}: "
    if field is not None:
        where += f"{field}: "
    return where + message


class UnknownModelError(ZooError, LookupError):
    """A model name is in no registry; ``.suggestions`` holds the closest names.

    ``note`` is appended to the message (the Session names plugins that failed to load, whose
    models are missing).
    """

    def __init__(self, model: str, suggestions: Sequence[str] = (), *, note: str = "") -> None:
        self.model = model
        self.suggestions = list(suggestions)
        message = f"unknown model {model!r}"
        if self.suggestions:
            message += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        else:
            message += "; run `zoo list` to see the registered models"
        super().__init__(message + (f". {note}" if note else ""))

    def __str__(self) -> str:  # LookupError would otherwise quote the message like a KeyError
        return str(self.args[0])


class MissingDependencyError(ZooError):
    """An optional package is needed; the message names the pip command.

    Raised by whichever part needs the package (a provider, the engine, the plot, the demo,
    the doctor), so it is not a :class:`ProviderError`.
    """

    def __init__(
        self, message: str, *, provider: str | None = None, source: str | None = None
    ) -> None:
        self.provider = provider
        self.source = source
        super().__init__(message)


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
    """No registered provider claims the source, or none has the name asked for."""


class PluginLoadError(NoProviderError, PluginError):
    """A provider is missing and a plugin that may have registered it failed to load.

    Raised when a provider name nobody registered is asked for while some plugin was skipped
    (it raised on import or in a registration hook); the message names each such plugin and
    its error. ``.plugin`` is the failed plugin whose name is closest to the provider's.
    """

    def __init__(self, message: str, *, plugin: str | None, provider: str | None) -> None:
        super().__init__(message, provider=provider)
        self.plugin = plugin


class SourceNotFoundError(ProviderError):
    """The path, URL or handle does not exist."""


class InvalidModelError(ProviderError):
    """The artifact exists but is not a model the provider can use."""


class UntrustedModelError(ProviderError):
    """Loading the artifact would run code that nobody vouched for."""


class FetchError(ZooError):
    """A download failed or was refused (the download stack, :mod:`zoo.download`)."""

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


class LockFileError(FetchError):
    """The project's ``zoo.lock`` is unreadable or invalid; the message starts ``file: field:``.

    Every fetch reads it (it pins URLs), so a broken one stops downloads: a fetch error.
    """

    def __init__(self, message: str, *, path: str, field: str | None = None) -> None:
        self.path = path
        self.field = field
        super().__init__(_located(message, path, None, field))


class RemoteNotFoundError(FetchError, SourceNotFoundError):
    """The server answered 404 or 410: the URL does not exist (``.url`` and ``.source``)."""

    def __init__(self, message: str, *, url: str, provider: str | None = None) -> None:
        super().__init__(message, url=url)
        self.source = url
        self.provider = provider


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
