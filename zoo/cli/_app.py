"""The click group, error handling and output helpers shared by every command."""

from __future__ import annotations

import functools
import gc
import importlib
import json
import os
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from zoo import settings
from zoo._version import __version__
from zoo.errors import ZooError, ZooWarning

if TYPE_CHECKING:
    from zoo.session import Session

__all__ = [
    "COMMANDS",
    "INTERRUPT_HINT",
    "console",
    "echo_columns",
    "echo_json",
    "echo_table",
    "main",
    "override_option",
    "parse_overrides",
    "quiet_tensorflow",
    "renew_session",
    "safe_markup",
    "safe_text",
    "session",
    "shape_text",
    "trust_option",
    "with_trust",
]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


#: ``ctx.meta`` key of a command's hint printed after Ctrl-C (e.g. how to resume).
INTERRUPT_HINT = "zoo.interrupt_hint"


#: Every command -> the module of ``zoo.cli`` that defines it. A command's module is imported
#: only when that command runs (``zoo list`` does not pay for the import of ``zoo finetune``'s
#: 33 derived flags or PyYAML); ``zoo --help`` and an unknown name import them all.
#: tests/cli/test_commands.py checks this table against what the modules define.
COMMANDS: Mapping[str, str] = {
    "cache": "cache",
    "compare": "compare",
    "demo": "demo",
    "doctor": "doctor",
    "evaluate": "evaluate",
    "export": "export",
    "fetch": "download",
    "finetune": "train",
    "info": "catalog",
    "install": "catalog",
    "list": "catalog",
    "lock": "download",
    "plugins": "catalog",
    "predict": "predict",
    "publish": "publish",
    "trust": "trust",
    "uninstall": "catalog",
    "untrust": "trust",
}


class ZooGroup(click.Group):
    """Turns errors into one clear line: ZooError and OSError exit 1, usage errors exit 2.

    Commands are imported on demand (:data:`COMMANDS`): :meth:`get_command` imports the
    module of the command asked for, or every module for a name it does not know (so that
    click's "did you mean" sees them all).

    Ctrl-C exits 130 (the shell's convention for SIGINT) with what was interrupted and, when
    the command set one, a hint (``zoo finetune --checkpoint`` says how to resume). With
    ``--debug`` the traceback is printed too.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The console script's entry (``CliRunner`` calls :meth:`main` instead)."""
        try:
            return self.main(*args, **kwargs)
        finally:
            # The process exits next. Moving every object to the permanent generation spares
            # the interpreter's last collection a walk over all of them (~8% of `zoo list`'s
            # CPU time). Not after TensorFlow was imported: its objects get their full
            # shutdown, finalizers in reference cycles included.
            if "tensorflow" not in sys.modules:
                gc.freeze()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            modules = (
                [COMMANDS[cmd_name]] if cmd_name in COMMANDS else sorted(set(COMMANDS.values()))
            )
            for module in modules:
                importlib.import_module(f"zoo.cli.{module}")  # registers its commands on main
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def invoke(self, ctx: click.Context) -> Any:
        formatter = warnings.formatwarning
        warnings.formatwarning = _format_warning
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as exc:
            if _debug(ctx):
                _print_traceback()
            where = f" ({exc.args[0]})" if exc.args and isinstance(exc.args[0], str) else ""
            hint = ctx.meta.get(INTERRUPT_HINT)
            click.echo(f"Interrupted{where}." + (f" {hint}" if hint else ""), err=True)
            ctx.exit(130)
        except (ZooError, OSError) as exc:
            self._fail(ctx, str(exc) if isinstance(exc, ZooError) else _os_error_text(exc))
        except Exception as exc:  # a bug: say so, keep the traceback behind --debug
            self._fail(
                ctx, f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)"
            )
        finally:
            warnings.formatwarning = formatter

    @staticmethod
    def _fail(ctx: click.Context, message: str) -> None:
        if _debug(ctx):
            _print_traceback()
        click.echo(f"Error: {safe_text(message)}", err=True)
        ctx.exit(1)


def _format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Our warnings as one ``Warning: ...`` line, like errors; not Python's ``file:line:``
    header and source line, which say nothing to a command-line user. Others as Python has them.
    """
    if issubclass(category, ZooWarning):
        return f"Warning: {safe_text(str(message))}\n"
    return _PYTHON_FORMAT(message, category, filename, lineno, line)


_PYTHON_FORMAT = warnings.formatwarning


def _print_traceback() -> None:
    import traceback  # only with --debug: it costs every command's start-up otherwise

    traceback.print_exc()


def _debug(ctx: click.Context) -> bool:
    if ctx.find_root().params.get("debug"):
        return True
    try:
        return settings.debug()
    except ZooError:  # a bad ZOO_DEBUG is reported by main(); reporting must not fail on it
        return False


def _os_error_text(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


@click.group(cls=ZooGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="zoo")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
def main(debug: bool) -> None:
    """tfzoo: name a model, get a normalized backbone, fine-tune it.

    \b
    Discover:   zoo list 'resnet*'      zoo info inception_v3 --load
    Get:        zoo fetch NAME          zoo lock
    Choose:     zoo compare DATA 'efficientnet_b*' mobilenet_v2
    Train:      zoo finetune NAME --data DIR --export out/
    Use:        zoo predict out/ photos/    zoo evaluate out/ --data val/
    Share:      zoo publish out/ --name team/x --to DIR    zoo trust URL_PREFIX
    Diagnose:   zoo doctor NAME
    Extend:     zoo plugins             zoo install PACKAGE
    """
    settings.debug()  # a bad ZOO_DEBUG value is an error before any command runs


def session() -> Session:
    """The Session every command of this invocation uses.

    It is the click context's ``obj`` (``main(obj=Session(...))`` or ``CliRunner().invoke(main,
    args, obj=session)`` runs the CLI against another session), else the default session.
    """
    root = click.get_current_context().find_root()
    if root.obj is None:
        from zoo.session import default_session

        root.obj = default_session()
    return root.obj  # type: ignore[no-any-return]


def renew_session() -> None:
    """After installing or removing plugins: the default session is built again on next use."""
    from zoo.session import default_session, reset

    root = click.get_current_context().find_root()
    if root.obj is None or root.obj is default_session():
        reset()
        root.obj = None


def console(stderr: bool = False) -> Any:
    """A rich console (imported lazily: rich costs start-up time)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, stderr=stderr)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
    """A plain aligned table (``pip list`` style).

    rich's Table measures every cell to wrap it, ~0.1 s for a zoo of a few hundred models:
    half the start-up budget of ``zoo list``; long listings print plain columns instead.
    """
    columns = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in headers]
    echo_columns(headers, columns, title)


def echo_columns(headers: Sequence[str], columns: Sequence[list[str]], title: str = "") -> None:
    """:func:`echo_table` given its columns (``zoo list`` builds columns, not rows).

    Each column is checked, measured and padded as a whole (C-level ``join``, ``map``; a
    value repeated down a column is padded once), so 50,000 rows take a fraction of a second.
    """
    padded = []
    widths = []
    for header, col in zip(headers, columns, strict=True):
        joined = "".join(col)  # one scan per column, not per cell
        if not joined.isprintable() and _CONTROL.search(joined):
            col = [safe_text(cell) for cell in col]
        width = max(len(header), max(map(len, col), default=0))
        distinct = set(col)
        if len(distinct) * 4 < len(col):
            pad = {value: value.ljust(width) for value in distinct}
            padded.append(list(map(pad.__getitem__, col)))
        else:
            padded.append([value.ljust(width) for value in col])
        widths.append(width)
    lines = [safe_text(title)] if title else []  # a title names models and folders
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    lines.extend(map(str.rstrip, map("  ".join, zip(*padded, strict=True))))
    click.echo("\n".join(lines))


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def safe_text(value: object) -> str:
    """``value`` for a terminal: control characters (ANSI escapes) shown escaped, never raw.

    A registry description or a plugin error may hold ``\x1b[...`` sequences that would
    recolour, clear or retitle the user's terminal.
    """
    text = str(value)
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def safe_markup(value: object) -> str:
    """:func:`safe_text`, with rich markup (``[bold]``) escaped for ``console().print``."""
    from rich.markup import escape

    return escape(safe_text(value))


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON with a trailing newline (the --json contract)."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def shape_text(shape: Sequence[int | None] | None) -> str:
    """(224, 224, 3) -> "224x224x3"; free dimensions print as "*"."""
    return _shape_text(None if shape is None else tuple(shape))


@functools.lru_cache(maxsize=256)  # a zoo repeats a few shapes across thousands of entries
def _shape_text(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "?"
    return "x".join("*" if d is None else str(d) for d in shape)


def quiet_tensorflow() -> None:
    """Import TensorFlow without its C++ start-up log lines (they drown a tool's output).

    ``TF_CPP_MIN_LOG_LEVEL`` does not silence the lines absl prints before it is initialized,
    so the import runs with file descriptor 2 pointed at /dev/null; Python exceptions still
    propagate. ``--debug`` (or ``ZOO_DEBUG=1``) keeps everything.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ctx = click.get_current_context(silent=True)
    if "tensorflow" in sys.modules or (ctx is not None and _debug(ctx)):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def parse_overrides(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, Any]:
    """``-o KEY=VALUE`` options -> overrides for ``zoo.load_backbone`` (VALUE read as YAML).

    ``-o weights=null -o input_shape=[96,96,3] -o include_top=true``
    """
    import yaml

    overrides: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, received {item!r}", ctx, param)
        try:
            overrides[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            overrides[key.strip()] = raw
    return overrides


override_option = click.option(
    "--override",
    "-o",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_overrides,
    help="Override a spec field or provider option, e.g. -o weights=null -o input_shape=[96,96,3].",
)

#: ``--trust`` on every command that loads a model file (the errors that refuse one name it)
trust_option = click.option(
    "--trust",
    is_flag=True,
    help="Load a model file that runs Python code when loaded (Lambda layers, custom "
    "callables, an embedded SavedModel program); only for files you trust.",
)


def with_trust(overrides: dict[str, Any], trust: bool) -> dict[str, Any]:
    """The ``-o`` overrides with ``trust=True`` added when ``--trust`` was given."""
    return {**overrides, "trust": True} if trust else overrides
