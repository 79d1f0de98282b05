"""The one table of ModelSpec fields: registry keys and load-time overrides. No TensorFlow.

Each :class:`Field` says how a value is checked (a function that returns the normalized value
or raises ``ValueError`` with the reason), what it means in one line, the type docs show, and
where it may appear: in a registry entry (``registry``), and/or as an override that every
provider accepts (``override``; ``zoo.load_backbone(name, weights=None)``, ``-o KEY=VALUE``).
Everything else is derived from :data:`FIELDS`: the keys a registry entry may hold and their
checks (:func:`zoo.registry.entry_to_spec`), the core overrides and theirs
(:func:`zoo.session.apply_overrides`), and the field table of docs/registry.md
(``python -m tools.docs``). A registry entry and an override of one field therefore fail with
the same reason.

Adding a field is one entry here (plus the :class:`~zoo.spec.ModelSpec` attribute it fills).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zoo.errors import brief
from zoo.spec import (
    PREPROCESSING_MODES,
    check_input_shape,
    check_labels,
    check_layer_ref,
    check_preprocessing,
    check_sha256,
    check_weights,
)

__all__ = [
    "ALIAS_RE",
    "FIELDS",
    "OVERRIDES",
    "REGISTRY_FIELDS",
    "Field",
    "check_aliases",
    "check_mapping",
    "check_positive_int",
    "check_text",
    "check_texts",
]

#: An alias: letters (any case), digits, '_', '.', '-', starting with a letter or digit.
ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Field:
    """One ModelSpec field as registry files and overrides see it."""

    name: str  # the key in a registry entry, the keyword of an override
    type: str  # the type as docs/registry.md shows it
    help: str  # one line: what it means
    check: Callable[[object], Any]  # value -> normalized value (None stays None); ValueError
    registry: bool = True  # a registry entry (or a plugin's) may hold it
    override: bool = False  # every provider accepts it as a load-time override
    required: bool = False  # a registry entry must give it (a non-empty value)
    example: Any = None  # a valid value (the tests feed it through registry and override)


def check_text(value: object) -> str | None:
    """A string (or None)."""
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"expected a string, received {brief(value)} ({type(value).__name__})")


def check_texts(value: object) -> tuple[str, ...] | None:
    """A list of strings (or None)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, received {brief(value)}")
    return tuple(value)


def check_aliases(value: object) -> tuple[str, ...] | None:
    """A list of names matching :data:`ALIAS_RE` (or None)."""
    names = check_texts(value)
    for name in names or ():
        if not ALIAS_RE.match(name):
            raise ValueError(f"invalid value {brief(name)}")
    return names


def check_mapping(value: object) -> dict[str, Any] | None:
    """A mapping (or None), copied to a dict."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping, received {brief(value)}")
    return dict(value)


def check_positive_int(value: object) -> int | None:
    """An integer >= 1 (or None); booleans are not integers here."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"expected a positive integer, received {brief(value)}")


def _table(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


#: Every field, in the order registry errors ("known keys: ...") and docs list them.
FIELDS: Mapping[str, Field] = _table(
    Field(
        "provider",
        "string",
        "name of the provider that loads it (`keras`, `local`, `tfhub`, or a plugin's)",
        check_text,
        required=True,
        example="local",
    ),
    Field(
        "source",
        "string",
        "what the provider loads: function name, path, URL or handle",
        check_text,
        required=True,
        example="./net.keras",
    ),
    Field(
        "weights",
        "string or null",
        "`imagenet`, `null` (random), a local path or an https URL (downloaded through "
        "`zoo.download`)",
        check_weights,
        override=True,
        example="imagenet",
    ),
    Field(
        "sha256",
        "64 hex digits",
        "pin of the downloaded artifact (weights URL or model archive); see docs/security.md",
        check_sha256,
        override=True,
        example="0" * 64,
    ),
    Field(
        "input_shape",
        "`[h, w, c]`",
        "`null` for a free height/width; an override may give `[h, w]` (channels kept)",
        check_input_shape,
        override=True,
        example=[96, 96, 3],
    ),
    Field(
        "preprocessing",
        "mode or mapping",
        "a mode ("
        + ", ".join(f"`{m}`" for m in PREPROCESSING_MODES)
        + ") or a mapping of numbers (below)",
        check_preprocessing,
        override=True,
        example="tf",
    ),
    Field(
        "feature_layer",
        "string or int",
        "layer name, or index into `model.layers` (Python list semantics: `-2` is the second "
        "last) giving the features",
        check_layer_ref,
        override=True,
        example=-2,
    ),
    Field(
        "classifier_layer",
        "string or int",
        "layer name or index of the original classifier, to skip detection",
        check_layer_ref,
        override=True,
        example="predictions",
    ),
    Field(
        "feature_dim",
        "int",
        "width of the pooled features (informational; the tests check it)",
        check_positive_int,
        example=1280,
    ),
    Field(
        "labels",
        "list of strings",
        "class names of the original classifier",
        check_labels,
        override=True,
        example=["cat", "dog"],
    ),
    Field(
        "license",
        "string",
        "SPDX identifier or short licence text",
        check_text,
        example="Apache-2.0",
    ),
    Field(
        "description",
        "string",
        "one line for listings",
        check_text,
        example="a small net",
    ),
    Field(
        "tags",
        "list of strings",
        "tags for `zoo list --tag`",
        check_texts,
        example=["mine"],
    ),
    Field(
        "aliases",
        "list of strings",
        "other names that resolve to this entry (case-insensitive lookup)",
        check_aliases,
        example=["MyNet"],
    ),
    Field(
        "recipe",
        "mapping",
        "fine-tune recipe defaults (the fields of `zoo.Recipe`, see docs/finetune.md)",
        check_mapping,
        example={"epochs": 5},
    ),
    Field(
        "options",
        "mapping",
        "provider-specific arguments (e.g. `include_top`, `pooling`, `alpha` for `keras`; "
        "`signature`, `output_key`, `pooling`, `trust` for `local` and `tfhub`)",
        check_mapping,
        example={"pooling": "max"},
    ),
)

#: The keys a registry entry may hold.
REGISTRY_FIELDS: Mapping[str, Field] = {n: f for n, f in FIELDS.items() if f.registry}
#: The overrides every provider accepts (anything else must be in the provider's ``options``).
OVERRIDES: Mapping[str, Field] = {n: f for n, f in FIELDS.items() if f.override}
