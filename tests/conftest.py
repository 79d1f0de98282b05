"""Shared fixtures: an isolated environment per test, a fresh plugin host, tiny models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import zoo
from zoo.host.manager import PluginHost
from zoo.session import Session
from zoo.testing import freeze_imports, isolated_zoo

freeze_imports()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own ZOO_HOME and working directory, and a fresh default session."""
    with isolated_zoo(tmp_path, monkeypatch) as work:
        yield work


@pytest.fixture
def host() -> PluginHost:
    """A plugin host with the built-ins only (no entry points)."""
    return PluginHost(entry_points=False)


@pytest.fixture
def session(host: PluginHost) -> Session:
    """A session on the built-in-only host."""
    return Session(host)


def tiny_cnn(input_shape: tuple[int, int, int] = (32, 32, 3), classes: int = 10) -> Any:
    """conv -> pool -> flatten -> Dense(classes, softmax): the 'your own model' of the tests."""
    import keras

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(classes, activation="softmax", name="predictions"),
        ],
        name="tiny_cnn",
    )


class MemoryProvider(zoo.Provider):
    """An in-memory provider: source "tiny" builds tiny_cnn; anything else is not found."""

    name = "memory"
    description = "tiny models built in memory (tests)"
    options: ClassVar[dict[str, str]] = {"classes": "number of classes of the tiny classifier"}

    def claim(self, source: object) -> str | None:
        if isinstance(source, str) and source.startswith("mem://"):
            return source.removeprefix("mem://")
        return None

    def load(self, spec: zoo.ModelSpec) -> zoo.Backbone:
        if spec.source != "tiny":
            raise zoo.SourceNotFoundError(f"no tiny model {spec.source!r}", provider=self.name)
        model = tiny_cnn(spec.input_shape or (32, 32, 3), int(spec.options.get("classes", 10)))
        return zoo.Backbone.from_model(
            model,
            name=spec.name,
            provider=self.name,
            input_spec=spec.input_spec(zoo.InputSpec.from_mode("unit")),
            feature_layer=spec.feature_layer,
            spec=spec,
        )


class MemoryPlugin:
    """A plugin object registering MemoryProvider and one model."""

    @zoo.hookimpl
    def zoo_register_providers(self, register: Any) -> None:
        register(MemoryProvider())

    @zoo.hookimpl
    def zoo_register_models(self, register: Any) -> None:
        register("tiny", provider="memory", source="tiny", input_shape=[32, 32, 3], tags=["test"])


@pytest.fixture
def memory_session(host: PluginHost) -> Session:
    """A session whose host also has the in-memory plugin."""
    host.add_plugin(MemoryPlugin(), "memory")
    return Session(host)
