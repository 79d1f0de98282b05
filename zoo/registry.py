"""Registry files: read, validate and merge them; look names up. Pure Python, no TensorFlow.

A registry file is YAML with a top-level ``models:`` mapping from name to entry (schema in
docs/registry.md). Files are read with safe loading only; every error names file, line and
field. Later sources override earlier ones by name, in this order:

1. the packaged ``registry.yaml``
2. models contributed by plugins (``zoo_register_models``)
3. the user's file, ``ZOO_HOME/registry.yaml``
4. ``./zoo.yaml`` in the working directory
5. each entry of ``ZOO_REGISTRY`` (``os.pathsep``-separated; an entry may be an https URL,
   fetched and cached through ``zoo.download.fetcher``)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.errors import RegistryError, UnknownModelError, brief
from zoo.fields import REGISTRY_FIELDS
from zoo.registry_table import SpecTable
from zoo.spec import ModelSpec

__all__ = [
    "ENTRY_FIELDS",
    "LISTED_FIELDS",
    "Registry",
    "entry_to_spec",
    "included_registries",
    "load_registry_file",
    "parse_registry_text",
    "registry_locations",
    "slug",
]

#: A name: ``inception_v3``; published models add a namespace and a version tag
#: (``team/my_model``, ``team/my_model:2``, see ``zoo publish``).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*(/[a-z0-9][a-z0-9_.\-]*)?(:[0-9]+)?$")
ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def slug(text: str, default: str = "model") -> str:
    """``text`` as a model name (matching NAME_RE): lower case, other characters -> "_"."""
    return re.sub(r"[^a-z0-9_.\-]+", "_", text.lower()).strip("_.-") or default


#: Every key an entry may hold -> its one-line help (derived from zoo.fields.FIELDS).
ENTRY_FIELDS: Mapping[str, str] = {name: f.help for name, f in REGISTRY_FIELDS.items()}
TOP_LEVEL = {"version", "models", "registries"}


#: How many nodes YAML aliases may add to a file once expanded ("billion laughs", F30): a
#: registry that shares a block between entries stays far below; a 1 KB bomb is refused.
MAX_ALIAS_EXPANSION = 100_000

#: How deep lists and mappings may nest in one value of an entry (``options``, ``recipe``): a
#: provider's arguments nest a few levels; hundreds would overflow the stack of every recursive
#: reader (copies, JSON, the start-up cache) instead of failing here with file and line.
MAX_VALUE_DEPTH = 64


def parse_registry_text(text: str, path: str) -> list[ModelSpec]:
    """Parse and validate the text of one registry file; ``path`` is used in messages."""
    from zoo.registry_yaml import parse_registry_text as parse  # PyYAML only when parsing

    return parse(text, path)


#: Seconds a remote registry file (an https URL in ZOO_REGISTRY) is used before it is
#: downloaded again; offline, the cached copy is used whatever its age.
REMOTE_REGISTRY_MAX_AGE = 3600.0


def load_registry_file(path: str | os.PathLike[str]) -> Sequence[ModelSpec]:
    """Read one registry file from disk, or from an https URL through ``zoo.download.fetcher``.

    A URL may be pinned with a ``#sha256=<hex>`` fragment or by ``zoo.lock``; unpinned, it is
    refreshed after ``REMOTE_REGISTRY_MAX_AGE`` seconds.
    """
    if isinstance(path, str) and "://" in path:
        from zoo.download.fetcher import fetch
        from zoo.errors import FetchError, IntegrityError, ZooWarning

        try:
            local = fetch(path, kind="registry", max_age=REMOTE_REGISTRY_MAX_AGE)
        except FetchError as exc:
            if isinstance(exc, IntegrityError):
                raise
            try:  # unreachable: an older cached copy beats no registry at all
                local = fetch(path, kind="registry")
            except FetchError:
                raise exc from None
            import warnings

            warnings.warn(
                f"could not refresh the registry {path} ({exc}); using the cached copy",
                ZooWarning,
                stacklevel=2,
            )
        try:
            text = local.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RegistryError("registry file is not UTF-8 text", path=path) from None
        return parse_registry_text(text, path)
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise RegistryError(
            f"cannot read registry file: {exc.strerror or exc}", path=str(p)
        ) from None
    return _parse_cached(raw, str(p))


def _parse_cached(raw: bytes, path: str) -> Sequence[ModelSpec]:
    """Parse and validate a file's bytes, or reuse the result cached for exactly these bytes.

    A 50,000-entry file takes seconds to parse and validate; its cached columns
    (:mod:`zoo.registry_table`) load in a fraction of that, and build a ModelSpec only for
    the entries asked for. Only files that parsed without error are cached, so every error
    is raised (with file and line) on every run.
    """
    from zoo import registry_table, startup_cache

    key = startup_cache.digest(raw, 20)
    table = registry_table.decode(startup_cache.load("registry", path, key))
    if table is not None:
        return table
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RegistryError("registry file is not UTF-8 text", path=path) from None
    specs = parse_registry_text(text, path)
    encoded = registry_table.encode(specs)
    if encoded is not None:
        startup_cache.store("registry", path, key, encoded)
    return specs


def entry_to_spec(
    name: object,
    entry: Mapping[str, Any],
    *,
    origin: str,
    path: str | None = None,
    line: int | None = None,
    lines: Mapping[Any, int] | None = None,
) -> ModelSpec:
    """Validate one entry (from YAML or a plugin) and build its ModelSpec.

    ``line`` is the line of the entry's name, ``lines`` the line of each of its keys.
    """
    lines = lines or {}
    base_line = line

    def fail(message: str, key: str | None = None) -> RegistryError:
        line = lines.get(key, base_line) if key is not None else base_line
        field = f"models.{name}" + (f".{key}" if key is not None else "")
        return RegistryError(message, path=path, line=line, field=field)

    if not isinstance(name, str) or not NAME_RE.match(name):
        raise fail(
            "a model name is lower case letters, digits, '_', '.' or '-', starting with a letter "
            "or digit, optionally after one 'namespace/' and before a ':<version>' "
            f"(team/my_model:2); received {brief(name)}"
        )
    unknown = [k for k in entry if k not in REGISTRY_FIELDS]
    if unknown:
        key = str(unknown[0])[:200]
        import difflib

        close = difflib.get_close_matches(key, REGISTRY_FIELDS, n=1)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else f"; known keys: {', '.join(REGISTRY_FIELDS)}"
        )
        raise fail(f"unknown key {brief(key)}{hint}", key)
    for key, field in REGISTRY_FIELDS.items():
        if field.required and entry.get(key) in (None, ""):
            raise fail(f"missing required key {key!r}")
    values: dict[str, Any] = {}
    for key, field in REGISTRY_FIELDS.items():
        try:
            value = field.check(entry.get(key))
        except ValueError as exc:
            raise fail(str(exc), key) from None
        if isinstance(value, (dict, list, tuple)) and _depth(value) > MAX_VALUE_DEPTH:
            raise fail(f"lists and mappings nest more than {MAX_VALUE_DEPTH} levels deep here", key)
        if value is not None:  # absent: the ModelSpec default ("", (), {} or None)
            values[key] = value
    base_dir = str(Path(path).parent) if path and "://" not in str(path) else None
    return ModelSpec(name=name, **values, origin=origin, base_dir=base_dir)


def _depth(value: object) -> int:
    """How deep lists, tuples and mappings nest in ``value`` (a scalar: 0), without recursion;
    it stops counting past MAX_VALUE_DEPTH."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Iterable[object] = [*current.keys(), *current.values()]
        elif isinstance(current, (list, tuple)):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_VALUE_DEPTH:  # a cycle (a plugin's own value) ends here too
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def registry_locations(cwd: Path | None = None) -> list[str]:
    """The registry files after the packaged one and the plugins, in merge order.

    Only existing files are returned, except entries of ``ZOO_REGISTRY`` which must exist.
    """
    from zoo.settings import registry_entries, user_registry

    cwd = cwd or Path.cwd()
    found: list[str] = []
    for candidate in (user_registry(), cwd / "zoo.yaml"):
        if candidate.is_file():
            found.extend(included_registries(candidate))  # before it: its own entries win
            found.append(str(candidate))
    found.extend(registry_entries())
    return found


def included_registries(path: Path) -> list[str]:
    """The ``registries:`` list of a local registry file (``zoo.yaml``): URLs, or paths
    relative to the file, e.g. a team registry ``https://models.example.com/registry.yaml``.
    """
    from zoo.registry_yaml import registries_of  # PyYAML only when a file is read

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    from zoo.settings import expand_user

    def refuse(reason: str) -> RegistryError:
        return RegistryError(
            f"an entry of 'registries' {reason}", path=str(path), field="registries"
        )

    items = registries_of(text, str(path))
    return [i if "://" in i else str(path.parent / expand_user(Path(i), refuse)) for i in items]


#: The fields :meth:`Registry.listing` returns besides ``name``: what ``zoo list`` shows.
LISTED_FIELDS = ("provider", "input_shape", "feature_dim", "license", "tags")
#: The fields a Registry keeps as columns: what listing, filtering and lookups read.
_COLUMNS = (*LISTED_FIELDS, "aliases", "source")


class Registry:
    """Named ModelSpecs with aliases; later additions override earlier ones by name.

    Entries are numbered rows of columns (:data:`_COLUMNS`); a cached registry file (a
    :class:`~zoo.registry_table.SpecTable`) is added by extending each column with its own,
    and its ModelSpecs are built only when asked for. Filtering (:meth:`select`) and listing
    (:meth:`listing`) read the columns, so ``zoo list`` builds no spec per entry.
    """

    def __init__(self, specs: Iterable[ModelSpec] = ()) -> None:
        self._index: dict[str, int] = {}  # name -> row (insertion order is listing order)
        self._columns: dict[str, list[Any]] = {field: [] for field in _COLUMNS}
        self._built: list[ModelSpec | None] = []  # row -> its spec, once built
        self._tables: list[tuple[int, SpecTable]] = []  # (first row, table), by first row
        self._aliases: dict[str, str] | None = None
        self.extend(specs)

    def add(self, spec: ModelSpec) -> None:
        """Add or override (by name) one spec."""
        row = len(self._built)
        for field, column in self._columns.items():
            column.append(getattr(spec, field))
        self._built.append(spec)
        self._index.pop(spec.name, None)  # re-insert so listing order follows the override
        self._index[spec.name] = row
        self._aliases = None

    def extend(self, specs: Iterable[ModelSpec]) -> None:
        """Add several specs in order."""
        if not isinstance(specs, SpecTable):
            for spec in specs:
                self.add(spec)
            return
        names = specs.column("name")
        if len(set(names)) != len(names):  # never from a valid file; keep add()'s meaning
            for spec in specs:
                self.add(spec)
            return
        first = len(self._built)
        for field, column in self._columns.items():
            column.extend(specs.column(field))
        self._built.extend([None] * len(names))
        self._tables.append((first, specs))
        for name in self._index.keys() & set(names):
            del self._index[name]  # overridden: re-inserted at the end, as add() does
        self._index.update(zip(names, range(first, first + len(names)), strict=True))
        self._aliases = None

    def _spec(self, name: str) -> ModelSpec:
        """The spec of the entry ``name`` (built now if it came from a table)."""
        row = self._index[name]
        spec = self._built[row]
        if spec is None:
            import bisect

            at = bisect.bisect_right(self._tables, row, key=lambda t: t[0]) - 1
            first, table = self._tables[at]
            spec = self._built[row] = table[row - first]
        return spec

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self) -> Iterator[ModelSpec]:
        for name in list(self._index):
            yield self._spec(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    @property
    def aliases(self) -> dict[str, str]:
        """alias -> name; a real name always wins over another model's alias."""
        if self._aliases is None:
            table: dict[str, str] = {}
            column = self._columns["aliases"]
            for name, row in self._index.items():
                for alias in column[row]:
                    if alias not in self._index:
                        table[alias] = name
            self._aliases = table
        return self._aliases

    def find(self, name: str) -> ModelSpec | None:
        """The spec for a name or alias (exact first, then case-insensitive), or None."""
        if name in self._index:
            return self._spec(name)
        if name in self.aliases:
            return self._spec(self.aliases[name])
        lowered = name.lower()
        for candidate in (*self._index, *self.aliases):
            if candidate.lower() == lowered:
                return self._spec(self.aliases.get(candidate, candidate))
        return None

    def get(self, name: str) -> ModelSpec:
        """The spec for a name or alias; raises UnknownModelError with the closest names."""
        spec = self.find(name)
        if spec is None:
            raise UnknownModelError(name, self.suggest(name))
        return spec

    def find_by_source(self, provider: str, source: str) -> ModelSpec | None:
        """The entry a raw ``provider:source`` corresponds to, so ad-hoc use keeps metadata."""
        providers, sources = self._columns["provider"], self._columns["source"]
        for name, row in self._index.items():
            if providers[row] == provider and sources[row] == source:
                return self._spec(name)
        return None

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The registered names closest to ``name``."""
        candidates = {c.lower(): c for c in (*self._index, *self.aliases)}
        import difflib

        close = difflib.get_close_matches(name.lower(), list(candidates), n=n, cutoff=0.6)
        names: list[str] = []
        for c in close:
            resolved = self.aliases.get(candidates[c], candidates[c])
            if resolved not in names:
                names.append(resolved)
        return names

    def _matching(self, pattern: str | None, provider: str | None, tag: str | None) -> list[str]:
        """Sorted names of the entries :meth:`select` returns (see ModelSpec.matches)."""
        if pattern is None and provider is None and tag is None:
            return sorted(self._index)
        match = None
        if pattern is not None:  # what fnmatchcase does, compiled once for every entry
            import fnmatch

            match = re.compile(fnmatch.translate(pattern.lower())).match
        providers, tags, aliases = (self._columns[f] for f in ("provider", "tags", "aliases"))
        names = []
        for name, row in self._index.items():
            if provider is not None and providers[row] != provider:
                continue
            if tag is not None and tag not in tags[row]:
                continue
            if match is not None and not (
                match(name.lower()) or any(match(a.lower()) for a in aliases[row])
            ):
                continue
            names.append(name)
        names.sort()
        return names

    def select(
        self,
        pattern: str | None = None,
        *,
        provider: str | None = None,
        tag: str | None = None,
    ) -> list[ModelSpec]:
        """Specs whose name or alias matches ``pattern`` (fnmatch), sorted by name."""
        return [self._spec(name) for name in self._matching(pattern, provider, tag)]

    def listing(
        self,
        pattern: str | None = None,
        *,
        provider: str | None = None,
        tag: str | None = None,
    ) -> dict[str, list[Any]]:
        """:meth:`select`'s entries as columns (``name`` and :data:`LISTED_FIELDS`), sorted
        by name, read from the columns without building a spec per entry.
        """
        names = self._matching(pattern, provider, tag)
        rows = list(map(self._index.__getitem__, names))
        listed: dict[str, list[Any]] = {"name": names}
        for field in LISTED_FIELDS:
            listed[field] = list(map(self._columns[field].__getitem__, rows))
        return listed
