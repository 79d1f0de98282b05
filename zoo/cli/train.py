"""Training from the terminal: ``zoo finetune`` (engine in zoo/finetune/; export in export.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import console, echo_json, main, override_option, quiet_tensorflow
from zoo.cli.export import export_formats, export_options, print_report

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
@export_options("default: savedmodel, keras and tflite; every file is checked against the model")
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
    quantize: tuple[str, ...],
    plot: Path | None,
    tensorboard: Path | None,
    checkpoint: Path | None,
    overrides: dict[str, Any],
    as_json: bool,
) -> None:
    """Fine-tune NAME on a directory of images (one sub-folder per class).

    The recipe of the Keras transfer-learning guide: the backbone frozen (BatchNorm in
    inference mode), a new head trained on cached features, then with --unfreeze-epochs the
    backbone (or its top --unfreeze-top layers) at a learning rate 100x lower.

    \b
    zoo finetune mobilenet_v2 --data flowers/train --val flowers/val \\
        --epochs 10 --unfreeze-epochs 3 --export out/ --plot curves.png
    """
    if (formats or quantize) and export_dir is None:
        raise click.UsageError("--format and --quantize need --export DIR")
    if unfreeze_top is not None and not unfreeze_epochs:
        raise click.UsageError("--unfreeze-top needs --unfreeze-epochs N (phase 2)")
    quiet_tensorflow()
    import zoo

    options: dict[str, Any] = {
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
        "export_formats": export_formats(formats, quantize) if export_dir else None,
        "tensorboard_dir": str(tensorboard) if tensorboard else None,
        "checkpoint_dir": str(checkpoint) if checkpoint else None,
        "verbose": 0 if as_json else None,
    }
    options = {k: v for k, v in options.items() if v is not None}
    result = zoo.finetune(
        name, str(data), validation_data=str(val) if val else None, **options, **overrides
    )
    png = None
    if plot is not None:
        from zoo.finetune.plot import plot_history

        png = plot_history(result, plot)
    if as_json:
        data_out = result.to_dict()
        data_out["plot"] = str(png) if png else None
        echo_json(data_out)
    else:
        _summary(result, png)
    _export_status(result)


def _export_status(result: Any) -> None:
    """Exit 1 when an export could not be written or failed its check (the model is trained)."""
    if result.export_error:
        raise click.ClickException(f"export: {result.export_error}")
    if result.export_report is not None and not result.export_report.ok:
        raise click.exceptions.Exit(1)


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
    out.print(table)
    if result.metrics:
        out.print("final: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    if result.class_names:
        out.print(f"classes: {', '.join(result.class_names)}")
    if result.export_report is not None:
        print_report(result.export_report)
    if png is not None:
        out.print(f"{'curves':>14}: {png}")
