"""The ``zoo`` command: thin — it parses, calls the public API, and prints.

Subcommands live in modules by topic (catalog, doctor, ...); each registers itself on
:data:`main`. Listing paths (``zoo list``, ``zoo info`` without ``--load``, ``zoo plugins``)
never import TensorFlow. Errors print one line and exit 1 (user error) or 2 (usage error);
``--debug`` shows the traceback. JSON output (``--json``) is documented in docs/cli.md.
"""

from __future__ import annotations

from zoo.cli._app import main

# Importing a command module registers its commands on `main`.
from zoo.cli import cache, catalog, compare, demo, doctor, download  # noqa: F401  isort: skip
from zoo.cli import evaluate, export, predict, publish, train, trust  # noqa: F401  isort: skip

__all__ = ["main"]
