"""What every ``layerlab`` command shares: the exit codes, UsageError, one-line errors, JSON output.

Exit status (SPEC.md): 0 success (warnings allowed), 1 the work was done and
found errors (for ``train``: the run failed), 2 bad usage or an input that
cannot be read, 130 stopped with Ctrl-C, 143 stopped with SIGTERM. This module
imports no other ``app.cli`` module, so each command imports only it: no circle.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_FOUND_ERRORS, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class UsageError(Exception):
    """Bad usage or unreadable input: exit 2 with this one line."""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse then exits 2 naming the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def print_error(message: str) -> None:
    """The one line on stderr that every failure prints: ``error: <file>: <problem>``."""
    print(f"error: {message}", file=sys.stderr)


def os_error_text(exc: OSError, name: str = "") -> str:
    """``<file>: <problem>`` for an OSError; ``name`` is the file when the error names none."""
    name = getattr(exc, "filename", None) or name
    return f"{name}{': ' if name else ''}{exc.strerror or exc}"


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))
