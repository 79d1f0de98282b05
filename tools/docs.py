"""Generate the reference sections of docs/*.md from the code, so they cannot drift.

Each generated block lives in a document between ``<!-- BEGIN GENERATED: <section> -->`` and
``<!-- END GENERATED: <section> -->``; this module rewrites those blocks, and a test fails
while a file differs from what it writes. :data:`DOCUMENTS` says which sections each file has:

- docs/plugins.md: the hook specifications (each hook's docstring in :mod:`zoo.host.hookspecs`),
  the :class:`~zoo.host.provider.Provider` base class (its ``#:`` comments, its methods) and
  what :mod:`zoo.plugin_api` re-exports (each name's summary line);
- docs/settings.md: every environment setting (:data:`zoo.settings.SETTINGS`, ``EXTERNAL``);
- docs/registry.md: the entry fields and overrides (:data:`zoo.fields.FIELDS`);
- docs/cli.md: the ``zoo finetune`` flags derived from :class:`zoo.finetune.recipe.Recipe`.

::

    python -m tools.docs            # rewrite every generated document
    python -m tools.docs --check    # exit 1 if one of them is out of date

No TensorFlow is imported here.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import zoo.plugin_api
from zoo import fields, settings
from zoo.host import hookspecs
from zoo.host.provider import Provider

__all__ = [
    "DOCS",
    "DOCUMENTS",
    "GUIDE",
    "SECTIONS",
    "field_reference",
    "finetune_flag_reference",
    "hook_reference",
    "main",
    "plugin_api_reference",
    "provider_reference",
    "refresh",
    "render",
    "settings_reference",
]

#: The docs directory of a source checkout (docs are not part of the wheel).
DOCS = Path(__file__).resolve().parent.parent / "docs"
#: The plugin author's guide.
GUIDE = DOCS / "plugins.md"

_BEGIN = "<!-- BEGIN GENERATED: {} (python -m tools.docs; do not edit by hand) -->"
_END = "<!-- END GENERATED: {} -->"


def _markdown(doc: str) -> str:
    """Hookspec docstring conventions -> Markdown (roles, ``literals``, fields, examples)."""
    out: list[str] = []
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):  # a literal block follows: fence it
            head = line.rstrip()[:-2].rstrip()
            if head:
                out.append(_inline(head) + ":")
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i][4:])
                i += 1
            while block and not block[0].strip():
                block.pop(0)
            while block and not block[-1].strip():
                block.pop()
            out += ["", "```python", *block, "```", ""]
            continue
        field = re.match(r"^:param (\w+): (.*)$", line)
        if field:
            out.append(f"- **`{field.group(1)}`**: {_inline(field.group(2))}")
        elif line.startswith(":return:"):
            out.append(f"- **returns**: {_inline(line[len(':return:') :].strip())}")
        else:
            out.append(_inline(line))
        i += 1
    return "\n".join(out).strip() + "\n"


def _inline(text: str) -> str:
    text = re.sub(r":(?:class|func|meth|mod|data):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _signature(fn: Callable[..., object]) -> str:
    return f"{fn.__name__}{inspect.signature(fn)}".replace("'", "")


def hook_reference() -> str:
    """Markdown for every hook in :mod:`zoo.host.hookspecs`, in definition order."""
    hooks = [
        obj
        for name, obj in vars(hookspecs).items()
        if name.startswith("zoo_") and inspect.isfunction(obj)
    ]
    parts = []
    for hook in hooks:
        parts.append(f"### `{hook.__name__}`\n\n```python\n{_signature(hook)}\n```\n")
        parts.append(_markdown(inspect.getdoc(hook) or ""))
    return "\n".join(parts)


def _attribute_comments(cls: type) -> list[tuple[str, str, str]]:
    """(name, annotation, comment) of class attributes documented with ``#:`` comments."""
    found = []
    comment: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            comment.append(stripped[2:].strip())
            continue
        match = re.match(r"^(\w+): (.+?) = ", stripped)
        if match and comment:
            found.append((match.group(1), match.group(2), " ".join(comment)))
        comment = []
    return found


def provider_reference() -> str:
    """Markdown for :class:`zoo.Provider`: its attributes and overridable methods."""
    parts = ["| attribute | type | meaning |", "| --- | --- | --- |"]
    for name, annotation, comment in _attribute_comments(Provider):
        parts.append(f"| `{name}` | `{annotation}` | {_inline(comment)} |")
    parts.append("")
    for method in ("claim", "load", "artifacts"):
        fn = getattr(Provider, method)
        parts.append(f"#### `Provider.{_signature(fn)}`\n")
        parts.append(_markdown(inspect.getdoc(fn) or ""))
    return "\n".join(parts)


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def settings_reference() -> str:
    """Markdown tables of :data:`zoo.settings.SETTINGS` and :data:`zoo.settings.EXTERNAL`."""
    parts = [
        "| variable | accepts | default | what it does | read by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in settings.SETTINGS.values():
        default = s.default_text or f"`{str(s.default).lower()}`"
        parts.append(
            f"| `{s.name}` | {_cell(settings.KINDS[s.kind])} | {_cell(default)} | "
            f"{_cell(s.help)} | {_cell(s.used_by)} |"
        )
    parts += [
        "",
        "Variables of other tools that tfzoo honours (their owners define them):",
        "",
        "| variable | default | what tfzoo does with it | read by |",
        "| --- | --- | --- | --- |",
    ]
    for s in settings.EXTERNAL.values():
        parts.append(
            f"| `{s.name}` | {_cell(s.default_text)} | {_cell(s.help)} | {_cell(s.used_by)} |"
        )
    return "\n".join(parts)


def field_reference() -> str:
    """Markdown table of :data:`zoo.fields.FIELDS` (registry keys and core overrides)."""
    parts = [
        "| field | type | override | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for f in fields.FIELDS.values():
        override = "yes" if f.override else ""
        kind = f.type + (", required" if f.required else "")
        parts.append(f"| `{f.name}` | {_cell(kind)} | {override} | {_cell(f.help)} |")
    return "\n".join(parts)


def finetune_flag_reference() -> str:
    """Markdown table of ``zoo finetune``'s recipe flags, one per Recipe field."""
    from zoo.cli.recipe_options import default_text, option_table

    parts = [
        "| flag | value | default | meaning | Recipe field |",
        "| --- | --- | --- | --- | --- |",
    ]
    for option in option_table():
        f = option.field
        names = (
            [f"{option.names[0]}/--no-{option.names[0][2:]}"]
            if option.is_flag
            else list(option.names)
        )
        flags = ", ".join(f"`{n}`" for n in names)
        if option.spelling.flag is not None:
            flag, same = option.spelling.flag
            flags += f"; `{flag}` (= `{same}`)"
        value = option.type_text
        if option.spelling.values:
            value += " (also " + ", ".join(f"`{v}`" for v in option.spelling.values) + ")"
        default = default_text(f.default)
        parts.append(
            f"| {flags} | {_cell(value)} | {_cell(f'`{default}`' if default else '')} | "
            f"{_cell(f.help)} | `{f.name}` ({_cell(f.group)}) |"
        )
    return "\n".join(parts)


#: Generated sections of the plugin guide: name -> function producing its Markdown.


def plugin_api_reference() -> str:
    """Markdown table of :mod:`zoo.plugin_api`: each name, where it lives, its summary line."""
    parts = ["| name | defined in | what it is |", "| --- | --- | --- |"]
    for name in sorted(zoo.plugin_api.__all__, key=str.lower):
        obj = getattr(zoo.plugin_api, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            module = obj.__module__
            doc = (inspect.getdoc(obj) or "").split("\n\n", 1)[0].replace("\n", " ")
        else:  # a module-level object: documented by the #: comment above its assignment
            module, doc = _constant(name)
        parts.append(f"| `{name}` | `{module}` | {_inline(doc)} |")
    return "\n".join(parts)


def _constant(name: str) -> tuple[str, str]:
    """(module, ``#:`` comment) of a non-class, non-function name the plugin API re-exports."""
    for module in ("zoo.spec", "zoo.host.hookspecs"):
        source = inspect.getsource(sys.modules[module])
        found = re.search(r"((?:^#:.*\n)+)" + re.escape(name) + r"\b", source, re.MULTILINE)
        if found:
            return module, " ".join(line[2:].strip() for line in found.group(1).splitlines())
    raise ValueError(f"zoo.plugin_api.{name} has no #: comment where it is defined")


#: Generated sections of the guide: name -> function producing its Markdown.
SECTIONS: dict[str, Callable[[], str]] = {
    "hooks": hook_reference,
    "provider": provider_reference,
    "plugin_api": plugin_api_reference,
}

#: Every generated document (its file name under docs/) -> its sections.
DOCUMENTS: dict[str, dict[str, Callable[[], str]]] = {
    "plugins.md": SECTIONS,
    "settings.md": {"settings": settings_reference},
    "registry.md": {"fields": field_reference},
    "cli.md": {"finetune-flags": finetune_flag_reference},
}


def render(text: str, sections: Mapping[str, Callable[[], str]] = SECTIONS) -> str:
    """``text`` with every generated section replaced by what the code says today."""
    for name, produce in sections.items():
        begin, end = _BEGIN.format(name), _END.format(name)
        found = re.search(re.escape(begin) + r".*?" + re.escape(end), text, re.DOTALL)
        if found is None:
            raise ValueError(f"the document lacks the markers of section {name!r}: {begin}")
        block = f"{begin}\n\n{produce().strip()}\n\n{end}"
        text = text[: found.start()] + block + text[found.end() :]
    return text


def refresh(path: Path, fresh: str, *, check: bool, command: str) -> int:
    """Write a generated file, or with ``check`` only say whether it is stale (exit status).

    Shared by every generator (this guide, the KerasHub plugin's preset catalogue): ``command``
    is what the stale message tells the reader to run.
    """
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    if check:
        if fresh != current:
            print(f"{path} is out of date; run {command}")
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(fresh, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: rewrite the generated documents, or with ``--check`` report stale ones."""
    parser = argparse.ArgumentParser(prog="python -m tools.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a document is stale")
    parser.add_argument(
        "--path", type=Path, action="append", help="only this document (repeatable)"
    )
    args = parser.parse_args(argv)
    paths: list[Path] = args.path or [DOCS / name for name in DOCUMENTS]
    status = 0
    for path in paths:
        if path.name not in DOCUMENTS:
            print(f"{path}: no generated sections; known: {', '.join(DOCUMENTS)}", file=sys.stderr)
            return 2
        if not path.is_file():
            print(f"{path} not found; run this in a tfzoo source checkout", file=sys.stderr)
            return 2
        fresh = render(path.read_text(encoding="utf-8"), DOCUMENTS[path.name])
        status |= refresh(path, fresh, check=args.check, command="python -m tools.docs")
    return status


if __name__ == "__main__":
    sys.exit(main())
