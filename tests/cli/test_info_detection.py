"""`zoo info PATH --load` explains the detection: rules, heads, and the overrides to use."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Zoo
from tests.model.corpus import HEAD_SHAPES, keras20_sequential


def test_info_load_lists_heads_rules_and_hints(zoo_cli: Zoo, isolated: Path) -> None:
    HEAD_SHAPES["wide_resnet"][0]().save(isolated / "wrn.keras")
    out = zoo_cli("info", "./wrn.keras", "--load").stdout
    assert "0: pred_gender  2 classes (pred_gender)" in out
    assert "1: pred_age  101 classes (pred_age)" in out
    assert "classifier 'pred_age': Dense 'pred_age' (101 outputs, softmax)" in out
    assert "2 heads on one trunk" in out
    assert "pass feature_layer='flatten_1', head='pred_gender'" in out
    assert "-o head=pred_gender" in out
    chosen = zoo_cli.json("info", "./wrn.keras", "--load", "-o", "head=1")["backbone"]
    assert (chosen["classifier"], chosen["num_classes"]) == ("pred_age", 101)


def test_info_load_says_what_was_converted(zoo_cli: Zoo, isolated: Path) -> None:
    keras20_sequential(isolated / "old.h5")
    data = zoo_cli.json("info", "./old.h5", "--load")["backbone"]
    assert data["notes"][0].startswith("converted a Keras 2.0.8 file (tensorflow backend)")
    assert data["heads"] == {"dense_2": {"classifier": "dense_2", "num_classes": 4}}
    assert data["hints"] == {}
    text = zoo_cli("info", "./old.h5", "--load").stdout
    assert "bare list of layers" in text and "unsure?" not in text
