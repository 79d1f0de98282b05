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
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from zoo.errors import RegistryError, UnknownModelError, brief
from zoo.fields import REGISTRY_FIELDS
from zoo.spec import ModelSpec

__all__ = [
    "ENTRY_FIELDS",
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


def parse_registry_text(text: str, path: str) -> list[ModelSpec]:
    """Parse and validate the text of one registry file; ``path`` is used in messages."""
    from zoo.registry_yaml import parse_registry_text as parse  # PyYAML only when parsing

    return parse(text, path)


#: Seconds a remote registry file (an https URL in ZOO_REGISTRY) is used before it is
#: downloaded again; offline, the cached copy is used whatever its age.
REMOTE_REGISTRY_MAX_AGE = 3600.0


def load_registry_file(path: str | os.PathLike[str]) -> list[ModelSpec]:
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


#: ModelSpec fields that are tuples in a spec and lists in JSON.
_TUPLE_FIELDS = ("input_shape", "labels", "tags", "aliases")


def _parse_cached(raw: bytes, path: str) -> list[ModelSpec]:
    """Parse and validate a file's bytes, or reuse the result cached for exactly these bytes.

    A 50,000-entry file takes seconds to parse and validate; its cached specs load in a
    fraction of that (zoo.startup_cache). Only files that parsed without error are cached,
    so every error is raised (with file and line) on every run.
    """
    import hashlib

    from zoo import startup_cache

    key = hashlib.blake2b(raw, digest_size=20).hexdigest()
    cached = startup_cache.load("registry", path, key)
    if isinstance(cached, dict) and cached.get("fields") == list(_FIELD_ORDER):
        try:
            return [_spec_from_row(row) for row in cached["rows"]]
        except (TypeError, ValueError, KeyError):
            pass  # another shape: parse again
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RegistryError("registry file is not UTF-8 text", path=path) from None
    specs = parse_registry_text(text, path)
    # rows of field values in a fixed order: no key strings to decode 50,000 times
    plain = {"fields": list(_FIELD_ORDER), "rows": [list(s.to_dict().values()) for s in specs]}
    import json

    try:  # cache only what JSON gives back unchanged (no dates, no integer keys, ...)
        if json.loads(json.dumps(plain)) == plain:
            startup_cache.store("registry", path, key, plain)
    except (TypeError, ValueError):
        pass
    return specs


def _spec_from_row(row: list[Any]) -> ModelSpec:
    """A ModelSpec from its cached row (values in ``_FIELD_ORDER``)."""
    if len(row) != len(_FIELD_ORDER):
        raise ValueError("a cached row of another length")
    for i in _TUPLE_POSITIONS:
        if row[i] is not None:
            row[i] = tuple(row[i])
    # The generated __init__ only assigns fields (ModelSpec has no __post_init__); filling
    # __dict__ directly is the same object at a fraction of the cost, for 50,000 entries.
    spec = object.__new__(ModelSpec)
    spec.__dict__.update(zip(_FIELD_ORDER, row, strict=True))
    return spec


_FIELD_ORDER = tuple(ModelSpec.__dataclass_fields__)
_TUPLE_POSITIONS = tuple(_FIELD_ORDER.index(name) for name in _TUPLE_FIELDS)


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
        if value is not None:  # absent: the ModelSpec default ("", (), {} or None)
            values[key] = value
    base_dir = str(Path(path).parent) if path and "://" not in str(path) else None
    return ModelSpec(name=name, **values, origin=origin, base_dir=base_dir)


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
    items = registries_of(text, str(path))
    return [i if "://" in i else str(path.parent / Path(i).expanduser()) for i in items]


class Registry:
    """Named ModelSpecs with aliases; later additions override earlier ones by name."""

    def __init__(self, specs: Iterable[ModelSpec] = ()) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self._aliases: dict[str, str] | None = None
        for spec in specs:
            self.add(spec)

    def add(self, spec: ModelSpec) -> None:
        """Add or override (by name) one spec."""
        self._specs.pop(spec.name, None)  # re-insert so listing order follows the override
        self._specs[spec.name] = spec
        self._aliases = None

    def extend(self, specs: Iterable[ModelSpec]) -> None:
        """Add several specs in order."""
        for spec in specs:
            self.add(spec)

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    @property
    def aliases(self) -> dict[str, str]:
        """alias -> name; a real name always wins over another model's alias."""
        if self._aliases is None:
            table: dict[str, str] = {}
            for spec in self._specs.values():
                for alias in spec.aliases:
                    if alias not in self._specs:
                        table[alias] = spec.name
            self._aliases = table
        return self._aliases

    def find(self, name: str) -> ModelSpec | None:
        """The spec for a name or alias (exact first, then case-insensitive), or None."""
        if name in self._specs:
            return self._specs[name]
        if name in self.aliases:
            return self._specs[self.aliases[name]]
        lowered = name.lower()
        for candidate in (*self._specs, *self.aliases):
            if candidate.lower() == lowered:
                return self._specs[self.aliases.get(candidate, candidate)]
        return None

    def get(self, name: str) -> ModelSpec:
        """The spec for a name or alias; raises UnknownModelError with the closest names."""
        spec = self.find(name)
        if spec is None:
            raise UnknownModelError(name, self.suggest(name))
        return spec

    def find_by_source(self, provider: str, source: str) -> ModelSpec | None:
        """The entry a raw ``provider:source`` corresponds to, so ad-hoc use keeps metadata."""
        for spec in self._specs.values():
            if spec.provider == provider and spec.source == source:
                return spec
        return None

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The registered names closest to ``name``."""
        candidates = {c.lower(): c for c in (*self._specs, *self.aliases)}
        import difflib

        close = difflib.get_close_matches(name.lower(), list(candidates), n=n, cutoff=0.6)
        names: list[str] = []
        for c in close:
            resolved = self.aliases.get(candidates[c], candidates[c])
            if resolved not in names:
                names.append(resolved)
        return names

    def select(
        self,
        pattern: str | None = None,
        *,
        provider: str | None = None,
        tag: str | None = None,
    ) -> list[ModelSpec]:
        """Specs whose name or alias matches ``pattern`` (fnmatch), sorted by name."""
        out = [
            s
            for s in self._specs.values()
            if (pattern is None or s.matches(pattern))
            and (provider is None or s.provider == provider)
            and (tag is None or tag in s.tags)
        ]
        return sorted(out, key=lambda s: s.name)
