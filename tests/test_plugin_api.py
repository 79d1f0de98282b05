"""zoo.plugin_api is the one surface plugins import; the bundled KerasHub plugin keeps to it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import zoo.errors
import zoo.plugin_api

from .test_layering import PLUGIN

#: What a plugin's package may import from tfzoo, and what its tests may import besides.
PLUGIN_SURFACE = {"zoo.plugin_api"}
TEST_SURFACE = PLUGIN_SURFACE | {"zoo", "zoo.testing"}


def zoo_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``zoo`` / ``zoo.*`` import in a file, wherever it is written."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return [(line, m) for line, m in found if m == "zoo" or m.startswith("zoo.")]


def outside(paths: list[Path], allowed: set[str]) -> list[str]:
    return [
        f"{path.relative_to(PLUGIN)}:{line}: {module}"
        for path in paths
        for line, module in zoo_imports(path)
        if module not in allowed
    ]


def test_the_keras_hub_plugin_imports_only_the_plugin_api() -> None:
    package = sorted((PLUGIN / "zoo_keras_hub").rglob("*.py"))
    assert len(package) >= 8
    assert outside(package, PLUGIN_SURFACE) == []


def test_the_keras_hub_plugin_tests_import_only_the_public_api_and_zoo_testing() -> None:
    tests = sorted((PLUGIN / "tests").rglob("*.py"))
    assert len(tests) >= 4
    assert outside(tests, TEST_SURFACE) == []


def test_the_boundary_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("import zoo.plugin_api\ndef f():\n    from zoo.download.fetcher import fetch\n")
    assert zoo_imports(path) == [(1, "zoo.plugin_api"), (3, "zoo.download.fetcher")]


def test_the_surface_holds_every_error_and_what_a_provider_needs() -> None:
    exported = set(zoo.plugin_api.__all__)
    assert set(zoo.errors.__all__) <= exported
    assert {"hookimpl", "Provider", "Artifact", "ModelSpec", "InputSpec", "Backbone"} <= exported
    assert {"slug", "is_offline", "fetch", "fetch_archive"} <= exported
    for name in exported:
        assert getattr(zoo.plugin_api, name) is not None
    assert zoo.plugin_api.ZooError is zoo.errors.ZooError  # re-exports, not copies
    assert zoo.plugin_api.Provider is zoo.Provider and zoo.plugin_api.hookimpl is zoo.hookimpl


def test_importing_the_plugin_api_does_not_import_tensorflow() -> None:
    code = (
        "import sys, zoo.plugin_api; "
        "print([m for m in ('tensorflow', 'keras', 'keras_hub') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
