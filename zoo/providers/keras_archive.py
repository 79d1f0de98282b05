"""``.keras`` archives of older Keras 3 releases that the installed Keras refuses.

Keras 3.8 wrote a nested functional model's one input and one output as lists of one,
``"output_layers": [["relu", 0, 0]]`` (a ``keras.applications`` trunk inside a Sequential,
the way every transfer-learning tutorial builds its model); later releases write the bare
``["relu", 0, 0]`` and build the old form as a list of one tensor, so the next layer of the
enclosing Sequential receives "2 input tensors" and ``load_model`` fails on the release's
own older files (keras-team/keras#20084). :func:`load_rewritten` loads a copy of the
archive whose ``config.json`` has the bare form; the weights are Keras's to read as ever.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["load_rewritten", "unwrap_nested_ends"]

_MODELS = ("Functional", "Model")


def unwrap_nested_ends(config: Any) -> Any | None:
    """``config`` with each nested functional model's one-entry input / output lists bare,
    or None when it has none (the top model's own lists are kept: Keras builds them)."""
    changed = False

    def walk(node: Any, nested: bool) -> None:
        nonlocal changed
        if isinstance(node, list):
            for item in node:
                walk(item, nested)
            return
        if not isinstance(node, dict):
            return
        inner = node.get("config")
        if node.get("class_name") in _MODELS and isinstance(inner, dict) and nested:
            for key in ("input_layers", "output_layers"):
                ends = inner.get(key)
                if isinstance(ends, list) and len(ends) == 1 and isinstance(ends[0], list):
                    inner[key] = ends[0]
                    changed = True
        layers = inner.get("layers") if isinstance(inner, dict) else None
        if isinstance(layers, list):
            walk(layers, True)

    rewritten = copy.deepcopy(config)
    walk(rewritten, False)
    return rewritten if changed else None


def load_rewritten(path: Path, config: Any, *, trust: bool, custom_objects: dict[str, Any]) -> Any:
    """``keras.saving.load_model`` of a temporary copy of ``path`` holding ``config``.

    The copy (in the system's temporary directory, removed after) costs the archive's size
    on disk for the time of the load; the weights are not read into memory twice.
    """
    import keras

    with tempfile.TemporaryDirectory(prefix="tfzoo-keras-") as tmp:
        copied = Path(tmp) / path.name
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(copied, "w") as target:
            for info in source.infolist():
                if info.filename == "config.json":
                    target.writestr(info, json.dumps(config))
                    continue
                with source.open(info) as src, target.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        return keras.saving.load_model(
            str(copied), custom_objects=custom_objects or None, compile=False, safe_mode=not trust
        )
