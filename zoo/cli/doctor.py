"""``zoo doctor``: check the preprocessing contract of a backbone on a real image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import (
    console,
    echo_json,
    main,
    override_option,
    quiet_tensorflow,
    safe_markup,
    session,
    shape_text,
    trust_option,
    with_trust,
)

_STYLE = {"ok": "[green]ok  [/green]", "info": "[blue]info[/blue]", "warn": "[yellow]warn[/yellow]"}


@main.command("doctor")
@click.argument("name")
@click.option(
    "--image",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An image file or a .npy array as your pipeline feeds it (default: a real photo "
    "shipped by scikit-learn).",
)
@override_option
@trust_option
@click.option("--strict", is_flag=True, help="Exit with code 1 when there is a warning.")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
def doctor_cmd(
    name: str,
    image: Path | None,
    overrides: dict[str, Any],
    trust: bool,
    strict: bool,
    as_json: bool,
) -> None:
    """Run an image through NAME's preprocessing and check it against the input spec.

    Reports the value range, mean/std, shape and dtype the network would see, and warns about
    the classic mistakes: 0-255 data into a [-1, 1] network, images scaled twice, BGR vs RGB
    for caffe-mode models, preprocessing EfficientNet-style models that normalize inside.
    """
    quiet_tensorflow()
    from zoo.model.doctor import diagnose, load_image, reference_image

    if image is not None:
        array, source = load_image(image), str(image)
    else:
        array, source = reference_image()
    report = diagnose(session().load_backbone(name, **with_trust(overrides, trust)), array, source)
    if as_json:
        echo_json(report.to_dict())
    else:
        _print(report)
    if strict and report.warnings:
        raise click.exceptions.Exit(1)


def _print(report: Any) -> None:
    out = console()
    e, i, n = report.expects, report.image, report.network_input
    order = "grayscale" if (e.get("shape") or [None])[-1] == 1 else e["channel_order"].upper()
    out.print(
        f"[bold]{report.model}[/bold] ({e['provider']}) wants {shape_text(e['shape'])} "
        f"{e['dtype']}, preprocessing [bold]{e['mode']}[/bold] ({order}) "
        f"-> values in {e['value_range']}"
    )
    out.print(
        f"image  {safe_markup(i['source'])}: {shape_text(i['shape'])} {i['dtype']}, values "
        f"[{i['min']:g}, {i['max']:g}] ({i['kind']})"
    )
    out.print(
        f"network input  {shape_text(n['shape'])} {n['dtype']}: range "
        f"[{n['min']:g}, {n['max']:g}], mean {n['mean']}, std {n['std']}"
    )
    f = report.features
    out.print(
        f"features  dim {f['dim']}, mean {f['mean']:g}, std {f['std']:g}, finite {f['finite']}"
    )
    if report.mistakes:
        out.print("\nwhat the classic mistakes would feed this network:")
        for m in report.mistakes:
            out.print(
                f"  - {m['mistake']}: range {m['network_sees']} (expected {m['expected']}), "
                f"channel means {m['mean']}"
            )
    out.print("")
    for finding in report.findings:
        out.print(f"{_STYLE[finding.level]}  {safe_markup(finding.message)}")
