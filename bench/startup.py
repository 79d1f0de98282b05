"""Cold start: listing the zoo vs importing tensorflow_hub (goal: >= 10x faster)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from bench._common import Comparison, interleaved, python, run_process


def run(repeats: int = 7) -> list[Comparison]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
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
    return results
