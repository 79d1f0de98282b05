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

import difflib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import RegistryError, UnknownModelError
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
_TOP_LEVEL = {"version", "models", "registries"}


class _Mapping(dict[Any, Any]):
    """A dict that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


# libyaml's parser is ~6x faster than PyYAML's pure-Python one; the constructor stays the safe one.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """Safe YAML loader that records line numbers and refuses duplicate keys."""

    zoo_path: str | None = None  # the file being read, for error messages

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> _Mapping:
        self.flatten_mapping(node)
        result = _Mapping()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in result:
                raise RegistryError(
                    f"duplicate key {key!r} (first on line {result.key_lines[key]})",
                    path=self.zoo_path,
                    line=line,
                    field=str(key),
                )
            result[key] = self.construct_object(value_node, deep=deep)
            result.key_lines[key] = line
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
)


def parse_registry_text(text: str, path: str) -> list[ModelSpec]:
    """Parse and validate the text of one registry file; ``path`` is used in messages."""
    loader = _LineLoader(text)
    loader.zoo_path = path
    try:
        data = loader.get_single_data()
    except RegistryError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RegistryError(
            f"not valid registry YAML: {exc.problem or exc}", path=path, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"not valid registry YAML: {exc}", path=path) from None
    finally:
        loader.dispose()
    if data is None:
        return []
    if not isinstance(data, _Mapping):
        raise RegistryError(
            f"a registry file is a mapping with a 'models:' key, received {type(data).__name__}",
            path=path,
            line=1,
        )
    for key in data:
        if key not in _TOP_LEVEL:
            raise RegistryError(
                f"unknown top-level key; expected one of {sorted(_TOP_LEVEL)}",
                path=path,
                line=data.key_lines[key],
                field=str(key),
            )
    if data.get("version", 1) != 1:
        raise RegistryError(
            f"unsupported registry version {data['version']!r}; this tfzoo reads version 1",
            path=path,
            line=data.key_lines["version"],
            field="version",
        )
    models = data.get("models")
    if models is None:
        return []
    if not isinstance(models, _Mapping):
        raise RegistryError(
            "'models' must be a mapping from name to entry",
            path=path,
            line=data.key_lines["models"],
            field="models",
        )
    specs = []
    for name, entry in models.items():
        line = models.key_lines[name]
        if not isinstance(entry, _Mapping):
            raise RegistryError(
                f"an entry is a mapping, received {type(entry).__name__}",
                path=path,
                line=line,
                field=f"models.{name}",
            )
        specs.append(
            entry_to_spec(
                name, entry, origin=f"{path}:{line}", path=path, line=line, lines=entry.key_lines
            )
        )
    return specs


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
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(
            f"cannot read registry file: {exc.strerror or exc}", path=str(p)
        ) from None
    except UnicodeDecodeError:
        raise RegistryError("registry file is not UTF-8 text", path=str(p)) from None
    return parse_registry_text(text, str(p))


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
            f"(team/my_model:2); received {name!r}"
        )
    unknown = [k for k in entry if k not in REGISTRY_FIELDS]
    if unknown:
        key = str(unknown[0])
        close = difflib.get_close_matches(key, REGISTRY_FIELDS, n=1)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else f"; known keys: {', '.join(REGISTRY_FIELDS)}"
        )
        raise fail(f"unknown key {key!r}{hint}", key)
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

    Errors in the rest of the file are left to :func:`parse_registry_text` to report.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    loader = _LineLoader(text)
    loader.zoo_path = str(path)
    try:
        data = loader.get_single_data()
    except (yaml.YAMLError, RegistryError):
        return []
    finally:
        loader.dispose()
    if not isinstance(data, _Mapping) or data.get("registries") is None:
        return []
    items = data["registries"]
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise RegistryError(
            f"'registries' is a list of registry file paths or URLs, received {items!r}"[:300],
            path=str(path),
            line=data.key_lines["registries"],
            field="registries",
        )
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
