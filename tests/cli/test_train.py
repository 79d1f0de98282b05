"""`zoo finetune` from the terminal, on a real image directory (`zoo export`: test_export.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .conftest import Zoo


def _write_png(path: Path, array: np.ndarray) -> None:
    import tensorflow as tf

    path.write_bytes(tf.io.encode_png(array).numpy())


@pytest.fixture(scope="module")
def image_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """train/ and val/ with two classes of 12x12 RGB images: dark squares vs bright ones."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for split, count in (("train", 10), ("val", 4)):
        for label, base in (("dark", 40), ("bright", 200)):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(base + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype("uint8")
                _write_png(folder / f"{i}.png", pixels)
    return root / "train", root / "val"


@pytest.fixture(scope="module")
def own_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small saved CNN: the 'your own pretrained model' a user fine-tunes."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(3, activation="softmax", name="predictions"),
        ]
    )
    path = tmp_path_factory.mktemp("model") / "own.keras"
    model.save(path)
    return path


def test_finetune_trains_exports_and_plots(
    zoo_cli: Zoo, image_dirs: tuple[Path, Path], own_model: Path, tmp_path: Path
) -> None:
    train, val = image_dirs
    out, png = tmp_path / "out", tmp_path / "curves.png"
    result = zoo_cli(
        "finetune",
        str(own_model),
        "--data",
        str(train),
        "--val",
        str(val),
        "--epochs",
        "3",
        "--unfreeze-epochs",
        "2",
        "--lr",
        "0.05",
        "--seed",
        "1",
        "--export",
        str(out),
        "--format",
        "keras",
        "--format",
        "savedmodel",
        "--plot",
        str(png),
    )
    text = result.stdout
    assert "fine-tuned own -> 2 classes" in text and "classes: bright, dark" in text
    assert "head" in text and "finetune" in text and "val_accuracy" in text
    assert "auto recipe trials (* = chosen)" in text and "linear probe" in text
    assert "auto: false" in (out / "recipe.yaml").read_text()
    assert (out / "model.keras").is_file() and (out / "saved_model" / "saved_model.pb").is_file()
    assert not (out / "model.tflite").exists()
    assert (out / "labels.txt").read_text().split() == ["bright", "dark"]

    import tensorflow as tf

    image = tf.io.decode_png(png.read_bytes()).numpy()
    assert image.shape[:2] == (400, 1000)  # figsize 10x4 inches at 100 dpi
    assert image[..., :3].std() > 10  # curves were drawn: not a blank canvas
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 20


def test_finetune_json_and_the_exported_model_serves(
    zoo_cli: Zoo, image_dirs: tuple[Path, Path], own_model: Path, tmp_path: Path
) -> None:
    train, val = image_dirs
    data = zoo_cli.json(
        "finetune",
        str(own_model),
        "--data",
        str(train),
        "--val",
        str(val),
        "--recipe",
        "classic",
        "--epochs",
        "2",
        "--export",
        str(tmp_path / "out"),
        "--format",
        "keras",
        "--no-cache",
    )
    assert data["num_classes"] == 2 and data["class_names"] == ["bright", "dark"]
    assert [p["name"] for p in data["phases"]][:1] == ["head"] and data["feature_cache"] is None
    assert 0.0 <= data["metrics"]["val_accuracy"] <= 1.0
    import keras

    import zoo.model.layers  # noqa: F401  (registers the layers the model uses)

    model = keras.saving.load_model(data["exports"]["keras"])
    raw = np.full((1, 12, 12, 3), 200.0, "float32")
    probs = np.asarray(model(raw))
    assert probs.shape == (1, 2) and np.isclose(probs.sum(), 1.0, atol=1e-5)


def test_finetune_bad_inputs(
    zoo_cli: Zoo, image_dirs: tuple[Path, Path], own_model: Path, tmp_path: Path
) -> None:
    train, _ = image_dirs
    assert "unknown model" in zoo_cli("finetune", "nope_net", "--data", str(train), code=1).stderr
    missing = zoo_cli("finetune", str(own_model), "--data", str(tmp_path / "none"), code=2)
    assert "does not exist" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = zoo_cli("finetune", str(own_model), "--data", str(empty), code=1)
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert (
        "--export"
        in zoo_cli(
            "finetune", str(own_model), "--data", str(train), "--format", "keras", code=2
        ).stderr
    )
    assert (
        "--unfreeze-epochs"
        in zoo_cli(
            "finetune", str(own_model), "--data", str(train), "--unfreeze-top", "2", code=2
        ).stderr
    )
    bad_layer = zoo_cli(
        "finetune",
        str(own_model),
        "--data",
        str(train),
        "--freeze",
        "no_such_layer",
        "--epochs",
        "1",
        code=1,
    )
    assert "no_such_layer" in bad_layer.stderr
