"""Names the user does not control never reach the terminal raw (F30, round 3).

Layer names of a model file, image file names, class folders, labels.txt entries, registry
URLs and trusted prefixes may carry ESC sequences (retitle, clear or recolour the terminal)
or rich markup (``[blink]``). Every command shows them escaped, as ``zoo list`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from tests.fetch.server import Server
from zoo.cli import main

ESC = "\x1b"
TITLE = f"{ESC}]0;OWNED\x07"  # OSC: set the window title
CLEAR = f"{ESC}[2J"
HOSTILE = f"{TITLE}{CLEAR}{ESC}[31m"
ESCAPED = "\\x1b]0;OWNED\\x07\\x1b[2J\\x1b[31m"  # what safe_text shows instead


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _assert_escaped(result: Result, escaped: str = ESCAPED) -> None:
    everything = result.stdout + result.stderr
    assert ESC not in everything and "\x07" not in everything, repr(everything)
    assert escaped in everything, repr(everything)


def _two_headed(path: Path) -> None:
    """A .keras classifier with two heads whose layer names hold escapes and rich markup."""
    import keras

    inp = keras.Input((8, 8, 3), name="img")
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    a = keras.layers.Dense(3, activation="softmax", name=f"headA{HOSTILE}[blink]red")(x)
    b = keras.layers.Dense(2, activation="softmax", name=f"headB{CLEAR}")(x)
    keras.Model(inp, [a, b], name="twohead").save(path)


def _always_second(path: Path) -> None:
    """A .keras 2-class classifier that always answers class 1 (so class 0 images are
    mistakes)."""
    import keras

    inp = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(2, activation="softmax")
    out = dense(x)
    dense.set_weights([np.zeros((3, 2), "float32"), np.array([0.0, 5.0], "float32")])
    keras.Model(inp, out).save(path)


def _images(folder: Path, count: int = 2) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")


def test_info_load_escapes_layer_names_in_heads_and_hint(tmp_path: Path) -> None:
    model = tmp_path / "heads.keras"
    _two_headed(model)
    result = _run("info", str(model), "--load")
    assert result.exit_code == 0, result.output
    _assert_escaped(result)
    heads = [line for line in result.stdout.splitlines() if line.startswith("  0: headA")]
    assert heads and "[blink]red" in heads[0]  # markup shown, not interpreted
    hint = [line for line in result.stdout.splitlines() if "-o head=" in line]
    assert hint and f"-o head=headA{ESCAPED}[blink]red" in hint[0], result.stdout


def test_predict_escapes_the_names_of_skipped_images(tmp_path: Path) -> None:
    model = tmp_path / "one.keras"
    _always_second(model)
    _images(tmp_path / "imgs")
    (tmp_path / "imgs" / f"bad{HOSTILE}.png").write_bytes(b"not an image")
    result = _run("predict", str(model), str(tmp_path / "imgs"))
    assert result.exit_code == 0, result.output
    assert "skipped " in result.stderr
    _assert_escaped(result, f"bad{ESCAPED}.png")


def test_evaluate_escapes_skipped_images_class_folders_and_labels(tmp_path: Path) -> None:
    models = tmp_path / "model"
    models.mkdir()
    _always_second(models / "one.keras")
    (models / "labels.txt").write_text(f"cat\ndog{HOSTILE}\n")
    data = tmp_path / "data"
    _images(data / "cat")
    _images(data / f"dog{HOSTILE}")
    (data / "cat" / f"bad{HOSTILE}.png").write_bytes(b"not an image")
    result = _run("evaluate", str(models / "one.keras"), "--data", str(data))
    assert result.exit_code == 0, result.output
    _assert_escaped(result)
    assert f"skipped {data / 'cat'}/bad{ESCAPED}.png" in result.stderr
    mistakes = result.stdout.split("worst mistakes:")[1]
    assert f"cat -> dog{ESCAPED} (" in mistakes, result.stdout


@pytest.fixture
def server() -> Any:
    s = Server("127.0.0.1")
    yield s
    s.stop()


@pytest.mark.parametrize("command", ["fetch", "lock"])
def test_fetch_and_lock_escape_the_url_of_a_registry_entry(
    server: Server, isolated: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("ZOO_PROGRESS", "0")
    server.route("/w%1B%5D0;OWNED%07%1B%5B2J%1B%5B31m.h5", b"x" * 1000)  # as the client asks
    url = server.url(f"/w{HOSTILE}.h5")
    yaml_url = url.replace(ESC, "\\e").replace("\x07", "\\a")
    (isolated / "zoo.yaml").write_text(
        "models:\n  evil:\n    provider: keras\n    source: MobileNetV2\n"
        f'    weights: "{yaml_url}"\n'
    )
    result = _run(command, "evil", "-q")
    _assert_escaped(result, f"/w{ESCAPED}.h5")


def test_trust_and_untrust_escape_the_prefix() -> None:
    prefix = f"https://q.example/{TITLE}/"
    shown = "https://q.example/\\x1b]0;OWNED\\x07/"
    trusted = _run("trust", prefix)
    assert trusted.exit_code == 0, trusted.output
    _assert_escaped(trusted, f"trusted: {shown}")
    untrusted = _run("untrust", prefix)
    assert untrusted.exit_code == 0, untrusted.output
    _assert_escaped(untrusted, f"untrusted: {shown}")


def test_cache_listings_escape_leftover_names() -> None:
    """A leftover's file name comes from whatever wrote into the cache."""
    import os
    import time

    from zoo.download.fetcher import cache_root

    blobs = cache_root() / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    leftover = blobs / f".{TITLE}{CLEAR}.part"
    leftover.write_bytes(b"half a download")
    old = time.time() - 7 * 86400  # stale: clean removes it
    os.utime(leftover, (old, old))
    shown = "\\x1b]0;OWNED\\x07\\x1b[2J"
    listed = _run("cache", "info")
    assert listed.exit_code == 0, listed.output
    _assert_escaped(listed, shown)
    cleaned = _run("cache", "clean")
    assert cleaned.exit_code == 0, cleaned.output
    _assert_escaped(cleaned, shown)
    assert not leftover.exists()
