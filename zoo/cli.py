"""The ``zoo`` command: thin — it parses, calls the public API, and prints.

Listing paths (``zoo list``, ``zoo info`` without ``--load``, ``zoo plugins``) never import
TensorFlow. Errors print one line and exit 1 (user error) or 2 (usage error); ``--debug``
shows the traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import click

import zoo
from zoo.errors import ZooError

__all__ = ["main"]


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _quiet_tensorflow() -> None:
    # TensorFlow's C++ start-up logging drowns the output of a command-line tool.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _ZooGroup(click.Group):
    """Turns ZooError into one clear line and exit code 1 (``--debug`` keeps the traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(zoo.__version__, prog_name="zoo")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """tfzoo: name a model, get a normalized backbone, fine-tune it."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _shape(shape: Sequence[int | None] | None) -> str:
    if shape is None:
        return "?"
    return "x".join("*" if d is None else str(d) for d in shape)


@main.command("list")
@click.argument("pattern", required=False)
@click.option("--provider", "-p", help="Only models of this provider.")
@click.option("--tag", "-t", help="Only models with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of specs).")
def list_cmd(pattern: str | None, provider: str | None, tag: str | None, as_json: bool) -> None:
    """List registered models, optionally matching PATTERN (fnmatch: 'resnet*')."""
    specs = zoo.list_models(pattern, provider=provider, tag=tag)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in specs], indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{len(specs)} models", title_justify="left")
    for column in ("name", "provider", "input", "features", "license", "tags"):
        table.add_column(column, no_wrap=column in ("name", "input"))
    for s in specs:
        table.add_row(
            s.name,
            s.provider,
            _shape(s.input_shape),
            str(s.feature_dim or ""),
            s.license or "",
            ", ".join(s.tags),
        )
    _console().print(table)


@main.command("info")
@click.argument("name")
@click.option("--load", is_flag=True, help="Load the backbone and show what it really is.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_cmd(name: str, load: bool, as_json: bool) -> None:
    """Show the registry entry of NAME (and with --load, the loaded backbone)."""
    spec = zoo.get_spec(name)
    data: dict[str, Any] = {"spec": spec.to_dict()}
    if load:
        _quiet_tensorflow()
        data["backbone"] = zoo.load_backbone(name).describe()
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    console = _console()
    for key, value in data["spec"].items():
        if value not in (None, "", [], {}):
            console.print(f"[bold]{key:>16}[/bold]  {value}")
    if load:
        console.print("[bold]loaded backbone[/bold]")
        for key, value in data["backbone"].items():
            console.print(f"[bold]{key:>16}[/bold]  {value}")


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_cmd(as_json: bool) -> None:
    """List plugins: where they come from, what they registered, and load errors."""
    from zoo.api import default_session

    infos = default_session().host.info()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{len(infos)} plugins", title_justify="left")
    for column in ("plugin", "from", "providers", "models", "status"):
        table.add_column(column)
    for i in infos:
        origin = "built-in" if i.builtin else f"{i.distribution or '?'} {i.version or ''}".strip()
        status = "blocked" if i.blocked else (f"[red]error:[/red] {i.error}" if i.error else "ok")
        table.add_row(i.name, origin, ", ".join(i.providers), str(len(i.models)), status)
    _console().print(table)


@main.command("demo")
def demo_cmd() -> None:
    """List the zoo, then build one backbone with a new head and summarize it."""
    _quiet_tensorflow()
    ctx = click.get_current_context()
    ctx.invoke(list_cmd, pattern=None, provider=None, tag=None, as_json=False)
    click.echo("\nzoo.create('mobilenet_v2', num_classes=5, weights=None, input_shape=(96, 96, 3))")
    model = zoo.create("mobilenet_v2", 5, weights=None, input_shape=(96, 96, 3))
    model.summary()


# ---- downloads: `zoo fetch`, `zoo lock` (issue 5; library code in zoo/project.py) ----------


@main.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--require-hashes", is_flag=True, default=None, help="Refuse artifacts without a sha256 pin."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def fetch_cmd(names: tuple[str, ...], require_hashes: bool | None, quiet: bool) -> None:
    """Download the weights and archives of models NAMES into the cache (for offline use)."""
    from zoo.project import prefetch

    fetched = prefetch(
        names, require_hashes=require_hashes or None, progress=False if quiet else None
    )
    for f in fetched:
        who = f.model or "registry"
        click.echo(f"{who}: {f.artifact.url} -> {f.path} ({f.size} bytes, sha256 {f.sha256})")
    if not fetched:
        click.echo("nothing to download: these models load without downloaded artifacts")


@main.command("lock")
@click.argument("names", nargs=-1)
@click.option(
    "--require-hashes", is_flag=True, default=None, help="Refuse artifacts without a sha256 pin."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def lock_cmd(names: tuple[str, ...], require_hashes: bool | None, quiet: bool) -> None:
    """Pin URL, size and sha256 of every artifact of NAMES (default: ./zoo.yaml) in ./zoo.lock."""
    from zoo.project import lock_project

    lock = lock_project(
        names, require_hashes=require_hashes or None, progress=False if quiet else None
    )
    click.echo(f"wrote {lock.path} ({len(lock.entries)} artifacts)")
    for entry in sorted(lock.entries.values(), key=lambda e: e.url):
        click.echo(f"  {entry.sha256}  {entry.size:>12}  {entry.url}")


# ---- end of downloads ----------------------------------------------------------------------


if __name__ == "__main__":  # python -m zoo.cli
    main()
