"""``zoo predict MODEL IMAGES...``: top-k class names with probabilities."""

from __future__ import annotations

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

FORMAT_CHOICE = click.Choice(["saved_model", "keras", "tflite", "onnx"])


@main.command("predict")
@click.argument("model")
@click.argument("images", nargs=-1, required=True)
@click.option("--top-k", "-k", default=5, show_default=True, help="Classes per image.")
@click.option("--batch-size", "-b", default=32, show_default=True)
@click.option("--format", "fmt", type=FORMAT_CHOICE, help="Which export of MODEL to run.")
@click.option("--strict", is_flag=True, help="Stop at the first image that cannot be decoded.")
@trust_option
@click.option(
    "--preprocessing",
    metavar="MODE",
    help="Scale raw pixels for a .keras/.h5 file that is not a tfzoo export: unit, tf, torch, "
    "caffe, ...",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: image, rank, label, probability.")
def predict_cmd(
    model: str,
    images: tuple[str, ...],
    top_k: int,
    batch_size: int,
    fmt: str | None,
    strict: bool,
    trust: bool,
    preprocessing: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Run MODEL (an export directory or file, or a published name) on IMAGES.

    IMAGES are image files, folders (searched recursively) or .npy arrays; every image is
    resized and converted to what the model takes. Images that cannot be decoded are
    reported and skipped (--strict stops instead).
    """
    quiet_tensorflow()
    from zoo import api

    report = api.predict(
        model,
        list(images),
        top_k=top_k,
        batch_size=batch_size,
        format=fmt,
        strict=strict,
        trust=trust,
        preprocessing=preprocessing,
        session=session(),
    )
    for image, error in report.skipped:
        click.echo(f"skipped {safe_text(image)}: {safe_text(error)}", err=True)
    if as_json:
        echo_json(report.to_dict())
    elif as_csv:
        click.echo(report.to_csv(), nl=False)
    else:
        rows = [
            (p.source, ", ".join(f"{name} {prob:.3f}" for name, prob in p.top))
            for p in report.predictions
        ]
        echo_table(["IMAGE", f"TOP {top_k}"], rows)
