"""Training from the terminal: ``zoo finetune`` and ``zoo export`` (engine in zoo/finetune/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import (
    INTERRUPT_HINT,
    console,
    echo_json,
    main,
    override_option,
    quiet_tensorflow,
    session,
)
from zoo.cli.recipe_options import recipe_options, recipe_values
from zoo.errors import InvalidModelError, SourceNotFoundError

# `--format` spellings -> the engine's export format names
_FORMATS = {
    "savedmodel": "saved_model",
    "saved_model": "saved_model",
    "keras": "keras",
    "tflite": "tflite",
}
_FORMAT_CHOICE = click.Choice(sorted(_FORMATS), case_sensitive=False)  # gives the key as listed


def _export_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    """``--format`` values as the engine's format names, each once, in the order given."""
    return tuple(dict.fromkeys(_FORMATS[f] for f in formats))


_DIRECTORY = click.Path(exists=True, file_okay=False, readable=True, path_type=Path)


@main.command("finetune")
@click.argument("name")
@click.option(
    "--data", required=True, type=_DIRECTORY, help="Training images: one folder per class."
)
@click.option("--val", type=_DIRECTORY, help="Validation images, same layout.")
@recipe_options
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write loss/accuracy curves to this PNG.",
)
@override_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress bar).")
def finetune_cmd(
    name: str,
    data: Path,
    val: Path | None,
    plot: Path | None,
    overrides: dict[str, Any],
    as_json: bool,
    **recipe: Any,
) -> None:
    """Fine-tune NAME on a directory of images (one sub-folder per class).

    The recipe of the Keras transfer-learning guide: the backbone frozen (BatchNorm in
    inference mode), a new head trained on cached features, then with --unfreeze-epochs the
    backbone (or its top --unfreeze-top layers) at a learning rate 100x lower. Every field of
    zoo.Recipe is an option below; those not given come from the model's registry recipe.

    \b
    zoo finetune mobilenet_v2 --data flowers/train --val flowers/val \\
        --epochs 10 --unfreeze-epochs 3 --export out/ --plot curves.png
    """
    options = recipe_values(recipe)
    if "export_formats" in options and "export_dir" not in options:
        raise click.UsageError("--format needs --export DIR")
    if "unfreeze_top" in options and not options.get("unfreeze_epochs"):
        raise click.UsageError("--unfreeze-top needs --unfreeze-epochs N (phase 2)")
    if as_json:
        options.setdefault("verbose", 0)
    ctx = click.get_current_context()
    ctx.meta[INTERRUPT_HINT] = (
        "Run the same command again to resume from the checkpoint in "
        f"{options['checkpoint_dir']} (it continues after the last finished epoch)."
        if options.get("checkpoint_dir") is not None
        else "Nothing was saved; pass --checkpoint DIR to make a run resumable."
    )
    quiet_tensorflow()
    from zoo import api

    result = api.finetune(
        name,
        str(data),
        validation_data=str(val) if val else None,
        session=session(),
        **options,
        **overrides,
    )
    png = None
    if plot is not None:
        from zoo.finetune.plot import plot_history

        png = plot_history(result, plot)
    if as_json:
        data_out = result.to_dict()
        data_out["plot"] = str(png) if png else None
        echo_json(data_out)
        return
    _summary(result, png)


def _summary(result: Any, png: Path | None) -> None:
    from rich.table import Table

    table = Table(
        title=f"fine-tuned {result.backbone.name} -> {result.num_classes} classes",
        title_justify="left",
    )
    for column in ("phase", "epochs", "learning rate", "seconds", "last epoch"):
        table.add_column(column, justify="left" if column in ("phase", "last epoch") else "right")
    for phase in result.phases:
        last = ", ".join(f"{k} {v[-1]:.4f}" for k, v in phase.history.items() if v)
        lr = f"{phase.learning_rate:g}" if phase.learning_rate else ""
        resumed = " (restored)" if phase.resumed else ""
        if phase.resumed_from is not None:
            resumed = f" (resumed after epoch {phase.resumed_from})"
        table.add_row(
            phase.name + resumed, str(phase.epochs or ""), lr, f"{phase.seconds:.1f}", last
        )
    out = console()
    if result.resumed:
        out.print(f"resumed from the checkpoint in {result.recipe.checkpoint_dir}")
    out.print(table)
    if result.metrics:
        out.print("final: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    if result.class_names:
        out.print(f"classes: {', '.join(result.class_names)}")
    for fmt, path in result.exports.items():
        out.print(f"{fmt:>11}: {path}")
    if png is not None:
        out.print(f"{'curves':>11}: {png}")


@main.command("export")
@click.argument("model_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "formats",
    type=_FORMAT_CHOICE,
    multiple=True,
    help="Repeatable; default: all three.",
)
@click.option(
    "--trust", is_flag=True, help="Allow Lambda layers and arbitrary callables in the file."
)
@click.option("--json", "as_json", is_flag=True, help="Print format -> path as JSON.")
def export_cmd(
    model_file: Path, out: Path, formats: tuple[str, ...], trust: bool, as_json: bool
) -> None:
    """Export a saved Keras model (.keras / .h5) as SavedModel, .keras and/or TFLite into OUT."""
    if not model_file.is_file():
        raise SourceNotFoundError(f"model file not found: {model_file}", source=str(model_file))
    if model_file.suffix not in (".keras", ".h5", ".hdf5"):
        raise InvalidModelError(
            f"{model_file}: zoo export reads .keras or .h5 files, received "
            f"{model_file.suffix or 'no suffix'!r}",
            source=str(model_file),
        )
    quiet_tensorflow()
    from zoo.finetune.export import export_model
    from zoo.finetune.recipe import EXPORT_FORMATS

    # through the local provider: its code-safety checks apply (trust=True to bypass them)
    model = session().load_backbone(str(model_file), trust=trust).model
    paths = export_model(model, out, _export_formats(formats) or EXPORT_FORMATS)
    if as_json:
        echo_json({fmt: str(path) for fmt, path in paths.items()})
        return
    for fmt, path in paths.items():
        click.echo(f"{fmt:>11}: {path}")
