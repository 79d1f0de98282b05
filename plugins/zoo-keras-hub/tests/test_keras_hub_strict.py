"""Require-hashes mode (ZOO_REQUIRE_HASHES=1) holds for KerasHub presets too.

KerasHub downloads a preset itself, where no sha256 pin can be checked; in strict mode the
plugin used to let it reach huggingface.co / Kaggle anyway. Now a remote preset is refused
with an IntegrityError before any socket is opened (an audit hook sees every DNS lookup and
connect, of any library, and blocks it), and what downloads nothing still loads.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zoo
from keras_hub_helpers import TINY_RESNET, images
from zoo.plugin_api import IntegrityError

_ATTEMPTS: list[str] = []
_WATCHING: list[bool] = []  # an audit hook stays for the process: it acts only when set


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _WATCHING:
        return
    if event == "socket.getaddrinfo" and str(args[0]) not in ("127.0.0.1", "localhost", "::1"):
        _ATTEMPTS.append(f"getaddrinfo({args[0]!r})")
        raise ConnectionRefusedError("test forbids name lookups")
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
            _ATTEMPTS.append(f"connect({address!r})")
            raise ConnectionRefusedError("test forbids connections")


sys.addaudithook(_audit)


@pytest.fixture
def no_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Strict mode on; every lookup or connection not to loopback is recorded and refused."""
    monkeypatch.setenv("ZOO_REQUIRE_HASHES", "1")
    _ATTEMPTS.clear()
    _WATCHING.append(True)
    try:
        yield _ATTEMPTS
    finally:
        _WATCHING.clear()


@pytest.mark.parametrize(
    "source",
    [
        "keras_hub:hf://someone/any-model",
        "hf://someone/any-model",
        "kaggle://keras/resnetv1/keras/resnet_18_imagenet/3",
        "resnet_18_imagenet",  # a registry name: a built-in preset KerasHub downloads
        "keras_hub:resnet_18_imagenet",
    ],
)
def test_strict_mode_refuses_remote_presets_before_any_socket(
    no_socket: list[str], source: str
) -> None:
    with pytest.raises(IntegrityError, match=r"ZOO_REQUIRE_HASHES=1") as info:
        zoo.load_backbone(source)
    message = str(info.value)
    assert "cannot check a sha256 pin" in message and "nothing was downloaded" in message
    assert "save_to_preset" in message and "unset ZOO_REQUIRE_HASHES" in message
    assert info.value.provider == "keras_hub"
    assert no_socket == []


def test_strict_mode_still_loads_what_downloads_nothing(
    no_socket: list[str], saved_preset: Path
) -> None:
    backbone = zoo.load_backbone(str(saved_preset))  # a local preset directory
    assert backbone.name == "tiny_resnet"
    assert np.isfinite(backbone.extract(images(1))).all()
    built = zoo.load_backbone("keras_hub:ResNetBackbone", weights=None, **TINY_RESNET)
    assert built.provider == "keras_hub"
    assert no_socket == []


def test_the_audit_hook_does_see_a_download(
    no_socket: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of strict mode the same handle reaches for the network (and is blocked here)."""
    monkeypatch.setenv("ZOO_REQUIRE_HASHES", "0")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    with pytest.raises(zoo.ZooError):
        zoo.load_backbone("kaggle://keras/resnetv1/keras/resnet_18_imagenet/3")
    assert no_socket and all("127.0.0.1" not in a for a in no_socket)
