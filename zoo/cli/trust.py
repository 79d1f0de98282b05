"""Who vouches for model archives: ``zoo trust PREFIX``, ``zoo trust --list``, ``zoo untrust``.

TF-free: the trust store is part of the download stack (``zoo.download.trust``).
"""

from __future__ import annotations

import dataclasses

import click

from zoo.cli._app import echo_json, echo_table, main, safe_text


@main.command("trust")
@click.argument("prefix", required=False)
@click.option("--list", "show", is_flag=True, help="List trusted prefixes and first-use hashes.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
def trust_cmd(prefix: str | None, show: bool, as_json: bool) -> None:
    """Trust model archives under PREFIX (e.g. https://models.example.com/team/).

    The first load of each unpinned archive under PREFIX records its sha256 in the trust
    store (ZOO_HOME/trust.json); later loads must match it. Built-in trusted publishers
    (official Google / TensorFlow / Keras on tfhub.dev and Kaggle) are listed by --list and
    switched off with ZOO_TRUST_PUBLISHERS=0.
    """
    from zoo import api

    if prefix is not None and not show:
        stored = api.trust(prefix)
        click.echo(
            f"trusted: {safe_text(stored)} (first loads record their sha256; zoo untrust to undo)"
        )
        return
    if not show:
        raise click.UsageError("give a PREFIX to trust, or --list")
    rows = api.trusted()
    if as_json:
        echo_json([dataclasses.asdict(r) for r in rows])
        return
    echo_table(
        ["PREFIX / URL", "ORIGIN", "ACTIVE", "SHA256"],
        [(r.prefix, r.origin, "yes" if r.active else "no", r.sha256 or "") for r in rows],
    )


@main.command("untrust")
@click.argument("prefix")
def untrust_cmd(prefix: str) -> None:
    """Stop trusting PREFIX: its prefixes and first-use hashes are forgotten.

    Given a URL whose recorded hash no longer matches, forgets that hash, so the next
    trusted load records the new one.
    """
    from zoo import api

    for item in api.untrust(prefix):
        click.echo(f"untrusted: {safe_text(item)}")
