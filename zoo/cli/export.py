"""``zoo export``, and the export options ``zoo finetune --export`` shares (engine: zoo/export/).

``--format`` and ``--quantize`` are converted to zoo.export format names in one place,
:func:`export_formats`; the report table is printed by :func:`print_report` for both.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from zoo.cli._app import echo_json, echo_table, main, quiet_tensorflow, safe_text, trust_option
from zoo.errors import ExportError, InvalidModelError, SourceNotFoundError, ZooWarning
from zoo.export.names import DEFAULT_FORMATS, FORMATS, QUANTIZATIONS
from zoo.export.report import ExportReport

__all__ = ["export_formats", "export_options", "print_report", "quantize_option"]

# `--format` spellings -> format names; the TFLite variants come from --quantize
_SPELLINGS = {"savedmodel": "saved_model", **{name: name for name in FORMATS}}
_FORMAT_CHOICE = click.Choice(sorted(_SPELLINGS), case_sensitive=False)
_QUANTIZE_CHOICE = click.Choice(list(QUANTIZATIONS), case_sensitive=False)

F = TypeVar("F", bound=Callable[..., Any])


#: ``--quantize``, shared by ``zoo export`` and ``zoo finetune`` (whose ``--format`` is the
#: Recipe field's derived flag).
quantize_option = click.option(
    "--quantize",
    type=_QUANTIZE_CHOICE,
    multiple=True,
    help="TFLite variant(s) instead of float32 (repeatable): "
    + ", ".join(QUANTIZATIONS)
    + ". int8 calibrates on the training images.",
)


def export_options(default_help: str) -> Callable[[F], F]:
    """``--format`` and ``--quantize`` of ``zoo export``."""

    def decorate(f: F) -> F:
        f = quantize_option(f)
        return click.option(
            "--format",
            "formats",
            type=_FORMAT_CHOICE,
            multiple=True,
            help=f"Export format (repeatable): savedmodel, keras, tflite, onnx; {default_help}.",
        )(f)

    return decorate


def export_formats(formats: tuple[str, ...], quantize: tuple[str, ...]) -> tuple[str, ...]:
    """``--format`` / ``--quantize`` values as format names, each once, in the order given.

    ``--format tflite --quantize int8`` -> ``tflite_int8``; ``--quantize`` alone changes the
    TFLite file of the default formats; ``--quantize float32 --quantize int8`` writes both.
    """
    names = [_SPELLINGS[f.lower()] for f in formats] or list(DEFAULT_FORMATS)
    if quantize:
        variants = [QUANTIZATIONS[q.lower()] for q in quantize]
        if "tflite" not in names and not any(n in variants for n in names):
            raise click.UsageError("--quantize makes TFLite files: add --format tflite")
        at = names.index("tflite") if "tflite" in names else len(names)
        names[at : at + 1] = variants
    return tuple(dict.fromkeys(names))


def print_report(report: Any) -> None:
    """The export report as a table, one row per file after the Keras reference, then the
    paths and what failed (plain columns: they never wrap on a narrow terminal)."""
    echo_table(
        report.COLUMNS,
        report.rows(),
        title=f"exported {report.model} -> {report.directory} "
        f"(checked on {report.samples} images: {report.sample_source})",
    )
    for item in report.formats:
        if item.path:
            click.echo(f"{item.format:>14}: {safe_text(item.path)}")
    click.echo(f"{'report':>14}: {safe_text(report.paths['report'])}")
    for item in report.formats:
        if not item.ok:
            click.echo(f"FAILED {item.format}: {safe_text('; '.join(item.problems))}")
    if not report.ok:
        click.echo("(the files are written all the same; see the report)")


def _tolerance(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...], field: str
) -> dict[str, dict[str, float]]:
    """``FORMAT=X`` items -> {format: {field: X}}."""
    out: dict[str, dict[str, float]] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        name = _SPELLINGS.get(name.strip().lower(), name.strip())
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not sep or name not in FORMATS or value != value:
            raise click.BadParameter(
                f"expected FORMAT=NUMBER with FORMAT one of {', '.join(FORMATS)}; "
                f"received {item!r}",
                ctx,
                param,
            )
        out[name] = {field: value}
    return out


@main.command("export")
@click.argument("model_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@export_options("default: savedmodel, keras and tflite")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Training images (one folder per class): int8 calibrates on them, and the files are "
    "checked on them when there is no --val.",
)
@click.option(
    "--val",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Held-out images (one folder per class) to check every file on.",
)
@click.option(
    "--representative",
    type=click.IntRange(min=1),
    help="Fewest images int8 calibrates on (default 100).",
)
@click.option("--samples", type=click.IntRange(min=1), help="Images compared (default 256).")
@click.option(
    "--max-diff",
    multiple=True,
    metavar="FORMAT=X",
    callback=lambda ctx, param, values: _tolerance(ctx, param, values, "max_abs_diff"),
    help="Tolerance: largest |Δp| a format may show (repeatable), e.g. tflite_int8=0.05.",
)
@click.option(
    "--min-agreement",
    multiple=True,
    metavar="FORMAT=X",
    callback=lambda ctx, param, values: _tolerance(ctx, param, values, "min_agreement"),
    help="Tolerance: smallest top-1 agreement with Keras (repeatable), e.g. tflite_int8=0.98.",
)
@click.option("--no-verify", is_flag=True, help="Write the files without checking them.")
@click.option(
    "--keep-tensor-names",
    is_flag=True,
    help="Keep every tensor's name in the TFLite files (the TF ops fused into it, for "
    "debuggers and Netron); by default only the input and output keep theirs.",
)
@trust_option
@click.option(
    "--preprocessing",
    metavar="MODE",
    help="The model file was trained on scaled pixels (unit, tf, torch, caffe, ...): the "
    "files take raw pixels and scale them this way.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def export_cmd(
    model_file: Path,
    out: Path,
    formats: tuple[str, ...],
    quantize: tuple[str, ...],
    data: Path | None,
    val: Path | None,
    representative: int | None,
    samples: int | None,
    max_diff: dict[str, dict[str, float]],
    min_agreement: dict[str, dict[str, float]],
    no_verify: bool,
    keep_tensor_names: bool,
    trust: bool,
    preprocessing: str | None,
    as_json: bool,
) -> None:
    """Export a saved Keras model (.keras / .h5) into OUT and check every file against it.

    Each file runs in its own runtime (LiteRT, onnxruntime, the loaded SavedModel, Keras)
    on the --val images (or a sample of --data; noise without either); the table of
    differences, agreement, accuracy, size and latency is printed and written to
    OUT/export_report.json. Exits 1 when a file fails its tolerance (it is still written).

    \b
    zoo export out/model.keras deploy/ --format onnx --format tflite --quantize int8 \\
        --data flowers/train --val flowers/val
    """
    if not model_file.is_file():
        raise SourceNotFoundError(f"model file not found: {model_file}", source=str(model_file))
    if model_file.suffix not in (".keras", ".h5", ".hdf5"):
        raise InvalidModelError(
            f"{model_file}: zoo export reads .keras or .h5 files, received "
            f"{model_file.suffix or 'no suffix'!r}",
            source=str(model_file),
        )
    names = export_formats(formats, quantize)
    quiet_tensorflow()
    from zoo import api

    options: dict[str, Any] = {"verify": not no_verify}
    if keep_tensor_names:
        options["keep_tensor_names"] = True
    tolerances = {
        name: {**max_diff.get(name, {}), **min_agreement.get(name, {})}
        for name in {**max_diff, **min_agreement}
    }
    if tolerances:
        options["tolerances"] = tolerances
    if representative is not None:
        options["representative"] = representative
    if samples is not None:
        options["samples"] = samples
    with warnings.catch_warnings():
        # the table says it, and the exit code; every other warning is the user's to read
        warnings.filterwarnings("ignore", "export verification failed", ZooWarning)
        try:
            report = api.export(
                str(model_file),
                out,
                names,
                data=str(data) if data else None,
                validation_data=str(val) if val else None,
                trust=trust,
                preprocessing=preprocessing,
                **options,
            )
        except ExportError as exc:
            if isinstance(exc.report, ExportReport):  # what was written, before the error line
                echo_json(exc.report.to_dict()) if as_json else print_report(exc.report)
            raise
    if as_json:
        echo_json(report.to_dict())
    else:
        print_report(report)
    if not report.ok:
        raise click.exceptions.Exit(1)
