"""TensorFlow's converter and LiteRT print a few lines from C++ straight to the process's
stderr (file descriptor 2), past Python's ``sys.stderr`` and its warnings filters:
``fully_quantize: 0, inference_type: 6, ...`` once per int8 calibration and ``INFO: Created
TensorFlow Lite XNNPACK delegate for CPU.`` once per process. :func:`quiet` holds fd 2 in a
file while such a call runs, drops those lines and writes every other line back."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress

__all__ = ["NOISE", "quiet"]

#: the lines dropped; anything else the call printed is written back, in order
NOISE = re.compile(
    r"^(fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, "
    r"output_inference_type: \w+|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)$"
)


@contextmanager
def quiet() -> Iterator[None]:
    """Run the block with fd 2 captured; drop :data:`NOISE` lines, write back the rest."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 (an embedding host): say it all
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            with suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", "replace")
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not NOISE.match(line.rstrip("\r\n"))
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
