"""``python -m zoo`` runs the ``zoo`` command."""

from zoo.cli import main

main()
