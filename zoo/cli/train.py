"""Training from the terminal: ``zoo finetune`` (engine in zoo/finetune/; export in export.py)."""

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
    safe_markup,
    session,
    trust_option,
    with_trust,
)
from zoo.cli.export import export_formats, print_report, quantize_option
from zoo.cli.recipe_options import recipe_options, recipe_values

_DIRECTORY = click.Path(exists=True, file_okay=False, readable=True, path_type=Path)


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
@recipe_options
@quantize_option
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write loss/accuracy curves to this PNG.",
)
@override_option
@trust_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no progress bar).")
def finetune_cmd(
    name: str,
    data: Path,
    val: Path | None,
    recipe_name: str,
    quantize: tuple[str, ...],
    plot: Path | None,
    overrides: dict[str, Any],
    trust: bool,
    as_json: bool,
    **recipe: Any,
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
    Every field of zoo.Recipe is an option below; those not given come from the model's
    registry recipe.

    \b
    zoo finetune mobilenet_v2 --data flowers/train --val flowers/val \\
        --epochs 10 --unfreeze-epochs 3 --export out/ --plot curves.png
    """
    options = recipe_values(recipe)
    if ("export_formats" in options or quantize) and "export_dir" not in options:
        raise click.UsageError("--format and --quantize need --export DIR")
    if quantize:
        options["export_formats"] = export_formats(options.get("export_formats", ()), quantize)
    if "unfreeze_top" in options and not options.get("unfreeze_epochs"):
        raise click.UsageError("--unfreeze-top needs --unfreeze-epochs N (phase 2)")
    if as_json:
        options.setdefault("verbose", 0)
    ctx = click.get_current_context()
    ctx.meta[INTERRUPT_HINT] = (
        "Run the same command again to resume from the checkpoint in "
        f"{options['checkpoint_dir']} (it continues after the last finished epoch; "
        "an auto recipe whose search had ended does not search again)."
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
        recipe=recipe_name,
        **options,
        **with_trust(overrides, trust),
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
        resumed = " (restored)" if phase.resumed else ""
        if phase.resumed_from is not None:
            resumed = f" (resumed after epoch {phase.resumed_from})"
        epochs = str(phase.epochs or "")
        if phase.kept_epoch is not None:  # early stopping put back an earlier epoch's weights
            epochs += f" (kept {phase.kept_epoch})"
        table.add_row(phase.name + resumed, epochs, lr, f"{phase.seconds:.1f}", last)
    out = console()
    if result.resumed:
        out.print(f"resumed from the checkpoint in {safe_markup(result.recipe.checkpoint_dir)}")
    if result.trials:
        from zoo.finetune.result import trials_table

        out.print("auto recipe trials (* = chosen):", highlight=False)
        out.print(trials_table(result.trials), highlight=False, markup=False)
    out.print(table)
    if result.metrics:
        out.print("final: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    if result.class_names:
        out.print(f"classes: {safe_markup(', '.join(result.class_names))}")
    if result.export_report is not None:
        print_report(result.export_report)
    if png is not None:
        out.print(f"{'curves':>14}: {safe_markup(png)}")
