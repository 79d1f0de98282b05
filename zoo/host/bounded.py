"""Running a plugin's code with a time bound: its import, its hooks, its providers' claim().

A call runs in a daemon thread the host waits on for ``ZOO_PLUGIN_TIMEOUT`` seconds; what it
raises (``SystemExit`` included) is re-raised in the caller, and a call that does not return
in time raises :class:`TimedOut`. A hung thread cannot be killed: it keeps running until the
process exits, and whatever it hands back afterwards is dropped. The thread runs in a copy of
the caller's :mod:`contextvars` context, so context-local state (the project directory whose
``zoo.lock`` pins downloads) is the caller's.

No TensorFlow is imported here.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TimedOut", "bounded", "failure"]


class TimedOut(Exception):
    """A plugin's import, hook or claim did not return within the timeout."""


def bounded(call: Callable[[], Any], timeout: float, what: str, plugin: str) -> Any:
    """``call()`` in a daemon thread, waited on for ``timeout`` seconds (0: forever).

    Returns its result or raises what it raised; :class:`TimedOut` when it did not return in
    time. Ctrl-C while waiting raises KeyboardInterrupt naming ``what`` and how to skip
    ``plugin``.
    """
    what = f"while {what}; to skip it: ZOO_BLOCK_PLUGINS={plugin}"
    outcome: list[Any] = []
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome.append((True, context.run(call)))
        except BaseException as exc:  # SystemExit too: it is the plugin's, not ours
            outcome.append((False, exc))

    worker = threading.Thread(target=target, name=f"zoo-plugin {what}", daemon=True)
    worker.start()
    try:
        worker.join(timeout if timeout > 0 else None)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(what) from None
    if not outcome:
        raise TimedOut(what)
    ok, value = outcome[0]
    if ok:
        return value
    if isinstance(value, KeyboardInterrupt):
        raise KeyboardInterrupt(what) from None
    raise value


def failure(exc: BaseException, timeout: float) -> str:
    """What went wrong, in words: a timeout, a SystemExit, or the exception (bounded)."""
    from zoo.errors import brief

    if isinstance(exc, TimedOut):
        return f"did not finish within {timeout:g} s (ZOO_PLUGIN_TIMEOUT); it may hang"
    if isinstance(exc, SystemExit):
        return f"SystemExit({brief(exc.code)}): the plugin tried to exit the program"
    try:
        text = str(exc)
    except Exception:  # a plugin's exception may fail to print itself
        text = "<unprintable>"
    return f"{type(exc).__name__}: {text if len(text) <= 300 else text[:297] + '...'}"
