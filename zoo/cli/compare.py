"""``zoo compare DATA MODEL...``: which backbone to start from for these images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import (
    echo_json,
    echo_table,
    main,
    override_option,
    quiet_tensorflow,
    safe_text,
    session,
    trust_option,
    with_trust,
)


@main.command("compare")
@click.argument("data", type=click.Path(path_type=Path, exists=True))
@click.argument("models", nargs=-1, required=True)
@click.option("--folds", "-k", default=5, show_default=True, help="Cross-validation folds.")
@click.option("--seed", default=0, show_default=True, help="Fold assignment seed.")
@click.option("--batch-size", "-b", default=32, show_default=True)
@click.option("--image-size", nargs=2, type=int, help="H W to resize to (default: the model's).")
@click.option("--time-budget", type=float, help="Seconds for all candidates together.")
@click.option("--plot", type=click.Path(path_type=Path), help="Write a bar chart PNG.")
@override_option
@trust_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def compare_cmd(
    data: Path,
    models: tuple[str, ...],
    folds: int,
    seed: int,
    batch_size: int,
    image_size: tuple[int, int] | None,
    time_budget: float | None,
    plot: Path | None,
    overrides: dict[str, Any],
    trust: bool,
    as_json: bool,
) -> None:
    """Rank MODELS (names, globs like 'efficientnet_b*', paths, handles) on DATA.

    DATA is a directory with one sub-directory of images per class. Each model runs frozen
    once over it; a linear probe is then cross-validated on the features. Failures are
    reported in their row and do not stop the others.
    """
    quiet_tensorflow()
    from zoo import api

    result = api.compare(
        data, list(models), folds=folds, seed=seed, batch_size=batch_size,
        image_size=(image_size[0], image_size[1]) if image_size else None, time_budget=time_budget,
        plot=plot, session=session(), **with_trust(overrides, trust),
    )  # fmt: skip
    for image, error in result.skipped:
        click.echo(f"skipped {safe_text(image)}: {safe_text(error)}", err=True)
    if as_json:
        echo_json(result.to_dict())
        return
    rows = []
    for r in result.rows:
        if r.error is not None:
            rows.append((r.candidate, "failed: " + r.error.splitlines()[0][:120], "", "", "", ""))
            continue
        rows.append(
            (
                r.candidate,
                f"{r.accuracy:.3f} ± {r.spread:.3f}",
                f"{r.images_per_second:.1f}",
                f"{r.parameters:,}",
                str(r.feature_dim),
                f"{r.seconds:.1f}",
            )
        )
    echo_table(
        ["MODEL", "VAL ACCURACY", "IMAGES/S", "PARAMS", "FEATURES", "SECONDS"],
        rows,
        title=f"{result.images} images, {len(result.classes)} classes, {result.folds}-fold "
        "linear probe on frozen features",
    )
    if result.plot is not None:
        click.echo(f"plot: {result.plot}")
