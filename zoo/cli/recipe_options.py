"""``zoo finetune``'s recipe flags: one option per :class:`~zoo.finetune.recipe.Recipe` field.

Nothing here names a field except :data:`SPELLINGS`. Each option is made from the dataclass
(:func:`~zoo.finetune.recipe.recipe_fields`): the name ``learning_rate`` becomes
``--learning-rate``, a ``bool`` a ``--x/--no-x`` pair, a ``tuple[X, ...]`` a repeatable option
that also takes a comma list, ``tuple[int, int]`` two numbers, a ``*_dir`` field a directory;
a union (``str | int``, ``int | Mapping``) reads the first of mapping (YAML ``{k: v}``),
integer, number, boolean and text that fits. The help is the field's one-line comment. Each
value is checked by the Recipe itself as it is parsed, so a bad one is a usage error (exit 2)
with the Recipe's own message. A new Recipe field therefore gets its flag, ``--help`` line and
docs/cli.md row without code here. No TensorFlow.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
import yaml

from zoo.errors import InvalidOptionError
from zoo.export.names import FORMATS
from zoo.finetune.recipe import CACHE_MODES, Recipe, RecipeField, recipe_fields

__all__ = [
    "SPELLINGS",
    "RecipeOption",
    "Spelling",
    "default_text",
    "option_table",
    "recipe_options",
    "recipe_values",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Spelling:
    """How the command line spells one Recipe field, where it differs from the derived form."""

    aliases: tuple[str, ...] = ()  # more option names (the derived --name-with-dashes stays)
    values: Mapping[str, str] = field(default_factory=dict)  # value spellings -> Recipe values
    choices: tuple[str, ...] = ()  # the values the command line offers (help, errors)
    metavar: str | None = None  # shown in --help instead of the derived one
    flag: tuple[str, Any] | None = None  # a flag that sets the field to one value
    cli: bool = True  # False: Python objects only, no option


#: The one table of hand-made spellings: the short names docs/cli.md and README have always
#: shown (``--lr``, ``--export``, ``--format savedmodel``, ``--no-cache`` ...) keep working.
SPELLINGS: Mapping[str, Spelling] = {
    "freeze": Spelling(metavar="POLICY"),
    "learning_rate": Spelling(aliases=("--lr",)),
    "image_size": Spelling(metavar="H W"),
    "cache_features": Spelling(choices=CACHE_MODES, flag=("--no-cache", "off")),
    "checkpoint_dir": Spelling(aliases=("--checkpoint",)),
    "tensorboard_dir": Spelling(aliases=("--tensorboard",)),
    "callbacks": Spelling(cli=False),  # keras.callbacks.Callback objects
    "export_dir": Spelling(aliases=("--export",)),
    "export_formats": Spelling(
        aliases=("--format",), values={"savedmodel": "saved_model"}, choices=tuple(FORMATS)
    ),
}

_NONE = type(None)


def _parts(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (without None), or the annotation itself."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return tuple(a for a in typing.get_args(annotation) if a is not _NONE)
    return (annotation,)


def _is_mapping(part: Any) -> bool:
    return typing.get_origin(part) is Mapping or part is Mapping


@dataclass(frozen=True)
class RecipeOption:
    """The command-line form of one Recipe field (what :func:`recipe_options` makes)."""

    field: RecipeField
    spelling: Spelling

    @property
    def names(self) -> tuple[str, ...]:
        """Option names: the derived one first, then the aliases."""
        return ("--" + self.field.name.replace("_", "-"), *self.spelling.aliases)

    @property
    def is_flag(self) -> bool:
        """A bool field: ``--x/--no-x``."""
        return self.field.type is bool

    @property
    def items(self) -> Any | None:
        """The item type of a ``tuple[X, ...]`` field (repeatable), else None."""
        args = typing.get_args(self.field.type)
        if typing.get_origin(self.field.type) is tuple and len(args) == 2 and args[1] is ...:
            return args[0]
        return None

    @property
    def pair(self) -> bool:
        """A ``tuple[int, int]`` field (``--image-size H W``)."""
        parts = _parts(self.field.type)
        return len(parts) == 1 and typing.get_args(parts[0]) == (int, int)

    @property
    def metavar(self) -> str:
        """What ``--help`` shows for the value."""
        if self.spelling.metavar:
            return self.spelling.metavar
        if self.spelling.choices:
            return "[" + "|".join(self.spelling.choices) + "]"
        if self.field.name.endswith("_dir"):
            return "DIR"
        parts = _parts(self.items or self.field.type)
        if parts == (int,):
            return "N"
        if parts == (float,):
            return "X"
        if parts == (str,):
            return "TEXT"
        return "VALUE"

    @property
    def type_text(self) -> str:
        """The value as docs/cli.md shows it."""
        if self.is_flag:
            return "flag"
        if self.pair:
            return "H W" if self.spelling.metavar == "H W" else "N N"
        text = self.metavar
        return f"{text} ..." if self.items is not None else text

    @property
    def help(self) -> str:
        """The field's comment, its default, and what a flag alias does."""
        shown = default_text(self.field.default)
        text = self.field.help or self.field.name.replace("_", " ")
        text = text[:1].upper() + text[1:]
        if self.items is not None:
            text += " (repeatable, or a comma list)"
        return f"{text} [default: {shown}]" if shown else text

    def convert(self, raw: Any) -> Any:
        """The raw click value as the Recipe value (None: not given); BadParameter if bad."""
        if raw is None or raw == ():
            return None
        if self.items is not None:
            pieces = [
                p.strip()
                for r in raw
                for p in ([r] if r.lstrip().startswith("{") else r.split(","))
                if p.strip()
            ]
            value: Any = tuple(self._scalar(p, _parts(self.items)) for p in pieces)
        elif self.pair or self.is_flag:
            value = tuple(raw) if self.pair else bool(raw)
        elif self.field.name.endswith("_dir"):
            value = str(raw)
        else:
            value = self._scalar(str(raw), _parts(self.field.type))
        try:
            Recipe().replace(**{self.field.name: value})  # the Recipe's own check, now
        except InvalidOptionError as exc:
            raise click.BadParameter(str(exc)) from None
        return value

    def _scalar(self, text: str, parts: tuple[Any, ...]) -> Any:
        text = self.spelling.values.get(text.lower(), text)
        if self.spelling.choices:
            if text not in self.spelling.choices:
                raise click.BadParameter(
                    f"{text!r} is not one of {', '.join(self.spelling.choices)}"
                )
            return text
        if (Any in parts or any(_is_mapping(p) for p in parts)) and text.startswith("{"):
            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise click.BadParameter(f"{text!r} is not a YAML mapping: {exc}") from None
            if isinstance(loaded, dict):
                return loaded
        if int in parts and re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if float in parts:
            try:
                return float(text)
            except ValueError:
                pass
        if bool in parts and text.lower() in _BOOLS:
            return _BOOLS[text.lower()]
        if str in parts or Any in parts:
            return text
        raise click.BadParameter(f"{text!r} is not {_kinds(parts)}")


_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _kinds(parts: tuple[Any, ...]) -> str:
    words = {int: "an integer", float: "a number", bool: "true or false", str: "text"}
    return " or ".join(
        words.get(p) or ("a {key: value} mapping" if _is_mapping(p) else f"a {p!r}") for p in parts
    )


def default_text(default: Any) -> str:
    if default is None or default == ():
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, tuple):
        return ",".join(str(d) for d in default)
    return str(default)


def _options() -> list[RecipeOption]:
    return [
        RecipeOption(f, SPELLINGS.get(f.name, Spelling()))
        for f in recipe_fields()
        if SPELLINGS.get(f.name, Spelling()).cli
    ]


def _flag_dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _callback(option: RecipeOption) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def convert(_ctx: click.Context, _param: click.Parameter, raw: Any) -> Any:
        return option.convert(raw)

    return convert


def recipe_options(command: F) -> F:
    """Decorate a click command with one option per Recipe field (see the module docstring).

    The command receives each as a keyword (the field's name, None when not given) plus one
    keyword per flag alias; :func:`recipe_values` turns them into Recipe overrides.
    """
    for option in reversed(_options()):
        spelling = option.spelling
        if spelling.flag is not None:
            flag, value = spelling.flag
            command = click.option(
                flag,
                _flag_dest(flag),
                is_flag=True,
                default=False,
                help=f"Same as {option.names[0]} {value}.",
            )(command)

        def callback(
            _ctx: click.Context, _param: click.Parameter, raw: Any, o: Any = option
        ) -> Any:
            return o.convert(raw)

        kwargs: dict[str, Any] = {"help": option.help, "callback": callback, "default": None}
        if option.is_flag:
            name = option.names[0][2:]
            decls: tuple[str, ...] = (f"--{name}/--no-{name}", option.field.name)
        else:
            decls = (*option.names, option.field.name)
            kwargs["metavar"] = option.metavar
            if option.items is not None:
                kwargs["multiple"] = True
                kwargs["default"] = ()
            elif option.pair:
                kwargs["type"] = (int, int)
            elif option.field.name.endswith("_dir"):
                kwargs["type"] = click.Path(file_okay=False)
        command = click.option(*decls, **kwargs)(command)
    return command


def recipe_values(params: dict[str, Any]) -> dict[str, Any]:
    """Pop the recipe options out of a command's keywords: the Recipe overrides given.

    Raises:
        click.UsageError: a flag alias and its field were both given, with different values.
    """
    values: dict[str, Any] = {}
    for option in _options():
        value = params.pop(option.field.name, None)
        flag = option.spelling.flag
        if flag is not None and params.pop(_flag_dest(flag[0]), False):
            if value is not None and value != flag[1]:
                raise click.UsageError(f"{flag[0]} contradicts {option.names[0]} {value}")
            value = flag[1]
        if value is not None:
            values[option.field.name] = value
    return values


def option_table() -> list[RecipeOption]:
    """Every recipe option, in Recipe field order (docs/cli.md's table is made from it)."""
    return _options()
