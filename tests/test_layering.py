"""Every arrow points down: the rooms of zoo/ (and the bundled plugin) import only lower rooms.

Each module is parsed with ast (nothing is imported). A module's imports of ``zoo.*`` count
wherever they are written (module level and inside functions), except under
``if TYPE_CHECKING:``, which never runs. The rank order is :data:`RANKS` (docs/architecture.md
draws the same list); two rooms of one rank (``prefetch`` and ``finetune``) may not import each
other. Inside a room any direction is fine, but the module-level import graph of the whole
package has no cycles.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "zoo-keras-hub"

#: Room -> rank. A module may import its own room and rooms of a lower rank only.
RANKS: dict[str, int] = {
    "base": 0,  # zoo._version, zoo.errors, zoo.settings, zoo.spec, zoo.fields
    "download": 1,
    "registry": 2,
    "host": 3,
    "model": 4,
    "plugin_api": 5,  # re-exports base .. model for plugin authors; nothing of ours imports it
    "export": 5,  # zoo/export: writes and checks exported files; the engine calls it
    "savedmodel": 6,
    "providers": 7,
    "zoo_keras_hub": 7,  # the bundled plugin is a provider; it sees only plugin_api
    "session": 8,
    "prefetch": 9,
    "finetune": 9,
    "workflows": 10,  # compare, predict, evaluate, publish: above the engine
    "api": 11,
    "testing": 11,
    "cli": 12,
    "zoo": 13,  # zoo/__init__.py and zoo/__main__.py: the public re-exports
}
BASE = {
    "zoo._lazy",
    "zoo._version",
    "zoo.errors",
    "zoo.fields",
    "zoo.image_folders",
    "zoo.settings",
    "zoo.spec",
    "zoo.startup_cache",
}
#: Modules of a room that are not a package: module -> room.
ROOM_OF = {"zoo.registry_yaml": "registry", "zoo.registry_table": "registry"}
MAX_LINES = 600


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (zoo.x.y); names imported from a package resolve to it
    line: int
    top_level: bool  # runs when the importing module is imported (not inside a function)


def room(module: str) -> str:
    """The room a module lives in (see RANKS)."""
    if module in BASE:
        return "base"
    parts = module.split(".")
    if parts[0] == "zoo_keras_hub":
        return "zoo_keras_hub"
    if module in ("zoo", "zoo.__main__"):
        return "zoo"
    return ROOM_OF.get(module, parts[1])


@functools.cache
def module_files() -> dict[str, Path]:
    """Module name -> file, for zoo/ and the plugin's package."""
    found: dict[str, Path] = {}
    for base, package in ((ROOT, "zoo"), (PLUGIN, "zoo_keras_hub")):
        for path in sorted((base / package).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    """The zoo / zoo_keras_hub modules ``module`` imports (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.orelse:  # the else branch does run
                visit(statement, top)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, node.lineno, top))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append(Import(sub if sub in known else base, node.lineno, top))
        inner = top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, True)
    return [i for i in found if i.target.split(".")[0] in ("zoo", "zoo_keras_hub")]


@functools.cache
def import_graph() -> dict[str, list[Import]]:
    """Module -> its zoo imports (parsed once per test run)."""
    files = module_files()
    return {m: imports_of(m, p, set(files)) for m, p in files.items()}


def test_room_of_every_module_is_ranked() -> None:
    unranked = sorted(m for m in module_files() if room(m) not in RANKS)
    assert unranked == [], f"modules in no room of RANKS: {unranked}"


def test_every_import_points_down() -> None:
    graph = import_graph()
    upward = []
    for module, imports in graph.items():
        mine = room(module)
        for imp in imports:
            theirs = room(imp.target)
            if theirs != mine and RANKS[theirs] >= RANKS[mine]:
                upward.append(
                    f"{module}:{imp.line} ({mine}, rank {RANKS[mine]}) imports {imp.target} "
                    f"({theirs}, rank {RANKS[theirs]})"
                )
    assert upward == [], "imports that point up or sideways:\n" + "\n".join(upward)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return components


def test_the_module_level_import_graph_has_no_cycles() -> None:
    graph = import_graph()
    edges = {
        m: {i.target for i in imports if i.top_level and i.target != m}
        for m, imports in graph.items()
    }
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_parser_sees_function_level_imports_and_skips_type_checking(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "from zoo import errors\n"
        "if TYPE_CHECKING:\n    from zoo.cli import main\n"
        "def f():\n    from zoo.session import Session\n"
    )
    found = imports_of("zoo.spec", path, {"zoo.errors", "zoo.cli", "zoo.session"})
    assert found == [Import("zoo.errors", 2, True), Import("zoo.session", 6, False)]


def test_no_module_is_longer_than_600_lines() -> None:
    long = {
        module: n
        for module, path in module_files().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines (split them by role): {long}"
