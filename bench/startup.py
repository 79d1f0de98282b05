"""Cold start: listing the zoo vs importing tensorflow_hub (goal: >= 10x faster).

Also ``zoo list`` against ``python -c pass`` (the interpreter's own start, measured in the
same interleaved runs so a shared machine's load hits both alike): with the installed plugins
(KerasHub in the test venv), goal <= 150 ms; and with a generated 50,000-entry registry in
``ZOO_REGISTRY``, goal <= 0.5 s. Both use the start-up caches (zoo.startup_cache) and the
.pyc files, filled by one run before timing, as every command after the first finds them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench._common import Comparison, interleaved, python, run_process


def run(repeats: int = 7) -> list[Comparison]:
    # Warm caches include Python's own: an installed tfzoo has its .pyc files (pip compiles
    # them), a checkout writes them on the first run, unless PYTHONDONTWRITEBYTECODE is set
    # (as in some CI shells): then every run would compile each module again.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    hub = run_process(python("import tensorflow_hub"), env)
    listing = run_process(python("import zoo; zoo.list_models()"), env)
    ours, base = interleaved(listing, hub, repeats)
    results = [
        Comparison(
            "import zoo; zoo.list_models()  vs  import tensorflow_hub", ours, base, ">= 10x faster"
        )
    ]
    script = shutil.which("zoo") or str(Path(sys.executable).parent / "zoo")
    if Path(script).exists():
        cli = run_process([script, "list"], env)
        ours, base = interleaved(cli, hub, repeats)
        results.append(
            Comparison(
                "`zoo list` (console script)  vs  import tensorflow_hub",
                ours,
                base,
                "<= 0.25 s and >= 10x faster",
            )
        )
        results.extend(_zoo_list(script, env, repeats))
    return results


def big_registry(path: Path, entries: int = 50_000) -> Path:
    """A registry file of ``entries`` small keras entries (the size of a large private zoo)."""
    lines = ["version: 1", "models:"]
    for i in range(entries):
        lines += [
            f"  bench_{i}:",
            "    provider: keras",
            "    source: ResNet50",
            "    input_shape: [224, 224, 3]",
            f"    description: generated entry {i}",
            "    tags: [bench, generated]",
            "    license: MIT",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _zoo_list(script: str, env: dict[str, str], repeats: int) -> list[Comparison]:
    """`zoo list` with the plugins, then with 50,000 entries, each vs `python -c pass`."""
    results = []
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        home = {**env, "ZOO_HOME": str(Path(tmp) / "home")}
        bare = run_process(python("pass"), home)
        listing = run_process([script, "list"], home)
        listing()  # fills the caches, as any earlier command would have
        ours, base = interleaved(listing, bare, repeats)
        results.append(
            Comparison(
                "`zoo list` (plugins installed)  vs  python -c pass", ours, base, "<= 0.15 s"
            )
        )
        big = {**home, "ZOO_REGISTRY": str(big_registry(Path(tmp) / "big.yaml"))}
        listing = run_process([script, "list"], big)
        listing()
        ours, base = interleaved(listing, run_process(python("pass"), big), repeats)
        results.append(
            Comparison("`zoo list` (50,000 entries)  vs  python -c pass", ours, base, "<= 0.5 s")
        )
    return results
