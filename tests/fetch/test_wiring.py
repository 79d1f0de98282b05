"""keras.applications weights from a URL, and `zoo lock` + ZOO_OFFLINE=1 reproducing a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import zoo
import zoo.download.fetcher
from zoo.cli import main
from zoo.errors import IntegrityError
from zoo.providers.keras_apps import KerasAppsProvider
from zoo.spec import ModelSpec

from .conftest import sha
from .server import Server

ROOT = str(Path(zoo.download.fetcher.__file__).parents[2])
OPTIONS = "    options: {include_top: false, alpha: 0.35}\n    input_shape: [32, 32, 3]\n"


def _weights_file(tmp_path: Path) -> bytes:
    """Real notop MobileNetV2(alpha=0.35) weights at 32x32, as a .weights.h5 file."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.applications.MobileNetV2(
        weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3), pooling="avg"
    )
    path = tmp_path / "mnv2.weights.h5"
    model.save_weights(path)
    return path.read_bytes()


def test_artifacts_report_url_weights_with_their_pin() -> None:
    provider = KerasAppsProvider()
    url = "https://example.org/w.weights.h5"
    spec = ModelSpec(name="n", provider="keras", source="MobileNetV2", weights=url, sha256="a" * 64)
    [artifact] = provider.artifacts(spec)
    assert (artifact.url, artifact.sha256, artifact.kind) == (url, "a" * 64, "weights")
    assert provider.artifacts(spec.replace(weights=None)) == []


def test_keras_weights_from_a_url_are_fetched_pinned_and_loaded(
    server: Server, tmp_path: Path
) -> None:
    blob = _weights_file(tmp_path)
    url = server.route("/mnv2.weights.h5", blob)
    bb = zoo.load_backbone(
        "keras:MobileNetV2", weights=url, sha256=sha(blob), input_shape=(32, 32, 3),
        include_top=False, alpha=0.35,
    )  # fmt: skip
    import keras

    reference = keras.applications.MobileNetV2(
        weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3), pooling="avg"
    )
    reference.load_weights(tmp_path / "mnv2.weights.h5")
    got = bb.features.get_layer("Conv1").get_weights()[0]
    assert (got == reference.get_layer("Conv1").get_weights()[0]).all()
    tampered = server.route("/other.weights.h5", blob + b"x")
    with pytest.raises(IntegrityError) as info:
        zoo.load_backbone(
            "keras:MobileNetV2", weights=tampered, sha256="ab" * 32, input_shape=(32, 32, 3),
            include_top=False, alpha=0.35,
        )  # fmt: skip
    assert info.value.received == sha(blob + b"x")


@pytest.mark.slow
def test_lock_then_offline_reproduces_a_fine_tune_run_without_network(
    server: Server, tmp_path: Path, isolated: Path
) -> None:
    """`zoo lock` online, then a fresh process with ZOO_OFFLINE=1 and no sockets fine-tunes."""
    blob = _weights_file(tmp_path)
    url = server.route("/mnv2.weights.h5", blob)
    (isolated / "zoo.yaml").write_text(
        f"models:\n  tiny_mnv2:\n    provider: keras\n    source: MobileNetV2\n"
        f"    weights: {url}\n{OPTIONS}"
    )
    result = CliRunner().invoke(main, ["lock", "-q"])
    assert result.exit_code == 0, result.output
    assert sha(blob) in (isolated / "zoo.lock").read_text()
    requests_after_lock = len(server.requests)
    code = (
        # urllib3 (imported by TensorFlow, not by us) probes IPv6 support at import time
        # with a never-connected socket: import it before socket creation is forbidden.
        "import socket, urllib3\n"
        "class NoSocket(socket.socket):\n"
        "    def __init__(self, *a, **k): raise SystemExit('a socket was opened')\n"
        "socket.socket = NoSocket\n"
        "import numpy as np, zoo\n"
        "x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype('float32')\n"
        "r = zoo.finetune('tiny_mnv2', (x, np.arange(8) % 3), recipe='classic', epochs=1,\n"
        "                 unfreeze_epochs=1, batch_size=4, verbose=0)\n"
        "print('loss', r.metrics['loss'], [p.name for p in r.phases])\n"
    )
    env = {
        **os.environ, "ZOO_OFFLINE": "1", "ZOO_REQUIRE_HASHES": "1", "PYTHONPATH": ROOT,
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=isolated, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "loss" in proc.stdout and "'finetune'" in proc.stdout  # both phases ran
    assert len(server.requests) == requests_after_lock
