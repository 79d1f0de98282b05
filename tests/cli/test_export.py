"""`zoo export` and `zoo finetune --export` from the terminal: the table, the report, exit codes."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from zoo.errors import ZooWarning

from .conftest import Zoo


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny trained classifier of tests/export, saved as a .keras file."""
    from tests.export.conftest import tiny_classifier

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    tiny_classifier().save(path)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """a/, b/, c/ folders of 16x16 PNGs, 8 per class."""
    from tests.export.conftest import write_class_folders

    return write_class_folders(tmp_path_factory.mktemp("photos"), 8)


def test_export_onnx_and_int8_prints_the_table_and_writes_the_report(
    zoo_cli: Zoo, model_file: Path, photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "deploy"
    result = zoo_cli(
        "export",
        str(model_file),
        str(out),
        "--format",
        "onnx",
        "--format",
        "tflite",
        "--quantize",
        "int8",
        "--data",
        str(photos),
        "--representative",
        "20",
    )
    text = result.stdout
    assert "exported tiny" in text and "checked on 24 images" in text
    for word in ("tflite_int8", "onnx", "top-1 agree", "ms @32", "export_report.json"):
        assert word in text, word
    assert "FAILED" not in text
    assert sorted(p.name for p in out.iterdir()) == [
        "export_report.json",
        "labels.txt",
        "model.onnx",
        "model_int8.tflite",
    ]
    report = json.loads((out / "export_report.json").read_text())
    assert report["ok"] and [f["format"] for f in report["formats"]] == ["onnx", "tflite_int8"]
    assert report["class_names"] == ["a", "b", "c"] and report["labels_known"]
    assert report["representative"] == 24


def test_export_json_default_formats_in_litert(
    zoo_cli: Zoo, model_file: Path, tmp_path: Path
) -> None:
    data = zoo_cli.json("export", str(model_file), str(tmp_path / "exp"))
    assert [f["format"] for f in data["formats"]] == ["saved_model", "keras", "tflite"]
    tflite = Path(next(f["path"] for f in data["formats"] if f["format"] == "tflite"))
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    assert tuple(interpreter.get_input_details()[0]["shape"][1:]) == (16, 16, 3)


def test_export_keep_tensor_names_keeps_every_tflite_name(
    zoo_cli: Zoo, model_file: Path, tmp_path: Path
) -> None:
    from zoo.export.flatbuffer import tensor_names

    names = {}
    for flags in ((), ("--keep-tensor-names",)):
        out = tmp_path / ("kept" if flags else "default")
        zoo_cli("export", str(model_file), str(out), "--format", "tflite", "--no-verify", *flags)
        (names[bool(flags)],) = tensor_names((out / "model.tflite").read_bytes())
    assert len(names[True]) == len(names[False]) and all(names[True])
    assert [n for n in names[False] if n] == ["serve_image:0", "StatefulPartitionedCall:0"]


def test_export_exits_1_when_a_file_fails_its_tolerance(
    zoo_cli: Zoo, model_file: Path, photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "deploy"
    result = zoo_cli(
        "export",
        str(model_file),
        str(out),
        "--quantize",
        "float16",
        "--format",
        "tflite",
        "--max-diff",
        "tflite_float16=0",
        "--val",
        str(photos),
        code=1,
    )
    assert "FAILED tflite_float16: max |Δp|" in result.stdout and "max |Δp|" in result.stdout
    assert (out / "model_float16.tflite").is_file()  # written all the same
    assert json.loads((out / "export_report.json").read_text())["failed"] == ["tflite_float16"]


def test_export_bad_input(zoo_cli: Zoo, model_file: Path, tmp_path: Path) -> None:
    few = zoo_cli(
        "export", str(model_file), str(tmp_path / "o"), "--quantize", "int8", code=1
    ).stderr
    assert "at least 100 representative images" in few and "received 0" in few
    keras_only = zoo_cli(
        "export", str(model_file), str(tmp_path / "o"), "--format", "keras", "--quantize",
        "int8", code=2,
    ).stderr  # fmt: skip
    assert "add --format tflite" in keras_only
    bad = zoo_cli(
        "export", str(model_file), str(tmp_path / "o"), "--max-diff", "tflite=x", code=2
    ).stderr
    assert "FORMAT=NUMBER" in bad
    assert (
        "model file not found"
        in zoo_cli("export", str(tmp_path / "x.keras"), str(tmp_path / "o"), code=1).stderr
    )
    weird = tmp_path / "model.bin"
    weird.write_bytes(b"x")
    assert (
        "reads .keras or .h5" in zoo_cli("export", str(weird), str(tmp_path / "o"), code=1).stderr
    )


def test_export_refuses_code_in_the_file_unless_trusted(zoo_cli: Zoo, tmp_path: Path) -> None:
    """F18 through the CLI: a .keras with a Lambda layer is refused without --trust."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Lambda(lambda x: x * 2.0),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    path = tmp_path / "lambda.keras"
    model.save(path)
    result = zoo_cli("export", str(path), str(tmp_path / "o"), "--format", "keras", code=1)
    assert "trust" in result.stderr and "Lambda" in result.stderr


def test_finetune_export_onnx_and_int8_on_its_own_data(
    zoo_cli: Zoo, model_file: Path, photos: Path, tmp_path: Path
) -> None:
    """int8 calibrates on the fine-tune's training images: 24 are too few, so it says so and
    exits 1 before training (refused after it, the trained model would be lost), with the
    auto and the classic recipe."""
    out = tmp_path / "out"
    for recipe in ("auto", "classic"):
        result = zoo_cli(
            "finetune", str(model_file), "--data", str(photos), "--epochs", "1", "--export",
            str(out), "--format", "onnx", "--format", "tflite", "--quantize", "int8",
            "--recipe", recipe, code=1,
        )  # fmt: skip
        assert "at least 100 representative images" in result.stderr
        # the 32 images (the classic recipe's validation split takes 8 of them later)
        assert "the training data has 24; nothing was trained" in result.stderr
        assert "--representative 24" in result.stderr
        assert "fine-tuned" not in result.stdout and "Epoch" not in result.stdout
        assert not out.exists()
    data = zoo_cli.json(
        "finetune", str(model_file), "--data", str(photos), "--epochs", "1", "--export",
        str(out), "--format", "onnx", "--quantize", "float16", "--format", "tflite",
    )  # fmt: skip
    # float16, not dynamic range: a model trained one epoch has near-tied classes, and
    # dynamic range's int8 weights flipped 1 of 12 top-1s in one of four runs (a true
    # verdict on that model; tests/export checks dynamic range on a trained one)
    report = data["export_report"]
    assert report["ok"] and [f["format"] for f in report["formats"]] == ["onnx", "tflite_float16"]
    assert set(data["exports"]) == {"onnx", "tflite_float16", "labels", "report"}
    assert report["formats"][0]["runtime"].startswith("onnxruntime")


def test_export_of_a_file_trained_on_scaled_pixels_warns_and_takes_preprocessing(
    zoo_cli: Zoo, photos: Path, tmp_path: Path
) -> None:
    """A model file whose first layer gets the image unscaled: ``zoo export`` says so (it
    used to silence every warning, not only its verification verdict), and
    ``--preprocessing unit`` bakes the scaling in: the files then compute what the model
    computes on pixels / 255."""
    import keras
    import numpy as np

    from tests.export.conftest import SHAPE, tiny_classifier
    from zoo.workflows.runner import open_model

    scaled = tiny_classifier()
    unscaled = keras.Sequential([keras.Input(SHAPE), *scaled.layers[1:]], name="unscaled")
    unscaled.save(tmp_path / "unscaled.keras")
    with pytest.warns(ZooWarning, match="nothing in the model scales"):  # a console prints it
        zoo_cli(
            "export", str(tmp_path / "unscaled.keras"), str(tmp_path / "raw"), "--format",
            "tflite", "--data", str(photos),
        )  # fmt: skip
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        zoo_cli(
            "export", str(tmp_path / "unscaled.keras"), str(tmp_path / "unit"), "--format",
            "tflite", "--data", str(photos), "--preprocessing", "unit",
        )  # fmt: skip
    assert not [w for w in said if "nothing in the model scales" in str(w.message)]
    pixels = np.random.default_rng(0).uniform(0, 255, (4, *SHAPE)).astype("float32")
    files = open_model(tmp_path / "unit" / "model.tflite")(pixels)
    np.testing.assert_allclose(files, np.asarray(scaled(pixels)), atol=1e-5)
    zoo_cli(
        "export", str(tmp_path / "unscaled.keras"), str(tmp_path / "bad"), "--format",
        "tflite", "--preprocessing", "tff", code=1,
    )  # fmt: skip


def test_every_command_that_loads_a_model_file_takes_trust(zoo_cli: Zoo, tmp_path: Path) -> None:
    """The refusal says "--trust on the command line": each command that loads a model file
    has it (info --load, doctor, finetune and compare had only -o trust=true), and it loads
    the file the refusal was about."""
    import click
    import keras

    from zoo.cli import main

    ctx = click.Context(main, info_name="zoo")
    for name in ("info", "doctor", "finetune", "compare", "predict", "evaluate", "export"):
        command = main.get_command(ctx, name)
        assert command is not None and "trust" in [p.name for p in command.params], name
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Lambda(lambda x: x * 2.0, name="double"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(2, activation="softmax", name="predictions"),
        ]
    )
    path = tmp_path / "lambda.keras"
    model.save(path)
    refused = zoo_cli("info", str(path), "--load", code=1).stderr
    assert "Lambda layer 'double'" in refused and "`--trust` on the command line" in refused
    loaded = zoo_cli("info", str(path), "--load", "--trust").stdout
    assert "predictions" in loaded and "flatten" in loaded
    image = tmp_path / "x.npy"
    np.save(image, np.full((8, 8, 3), 100.0, dtype="float32"))
    assert "network input" in zoo_cli("doctor", str(path), "--image", str(image), "--trust").stdout
