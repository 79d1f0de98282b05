"""Generated docs are current (plugins, settings, registry fields, fine-tune flags); the guide's
example plugin really works."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools import docs
from zoo.host.manager import PluginHost
from zoo.session import Session, reset

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _example(name: str) -> str:
    """The fenced code block right after ``<!-- example: NAME ... -->`` in the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    found = re.search(
        r"<!-- example: " + re.escape(name) + r"\b.*?-->\n```\w+\n(.*?)```", text, re.S
    )
    assert found, f"docs/plugins.md has no example {name!r}"
    return found.group(1)


def test_generated_reference_is_up_to_date() -> None:
    """Fails when zoo/host/hookspecs.py or zoo/host/provider.py changed: run python -m
    tools.docs."""
    assert docs.main(["--check", "--path", str(GUIDE)]) == 0


def test_every_generated_document_is_up_to_date() -> None:
    """Fails when a hookspec, a setting, a field or a Recipe field changed without the docs:
    run python -m tools.docs."""
    assert docs.main(["--check"]) == 0


def test_generated_tables_come_from_the_tables_in_the_code() -> None:
    from zoo import settings
    from zoo.fields import FIELDS

    table = docs.settings_reference()
    for name in (*settings.SETTINGS, *settings.EXTERNAL):
        assert f"| `{name}` |" in table
    fields = docs.field_reference()
    for name, field in FIELDS.items():
        kind = field.type + (", required" if field.required else "")
        assert f"| `{name}` | {kind} | {'yes' if field.override else ''} |" in fields
    registry = (GUIDE.parent / "registry.md").read_text(encoding="utf-8")
    assert fields in registry
    flags = docs.finetune_flag_reference()
    from zoo.finetune.recipe import recipe_fields

    for f in recipe_fields():
        if f.name != "callbacks":  # Python objects: no flag
            assert f"| `--{f.name.replace('_', '-')}" in flags and f.help in flags
    assert "`--lr`" in flags and "`--no-cache` (= `off`)" in flags and "`savedmodel`" in flags
    assert flags in (GUIDE.parent / "cli.md").read_text(encoding="utf-8")


def test_a_stale_document_is_reported(tmp_path: Path) -> None:
    stale = tmp_path / "settings.md"
    stale.write_text(f"{docs._BEGIN.format('settings')}\nold\n{docs._END.format('settings')}\n")
    assert docs.main(["--check", "--path", str(stale)]) == 1
    assert docs.main(["--path", str(stale)]) == 0
    assert docs.main(["--check", "--path", str(stale)]) == 0
    assert "`ZOO_OFFLINE`" in stale.read_text()
    assert docs.main(["--check", "--path", str(tmp_path / "unknown.md")]) == 2


def test_render_fills_sections_from_the_code_and_needs_the_markers() -> None:
    stale = "intro\n" + "\n".join(
        f"{docs._BEGIN.format(n)}\nold text\n{docs._END.format(n)}" for n in docs.SECTIONS
    )
    fresh = docs.render(stale)
    assert "old text" not in fresh and fresh.startswith("intro\n")
    assert "### `zoo_register_providers`" in fresh
    assert "Hand the host your providers." in fresh  # the hookspec's docstring, verbatim
    assert "#### `Provider.claim(" in fresh and "| `options` |" in fresh
    assert docs.render(fresh) == fresh
    with pytest.raises(ValueError, match="lacks the markers of section"):
        docs.render("no markers here")


def test_guide_example_plugin_installs_and_keeps_the_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _example("plugin module")
    assert len(code.strip().splitlines()) < 30  # the guide promises a plugin in under 30 lines
    source = tmp_path / "zoo-tiny"
    (source / "zoo_tiny").mkdir(parents=True)
    (source / "zoo_tiny" / "__init__.py").write_text(code)
    (source / "pyproject.toml").write_text(_example("plugin pyproject"))
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", str(target), str(source)], check=True)
    monkeypatch.syspath_prepend(str(target))
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "tiny")
    importlib.invalidate_caches()
    reset()

    host = PluginHost()
    info = host.plugin("tiny")
    assert (info.distribution, info.providers, info.models) == ("zoo-tiny", ["tiny"], ["tiny_cnn"])
    backbone = Session(host).load_backbone("tiny_cnn", width=4)
    assert backbone.feature_dim == 4 and backbone.input_spec.mode == "unit"

    namespace: dict[str, object] = {}
    exec(compile(_example("plugin test"), "docs/plugins.md", "exec"), namespace)
    namespace["test_tiny_keeps_the_contract"]()  # type: ignore[operator]
    namespace["test_installed_plugin_is_found"]()  # type: ignore[operator]
