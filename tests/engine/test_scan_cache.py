"""The persistent scan cache: an unchanged folder is not re-decoded, and the report stays the same."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.engine import scan_cache
from app.engine.data_scan import ScanCancelled, scan_folder


def _noise(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _age(root: Path, seconds: float = 3600) -> None:
    """Backdate every file: entries newer than ``RACY_NS`` are (rightly) never cached."""
    past = time.time_ns() - int(seconds * 1e9)
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(past, past))


N = 49  # files under the class folders (the stray file at the top is not probed)


@pytest.fixture()
def folder(tmp_path) -> Path:
    root = tmp_path / "data"
    for c, cls in enumerate(("cat", "dog")):
        (root / cls).mkdir(parents=True)
        for i in range(22):
            Image.fromarray(_noise(100 * c + i, (8, 8, 3))).save(root / cls / f"{i:02d}.png")
    (root / "cat" / "copy.png").write_bytes((root / "cat" / "00.png").read_bytes())  # duplicate
    (root / "dog" / "conflict.png").write_bytes((root / "cat" / "01.png").read_bytes())  # label conflict
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "dog" / "notes.txt").write_text("hello")
    (root / "dog" / "empty.jpg").write_bytes(b"")
    (root / "stray.png").write_bytes(b"x")
    _age(root)
    return root


def _same(a, b) -> None:
    ja, jb = a.to_json(), b.to_json()
    ja.pop("scan_seconds")
    jb.pop("scan_seconds")
    assert ja == jb
    assert a.files == b.files
    assert a.skipped == b.skipped
    assert (a.sizes, a.modes, a.formats) == (b.sizes, b.modes, b.formats)
    assert (a.pil_decode, a.jpeg_files) == (b.pil_decode, b.jpeg_files)


def test_second_scan_probes_nothing_and_gives_the_same_report(folder):
    plain = scan_folder(folder, workers=1, use_cache=False)
    first = scan_folder(folder, workers=1)
    assert first.probed == N and first.cached == 0
    assert scan_cache.cache_path(folder).is_file()
    second = scan_folder(folder, workers=1)
    assert second.probed == 0 and second.cached == N
    _same(second, plain)
    _same(first, plain)
    assert second.duplicates == [["cat/00.png", "cat/copy.png"]]
    assert second.conflicts == [["cat/01.png", "dog/conflict.png"]]


def test_an_overwritten_file_is_probed_again(folder):
    scan_folder(folder, workers=1)
    (folder / "cat" / "05.png").write_bytes(b"this is not a png at all")
    rep = scan_folder(folder, workers=1)
    assert rep.probed == 1
    assert "cat/05.png" in {s.path for s in rep.skipped}
    assert rep.counts == [22, 23]
    _same(rep, scan_folder(folder, workers=1, use_cache=False))


def test_a_replaced_file_with_an_old_mtime_is_probed_again(folder):
    scan_folder(folder, workers=1)
    target = folder / "dog" / "03.png"
    st = target.stat()
    tmp = folder / "dog" / ".new"
    data = target.read_bytes()
    tmp.write_bytes(data[: len(data) // 2])  # truncated, same mtime, other inode and size
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, target)
    rep = scan_folder(folder, workers=1)
    assert rep.probed == 1
    assert {s.path: s.kind for s in rep.skipped}["dog/03.png"] in ("truncated", "corrupt")


def test_a_fixed_file_becomes_valid_again(folder):
    scan_folder(folder, workers=1)
    Image.fromarray(_noise(777, (8, 8, 3))).save(folder / "dog" / "broken.png")
    rep = scan_folder(folder, workers=1)
    assert rep.probed == 1 and rep.counts == [23, 24]
    assert "dog/broken.png" not in {s.path for s in rep.skipped}


def test_deleted_and_new_files(folder):
    scan_folder(folder, workers=1)
    (folder / "cat" / "copy.png").unlink()
    (folder / "dog" / "notes.txt").unlink()
    Image.fromarray(_noise(999, (8, 8, 3))).save(folder / "cat" / "new.png")
    rep = scan_folder(folder, workers=1)
    assert rep.probed == 1
    assert rep.duplicates == [] and rep.counts == [23, 23]
    assert "dog/notes.txt" not in {s.path for s in rep.skipped}
    entries = json.loads(scan_cache.cache_path(folder).read_text())["entries"]
    assert "cat/copy.png" not in entries and "dog/notes.txt" not in entries
    assert "cat/new.png" not in entries  # written just now: too fresh to trust
    _age(folder)
    assert scan_folder(folder, workers=1).probed == N - 1  # every mtime changed
    assert scan_folder(folder, workers=1).probed == 0


@pytest.mark.parametrize("damage", [b"{not json", b"\xff\xfe\x00", b"[]", b'{"entries": 5}', "bad-entries"])
def test_a_damaged_cache_is_ignored(folder, damage):
    plain = scan_folder(folder, workers=1, use_cache=False)
    scan_folder(folder, workers=1)
    path = scan_cache.cache_path(folder)
    if damage == "bad-entries":
        obj = json.loads(path.read_text())
        for i, rel in enumerate(sorted(obj["entries"])):
            obj["entries"][rel] = [[], None, "x", 3, {}][i % 5] if i % 2 else obj["entries"][rel][:3] + ["ok", "zz"]
        path.write_text(json.dumps(obj))
    else:
        path.write_bytes(damage)
    rep = scan_folder(folder, workers=1)
    assert rep.probed == N
    _same(rep, plain)
    assert scan_folder(folder, workers=1).probed == 0  # rewritten whole


def test_other_limits_do_not_reuse_results(folder):
    scan_folder(folder, workers=1)
    rep = scan_folder(folder, workers=1, max_pixels=10)
    assert rep.probed == N and rep.counts == [0, 0]
    assert scan_folder(folder, workers=1).probed == N


def test_use_cache_false_neither_reads_nor_writes(folder):
    rep = scan_folder(folder, workers=1, use_cache=False)
    assert rep.probed == N and not scan_cache.cache_path(folder).exists()


def test_cancel_and_progress_with_everything_cached(folder):
    scan_folder(folder, workers=1)
    with pytest.raises(ScanCancelled):
        scan_folder(folder, workers=1, cancel=lambda: True)
    calls = []
    scan_folder(folder, workers=1, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, N) and calls[-1] == (N, N)


def test_walk_and_lookup_of_many_files_is_fast(tmp_path):
    root = tmp_path / "many"
    buf = tmp_path / "one.png"
    Image.fromarray(_noise(1, (4, 4))).save(buf)
    data = buf.read_bytes()
    for c in range(4):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(5000):
            (root / f"c{c}" / f"{i}.png").write_bytes(data)
    _age(root)
    scan_folder(root, workers=1)
    t = time.perf_counter()
    rep = scan_folder(root, workers=1)
    elapsed = time.perf_counter() - t
    assert rep.probed == 0 and rep.images == 20_000
    assert elapsed < 3.0, f"a fully cached scan of 20,000 files took {elapsed:.2f} s"
