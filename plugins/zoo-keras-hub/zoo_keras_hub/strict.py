"""Require-hashes mode (``ZOO_REQUIRE_HASHES=1``) for KerasHub presets: remote ones are refused.

tfzoo's strict mode refuses any artifact without a sha256 pin before anything is downloaded.
KerasHub downloads a preset itself (kagglehub, huggingface_hub, ...), file by file, outside
tfzoo's download stack, so no pin could be checked against what it fetches: in strict mode a
preset that KerasHub would download (a ``kaggle://``, ``hf://``, ``gs://`` or
``modelscope://`` handle, or a built-in preset name) is refused before KerasHub is asked for
anything. A local preset directory and ``keras_hub:<BackboneClass>`` download nothing and
still load. Imports neither KerasHub nor TensorFlow.
"""

from __future__ import annotations

import zoo.plugin_api as plugin_api
from zoo.plugin_api import IntegrityError

__all__ = ["refuse_remote_preset"]

#: Where each handle scheme makes KerasHub download from.
_ORIGINS = {
    "kaggle://": "Kaggle",
    "hf://": "Hugging Face (huggingface.co)",
    "gs://": "Google Cloud Storage",
    "modelscope://": "ModelScope",
}


def refuse_remote_preset(preset: str, handle: str | None = None) -> None:
    """In require-hashes mode, refuse a preset KerasHub would download; else do nothing.

    Args:
        preset: the source as given (a handle, or a built-in preset name).
        handle: for a built-in preset name, the handle KerasHub downloads it from.

    Raises:
        IntegrityError: ``ZOO_REQUIRE_HASHES=1`` is set. Nothing has been downloaded.
    """
    if not plugin_api.hashes_required():
        return
    where = handle or preset
    origin = next((o for s, o in _ORIGINS.items() if where.startswith(s)), "Kaggle")
    named = preset if where == preset else f"{preset} ({where})"
    raise IntegrityError(
        f"require-hashes mode (ZOO_REQUIRE_HASHES=1): KerasHub preset {named} would be "
        f"downloaded by KerasHub itself from {origin}, file by file, where tfzoo cannot "
        "check a sha256 pin, so it is refused; nothing was downloaded. To load it: download "
        "it once without ZOO_REQUIRE_HASHES into a local preset directory "
        f"(keras_hub.models.Backbone.from_preset({preset!r}).save_to_preset('my_preset'), "
        "reviewed and kept with your project), then load that directory "
        "(zoo.load_backbone('./my_preset'), which strict mode allows); or unset "
        "ZOO_REQUIRE_HASHES for this load",
        url=where,
    )
