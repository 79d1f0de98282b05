"""The ``zoo`` command: thin — it parses, calls the public API, and prints.

Subcommands live in modules by topic (catalog, doctor, ...); each registers itself on
:data:`main` when it is imported, which happens when one of its commands runs
(:data:`zoo.cli._app.COMMANDS`). Listing paths (``zoo list``, ``zoo info`` without
``--load``, ``zoo plugins``) never import TensorFlow. Errors print one line and exit 1
(user error) or 2 (usage error); ``--debug`` shows the traceback. JSON output (``--json``) is
documented in docs/cli.md.
"""

from __future__ import annotations

from zoo.cli._app import main

__all__ = ["main"]
