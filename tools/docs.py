"""Generate the reference sections of docs/plugins.md from the code, so they cannot drift.

The plugin author's guide quotes three things verbatim: the hook specifications (each hook's
docstring in :mod:`zoo.host.hookspecs`), the :class:`~zoo.host.provider.Provider` base class (its
attributes' ``#:`` comments and its methods' docstrings) and what :mod:`zoo.plugin_api`
re-exports (each name's summary line). Each lives in the guide between
``<!-- BEGIN GENERATED: <section> -->`` and ``<!-- END GENERATED: <section> -->``; this
module rewrites those blocks, and a test fails while the file differs from what it writes::

    python -m tools.docs            # rewrite docs/plugins.md
    python -m tools.docs --check    # exit 1 if docs/plugins.md is out of date

No TensorFlow is imported here.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import zoo.plugin_api
from zoo.host import hookspecs
from zoo.host.provider import Provider

__all__ = [
    "GUIDE",
    "SECTIONS",
    "hook_reference",
    "main",
    "plugin_api_reference",
    "provider_reference",
    "refresh",
    "render",
]

#: The guide in a source checkout (docs are not part of the wheel).
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"

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


def render(text: str) -> str:
    """``text`` with every generated section replaced by what the code says today."""
    for name, produce in SECTIONS.items():
        begin, end = _BEGIN.format(name), _END.format(name)
        found = re.search(re.escape(begin) + r".*?" + re.escape(end), text, re.DOTALL)
        if found is None:
            raise ValueError(f"docs/plugins.md lacks the markers of section {name!r}: {begin}")
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
    """Command line: rewrite the guide, or with ``--check`` report whether it is stale."""
    parser = argparse.ArgumentParser(prog="python -m tools.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the guide is stale")
    parser.add_argument("--path", type=Path, default=GUIDE, help="the guide (docs/plugins.md)")
    args = parser.parse_args(argv)
    if not args.path.is_file():
        print(f"{args.path} not found; run this in a tfzoo source checkout", file=sys.stderr)
        return 2
    fresh = render(args.path.read_text(encoding="utf-8"))
    return refresh(args.path, fresh, check=args.check, command="python -m tools.docs")


if __name__ == "__main__":
    sys.exit(main())
