"""Downloads from the terminal: ``zoo fetch`` and ``zoo lock`` (library code in zoo/prefetch.py)."""

from __future__ import annotations

import click

from zoo.cli._app import main, safe_text, session

_REQUIRE_HASHES = click.option(
    "--require-hashes",
    is_flag=True,
    default=None,
    help="Refuse every artifact without a sha256 pin (all or nothing, like pip).",
)
_QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


@main.command("fetch")
@click.argument("names", nargs=-1, required=True)
@_REQUIRE_HASHES
@_QUIET
def fetch_cmd(names: tuple[str, ...], require_hashes: bool | None, quiet: bool) -> None:
    """Download the weights and archives of models NAMES into the cache (for offline use)."""
    from zoo.prefetch import prefetch

    fetched = prefetch(
        names, require_hashes=require_hashes, progress=False if quiet else None, session=session()
    )
    for f in fetched:
        who = safe_text(f.model or "registry")
        url, path = safe_text(f.artifact.url), safe_text(f.path)
        click.echo(f"{who}: {url} -> {path} ({f.size} bytes, sha256 {f.sha256})")
    if not fetched:
        click.echo("nothing to download: these models load without downloaded artifacts")


@main.command("lock")
@click.argument("names", nargs=-1)
@_REQUIRE_HASHES
@_QUIET
def lock_cmd(names: tuple[str, ...], require_hashes: bool | None, quiet: bool) -> None:
    """Pin URL, size and sha256 of every artifact of NAMES (default: ./zoo.yaml) in ./zoo.lock."""
    from zoo.prefetch import lock_project

    lock = lock_project(
        names, require_hashes=require_hashes, progress=False if quiet else None, session=session()
    )
    click.echo(f"wrote {safe_text(lock.path)} ({len(lock.entries)} artifacts)")
    for entry in sorted(lock.entries.values(), key=lambda e: e.url):
        click.echo(f"  {safe_text(entry.sha256)}  {entry.size:>12}  {safe_text(entry.url)}")
