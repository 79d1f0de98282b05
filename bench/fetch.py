"""zoo.download.fetcher: a cached Hub-style resolve (goal <= 20 ms), and download + extraction of a
~200 MB archive over loopback vs ``curl -s URL | tar xz`` (goal >= 0.8x their throughput).

The archive is random bytes (so gzip cannot shrink it), generated in a temp directory and
served by ``python -m http.server`` in a separate process (the same server for both sides);
everything is deleted afterwards.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench._common import Comparison, interleaved

SIZE = 200 * 1024 * 1024
FILES = 8


def _archive(path: Path, size: int) -> str:
    """Write a tar.gz of ``FILES`` random files totalling ``size`` bytes; return its sha256."""
    part = size // FILES
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        for i in range(FILES):
            info = tarfile.TarInfo(f"model/variables/shard-{i:02d}")
            info.size = part
            tf.addfile(info, io.BytesIO(os.urandom(part)))
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def run(repeats: int = 5) -> list[Comparison]:
    os.environ["ZOO_PROGRESS"] = "0"
    import zoo.download.fetcher

    work = Path(tempfile.mkdtemp(prefix="zoo-bench-fetch-"))
    server = None
    try:
        served = work / "served"
        (served / "google/mobilenet/5").mkdir(parents=True)
        small = served / "google/mobilenet/5/small.tar.gz"
        with tarfile.open(small, "w:gz") as tf:
            for name in ("saved_model.pb", "variables/variables.index", "variables/data-0"):
                info = tarfile.TarInfo(name)
                info.size = 4096
                tf.addfile(info, io.BytesIO(os.urandom(4096)))
        small_sha = hashlib.sha256(small.read_bytes()).hexdigest()
        big = served / "big.tar.gz"
        big_sha = _archive(big, SIZE)
        server, base = _serve(served)

        # (a) a cached resolve: Hub-style URL, pinned, already downloaded and extracted
        os.environ["ZOO_HOME"] = str(work / "home-a")
        handle = f"{base}/google/mobilenet/5/small.tar.gz?tf-hub-format=compressed"
        zoo.download.fetcher.fetch_archive(handle, sha256=small_sha)
        times = []
        for _ in range(50):
            # read the index from disk each time, as a new process would
            zoo.download.fetcher._caches.clear()
            start = time.perf_counter()
            zoo.download.fetcher.fetch_archive(handle, sha256=small_sha)
            times.append(time.perf_counter() - start)
        resolve = statistics.median(times)

        # (b) download + extraction of the big archive, fresh cache each time
        url = f"{base}/big.tar.gz"
        counter = iter(range(1_000_000))

        def ours() -> None:
            home = work / f"home-{next(counter)}"
            os.environ["ZOO_HOME"] = str(home)
            zoo.download.fetcher.fetch_archive(url, sha256=big_sha)
            shutil.rmtree(home)

        def curl_tar() -> None:
            dest = work / "curl-out"
            dest.mkdir()
            subprocess.run(
                f"curl -s {url} | tar xz -C {dest}", shell=True, check=True, executable="/bin/bash"
            )
            shutil.rmtree(dest)

        t_ours, t_curl = interleaved(ours, curl_tar, repeats)
        mb = big.stat().st_size / 1e6
        return [
            Comparison(
                "fetch_archive(hub URL) cached resolve  vs  20 ms budget", resolve, 0.020,
                "<= 20 ms (ratio <= 1)",
            ),
            Comparison(
                f"fetch_archive {mb:.0f} MB tar.gz, MB/s  vs  curl | tar xz",
                mb / t_ours, mb / t_curl, ">= 0.8x their throughput", unit="MB/s",
            ),
        ]  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
