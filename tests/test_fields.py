"""zoo.fields: one table drives registry validation, override checks and the docs' field table.

Each test here fails when a field is added in one place only: to ModelSpec but not the table,
to the table without a check that both registry files and overrides apply, or without docs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from zoo.errors import InvalidOptionError, RegistryError
from zoo.fields import FIELDS, OVERRIDES, REGISTRY_FIELDS
from zoo.registry import entry_to_spec, parse_registry_text
from zoo.session import Session, apply_overrides
from zoo.spec import ModelSpec

BASE = {"provider": "local", "source": "./net.keras"}


def test_every_modelspec_field_is_in_the_table_and_back() -> None:
    attributes = {f.name for f in dataclasses.fields(ModelSpec)} - {"name", "origin", "base_dir"}
    assert attributes == set(FIELDS)


def test_every_field_has_help_type_check_and_a_valid_example() -> None:
    for name, field in FIELDS.items():
        assert field.name == name and field.help and field.type and "\n" not in field.help
        assert field.example is not None, f"{name}: give an example value"
        field.check(field.example)  # the example passes its own check
        assert field.check(None) is None  # absent means "not given" for every field
    assert all(f.registry for f in OVERRIDES.values())  # an override is a registry field too


@pytest.mark.parametrize("name", sorted(REGISTRY_FIELDS))
def test_every_registry_field_reads_from_a_yaml_file_into_the_spec(name: str) -> None:
    field = FIELDS[name]
    entry = {**BASE, name: field.example}
    text = yaml.safe_dump({"models": {"net": entry}})
    (spec,) = parse_registry_text(text, "zoo.yaml")
    assert getattr(spec, name) == field.check(field.example)


@pytest.mark.parametrize("name", sorted(REGISTRY_FIELDS))
def test_every_registry_field_refuses_a_bad_value_naming_the_field(name: str) -> None:
    bad = object()  # no check accepts an arbitrary object
    with pytest.raises(RegistryError) as info:
        entry_to_spec("net", {**BASE, name: bad}, origin="plugin x", path="p.yaml", line=3)
    assert f"models.net.{name}:" in str(info.value)


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_an_override_fails_with_the_same_reason_as_its_registry_field(
    name: str, session: Session
) -> None:
    bad = object()
    with pytest.raises(RegistryError) as registry_error:
        entry_to_spec("net", {**BASE, name: bad}, origin="plugin x")
    reason = str(registry_error.value).split(f"models.net.{name}: ", 1)[1]
    for provider in session.host.providers():
        spec = ModelSpec(name="net", provider=provider.name, source="x")
        with pytest.raises(InvalidOptionError) as override_error:
            apply_overrides(spec, provider, {name: bad})
        assert str(override_error.value) == f"the override {name}={bad!r} is invalid: {reason}"


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_every_provider_accepts_every_core_override(name: str, session: Session) -> None:
    example = FIELDS[name].example
    for provider in session.host.providers():
        spec = ModelSpec(name="net", provider=provider.name, source="x", input_shape=(8, 8, 3))
        changed = apply_overrides(spec, provider, {name: example})
        assert getattr(changed, name) == FIELDS[name].check(example)
        assert name not in changed.options


def test_a_registry_only_field_is_not_a_core_override(session: Session) -> None:
    provider = session.host.provider("local")
    spec = ModelSpec(name="net", provider="local", source="x")
    with pytest.raises(InvalidOptionError, match="does not accept the override 'description'"):
        apply_overrides(spec, provider, {"description": "x"})


def test_unknown_key_lists_the_table(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as info:
        parse_registry_text("models:\n  net: {provider: local, source: x, zzz: 1}\n", "z.yaml")
    assert f"known keys: {', '.join(REGISTRY_FIELDS)}" in str(info.value)


@pytest.mark.parametrize("name", [n for n, f in FIELDS.items() if f.required])
def test_required_fields_are_required(name: str) -> None:
    entry = {k: v for k, v in BASE.items() if k != name}
    with pytest.raises(RegistryError, match=f"missing required key '{name}'"):
        entry_to_spec("net", entry, origin="plugin x")
