"""Keep TensorFlow's pre-initialisation log lines off the terminal while it loads.

TensorFlow's C++ logs a few lines through absl *before* absl's logging is set
up, and those ignore ``TF_CPP_MIN_LOG_LEVEL`` ("WARNING: All log messages
before absl::InitializeLog() ...", "Could not find cuda drivers ..."). They
reach fd 2 directly, so a CLI error, which must be one line on stderr, would
come with four lines of noise. While Keras loads, fd 2 goes through a pipe
whose reader drops exactly those info/warning lines and passes everything
else on; errors (``E``/``F`` lines) and anything else still get through.
``LAYERLAB_TF_LOGS=1`` shows them.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IW]\d{4} [\d:.]+ +\d+ [\w.-]+:\d+\] .*)\r?$"
)


def _forward(read_fd: int, out_fd: int) -> None:
    """Copy lines from the pipe to the real stderr, leaving out the noise."""
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
        if kept:
            _write_all(out_fd, kept)
    if pending and not NOISE.match(pending):
        _write_all(out_fd, pending)
    os.close(read_fd)


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass


@contextlib.contextmanager
def tensorflow_noise_dropped() -> Iterator[None]:
    """Within the block, fd 2 is filtered as the module docstring says (not nestable, one at a time)."""
    if os.environ.get("LAYERLAB_TF_LOGS") == "1":
        yield
        return
    try:
        _flush_stderr()
        saved = os.dup(2)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
    except OSError:
        yield
        return
    reader = threading.Thread(target=_forward, args=(read_fd, saved), name="layerlab-stderr-filter", daemon=True)
    reader.start()
    try:
        yield
    finally:
        _flush_stderr()
        os.dup2(saved, 2)  # closes the pipe's only write end: the reader sees the end and stops
        reader.join(5)
        os.close(saved)


def _flush_stderr() -> None:
    with contextlib.suppress(Exception):
        sys.stderr.flush()
