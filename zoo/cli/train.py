"""Training from the terminal: ``zoo finetune`` and ``zoo export`` (engine in zoo/finetune/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import console, echo_json, main, override_option, quiet_tensorflow
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


def _freeze(value: str | None) -> str | int | None:
    """``--freeze 120`` means layer index 120; names, "backbone", "none", "re:..." stay text."""
    if value is None:
        return None
    stripped = value.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else stripped


@main.command("finetune")
@click.argument("name")
@click.option(
    "--data", required=True, type=_DIRECTORY, help="Training images: one folder per class."
)
@click.option("--val", type=_DIRECTORY, help="Validation images, same layout.")
@click.option(
    "--recipe",
    "recipe_name",
    type=click.Choice(["auto", "classic"]),
    default="auto",
    show_default=True,
    help="auto: choose cut point, what trains and how long by validation; classic: the fixed "
    "Keras recipe.",
)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Seconds the auto search may take (default 600).",
)
@click.option("--epochs", type=click.IntRange(min=0), help="Epochs of phase 1 (the new head).")
@click.option(
    "--freeze",
    metavar="POLICY",
    help="backbone (default), none, a layer name or index (frozen up to it), or re:REGEX.",
)
@click.option(
    "--unfreeze-top", type=click.IntRange(min=1), help="Phase 2 trains the last N layers."
)
@click.option(
    "--unfreeze-epochs", type=click.IntRange(min=0), help="Epochs of phase 2 (0 = no phase 2)."
)
@click.option(
    "--lr",
    "learning_rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Learning rate of phase 1.",
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Global batch size.")
@click.option("--image-size", type=(int, int), metavar="H W", help="Read images at this size.")
@click.option("--seed", type=int, help="Seed for reproducible runs.")
@click.option("--no-cache", is_flag=True, help="Do not train the head on cached features.")
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Export the fine-tuned model here.",
)
@click.option(
    "--format",
    "formats",
    type=_FORMAT_CHOICE,
    multiple=True,
    help="Export format (repeatable; default: savedmodel, keras and tflite).",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write loss/accuracy curves to this PNG.",
)
@click.option(
    "--tensorboard",
    type=click.Path(file_okay=False, path_type=Path),
    help="TensorBoard log directory.",
)
@click.option(
    "--checkpoint",
    type=click.Path(file_okay=False, path_type=Path),
    help="Checkpoint directory; a rerun resumes there.",
)
@override_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress bar).")
def finetune_cmd(
    name: str,
    data: Path,
    val: Path | None,
    recipe_name: str,
    time_budget: float | None,
    epochs: int | None,
    freeze: str | None,
    unfreeze_top: int | None,
    unfreeze_epochs: int | None,
    learning_rate: float | None,
    batch_size: int | None,
    image_size: tuple[int, int] | None,
    seed: int | None,
    no_cache: bool,
    export_dir: Path | None,
    formats: tuple[str, ...],
    plot: Path | None,
    tensorboard: Path | None,
    checkpoint: Path | None,
    overrides: dict[str, Any],
    as_json: bool,
) -> None:
    """Fine-tune NAME on a directory of images (one sub-folder per class).

    By default (--recipe auto) the cut point, what trains (the head, the top layers, all
    layers) and for how many epochs are chosen by validation (--val, or a split carved from
    --data) within --time-budget; the trials are printed and the chosen recipe is written as
    recipe.yaml beside the export. Options you give are kept; --epochs is an upper bound.
    --recipe classic is the Keras transfer-learning guide's recipe: the backbone frozen
    (BatchNorm in inference mode), a new head trained on cached features, then with
    --unfreeze-epochs the backbone (or its top --unfreeze-top layers) at a learning rate 100x
    lower.

    \b
    zoo finetune mobilenet_v2 --data flowers/train --val flowers/val \\
        --epochs 10 --unfreeze-epochs 3 --export out/ --plot curves.png
    """
    if formats and export_dir is None:
        raise click.UsageError("--format needs --export DIR")
    if unfreeze_top is not None and not unfreeze_epochs:
        raise click.UsageError("--unfreeze-top needs --unfreeze-epochs N (phase 2)")
    quiet_tensorflow()
    import zoo

    options: dict[str, Any] = {
        "time_budget": time_budget,
        "epochs": epochs,
        "freeze": _freeze(freeze),
        "unfreeze_top": unfreeze_top,
        "unfreeze_epochs": unfreeze_epochs,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "image_size": image_size,
        "seed": seed,
        "cache_features": "off" if no_cache else None,
        "export_dir": str(export_dir) if export_dir else None,
        "export_formats": _export_formats(formats) or None,
        "tensorboard_dir": str(tensorboard) if tensorboard else None,
        "checkpoint_dir": str(checkpoint) if checkpoint else None,
        "verbose": 0 if as_json else None,
    }
    options = {k: v for k, v in options.items() if v is not None}
    result = zoo.finetune(
        name,
        str(data),
        validation_data=str(val) if val else None,
        recipe=recipe_name,
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
        resumed = " (resumed)" if phase.resumed else ""
        table.add_row(
            phase.name + resumed, str(phase.epochs or ""), lr, f"{phase.seconds:.1f}", last
        )
    out = console()
    if result.trials:
        from zoo.finetune.result import trials_table

        out.print("auto recipe trials (* = chosen):", highlight=False)
        out.print(trials_table(result.trials), highlight=False, markup=False)
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
    import zoo
    from zoo.finetune.export import export_model
    from zoo.finetune.recipe import EXPORT_FORMATS

    # through the local provider: its code-safety checks apply (trust=True to bypass them)
    model = zoo.load_backbone(str(model_file), trust=trust).model
    paths = export_model(model, out, _export_formats(formats) or EXPORT_FORMATS)
    if as_json:
        echo_json({fmt: str(path) for fmt, path in paths.items()})
        return
    for fmt, path in paths.items():
        click.echo(f"{fmt:>11}: {path}")
