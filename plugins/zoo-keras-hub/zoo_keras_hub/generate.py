"""Regenerate ``presets.json``, the offline catalogue of KerasHub's image backbones.

``zoo list`` must not import KerasHub (it pulls in TensorFlow), so the preset catalogue is
read from KerasHub's own preset registries here, at development time, and shipped as data.
Run it after upgrading keras-hub; a test fails while the file is out of date::

    python -m zoo_keras_hub.generate          # rewrite zoo_keras_hub/presets.json
    python -m zoo_keras_hub.generate --check  # exit 1 if the file is out of date

Which backbones count as image backbones: every Backbone class that KerasHub pairs with an
``ImageClassifier`` task, plus the self-supervised image encoders in
:data:`EXTRA_IMAGE_ENCODERS` (they have no classifier task upstream). Multimodal, detection,
segmentation and depth backbones are left out: their output is not one image feature.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["CATALOGUE_PATH", "EXTRA_IMAGE_ENCODERS", "build_catalogue", "main", "render"]

CATALOGUE_PATH = Path(__file__).with_name("presets.json")

#: Image encoders without an ImageClassifier task in KerasHub that are still image backbones.
EXTRA_IMAGE_ENCODERS = ("DINOV2Backbone", "DINOV3Backbone")

# Constructor arguments that are not architecture options: tfzoo sets the input size through
# its core `input_shape` override, and its backbones are channels-last.
_NOT_OPTIONS = {"self", "kwargs", "name", "data_format", "image_shape", "input_shape"}

# "at a 224x224 resolution", "image resolution of 384x384"
_SIZE_IN_TEXT = re.compile(r"\b(\d{2,4})x(\d{2,4})\b")
# "..._r240_imagenet", "..._patch16_224_imagenet", "mit_b0_ade20k_512"
_SIZE_IN_NAME = re.compile(r"_r?(\d{3,4})(?:_|$)")


def _image_size(name: str, description: str) -> list[int] | None:
    """The native resolution a preset states in its description or name, else None."""
    found = _SIZE_IN_TEXT.search(description)
    if found:
        return [int(found.group(1)), int(found.group(2))]
    found = _SIZE_IN_NAME.search(name)
    if found:
        side = int(found.group(1))
        return [side, side]
    return None


def build_catalogue() -> dict[str, Any]:
    """Read the installed KerasHub's preset registries (imports keras_hub)."""
    import keras_hub
    from keras_hub.src.models.feature_pyramid_backbone import FeaturePyramidBackbone

    classifiers = {
        task.backbone_cls
        for task in _subclasses(keras_hub.models.ImageClassifier)
        if getattr(task, "backbone_cls", None) is not None
    }
    backbones: dict[str, Any] = {}
    presets: dict[str, Any] = {}
    for cls in sorted(_subclasses(keras_hub.models.Backbone), key=lambda c: c.__name__):
        if cls not in classifiers and cls.__name__ not in EXTRA_IMAGE_ENCODERS:
            continue
        own = {k: v for k, v in cls.presets.items() if _preset_class(k) is cls}
        params = inspect.signature(cls.__init__).parameters
        shape_arg = next((a for a in ("image_shape", "input_shape") if a in params), None)
        family = cls.__module__.split(".")[-2]  # keras_hub.src.models.<family>.<module>
        backbones[cls.__name__] = {
            "family": family,
            "arguments": sorted(a for a in params if a not in _NOT_OPTIONS),
            "shape_argument": shape_arg,
            "feature_pyramid": issubclass(cls, FeaturePyramidBackbone),
            "image_classifier": cls in classifiers,
        }
        for name, preset in sorted(own.items()):
            meta = preset.get("metadata", {})
            description = " ".join(str(meta.get("description", "")).split())
            presets[name] = {
                "backbone": cls.__name__,
                "description": description,
                "params": meta.get("params"),
                "kaggle_handle": preset.get("kaggle_handle"),
                "image_size": _image_size(name, description),
            }
    return {
        "generated_by": "python -m zoo_keras_hub.generate",
        "keras_hub_version": keras_hub.__version__,
        "backbones": backbones,
        "presets": presets,
    }


def _subclasses(cls: type) -> set[Any]:
    """Every class registered with Keras that subclasses ``cls``."""
    import keras

    return {
        obj
        for obj in keras.saving.get_custom_objects().values()
        if inspect.isclass(obj) and issubclass(obj, cls) and obj is not cls
    }


def _preset_class(preset: str) -> type | None:
    """The Backbone class a built-in preset was registered for."""
    from keras_hub.src.utils.preset_utils import BUILTIN_PRESETS_FOR_BACKBONE

    for cls, names in BUILTIN_PRESETS_FOR_BACKBONE.items():
        if preset in names:
            return cls  # type: ignore[no-any-return]
    return None


def render(catalogue: dict[str, Any]) -> str:
    """The file text: stable key order and one preset per few lines, for readable diffs."""
    return json.dumps(catalogue, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: rewrite the catalogue, or with ``--check`` report whether it is stale."""
    parser = argparse.ArgumentParser(prog="python -m zoo_keras_hub.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if presets.json is stale")
    args = parser.parse_args(argv)
    text = render(build_catalogue())
    old = CATALOGUE_PATH.read_text(encoding="utf-8") if CATALOGUE_PATH.is_file() else ""
    if args.check:
        stale = text != old
        print(
            f"{CATALOGUE_PATH} is "
            + ("out of date; run python -m zoo_keras_hub.generate" if stale else "up to date")
        )
        return int(stale)
    CATALOGUE_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {CATALOGUE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
