"""Atomic file writes: a temporary file in the same folder, then a rename.

A crash or a full disk mid-write leaves the old file intact, never half of a new one.
Errors name the user's file, never the temporary one. A process killed mid-write
(SIGKILL, power loss) leaves its temporary sibling behind; the next write to the
same target removes such leftovers of our own naming once no process holds them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

# A leftover nobody holds open is removed after this many seconds (the gap between
# creating a temporary name and the writing library opening it is far shorter) ...
STALE_AFTER_S = 60.0
# ... and one whose holders cannot be checked (no /proc) only after this many.
STALE_UNCHECKED_S = 6 * 3600.0
_RANDOM = "[a-z0-9_]{8}"  # tempfile's random part of a name


def _mode_for(target: Path) -> int:
    """Keep an existing file's permissions; a new one gets the usual 0644 (mkstemp makes 0600)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _suffix(target: Path) -> str:
    return "".join(target.suffixes) or ".tmp"


def temp_name_pattern(target: Path) -> re.Pattern[str]:
    """The names this module gives ``target``'s temporary siblings (both kinds)."""
    return re.compile(
        rf"\.{re.escape(target.name)}\.{_RANDOM}\.tmp|\.{re.escape(target.stem)}\.{_RANDOM}{re.escape(_suffix(target))}"
    )


def _open_paths() -> set[str] | None:
    """Every file some live process holds open (Linux /proc); None when that cannot be told."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    held: set[str] = set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = proc / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except FileNotFoundError:
            continue  # the process ended meanwhile
        except OSError:
            return None  # another user's process: cannot tell
        for fd in fds:
            with contextlib.suppress(OSError):
                held.add(os.readlink(fd_dir / fd))
    return held


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Delete leftovers of earlier, killed writes of ``target``; returns what was removed.

    Only regular files named as this module names ``target``'s temporaries, and only
    when no live process holds them open (or, where that cannot be checked, when
    they are hours old). Any other file in the folder is never touched.
    """
    target = Path(target)
    pattern = temp_name_pattern(target)
    try:
        with os.scandir(target.parent) as it:
            candidates = [Path(e.path) for e in it if pattern.fullmatch(e.name) and e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    if not candidates:
        return []
    held = _open_paths()
    limit = STALE_AFTER_S if held is not None else STALE_UNCHECKED_S
    removed = []
    now = time.time()
    for path in candidates:
        try:
            if now - path.lstat().st_mtime < limit or (held is not None and str(path.resolve()) in held):
                continue
            path.unlink()
            removed.append(path)
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def _named_as(target: Path, tmp: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Report an OSError about the temporary file (or about no file) as one about ``target``."""
    try:
        yield
    except OSError as exc:
        name = None if exc.filename is None else os.fspath(exc.filename)
        ours = name is None or (tmp is not None and name == os.fspath(tmp)) or (
            os.path.dirname(name) == os.fspath(target.parent) and temp_name_pattern(target).fullmatch(os.path.basename(name))
        )
        if exc.errno is None or not ours:
            raise
        raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(target)) from None


def _prepare(target: Path) -> None:
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    target = Path(path)
    _prepare(target)
    with _named_as(target):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with _named_as(target, tmp):
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
    _prepare(target)
    with _named_as(target):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=_suffix(target), dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp), target


def commit(tmp: Path, target: Path) -> Path:
    with _named_as(target, tmp):
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary sibling path for a library to write; renamed over ``path`` on success."""
    tmp, target = atomic_target(path)
    try:
        with _named_as(target, tmp):
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
