"""The YAML side of registry files: a safe, line-recording loader and the alias-bomb bound.

Split from zoo.registry so that PyYAML is imported only when a file is really parsed: a
command whose registry files are all in the start-up cache (zoo.startup_cache) never needs it.
"""

from __future__ import annotations

from typing import Any

import yaml

from zoo.errors import RegistryError, brief
from zoo.registry import MAX_ALIAS_EXPANSION, TOP_LEVEL, entry_to_spec
from zoo.spec import ModelSpec

__all__ = ["parse_registry_text", "registry_yaml_error", "safe_load_bounded"]


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
            try:
                hash(key)
            except TypeError:  # `? [a, b]` or `? {a: 1}`: a key must be a plain value
                kind = "mapping" if isinstance(key, dict) else type(key).__name__
                raise RegistryError(
                    f"a key is a name or another plain value, not a {kind}",
                    path=self.zoo_path,
                    line=line,
                ) from None
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


def _check_expansion(node: yaml.Node | None, path: str) -> None:
    """Refuse a document whose aliases expand it by more than MAX_ALIAS_EXPANSION nodes.

    Sizes are memoized per node, so measuring a bomb costs as little as its text; a node that
    contains itself (a recursive alias) is refused too.
    """
    if node is None:
        return
    sizes: dict[int, int] = {}
    distinct = 0
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        key = id(current)
        children: list[yaml.Node] = []
        if isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        elif isinstance(current, yaml.MappingNode):
            children = [n for pair in current.value for n in pair]
        if done:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in sizes:
            continue
        if key in open_:
            raise RegistryError(
                "a YAML alias refers to a node that contains it (a recursive structure)",
                path=path,
                line=current.start_mark.line + 1,
            )
        distinct += 1
        open_.add(key)
        stack.append((current, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    if sizes[id(node)] > distinct + MAX_ALIAS_EXPANSION:
        raise RegistryError(
            f"YAML aliases expand this file to {sizes[id(node)]:,} nodes from {distinct:,} "
            f"written ones (more than {MAX_ALIAS_EXPANSION:,} added): refused as an alias "
            "bomb; write the repeated values out, or share fewer of them",
            path=path,
        )


def safe_load_bounded(text: str, path: str) -> Any:
    """``yaml.safe_load`` of ``text``, refusing alias bombs as the registry loader does
    (RegistryError naming ``path``); for other YAML files tfzoo reads (architectures)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if "*" in text:
            _check_expansion(node, path)
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def registry_yaml_error(exc: yaml.YAMLError, path: str, text: str = "") -> RegistryError:
    """The RegistryError (naming ``path`` and, when known, the line) of a YAML error in
    ``text``."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return RegistryError(f"not valid registry YAML: {exc.problem or exc}", path=path, line=line)
    if isinstance(exc, yaml.reader.ReaderError):  # a control character or bad encoding
        character = exc.character
        shown = f"#x{character:04x}" if isinstance(character, int) else repr(character)
        line = text.count("\n", 0, exc.position) + 1 if text else None
        return RegistryError(
            f"not valid registry YAML: unacceptable character {shown}: {exc.reason}",
            path=path,
            line=line,
        )
    return RegistryError(f"not valid registry YAML: {exc}", path=path)


def parse_registry_text(text: str, path: str) -> list[ModelSpec]:
    """Parse and validate the text of one registry file; ``path`` is used in messages."""
    loader = _LineLoader(text)
    loader.zoo_path = path
    try:
        node = loader.get_single_node()
        if "*" in text:  # no alias without a '*': most files skip the walk
            _check_expansion(node, path)
        data = loader.construct_document(node) if node is not None else None
    except RegistryError:
        raise
    except yaml.YAMLError as exc:
        raise registry_yaml_error(exc, path, text) from None
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
        if key not in TOP_LEVEL:
            raise RegistryError(
                f"unknown top-level key; expected one of {sorted(TOP_LEVEL)}",
                path=path,
                line=data.key_lines[key],
                field=str(key),
            )
    if data.get("version", 1) != 1:
        raise RegistryError(
            f"unsupported registry version {brief(data['version'])}; this tfzoo reads version 1",
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


def registries_of(text: str, path: str) -> list[str]:
    """The ``registries:`` list of a registry file's text (empty when it has none).

    Errors in the rest of the file are left to :func:`parse_registry_text` to report.
    """
    if "registries" not in text:
        return []
    loader = _LineLoader(text)
    loader.zoo_path = path
    try:
        node = loader.get_single_node()
        if "*" in text:
            _check_expansion(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError:
        return []
    finally:
        loader.dispose()
    if not isinstance(data, _Mapping) or data.get("registries") is None:
        return []
    items = data["registries"]
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise RegistryError(
            f"'registries' is a list of registry file paths or URLs, received {brief(items)}",
            path=path,
            line=data.key_lines["registries"],
            field="registries",
        )
    return list(items)
