"""`zoo finetune`'s recipe flags are made from the Recipe dataclass (no TensorFlow, no training)."""

from __future__ import annotations

import dataclasses
from typing import Any

import click
import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.cli.recipe_options import SPELLINGS, option_table, recipe_options, recipe_values
from zoo.finetune.recipe import Recipe, recipe_fields


@click.command()
@recipe_options
def show(**recipe: Any) -> None:
    """Print the Recipe overrides the flags gave."""
    click.echo(repr(sorted(recipe_values(recipe).items())))


def _parse(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(show, list(args))
    assert result.exit_code == 0, result.output
    return dict(eval(result.output))  # the repr of plain values printed above


def _usage_error(*args: str) -> str:
    result = CliRunner().invoke(show, list(args))
    assert result.exit_code == 2, result.output
    return result.output


def test_every_recipe_field_has_a_comment_a_group_and_a_flag() -> None:
    fields = recipe_fields()
    assert [f.name for f in fields] == [f.name for f in dataclasses.fields(Recipe)]
    for f in fields:
        assert f.help and f.group, f"Recipe.{f.name}: give it a one-line comment"
    help_text = CliRunner().invoke(main, ["finetune", "--help"], terminal_width=200).output
    flagged = {o.field.name for o in option_table()}
    for f in fields:
        if SPELLINGS.get(f.name) is None or SPELLINGS[f.name].cli:
            assert f.name in flagged
            assert "--" + f.name.replace("_", "-") in help_text, f.name
    assert set(SPELLINGS) <= {f.name for f in fields}  # no spelling of a removed field


def test_nothing_given_means_no_override() -> None:
    assert _parse() == {}  # the registry's recipe block and Recipe defaults apply


def test_documented_short_names_still_work() -> None:
    got = _parse(
        *("--lr", "0.05", "--export", "out", "--format", "savedmodel", "--format", "keras"),
        *("--no-cache", "--tensorboard", "tb", "--checkpoint", "ck", "--image-size", "32", "32"),
    )
    assert got == {
        "learning_rate": 0.05,
        "export_dir": "out",
        "export_formats": ("saved_model", "keras"),
        "cache_features": "off",
        "tensorboard_dir": "tb",
        "checkpoint_dir": "ck",
        "image_size": (32, 32),
    }
    derived = _parse("--learning-rate", "0.05", "--export-dir", "out", "--cache-features", "off")
    assert derived == {"learning_rate": 0.05, "export_dir": "out", "cache_features": "off"}


def test_types_come_from_the_annotations() -> None:
    got = _parse(
        *("--hidden-units", "64,32", "--hidden-units", "16", "--freeze", "120"),
        *("--no-shuffle", "--train-batchnorm", "--jit-compile", "true", "--verbose", "2"),
        *("--early-stopping", "{patience: 2}", "--augmentation", "flip,{zoom: 0.2}"),
        *("--optimizer", "{class_name: sgd}", "--unfreeze-top", "3", "--seed", "7"),
    )
    assert got == {
        "hidden_units": (64, 32, 16),
        "freeze": 120,
        "shuffle": False,
        "train_batchnorm": True,
        "jit_compile": True,
        "verbose": 2,
        "early_stopping": {"patience": 2},
        "augmentation": ("flip", {"zoom": 0.2}),
        "optimizer": {"class_name": "sgd"},
        "unfreeze_top": 3,
        "seed": 7,
    }
    assert _parse("--freeze", "re:conv.*", "--jit-compile", "auto", "--early-stopping", "3") == {
        "freeze": "re:conv.*",
        "jit_compile": "auto",
        "early_stopping": 3,
    }
    assert _parse("--freeze", "-2")["freeze"] == -2


def test_bad_values_are_usage_errors_with_the_recipes_message() -> None:
    assert "recipe field 'epochs' must be a positive integer" in _usage_error("--epochs", "0")
    assert "must be a number in [0, 1)" in _usage_error("--dropout", "1.5")
    assert "'bogus' is not one of saved_model, keras, tflite" in _usage_error("--format", "bogus")
    assert "'many' is not an integer" in _usage_error("--seed", "many")
    assert "did you mean 'zoom'" in _usage_error("--augmentation", "zoomm")
    assert "contradicts --cache-features memory" in _usage_error(
        "--no-cache", "--cache-features", "memory"
    )


def test_callbacks_are_python_only() -> None:
    assert "callbacks" not in {o.field.name for o in option_table()}
    assert "No such option '--callbacks'" in _usage_error("--callbacks", "x")


def test_finetune_usage_checks_read_the_derived_values() -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["finetune", "x", "--data", ".", "--format", "keras"])
    assert bad.exit_code == 2 and "--format and --quantize need --export DIR" in bad.output


@pytest.mark.parametrize("option", option_table(), ids=lambda o: o.field.name)
def test_every_option_accepts_the_recipes_default(option: Any) -> None:
    """The default, written as a user would, parses back to itself (flag form for bools)."""
    default = option.field.default
    if default is None or default == () or isinstance(default, dict):
        return
    if isinstance(default, bool):
        args = [option.names[0] if default else "--no-" + option.names[0][2:]]
    elif isinstance(default, tuple):
        args = [option.names[0], ",".join(map(str, default))]
    else:
        args = [option.names[0], str(default)]
    assert _parse(*args) == {option.field.name: default}
