"""Recipe: validation, did-you-mean, registry `recipe:` blocks, precedence. No training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from zoo.errors import InvalidOptionError
from zoo.finetune.recipe import Recipe, resolve_recipe


def test_defaults_are_the_keras_transfer_learning_recipe() -> None:
    r = Recipe()
    assert r.freeze == "backbone" and r.unfreeze_epochs == 0 and r.cache_mode == "auto"
    assert Recipe(learning_rate=1e-3, unfreeze_epochs=2).phase2_learning_rate == pytest.approx(1e-5)
    assert Recipe(unfreeze_learning_rate=3e-4).phase2_learning_rate == 3e-4


def test_lists_become_tuples_and_scalars_lists() -> None:
    r = Recipe.from_mapping(
        {
            "hidden_units": [64, 32],
            "metrics": "accuracy",
            "augmentation": "flip",
            "image_size": [8, 9],
        }
    )
    assert r.hidden_units == (64, 32)
    assert r.metrics == ("accuracy",)
    assert r.augmentation == ("flip",)
    assert r.image_size == (8, 9)
    assert Recipe(cache_features=False).cache_mode == "off"
    assert Recipe(cache_features=True).cache_mode == "auto"


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("epochs", 0, "positive integer"),
        ("epochs", 2.5, "positive integer"),
        ("batch_size", True, "positive integer"),
        ("learning_rate", -1, "positive number"),
        ("dropout", 1.0, r"\[0, 1\)"),
        ("label_smoothing", "x", r"\[0, 1\)"),
        ("hidden_units", [64, 0], "positive integers"),
        ("freeze", None, "'backbone', 'none'"),
        ("freeze", "re:(", "regular expression"),
        ("augmentation", ["flipp"], "did you mean 'flip'"),
        ("cache_features", "ram", "auto, memory, disk, off"),
        ("early_stopping", {"patiense": 2}, "patience"),
        ("export_formats", ["tflite8"], "saved_model, keras, tflite, tflite_float16"),
        ("strategy", "tpu", "mirrored"),
        ("jit_compile", "yes", "'auto'"),
        ("unfreeze_top", 0, "positive integer"),
    ],
)
def test_bad_values_are_refused_with_what_was_received(
    field: str, value: object, match: str
) -> None:
    with pytest.raises(InvalidOptionError, match=match) as info:
        Recipe.from_mapping({field: value})
    assert field in str(info.value) and "received" in str(info.value)


def test_unknown_fields_suggest_the_closest() -> None:
    with pytest.raises(InvalidOptionError, match="did you mean 'epochs'"):
        Recipe.from_mapping({"epocs": 3}, origin="zoo.yaml:4")
    with pytest.raises(InvalidOptionError, match=r"zoo\.yaml:4"):
        Recipe.from_mapping({"epocs": 3}, origin="zoo.yaml:4")
    with pytest.raises(InvalidOptionError, match="did you mean 'unfreeze_top'"):
        Recipe().replace(unfreze_top=3)


def test_precedence_registry_then_recipe_then_keywords() -> None:
    registry = {"epochs": 3, "dropout": 0.5}
    merged = resolve_recipe(registry, {"epochs": 4}, {"batch_size": 8})
    assert (merged.epochs, merged.dropout, merged.batch_size) == (4, 0.5, 8)
    # a Recipe object is complete: it replaces the registry block
    replaced = resolve_recipe(registry, Recipe(epochs=2), {})
    assert (replaced.epochs, replaced.dropout) == (2, 0.2)
    with pytest.raises(InvalidOptionError, match=r"zoo\.Recipe or a mapping"):
        resolve_recipe(None, [("epochs", 2)], {})  # type: ignore[arg-type]


def _write_registry(work: Path, recipe_line: str) -> None:
    (work / "zoo.yaml").write_text(
        "models:\n"
        "  tiny_mobilenet:\n"
        "    provider: keras\n"
        "    source: MobileNet\n"
        "    input_shape: [32, 32, 3]\n"
        f"    recipe: {recipe_line}\n"
    )


def test_a_registry_recipe_block_gives_the_defaults(isolated: Path) -> None:
    _write_registry(isolated, "{epochs: 3, hidden_units: [16], unfreeze_epochs: 1}")
    tuner = zoo.Finetuner("tiny_mobilenet", weights=None, epochs=5)
    assert tuner.recipe.epochs == 5  # keyword wins
    assert tuner.recipe.hidden_units == (16,) and tuner.recipe.unfreeze_epochs == 1
    assert tuner.load_overrides == {"weights": None}


def test_a_bad_registry_recipe_names_the_entry_and_line(isolated: Path) -> None:
    _write_registry(isolated, "{epohcs: 3}")
    with pytest.raises(
        InvalidOptionError, match=r"tiny_mobilenet.*zoo\.yaml:2.*did you mean 'epochs'"
    ):
        zoo.Finetuner("tiny_mobilenet")


def test_misspelt_keywords_are_caught_before_loading() -> None:
    with pytest.raises(InvalidOptionError, match="did you mean 'unfreeze_epochs'"):
        zoo.Finetuner("mobilenet", unfreeze_epoch=2)


def test_importing_the_engine_api_does_not_import_tensorflow() -> None:
    code = (
        "import sys, zoo; zoo.Recipe(epochs=2); zoo.FinetuneResult; import zoo.finetune; "
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
