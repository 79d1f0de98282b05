"""Cached registry files as columns (zoo.registry_table) and the Registry that lists from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.registry import LISTED_FIELDS, Registry, load_registry_file, parse_registry_text
from zoo.registry_table import SpecTable, decode, encode
from zoo.spec import ModelSpec

TEXT = """
models:
  net_a:
    provider: keras
    source: ResNet50
    input_shape: [224, 224, 3]
    tags: [cnn, imagenet]
    options: {alpha: 1}
    license: MIT
  net_b:
    provider: keras
    source: VGG16
    input_shape: [224, 224, 3]
    tags: [cnn, imagenet]
    options: {alpha: 1.0}
    license: MIT
    aliases: [bee]
  net_c:
    provider: tfhub
    source: https://example.com/c.tar.gz
    preprocessing: {mode: tf, scale: 2.0}
    labels: [cat, dog]
    options: {alpha: true}
    license: MIT
"""


def table_of(text: str = TEXT) -> tuple[list[ModelSpec], SpecTable]:
    specs = parse_registry_text(text, "/r/reg.yaml")
    data = encode(specs)
    assert data is not None
    table = decode(json.loads(json.dumps(data)))  # as read back from the cache file
    assert table is not None
    return specs, table


def test_round_trip_gives_the_same_specs() -> None:
    specs, table = table_of()
    assert len(table) == 3
    assert list(table) == specs
    assert table[-1] == specs[-1] and table[0:2] == specs[0:2]
    assert isinstance(table[0].input_shape, tuple) and isinstance(table[2].labels, tuple)
    with pytest.raises(IndexError):
        table[3]


def test_a_column_the_same_everywhere_is_stored_once_and_1_10_true_stay_apart() -> None:
    specs, _ = table_of()
    data = encode(specs)
    assert data is not None
    assert data["same"]["license"] == "MIT" and "license" not in data["each"]
    assert data["each"]["options"] == [{"alpha": 1}, {"alpha": 1.0}, {"alpha": True}]
    _, table = table_of()
    values = [s.options["alpha"] for s in table]
    assert [type(v) for v in values] == [int, float, bool]


def test_built_specs_do_not_share_mutable_values() -> None:
    text = "models:\n" + "".join(
        f"  n{i}:\n    provider: keras\n    source: X\n    options: {{k: [1]}}\n" for i in range(3)
    )
    _, table = table_of(text)
    first, second = table[0], table[1]
    assert first.options == second.options
    first.options["k"].append(2)  # type: ignore[index]
    assert second.options == {"k": [1]}


def test_decode_refuses_other_shapes() -> None:
    specs, _ = table_of()
    data = encode(specs)
    assert data is not None
    assert decode({"fields": data["fields"], "rows": []}) is None  # the first cache format
    assert decode(None) is None and decode([]) is None
    broken = json.loads(json.dumps(data))
    broken["each"]["name"] = broken["each"]["name"][:1]  # a column of another length
    assert decode(broken) is None


def test_registry_from_a_table_lists_filters_and_overrides_like_specs() -> None:
    specs, table = table_of()
    from_table = Registry(table)
    from_specs = Registry(specs)
    for pattern, kwargs in [(None, {}), ("bee", {}), ("NET_*", {}), (None, {"tag": "cnn"})]:
        expected = from_specs.select(pattern, **kwargs)  # type: ignore[arg-type]
        assert from_table.select(pattern, **kwargs) == expected  # type: ignore[arg-type]
        listed = from_table.listing(pattern, **kwargs)  # type: ignore[arg-type]
        assert listed["name"] == [s.name for s in expected]
        for field in LISTED_FIELDS:
            assert listed[field] == [getattr(s, field) for s in expected], field
    assert from_table.find("bee") == specs[1] and from_table.get("NET_C") == specs[2]
    assert from_table.find_by_source("keras", "VGG16") == specs[1]
    assert from_table.suggest("net_") == from_specs.suggest("net_")

    later = ModelSpec("net_a", "keras", "Xception", tags=("override",))
    from_table.add(later)
    assert from_table.get("net_a") is later
    assert [s.name for s in from_table] == ["net_b", "net_c", "net_a"]  # overrides move last
    again = Registry([later])
    again.extend(table)  # a table overrides an earlier spec the same way
    assert again.get("net_a") == specs[0] and [s.name for s in again] == ["net_a", "net_b", "net_c"]


def test_load_registry_file_reads_the_cache_back_as_a_table(isolated: Path) -> None:
    path = isolated / "reg.yaml"
    path.write_text(TEXT)
    first = load_registry_file(path)  # parsed, then cached
    second = load_registry_file(path)
    assert isinstance(second, SpecTable) and list(second) == list(first)
