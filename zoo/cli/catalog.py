"""Discover the zoo: ``zoo list``, ``info``, ``plugins``, ``install`` and ``uninstall``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from zoo.cli._app import (
    console,
    echo_columns,
    echo_json,
    main,
    override_option,
    quiet_tensorflow,
    renew_session,
    safe_markup,
    safe_text,
    session,
    shape_text,
    trust_option,
    with_trust,
)
from zoo.errors import PluginError, SourceNotFoundError, path_hint


@main.command("list")
@click.argument("pattern", required=False)
@click.option("--provider", "-p", metavar="NAME", help="Only models of this provider.")
@click.option("--tag", "-t", metavar="TAG", help="Only models with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of specs (docs/cli.md).")
def list_cmd(pattern: str | None, provider: str | None, tag: str | None, as_json: bool) -> None:
    """List registered models, optionally matching PATTERN (fnmatch, e.g. 'resnet*')."""
    if as_json:
        echo_json([s.to_dict() for s in session().list_models(pattern, provider=provider, tag=tag)])
        return
    # columns, not a ModelSpec per entry: 50,000 cached entries list in a fraction of a
    # second; each distinct shape, width, license or tag list is formatted once
    listed = session().registry.listing(pattern, provider=provider, tag=tag)
    columns = [
        listed["name"],
        listed["provider"],
        _each(listed["input_shape"], shape_text),
        _each(listed["feature_dim"], lambda d: str(d or "")),
        _each(listed["license"], lambda lic: lic or ""),
        _each(listed["tags"], ", ".join),
    ]
    headers = ("name", "provider", "input", "features", "license", "tags")
    rows = listed["name"]
    echo_columns(headers, columns, title=f"{len(rows)} models")
    if not rows:
        hint = "; `zoo plugins` shows which providers are installed" if provider else ""
        if pattern and not any(c in pattern for c in "*?["):
            hint += f"; PATTERN is matched whole (fnmatch): try '{pattern}*'"
        click.echo(f"no model matches{hint}", err=True)


def _each(values: list[Any], text: Callable[[Any], str]) -> list[str]:
    """``text`` of every value, computed once per distinct value."""
    try:
        texts = {value: text(value) for value in set(values)}
    except TypeError:  # a list where a tuple belongs (a plugin's own ModelSpec)
        return [text(value) for value in values]
    return list(map(texts.__getitem__, values))


@main.command("info")
@click.argument("name")
@click.option("--load", is_flag=True, help="Load the backbone and show what it really is.")
@override_option
@trust_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {spec, backbone?}.")
def info_cmd(name: str, load: bool, overrides: dict[str, Any], trust: bool, as_json: bool) -> None:
    """Show what the registry says about NAME; with --load, the loaded backbone too.

    NAME is a registry name or alias, or any source `zoo.load_backbone` takes.
    """
    # names, values and options are checked before TensorFlow is imported
    resolved = session().resolve(name, with_trust(overrides, trust))
    spec = resolved.spec
    adhoc_path = session().registry.find(name) is None and spec.provider == "local"
    if adhoc_path and not Path(spec.source).exists():
        raise SourceNotFoundError(
            f"no such file or directory: {spec.source}{path_hint(spec.source)}",
            source=spec.source,
            provider="local",
        )
    data: dict[str, Any] = {"spec": spec.to_dict()}
    if load:
        quiet_tensorflow()
        data["backbone"] = session().load_resolved(*resolved).describe()
    if as_json:
        echo_json(data)
        return
    out = console()
    for key, value in data["spec"].items():
        if value not in (None, "", [], {}, ()):
            out.print(f"[bold]{key:>17}[/bold]  {safe_markup(value)}")
    if load:
        out.print("\n[bold]loaded backbone[/bold]")
        backbone = data["backbone"]
        spec_in = backbone.pop("input_spec")
        heads = backbone.pop("heads", {})
        notes = backbone.pop("notes", [])
        hints = backbone.pop("hints", {})
        for key, value in backbone.items():
            if key == "labels" and value:
                value = (
                    f"{len(value)} labels: {', '.join(value[:5])}{' ...' if len(value) > 5 else ''}"
                )
            out.print(f"[bold]{key:>17}[/bold]  {safe_markup(value)}")
        out.print(
            f"[bold]{'input':>17}[/bold]  {shape_text(spec_in['shape'])} "
            f"{safe_markup(spec_in['dtype'])}, preprocessing {safe_markup(spec_in['mode'])} "
            f"-> values in {safe_markup(spec_in['value_range'])}"
        )
        _print_detection(out, heads, notes, hints)


def _print_detection(
    out: Any, heads: dict[str, Any], notes: list[str], hints: dict[str, Any]
) -> None:
    """The heads, how they and the feature were found, and the overrides to use if unsure."""
    if len(heads) > 1:
        out.print("\n[bold]heads[/bold] (output order)")
        for i, (head, info) in enumerate(heads.items()):
            out.print(
                f"  {i}: {safe_markup(head)}  {safe_markup(info['num_classes'])} classes "
                f"({safe_markup(info['classifier'])})"
            )
    if notes:
        out.print("\n[bold]detection[/bold]")
        for note in notes:
            out.print(f"  - {safe_text(note)}", markup=False, highlight=False)
    if hints:
        choice = ", ".join(f"{k}={v!r}" for k, v in hints.items())
        flags = " ".join(f"-o {k}={v}" for k, v in hints.items())
        out.print(
            f"\n[bold]unsure?[/bold] to choose yourself, pass {safe_markup(choice)}"
            f" (CLI: {safe_markup(flags)})",
            highlight=False,
        )


def _plugin_rows() -> list[dict[str, Any]]:
    """Every plugin, with ``serves``: the registry entries its providers load."""
    from collections import Counter

    rows = [info.to_dict() for info in session().host.info()]
    by_provider = Counter(spec.provider for spec in session().registry)
    for row in rows:
        row["serves"] = sum(by_provider[p] for p in row["providers"]) if row["error"] is None else 0
    return rows


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of plugins.")
def plugins_cmd(as_json: bool) -> None:
    """List plugins: where each comes from, what it registered, and load errors."""
    rows = _plugin_rows()
    if as_json:
        echo_json(rows)
        return
    _print_plugins(rows, title=f"{len(rows)} plugins")


def _print_plugins(rows: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for column in ("plugin", "from", "providers", "models", "status"):
        table.add_column(column, overflow="fold")
    for row in rows:
        origin = (
            "built-in"
            if row["builtin"]
            else f"{row['distribution'] or '?'} {row['version'] or ''}".strip()
        )
        status = "ok"
        if row["blocked"]:
            status = "blocked (ZOO_BLOCK_PLUGINS / ZOO_LOAD_PLUGINS)"
        elif row["error"]:
            status = f"[red]error:[/red] {safe_markup(row['error'])}"
        table.add_row(
            safe_markup(row["name"]),
            safe_markup(origin),
            safe_markup(", ".join(row["providers"])),
            str(row.get("serves", len(row["models"]))),
            status,
        )
    console().print(table)


def _installer() -> list[str]:
    """``python -m pip`` when pip is there; else ``uv pip`` aimed at this interpreter.

    Environments made by ``uv venv`` have no pip module (llm#833).
    """
    import importlib.util
    import shutil

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    uv = shutil.which("uv")
    if uv is not None:
        return [uv, "pip"]
    raise PluginError(
        "this environment has neither pip nor uv: install one (python -m ensurepip, or "
        "https://docs.astral.sh/uv/), or install the plugin with your own tool"
    )


def _pip(args: list[str]) -> None:
    base = _installer()
    # uv pip needs to be told which environment; pip runs inside it
    extra = ["--python", sys.executable] if base[-1] == "pip" and len(base) == 2 else []
    command = [*base, args[0], *extra, *args[1:]]
    click.echo("$ " + " ".join([Path(base[0]).name, *base[1:], *args]), err=True)
    import subprocess

    code = subprocess.call(command, stdout=2)  # pip's chatter to stderr: stdout stays clean JSON
    if code != 0:
        raise PluginError(f"pip {args[0]} failed with exit code {code}; see pip's output above")
    importlib.invalidate_caches()
    renew_session()


@main.command("install")
@click.argument("packages", nargs=-1, required=True)
@click.option("--upgrade", "-U", is_flag=True, help="Upgrade packages that are already installed.")
@click.option(
    "--editable", "-e", is_flag=True, help="Install a local plugin directory in editable mode."
)
@click.option("--json", "as_json", is_flag=True, help="Print the new or changed plugins as JSON.")
def install_cmd(packages: tuple[str, ...], upgrade: bool, editable: bool, as_json: bool) -> None:
    """pip-install plugin PACKAGES into this environment, then show what they registered."""
    before = {(r["name"], r["version"]) for r in _plugin_rows()}
    args = ["install", *(["--upgrade"] if upgrade else [])]
    for package in packages:
        args += ["-e", package] if editable else [package]
    _pip(args)
    new = [r for r in _plugin_rows() if (r["name"], r["version"]) not in before]
    if as_json:
        echo_json(new)
        return
    if new:
        _print_plugins(new, title="installed plugins")
        return
    wanted = {_dist_name(p) for p in packages}
    already = [
        r for r in _plugin_rows() if r["distribution"] and _norm(r["distribution"]) in wanted
    ]
    if already:
        names = ", ".join(
            f"{r['distribution']} {r['version']} (plugin {r['name']})" for r in already
        )
        click.echo(
            f"already installed: {names}; no new plugin (`zoo plugins` lists them all)", err=True
        )
    else:
        click.echo("no new tfzoo plugin: the packages register no 'zoo' entry point", err=True)


def _norm(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_name(package: str) -> str:
    """The distribution a pip argument names: a local project's [project] name, or the spec's."""
    import re

    path = Path(package)
    if (path / "pyproject.toml").is_file():
        try:  # tomllib is 3.11+: the [project] name line is all that is needed
            text = (path / "pyproject.toml").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        found = re.search(r"^name\s*=\s*[\"']([^\"']+)[\"']", text, re.MULTILINE)
        return _norm(found.group(1) if found else path.resolve().name)
    return _norm(re.split(r"[<>=!~\[;@ ]", package.strip(), maxsplit=1)[0])


@main.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def uninstall_cmd(packages: tuple[str, ...], yes: bool) -> None:
    """pip-uninstall PACKAGES and show which plugins went away."""
    before = {r["name"]: r for r in _plugin_rows() if not r["builtin"]}
    _pip(["uninstall", *(["-y"] if yes else []), *packages])
    after = {r["name"] for r in _plugin_rows()}
    gone = [name for name in before if name not in after]
    click.echo(f"removed plugins: {', '.join(gone)}" if gone else "no tfzoo plugin was removed")
