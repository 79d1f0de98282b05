"""Run the benchmarks: ``python -m bench [name ...]`` (names: see BENCHMARKS)."""

from __future__ import annotations

import importlib
import platform
import sys
import time

BENCHMARKS = ("startup", "create", "fetch", "finetune", "export")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr
        )
        return 2
    print(f"# python -m bench {' '.join(argv)}".rstrip())
    print(f"# {time.strftime('%Y-%m-%d')} | {platform.platform()} | {platform.python_version()}")
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        for result in module.run():
            print(result.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
