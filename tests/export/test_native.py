"""zoo.export.native.quiet: C++ lines written to file descriptor 2 are filtered, not lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from zoo.export.native import quiet

    def cxx(text):  # as TensorFlow's C++ writes: to fd 2, past sys.stderr
        os.write(2, text.encode())

    print("before", file=sys.stderr)
    try:
        with quiet():
            cxx("fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, ")
            cxx("output_inference_type: FLOAT32\\n")
            cxx("E0000 converter.cc:12] a real error\\n")
            print("a Python warning", file=sys.stderr)
            cxx("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
            if sys.argv[1] == "raise":
                cxx("why it failed\\n")
                raise RuntimeError("conversion failed")
    except RuntimeError:
        print("raised", file=sys.stderr)
    cxx("after\\n")
    """
)


def _stderr(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_the_converters_lines_are_dropped_and_every_other_line_is_written_back() -> None:
    assert _stderr("ok") == (
        "before\nE0000 converter.cc:12] a real error\na Python warning\nafter\n"
    )


def test_what_the_block_printed_is_written_back_when_it_raises() -> None:
    assert _stderr("raise") == (
        "before\nE0000 converter.cc:12] a real error\na Python warning\nwhy it failed\n"
        "raised\nafter\n"
    )
