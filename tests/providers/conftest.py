"""Real Hub-format models and a real HTTP server on 127.0.0.1 for the provider tests.

- :func:`build_reusable_saved_model`: a TF2 Reusable SavedModel (``__call__`` with
  ``training``, ``variables`` / ``trainable_variables`` / ``regularization_losses``) with a
  BatchNorm-like moving statistic; a few tiny ops, any input size.
- :func:`build_signature_saved_model`: a plain ``tf.Module`` exported with signatures only,
  whose ``serving_default`` returns a dict.
- ``hub_server``: a threaded ``http.server`` answering ``<path>?tf-hub-format=compressed``
  with the ``.tar.gz`` registered for ``<path>``, and 404 for anything else.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

#: Width of the reusable model's feature vector (6 x 6 grid x 8 channels).
HUB_FEATURE_DIM = 288


def build_reusable_saved_model(path: Path, seed: int = 0) -> Path:
    """conv 3x3/2 -> relu -> maxpool -> 6x6 nearest resize -> flatten -> minus moving mean.

    With ``training=True`` the batch mean is used and the moving mean moves towards it, as a
    BatchNorm layer does; ``regularization_losses`` holds an L2 penalty on the kernel.
    """
    import tensorflow as tf

    class Reusable(tf.train.Checkpoint):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            rng = tf.random.Generator.from_seed(seed)
            self.kernel = tf.Variable(rng.normal([3, 3, 3, 8], stddev=0.5), name="conv/kernel")
            self.scale = tf.Variable(tf.ones([HUB_FEATURE_DIM]), name="scale")
            self.moving_mean = tf.Variable(
                tf.zeros([HUB_FEATURE_DIM]), trainable=False, name="bn/moving_mean"
            )
            self.variables = [self.kernel, self.scale, self.moving_mean]
            self.trainable_variables = [self.kernel, self.scale]
            self.regularization_losses = [
                tf.function(lambda: 1e-3 * tf.reduce_sum(self.kernel**2), input_signature=[])
            ]

        @tf.function
        def __call__(self, images: Any, training: bool = False) -> Any:
            y = tf.nn.relu(tf.nn.conv2d(images, self.kernel, 2, "SAME"))
            y = tf.nn.max_pool2d(y, 3, 2, "SAME")
            y = tf.image.resize(y, [6, 6], method="nearest")
            flat = tf.reshape(y, [-1, HUB_FEATURE_DIM])
            if training:
                mean = tf.reduce_mean(flat, axis=0)
                self.moving_mean.assign(0.9 * self.moving_mean + 0.1 * mean)
            else:
                mean = self.moving_mean
            return (flat - mean) * self.scale

    module = Reusable()
    spec = tf.TensorSpec([None, None, None, 3], tf.float32)
    module.__call__.get_concrete_function(spec, True)
    module.__call__.get_concrete_function(spec, False)
    tf.saved_model.save(module, str(path))
    return path


def build_signature_saved_model(path: Path) -> Path:
    """A tf.Module with signatures only; ``serving_default`` returns a dict of two outputs.

    ``embedding`` = relu(mean-pooled pixels @ w) (6 wide); ``logits`` = pooled @ head (4 wide,
    a Dense without bias: the local provider cuts it off and keeps the pooled 3 values).
    """
    import tensorflow as tf

    class Signatures(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal([3, 6], seed=[1, 2]), name="w")
            self.head = tf.Variable(tf.random.stateless_normal([3, 4], seed=[3, 4]), name="head")

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="pixels")])
        def serve(self, pixels: Any) -> Any:
            pooled = tf.reduce_mean(pixels, axis=[1, 2])
            return {"embedding": tf.nn.relu(pooled @ self.w), "logits": pooled @ self.head}

    module = Signatures()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def pack(directory: Path, archive: Path) -> tuple[Path, str]:
    """Pack a directory's contents at the root of a .tar.gz; return it and its sha256."""
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(directory.iterdir()):
            tar.add(item, arcname=item.name)
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


@dataclass
class HubServer:
    """The running server: register archives under paths, read the request log."""

    base: str  # http://127.0.0.1:PORT
    archives: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def add(self, path: str, archive: Path | bytes) -> str:
        """Serve ``archive`` (a file or bytes) for ``path``; return the handle URL."""
        self.archives[path] = archive if isinstance(archive, bytes) else archive.read_bytes()
        return self.base + path

    def count(self, path: str) -> int:
        """How many requests asked for ``path``."""
        return sum(1 for r in self.requests if urlsplit(r).path == path)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_state: HubServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server_state.requests.append(self.path)
        body = self.server_state.archives.get(parts.path)
        if body is None or "tf-hub-format=compressed" not in parts.query:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="session")
def hub_server() -> Iterator[HubServer]:
    """A threaded HTTP server on 127.0.0.1 following the Hub compressed-archive convention."""
    handler = type("Handler", (_Handler,), {})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state = HubServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    handler.server_state = state
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class HubModel:
    """A reusable SavedModel on disk, packed, and served."""

    directory: Path
    archive: Path
    sha256: str
    url: str


@pytest.fixture(scope="session")
def hub_model(tmp_path_factory: pytest.TempPathFactory, hub_server: HubServer) -> HubModel:
    """The reusable test model, served at ``<server>/google/tiny/feature_vector/1``."""
    root = tmp_path_factory.mktemp("hub_model")
    directory = build_reusable_saved_model(root / "saved")
    archive, digest = pack(directory, root / "tiny.tar.gz")
    url = hub_server.add("/google/tiny/feature_vector/1", archive)
    return HubModel(directory, archive, digest, url)


@pytest.fixture(scope="session")
def signature_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The signature-only SavedModel with dict outputs."""
    return build_signature_saved_model(tmp_path_factory.mktemp("signature_model") / "saved")


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """A .tar.gz holding ``files`` (name -> content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
