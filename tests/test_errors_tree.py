"""The error tree drawn in zoo.errors' docstring is the real class hierarchy."""

from __future__ import annotations

import re

import zoo.errors

# "    │   ├── SourceNotFoundError    text" -> the name after the branch; roots have no branch.
_BRANCH = re.compile(r"^(?P<indent>[ │]*)[├└]── (?P<name>[A-Z]\w+)")
_ROOT = re.compile(r"^    (?P<name>Zoo\w+)\b")


def drawn_edges() -> set[tuple[str, str]]:
    """(class, parent) for every branch of the drawing."""
    doc = zoo.errors.__doc__ or ""
    block = doc.split("::\n", 1)[1].split("\n\n\n", 1)[0]
    edges: set[tuple[str, str]] = set()
    stack: list[str] = []
    for line in block.splitlines():
        if root := _ROOT.match(line):
            stack = [root["name"]]
            continue
        branch = _BRANCH.match(line)
        if branch is None:
            continue  # a continuation line of a description
        depth = (len(branch["indent"]) - 4) // 4  # 0 for a child of the root
        del stack[depth + 1 :]
        edges.add((branch["name"], stack[depth]))
        stack.append(branch["name"])
    return edges


def real_edges() -> set[tuple[str, str]]:
    edges = set()
    for name in zoo.errors.__all__:
        cls = getattr(zoo.errors, name)
        for base in cls.__bases__:
            if base.__module__ == "zoo.errors":
                edges.add((name, base.__name__))
    return edges


def test_the_drawn_tree_is_the_class_hierarchy() -> None:
    drawn = drawn_edges()
    assert len(drawn) > 20  # the parser found the drawing
    assert drawn == real_edges()


def test_every_public_error_is_drawn() -> None:
    drawn = {name for edge in drawn_edges() for name in edge}
    assert drawn == set(zoo.errors.__all__)


def test_a_class_under_two_parents_is_drawn_under_both() -> None:
    drawn = drawn_edges()
    assert {
        ("RemoteNotFoundError", "FetchError"),
        ("RemoteNotFoundError", "SourceNotFoundError"),
    } <= drawn
    assert {("PluginLoadError", "PluginError"), ("PluginLoadError", "NoProviderError")} <= drawn
