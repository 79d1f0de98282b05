"""Fixtures of the zoo-keras-hub tests: an isolated tfzoo, tiny KerasHub presets, no network.

This directory is not a package (tfzoo's own tests/ is one): its modules are named
test_keras_hub_*.py so that both suites can be collected in one pytest run.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_hub_helpers import save_tiny_preset
from zoo.testing import freeze_imports, isolated_zoo

freeze_imports()  # the per-test gc.collect() then skips TensorFlow's import-time objects

_ENV = (
    "KAGGLEHUB_CACHE",
    "HF_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Own ZOO_HOME, working directory and KerasHub caches; no proxies; a fresh session."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    with isolated_zoo(tmp_path, monkeypatch) as work:
        yield work


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any connection or name lookup that is not 127.0.0.1; returns the attempts."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        attempts.append(str(address))
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost"):
            raise OSError(f"test forbids connecting to {address}")
        return real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(str(host))
        if host not in ("127.0.0.1", "localhost"):
            raise OSError(f"test forbids looking up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


@pytest.fixture(scope="session")
def saved_preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny preset directory for the session; tests that damage it use ``preset_copy``."""
    path = tmp_path_factory.mktemp("presets") / "tiny_resnet"
    save_tiny_preset(path)
    return path


@pytest.fixture
def preset_copy(saved_preset: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny preset, free to damage."""
    return Path(shutil.copytree(saved_preset, tmp_path / "tiny_resnet"))
