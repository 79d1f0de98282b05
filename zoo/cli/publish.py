"""``zoo publish EXPORT_DIR --name team/my_model --to DIR``: share an export by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from zoo.cli._app import echo_json, main, quiet_tensorflow


def _json_file(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path} is not a readable JSON file: {exc}") from exc


@main.command("publish")
@click.argument("export_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--name", required=True, help="team/my_model (versions are numbered for you).")
@click.option("--to", "to", required=True, type=click.Path(path_type=Path), help="Registry dir.")
@click.option("--force", is_flag=True, help="Publish different bytes as the next version.")
@click.option("--description", default="", help="One line for listings and the card.")
@click.option("--license", "license_", help="SPDX identifier or short licence text.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option(
    "--finetune-json", type=click.Path(path_type=Path, exists=True), help="`zoo finetune --json`."
)
@click.option(
    "--evaluation-json", type=click.Path(path_type=Path, exists=True), help="`zoo evaluate --json`."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def publish_cmd(
    export_dir: Path,
    name: str,
    to: Path,
    force: bool,
    description: str,
    license_: str | None,
    tags: tuple[str, ...],
    finetune_json: Path | None,
    evaluation_json: Path | None,
    as_json: bool,
) -> None:
    """Publish EXPORT_DIR (from zoo export / zoo finetune --export) into the registry DIR.

    DIR gets artifacts/<sha256>.tar.gz, registry.yaml and a model card; serve it with any
    static HTTP server and point ZOO_REGISTRY at <url>/registry.yaml.
    """
    quiet_tensorflow()
    from zoo import api

    published = api.publish(
        export_dir, name=name, to=to, force=force, description=description,
        license=license_, tags=tags, result=_json_file(finetune_json),
        evaluation=_json_file(evaluation_json),
    )  # fmt: skip
    if as_json:
        echo_json(
            {
                "name": published.name,
                "version": published.version,
                "versioned_name": published.versioned_name,
                "sha256": published.sha256,
                "artifact": str(published.artifact),
                "registry": str(published.registry),
                "card": str(published.card),
                "unchanged": published.unchanged,
            }
        )
        return
    what = "already published, unchanged" if published.unchanged else "published"
    click.echo(f"{what}: {published.versioned_name} (sha256 {published.sha256})")
    click.echo(f"  artifact  {published.artifact}")
    click.echo(f"  registry  {published.registry}")
    click.echo(f"  card      {published.card}")
