"""Ctrl-C while a phase trains: stop at the next batch boundary, not inside TensorFlow.

Python's default SIGINT handler raises KeyboardInterrupt at whatever bytecode the main thread
runs next. During ``model.fit`` that can be inside Keras, TensorFlow or the import machinery
(a lazy import while a step is traced): CPython then reports ``SystemError: <built-in function
__import__> returned a result with an exception set`` and the process can hang instead of
exiting, and a long-lived process (a notebook kernel) keeps a half-imported module.

Inside :func:`deferred`, the first SIGINT only records the request (and prints one line to
stderr) and puts the previous handler back; ``callbacks.StopOnInterrupt``, the last callback
of every phase, raises KeyboardInterrupt at the next batch end, validation batch end or epoch
end, after the other callbacks (BackupAndRestore, CSVLogger) have saved that epoch. A request
that arrives after the last check (Keras's ``on_train_end``, saving the finished phase) is
raised when the block ends. The second SIGINT meets the previous handler: Python's default,
which raises at once, so a user can always get out.

The engine enters :func:`deferred` around each phase's fit, for every caller (the ``zoo``
command, :func:`zoo.finetune` in a script or a notebook): the hazard is the same, and worse in
a process that lives on after the interrupt. It installs a handler only where that is safe
and expected: in the main thread (``signal.signal`` raises ValueError elsewhere; a run in
another thread trains as before) and only when SIGINT has Python's default handler, so an
ignored SIGINT (``nohup``, a background job) and an application's own handler are left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["MESSAGE", "Request", "active", "deferred"]

#: What the first Ctrl-C prints (to file descriptor 2, see ``_handler``).
MESSAGE = "Stopping at the end of the current training step; press Ctrl-C again to stop at once."


class Request:
    """One deferral: ``pressed`` becomes True at the first SIGINT inside it."""

    def __init__(self) -> None:
        self.pressed = False


#: The deferral of the main thread, while one is active.
_active: Request | None = None


def active() -> Request | None:
    """The deferral that SIGINT reports to, for code running in this thread (None outside one,
    and always None in a thread other than the main one, which SIGINT never reaches)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return _active


@contextlib.contextmanager
def deferred() -> Iterator[Request | None]:
    """Within the block, the first SIGINT is recorded instead of raised; see the module.

    Yields the :class:`Request` (None when no handler was installed: another thread, a
    handler that is not Python's default, or a deferral already active). On leaving, the
    previous handler is back; a request not yet acted on raises KeyboardInterrupt then.

    Example:
        >>> with deferred() as request:
        ...     pass  # model.fit(..., callbacks=[..., StopOnInterrupt()])
    """
    global _active
    previous = signal.getsignal(signal.SIGINT)
    if (
        _active is not None
        or threading.current_thread() is not threading.main_thread()
        or previous is not signal.default_int_handler
    ):
        yield None
        return
    request = _active = Request()

    def _handler(signum: int, frame: FrameType | None) -> None:
        request.pressed = True
        signal.signal(signal.SIGINT, previous)  # the next Ctrl-C raises at once
        with contextlib.suppress(OSError):  # not sys.stderr: the main thread may be in
            os.write(2, f"\n{MESSAGE}\n".encode())  # its (non-reentrant) write right now

    # everything the handler reads exists before it is installed
    signal.signal(signal.SIGINT, _handler)
    try:
        yield request
    finally:
        _active = None  # first: a SIGINT between the two lines is still recorded below
        signal.signal(signal.SIGINT, previous)
    if request.pressed:  # after the last check: the phase ended (and was saved) first
        raise KeyboardInterrupt
