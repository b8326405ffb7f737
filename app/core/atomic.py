"""Atomic file writes: a temporary file in the same folder, then a rename.

A crash or a full disk mid-write leaves the old file intact, never half of a new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _mode_for(target: Path) -> int:
    """Keep an existing file's permissions; a new one gets the usual 0644 (mkstemp makes 0600)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        return 0o644


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def atomic_target(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """A temporary sibling to write to (by a library that wants a path), and the target.

    Call :func:`commit` with both once the library has finished writing.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix="".join(target.suffixes) or ".tmp", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp), target


def commit(tmp: Path, target: Path) -> Path:
    os.chmod(tmp, _mode_for(target))
    os.replace(tmp, target)
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary sibling path for a library to write; renamed over ``path`` on success."""
    tmp, target = atomic_target(path)
    try:
        yield tmp
        commit(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary file to stream into (no copy of the whole content in memory), renamed when closed."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
