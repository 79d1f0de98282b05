"""The specs of one registry file as columns: the form the start-up cache keeps and reads.

A 50,000-entry registry file must list in well under a second once cached, and one Python
object per entry costs more than that. So a cached file is kept as one JSON array per
ModelSpec field (a field whose value is the same for every entry is kept once), and read
back into a :class:`SpecTable`: a read-only sequence of ModelSpecs whose specs are built
only when one is asked for; :class:`zoo.registry.Registry` filters and lists straight from
the columns. No TensorFlow, no PyYAML.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, overload

from zoo.spec import ModelSpec

__all__ = ["FIELD_ORDER", "SpecTable", "decode", "encode"]

#: Every ModelSpec field, in the order the columns are stored.
FIELD_ORDER: tuple[str, ...] = tuple(ModelSpec.__dataclass_fields__)
#: Fields that are tuples in a spec and lists in JSON.
TUPLE_FIELDS = frozenset({"input_shape", "labels", "tags", "aliases"})


class SpecTable(Sequence[ModelSpec]):
    """Read-only ModelSpecs held as columns; ``table[i]`` builds (once) the i-th spec.

    Args:
        count: how many entries.
        same: field -> the value every entry has (tuple fields already tuples).
        each: field -> the list of every entry's value (tuple fields as JSON lists).
    """

    def __init__(self, count: int, same: dict[str, Any], each: dict[str, list[Any]]) -> None:
        self._count = count
        self._same = same
        self._each = each
        self._columns: dict[str, Sequence[Any]] = {}
        self._built: list[ModelSpec | None] = [None] * count
        aliases = same.get("aliases", ())
        #: False when no entry has an alias (the usual case: alias tables skip this file)
        self.has_aliases = "aliases" in each or bool(aliases)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> ModelSpec: ...

    @overload
    def __getitem__(self, index: slice) -> list[ModelSpec]: ...

    def __getitem__(self, index: int | slice) -> ModelSpec | list[ModelSpec]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("SpecTable index out of range")
        spec = self._built[index]
        if spec is None:
            spec = self._build(index)
            self._built[index] = spec
        return spec

    def __iter__(self) -> Iterator[ModelSpec]:
        return (self[i] for i in range(self._count))

    def column(self, field: str) -> Sequence[Any]:
        """Every entry's value of ``field`` (tuple fields as tuples), without building specs."""
        values = self._columns.get(field)
        if values is None:
            if field in self._same:
                values = [self._same[field]] * self._count  # one object, shared: read-only use
            elif field in TUPLE_FIELDS:
                values = [None if v is None else tuple(v) for v in self._each[field]]
            else:
                values = self._each[field]
            self._columns[field] = values
        return values

    def _build(self, i: int) -> ModelSpec:
        values: dict[str, Any] = {}
        for field in FIELD_ORDER:
            if field in self._same:
                value = _fresh(self._same[field])  # each spec gets its own dicts, as if parsed
            else:
                value = self._each[field][i]  # decoded for this entry alone
                if field in TUPLE_FIELDS and value is not None:
                    value = tuple(value)
            values[field] = value
        # The generated __init__ only assigns fields (ModelSpec has no __post_init__); filling
        # __dict__ directly is the same object, without the frozen-dataclass setattr per field.
        spec = object.__new__(ModelSpec)
        spec.__dict__.update(values)
        return spec


def _fresh(value: Any) -> Any:
    """A copy of a JSON value's containers (tuples and scalars are shared as they are)."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def encode(specs: Sequence[ModelSpec]) -> dict[str, Any] | None:
    """The JSON-ready column form of ``specs``; None when JSON cannot hold them unchanged.

    A column whose entries all have the same value (compared as JSON text, so that 1, 1.0
    and true stay apart) is kept once.
    """
    same: dict[str, Any] = {}
    each: dict[str, list[Any]] = {}
    for field in FIELD_ORDER:
        try:  # a value nested too deeply for recursion (a plugin's own spec) is not cached
            values = [_plain(getattr(s, field)) for s in specs]
            texts = {json.dumps(v, sort_keys=True) for v in values}
        except (TypeError, ValueError, RecursionError):
            return None
        if len(texts) == 1:
            same[field] = values[0]
        else:
            each[field] = values
    data = {"fields": list(FIELD_ORDER), "count": len(specs), "same": same, "each": each}
    try:  # cache only what JSON gives back unchanged (no dates, no integer keys, ...)
        if json.loads(json.dumps(data)) != data:
            return None
    except (TypeError, ValueError, RecursionError):
        return None
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def decode(data: object) -> SpecTable | None:
    """The SpecTable of what :func:`encode` stored; None for anything of another shape."""
    if not isinstance(data, dict) or data.get("fields") != list(FIELD_ORDER):
        return None
    count, same, each = data.get("count"), data.get("same"), data.get("each")
    if not (isinstance(count, int) and isinstance(same, dict) and isinstance(each, dict)):
        return None
    if set(same) | set(each) != set(FIELD_ORDER) or set(same) & set(each):
        return None
    if not all(isinstance(v, list) and len(v) == count for v in each.values()):
        return None
    for field in TUPLE_FIELDS & set(same):
        value = same[field]
        if value is not None:
            if not isinstance(value, list):
                return None
            same[field] = tuple(value)
    return SpecTable(count, same, each)
