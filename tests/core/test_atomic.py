"""Atomic writes: errors name the user's file, and leftovers of killed writes are cleaned up."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
import time

import pytest

from app.core import atomic
from app.core.atomic import atomic_path, remove_stale_temporaries, write_bytes_atomic

KILLED_WRITE = """
import os, signal, sys
from app.core.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    open(tmp, "wb").close()  # as Keras does: the temporary exists, empty, when the process dies
    os.kill(os.getpid(), signal.SIGKILL)
"""


def age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "model.keras"
    r = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(target)], timeout=60)
    assert r.returncode == -9
    (left,) = tmp_path.iterdir()
    assert atomic.temp_name_pattern(target).fullmatch(left.name) and left.stat().st_size == 0
    users = [tmp_path / ".model.keras.bak", tmp_path / "model.tmp", tmp_path / ".other.abcdefgh.keras"]
    for p in users:
        p.write_bytes(b"mine")
        age(p, 10 * atomic.STALE_AFTER_S)
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert left.exists()  # too recent: a live write may still be about to open it
    age(left, 2 * atomic.STALE_AFTER_S)
    write_bytes_atomic(target, b"newer")
    assert not left.exists() and target.read_bytes() == b"newer"
    assert all(p.read_bytes() == b"mine" for p in users)  # never a user's file


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to tell held files")
def test_a_temporary_held_open_by_a_live_process_is_kept(tmp_path):
    target = tmp_path / "w.npz"
    held = tmp_path / ".w.abcd1234.npz"
    with open(held, "wb") as fh:
        fh.write(b"being written")
        fh.flush()
        age(held, 10 * atomic.STALE_AFTER_S)
        assert remove_stale_temporaries(target) == []
        assert held.exists()
    age(held, 10 * atomic.STALE_AFTER_S)
    assert remove_stale_temporaries(target) == [held] and not held.exists()


def test_a_full_disk_names_the_target_not_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "big.png"
    target.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        write_bytes_atomic(target, b"x" * 1000)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["big.png"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_names_the_target(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            write_bytes_atomic(folder / "g.png", b"x")
        assert info.value.filename == str(folder / "g.png") and list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_a_temporary_that_cannot_be_made_is_reported_as_the_target(tmp_path, monkeypatch):
    """What a read-only folder does for any user, root included: mkstemp fails naming its own file."""

    def refuse(prefix="", suffix="", dir=None):  # noqa: A002 - tempfile's own argument name
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.path.join(dir, f"{prefix}q1w2e3r4{suffix}"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    for write in (lambda t: write_bytes_atomic(t, b"x"), lambda t: atomic.atomic_target(t)):
        with pytest.raises(PermissionError) as info:
            write(tmp_path / "g.png")
        assert info.value.filename == str(tmp_path / "g.png")


def test_a_folder_in_the_way_is_named(tmp_path):
    target = tmp_path / "out.keras"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as info, atomic_path(target):
        pass
    assert info.value.filename == str(target) and list(tmp_path.iterdir()) == [target]
