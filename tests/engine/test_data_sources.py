"""Data sources: IDX (raw and gzip), .npz arrays, and the built-in sample:digits."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest
from PIL import Image

from app.engine import data_sources
from app.engine.data_sources import (
    ArrayData,
    DataSourceError,
    load_idx,
    load_npz,
    read_class_names,
    read_idx,
    resolve_source,
    sample_dir,
    scan_source,
    write_class_names,
)


def _idx_bytes(a: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(np.uint8).tobytes()


def _write_idx(folder, prefix, x, y, gz):
    ext = ".gz" if gz else ""
    opener = gzip.open if gz else open
    with opener(folder / f"{prefix}-images-idx3-ubyte{ext}", "wb") as fh:
        fh.write(_idx_bytes(x))
    with opener(folder / f"{prefix}-labels-idx1-ubyte{ext}", "wb") as fh:
        fh.write(_idx_bytes(y))


def _mnist_like(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_idx_folder_and_images_file(tmp_path, gz):
    x, y = _mnist_like(50, 0)
    xt, yt = _mnist_like(20, 1)
    y[:10] = np.arange(10)  # every digit present
    _write_idx(tmp_path, "train", x, y, gz)
    _write_idx(tmp_path, "t10k", xt, yt, gz)
    assert np.array_equal(read_idx(next(tmp_path.glob("train-images*"))), x)
    for source in (tmp_path, next(tmp_path.glob("train-images*"))):
        data = resolve_source(str(source))
        assert isinstance(data, ArrayData)
        assert data.x_train.shape == (50, 28, 28, 1) and data.x_train.dtype == np.uint8
        assert np.array_equal(data.x_train[..., 0], x) and np.array_equal(data.y_train, y)
        assert data.class_names == [str(i) for i in range(10)]
        assert data.x_test.shape == (20, 28, 28, 1) and np.array_equal(data.y_test, yt)
    report = scan_source(tmp_path)
    assert report.images == 50 and report.counts == np.bincount(y, minlength=10).tolist()
    assert report.arrays is not None and report.sizes == {(28, 28): 50}


def test_idx_errors_name_the_file(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 10, 28, 28) + b"x")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(10, np.uint8)))
    with pytest.raises(DataSourceError, match="train-images-idx3-ubyte: truncated IDX file"):
        load_idx(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataSourceError, match="bad magic number"):
        load_idx(tmp_path / "train-images-idx3-ubyte")


def test_npz_with_channels_validation_and_names(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 12, 10, 3), dtype=np.uint8)
    y = np.repeat([3, 5, 7], 10)
    xv, yv = x[:6], y[:6]
    path = tmp_path / "set.npz"
    np.savez(path, x_train=x, y_train=y, x_val=xv, y_val=yv, x_test=x[:3], y_test=y[:3])
    data = load_npz(path)
    assert data.x_train.shape == (30, 12, 10, 3) and data.image_shape == (12, 10, 3)
    assert data.class_names == ["3", "5", "7"]
    assert data.y_train.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert data.y_val.tolist() == [0] * 6 and data.x_test.shape[0] == 3
    floats = tmp_path / "floats.npz"
    np.savez(floats, x_train=x[..., 0] / 255.0, y_train=y, class_names=np.array(["a", "b", "c", "d", "e", "f", "g", "h"]))
    data = resolve_source(str(floats))
    assert data.x_train.dtype == np.uint8 and data.x_train.shape == (30, 12, 10, 1)
    assert int(np.abs(data.x_train[..., 0].astype(int) - x[..., 0]).max()) <= 1
    assert data.class_names == list("abcdefgh") and set(data.y_train.tolist()) == {3, 5, 7}
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=x)
    with pytest.raises(DataSourceError, match="no x_train/y_train"):
        load_npz(bad)


def test_unknown_sources_are_one_clear_error(tmp_path):
    with pytest.raises(DataSourceError, match="no such file or folder"):
        resolve_source(str(tmp_path / "missing"))
    with pytest.raises(DataSourceError, match="no such built-in sample"):
        resolve_source("sample:cifar")
    (tmp_path / "a.csv").write_text("1,2\n")
    with pytest.raises(DataSourceError, match="not a dataset"):
        resolve_source(str(tmp_path / "a.csv"))


@pytest.fixture()
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_sample_digits_written_once_then_reused(own_cache):
    folder = resolve_source("sample:digits")
    assert folder == own_cache / "samples" / "digits"
    files = sorted(folder.rglob("*.png"))
    assert len(files) == 1797 and sorted(p.name for p in folder.iterdir() if p.is_dir()) == [str(i) for i in range(10)]
    with Image.open(files[0]) as img:
        assert img.size == (28, 28) and img.mode == "L"
    stamps = (files[0].stat().st_mtime_ns, (folder / ".layerlab-sample.json").stat().st_mtime_ns)
    again = sample_dir("digits")
    assert again == folder
    assert (files[0].stat().st_mtime_ns, (folder / ".layerlab-sample.json").stat().st_mtime_ns) == stamps
    report = scan_source("sample:digits")
    assert report.images == 1797 and report.class_names == [str(i) for i in range(10)] and not report.skipped
    assert list(own_cache.joinpath("samples").iterdir()) == [folder]  # no temporary folders left


def test_sample_write_interrupted_leaves_nothing(own_cache, monkeypatch):
    def crash(folder):
        (folder / "0").mkdir()
        (folder / "0" / "0.png").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setitem(data_sources._SAMPLE_WRITERS, "digits", crash)
    with pytest.raises(KeyboardInterrupt):
        sample_dir("digits")
    assert list((own_cache / "samples").iterdir()) == []


def test_class_names_round_trip(tmp_path):
    names = ["chat", "chien", "猫"]
    write_class_names(tmp_path / "classes.json", names)
    assert read_class_names(tmp_path / "classes.json") == names
    assert json.loads((tmp_path / "classes.json").read_text("utf-8")) == names


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_device_is_refused_without_reading_it(tmp_path):
    import os

    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    (tmp_path / "train-labels-idx1-ubyte").symlink_to("/dev/zero")
    with pytest.raises(DataSourceError, match="train-images-idx3-ubyte: IDX file is a FIFO"):
        load_idx(tmp_path)  # a read would block forever here
    with pytest.raises(DataSourceError, match="train-labels-idx1-ubyte: IDX file is a link to a character device"):
        read_idx(tmp_path / "train-labels-idx1-ubyte")
    pipe = tmp_path / "data.npz"
    os.mkfifo(pipe)
    with pytest.raises(DataSourceError, match="data.npz: dataset file is a FIFO"):
        resolve_source(pipe)


def test_npz_entries_that_are_not_plain_arrays_are_refused(tmp_path):
    import zipfile

    path = tmp_path / "obj.npz"
    np.savez(path, x_train=np.array([{"a": 1}] * 4, dtype=object), y_train=np.zeros(4))
    with pytest.raises(DataSourceError, match="obj.npz: dataset file holds Python objects"):
        load_npz(path)
    bomb = tmp_path / "bomb.npz"
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 1000, 1000), }"
    with zipfile.ZipFile(bomb, "w") as zf:  # claims 100 GB, holds 100 bytes: refused before allocating
        zf.writestr("x_train.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header) + 1) + header + b"\n" + b"\0" * 100)
        zf.writestr("y_train.npy", b"")
    with pytest.raises(DataSourceError, match="bomb.npz: dataset file is damaged or truncated .entry 'x_train.npy' is truncated"):
        load_npz(bomb)
