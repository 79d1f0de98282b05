"""``zoo evaluate MODEL --data DIR``: accuracy, per-class metrics, confusion matrix, mistakes."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli._app import (
    echo_json,
    echo_table,
    main,
    quiet_tensorflow,
    safe_text,
    session,
    trust_option,
)
from zoo.cli.predict import FORMAT_CHOICE


@main.command("evaluate")
@click.argument("model")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Class folders.")
@click.option("--batch-size", "-b", default=32, show_default=True)
@click.option("--format", "fmt", type=FORMAT_CHOICE, help="Which export of MODEL to run.")
@click.option(
    "--confusion", type=click.Path(path_type=Path), help="Write the confusion matrix PNG."
)
@click.option("--mistakes", type=click.Path(path_type=Path), help="Write the worst-mistakes PNG.")
@click.option("--max-mistakes", default=16, show_default=True, help="Images on the sheet.")
@click.option("--strict", is_flag=True, help="Stop at the first image that cannot be decoded.")
@trust_option
@click.option(
    "--preprocessing",
    metavar="MODE",
    help="Scale raw pixels for a .keras/.h5 file that is not a tfzoo export: unit, tf, torch, "
    "caffe, ...",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_cmd(
    model: str,
    data: Path,
    batch_size: int,
    fmt: str | None,
    confusion: Path | None,
    mistakes: Path | None,
    max_mistakes: int,
    strict: bool,
    trust: bool,
    preprocessing: str | None,
    as_json: bool,
) -> None:
    """Evaluate MODEL on DATA (one sub-directory of images per class)."""
    quiet_tensorflow()
    from zoo import api

    result = api.evaluate(
        model,
        data,
        batch_size=batch_size,
        format=fmt,
        strict=strict,
        trust=trust,
        preprocessing=preprocessing,
        confusion_png=confusion,
        mistakes_png=mistakes,
        max_mistakes=max_mistakes,
        session=session(),
    )
    for image, error in result.skipped:
        click.echo(f"skipped {safe_text(image)}: {safe_text(error)}", err=True)
    if as_json:
        echo_json(result.to_dict())
        return
    click.echo(
        f"accuracy {result.accuracy:.4f} on {result.count} images ({safe_text(result.model)})"
    )
    echo_table(
        ["CLASS", "PRECISION", "RECALL", "F1", "SUPPORT"],
        [
            (m.label, f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}", str(m.support))
            for m in result.per_class
        ],
    )
    if result.mistakes:
        click.echo("worst mistakes:")
        for m in result.mistakes[:5]:
            click.echo(
                f"  {safe_text(m.image)}: {safe_text(m.true)} -> {safe_text(m.predicted)} "
                f"({m.confidence:.3f})"
            )
    for name, path in result.figures.items():
        click.echo(f"{name}: {safe_text(path)}")
