"""Download progress: a rich bar (bytes, rate, time left) on a terminal, silence elsewhere.

Shown when stderr is a terminal, unless ``ZOO_PROGRESS=0``; a ``progress=`` argument of
:func:`zoo.download.fetcher.fetch` forces it on (True) or off (False).
"""

from __future__ import annotations

import sys
from typing import Any

from zoo import settings

__all__ = ["ProgressBar", "progress_enabled"]


def progress_enabled(progress: bool | None) -> bool:
    """Whether to draw a bar: the argument wins, then ``ZOO_PROGRESS``, then "is stderr a tty"."""
    if progress is not None:
        return progress
    if not settings.progress():
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class ProgressBar:
    """A context manager around one rich progress task; a no-op when disabled.

    Example:
        >>> with ProgressBar("model.tar.gz", total=1000, enabled=False) as bar:
        ...     bar.advance(1000)
    """

    def __init__(self, description: str, *, total: int | None, enabled: bool) -> None:
        self._progress: Any = None
        self._task: Any = None
        self._args = (description, total)
        self.enabled = enabled

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            description, total = self._args
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(description, total=total)
        return self

    def restart(self, total: int | None, completed: int = 0) -> None:
        """Start over (a server ignored Range) or continue from ``completed`` bytes."""
        if self._progress is not None:
            self._progress.reset(self._task, total=total, completed=completed)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
