"""Hardening round two, measured: ``python -m bench.limits``.

1. How long a fetch from a server that accepts and never answers takes with the default
   limits (the attack suite measured 309 s before the minimum rate existed).
2. Extraction time of a 160 MiB ``.tar.gz`` (20 x 8 MiB random members), whose header pass
   runs before anything is written.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import time
from pathlib import Path


def mute_server() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            accepted.append(conn)  # and never answer

    threading.Thread(target=accept, daemon=True).start()
    from zoo.download.fetcher import fetch
    from zoo.errors import FetchError

    start = time.monotonic()
    try:
        fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/x.bin")
    except FetchError as exc:
        print(
            f"mute server: {time.monotonic() - start:.1f} s, {len(accepted)} connection(s): {exc}"
        )


def extraction(root: Path) -> None:
    from zoo.download.archive import extract

    archive = root / "m.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
        for i in range(20):
            data = os.urandom(8 << 20)
            info = tarfile.TarInfo(f"variables/v{i}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    for _ in range(3):
        out = root / "out"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        extract(archive, out)
        took = time.perf_counter() - start
        print(f"extract {archive.stat().st_size >> 20} MiB .tar.gz: {took:.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ZOO_HOME"] = str(Path(tmp) / "home")
        os.environ["ZOO_PROGRESS"] = "0"
        print(f"load average {os.getloadavg()}")
        mute_server()
        extraction(Path(tmp))


if __name__ == "__main__":
    main()
