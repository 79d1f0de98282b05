"""``zoo cache info`` / ``zoo cache clean``: the download cache's size and its leftovers."""

from __future__ import annotations

import json

import click

from zoo.cli._app import main, safe_text


@main.group("cache")
def cache_group() -> None:
    """Show or clean the download cache (ZOO_HOME/cache)."""


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


@cache_group.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_cmd(as_json: bool) -> None:
    """The cache's location and size, and what killed processes left in it."""
    from zoo.download.fetcher import cache_root
    from zoo.download.leftovers import find_leftovers, tree_size

    root = cache_root()
    sections = {name: tree_size(root / name) for name in ("blobs", "extracted")}
    leftovers = find_leftovers(root)
    total = tree_size(root) if root.exists() else 0
    if as_json:
        data = {
            "root": str(root),
            "bytes": total,
            "sections": sections,
            "leftovers": [
                {
                    "path": str(item.path),
                    "kind": item.kind,
                    "bytes": item.size,
                    "stale": item.stale,
                    "resumable": item.resumable,
                }
                for item in leftovers
            ],
        }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"cache: {safe_text(root)} ({_human(total)})")
    for name, size in sections.items():
        click.echo(f"  {name:<10} {_human(size)}")
    if not leftovers:
        click.echo("no leftovers of interrupted downloads or extractions")
        return
    click.echo(f"leftovers ({_human(sum(i.size for i in leftovers))}):")
    for item in leftovers:
        state = "stale" if item.stale else "in use"
        if item.stale and item.resumable:
            state += ", resumable"
        click.echo(f"  {item.kind:<17} {_human(item.size):>10}  {state:<17} {safe_text(item.path)}")
    if any(i.stale for i in leftovers):
        click.echo("`zoo cache clean` removes the stale ones")


@cache_group.command("clean")
def clean_cmd() -> None:
    """Remove stale leftovers (partial downloads, half extractions) of killed processes."""
    from zoo.download.fetcher import cache_root
    from zoo.download.leftovers import clean_stale

    removed = clean_stale(cache_root(), keep_resumable=None)
    freed = sum(item.size for item in removed)
    for item in removed:
        click.echo(f"removed {item.kind}: {safe_text(item.path)}")
    click.echo(f"freed {_human(freed)} ({len(removed)} leftovers)")
