"""The dataset health scan: a folder full of every kind of trouble (issue 3)."""

from __future__ import annotations

import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.engine import data_scan
from app.engine.data_scan import ScanCancelled, scan_folder

# What the messy folder holds: valid images per class, and each bad file's kind.
MESSY_COUNTS = {"bird": 2, "cat": 8, "dog": 13}
MESSY_SKIPPED = {
    "cat/corrupt.png": "corrupt",
    "cat/junk.png": "corrupt",
    "cat/truncated.png": "truncated",
    "cat/empty.png": "empty file",
    "cat/notes.txt": "not an image",
    "cat/photo.heic": "unsupported format",
    "dog/truncated.jpg": "truncated",
    "dog/bomb.png": "too large",
    "stray.png": "outside any class folder",
}


def _noise(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def _bomb_png() -> bytes:
    """A real 1×1 PNG whose header claims 100000×100000 pixels (CRC fixed up)."""
    data = bytearray(_png_bytes(Image.new("L", (1, 1))))
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def make_messy_folder(root: Path) -> Path:
    """Three classes of valid images in every odd mode, plus one of each kind of bad file."""
    cat, dog, bird = root / "cat", root / "dog", root / "bird"
    for d in (cat / "deep" / "nested", dog, bird):
        d.mkdir(parents=True, exist_ok=True)
    # cat: 8 valid (one a duplicate), 6 bad, 2 hidden
    for i in range(3):
        Image.fromarray(_noise(i, (32, 32, 3))).save(cat / f"rgb_{i}.png")
    shutil.copy(cat / "rgb_0.png", cat / "copy_of_rgb_0.png")
    Image.fromarray(_noise(10, (30, 40, 3))).convert("CMYK").save(cat / "cmyk.jpg")
    Image.fromarray(_noise(11, (48, 40, 3))).save(cat / "progressive.jpg", progressive=True, quality=90)
    Image.fromarray(_noise(12, (20, 20))).save(cat / "deep" / "nested" / "n1.png")
    Image.fromarray(_noise(13, (32, 32, 3))).save(cat / "猫.png")
    good = bytearray(_png_bytes(Image.fromarray(_noise(14, (32, 32, 3)))))
    good[60:80] = bytes(b ^ 0xFF for b in good[60:80])  # flipped bytes inside IDAT: bad CRC
    (cat / "corrupt.png").write_bytes(bytes(good))
    (cat / "junk.png").write_bytes(_noise(15, (300,)).tobytes())
    full = _png_bytes(Image.fromarray(_noise(16, (32, 32, 3))))
    (cat / "truncated.png").write_bytes(full[: len(full) * 6 // 10])
    (cat / "empty.png").write_bytes(b"")
    (cat / "notes.txt").write_text("these are my cats\n", "utf-8")
    (cat / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    (cat / ".hidden.png").write_bytes(_png_bytes(Image.new("RGB", (4, 4))))
    (cat / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
    # dog: 13 valid (one the same picture as a cat), 2 bad
    Image.fromarray(np.random.default_rng(20).integers(0, 65535, (24, 24)).astype(np.uint16)).save(
        dog / "g16.png"
    )
    Image.fromarray(_noise(21, (32, 32, 3))).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        dog / "palette.png"
    )
    Image.fromarray(_noise(22, (32, 32, 3))).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(
        dog / "palette_t.png", transparency=0
    )
    Image.fromarray(_noise(23, (32, 32, 4)), "RGBA").save(dog / "rgba.png")
    Image.fromarray(_noise(24, (16, 16))).convert("LA").save(dog / "la.png")
    frames = [Image.fromarray(_noise(25 + k, (20, 24, 3))).convert("P") for k in range(3)]
    frames[0].save(dog / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.fromarray(_noise(28, (32, 32, 3))).save(dog / "chat_é.png")
    Image.fromarray(_noise(29, (32, 32, 3))).save(dog / "really_png.jpg", format="PNG")
    Image.fromarray(_noise(34, (32, 32, 3))).save(dog / "really_jpeg.png", format="JPEG")
    Image.fromarray(_noise(30, (28, 28, 3))).save(dog / "x.bmp")
    Image.fromarray(_noise(31, (28, 28, 3))).save(dog / "x.webp")
    Image.fromarray(_noise(32, (28, 28, 3))).save(dog / "x.tiff")
    shutil.copy(cat / "rgb_1.png", dog / "conflict.png")
    jpeg = io.BytesIO()
    Image.fromarray(_noise(33, (64, 64, 3))).save(jpeg, format="JPEG")
    (dog / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (dog / "bomb.png").write_bytes(_bomb_png())
    # bird: 2 valid; a stray image and OS litter at the root
    for i in range(2):
        Image.fromarray(_noise(40 + i, (36, 36, 3))).save(bird / f"b{i}.png")
    Image.fromarray(_noise(50, (32, 32, 3))).save(root / "stray.png")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(32))
    return root


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Path:
    return make_messy_folder(tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def report(messy):
    return scan_folder(messy, workers=1)


def test_counts_exactly_the_valid_images_per_class(report):
    assert report.class_names == ["bird", "cat", "dog"]  # sorted, as Keras does
    assert dict(zip(report.class_names, report.counts, strict=True)) == MESSY_COUNTS
    assert report.images == len(report.files) == sum(MESSY_COUNTS.values())
    names = {Path(p).name for p, _ in report.files}
    assert {"猫.png", "chat_é.png", "really_png.jpg", "really_jpeg.png", "cmyk.jpg", "g16.png", "anim.gif", "n1.png"} <= names


def test_each_bad_file_is_named_with_its_reason(report):
    got = {s.path: s.kind for s in report.skipped}
    assert got == MESSY_SKIPPED
    for s in report.skipped:
        assert s.reason.startswith(s.kind) and len(s.reason) > len(s.kind)
    assert report.ignored == 3  # .hidden.png, Thumbs.db, .DS_Store: silent, counted


def test_odd_modes_are_accepted_and_recorded(report):
    assert {"CMYK", "I;16", "P", "RGBA", "LA", "L", "RGB"} <= set(report.modes)
    assert report.formats["PNG"] >= 10 and report.formats["JPEG"] == 3
    assert {"GIF", "BMP", "WEBP", "TIFF"} <= set(report.formats)
    pil = {Path(p).name for p in report.pil_decode}
    assert pil == {"cmyk.jpg", "anim.gif", "x.bmp", "x.webp", "x.tiff"}
    assert (32, 32) in report.sizes and (20, 20) in report.sizes


def test_warnings_imbalance_few_images_duplicates_conflicts(report):
    text = "\n".join(report.warnings)
    assert "Class imbalance: 'dog' has 13 images, 'bird' 2 (ratio 6.5:1)" in text
    assert "Class 'bird' has only 2 images; aim for at least 20 per class" in text
    assert "1 exact duplicate file (e.g. cat/copy_of_rgb_0.png = cat/rgb_0.png)" in text
    assert "1 image appears under two or more classes (label conflict), e.g. cat/rgb_1.png = dog/conflict.png" in text
    assert report.duplicates == [["cat/copy_of_rgb_0.png", "cat/rgb_0.png"]]
    assert report.conflicts == [["cat/rgb_1.png", "dog/conflict.png"]]


def test_json_is_the_spec_object(report):
    obj = json.loads(json.dumps(report.to_json()))
    assert {"root", "images", "classes", "skipped", "warnings"} <= set(obj)
    assert obj["images"] == 23
    assert obj["classes"] == [{"name": n, "count": MESSY_COUNTS[n]} for n in ("bird", "cat", "dog")]
    assert {s["path"]: s["kind"] for s in obj["skipped"]} == MESSY_SKIPPED
    assert all(set(s) >= {"path", "reason"} for s in obj["skipped"])
    assert "files" not in obj


def test_worker_processes_give_the_same_report(messy, report, monkeypatch):
    monkeypatch.setattr(data_scan, "_SERIAL_BELOW", 0)
    monkeypatch.setattr(data_scan, "_CHUNK", 5)
    calls = []
    par = scan_folder(messy, workers=2, progress=lambda d, t: calls.append((d, t)))
    assert par.files == report.files and par.counts == report.counts
    assert [(s.path, s.reason) for s in par.skipped] == [(s.path, s.reason) for s in report.skipped]
    assert par.warnings == report.warnings
    total = len(report.files) + len(report.skipped) - 1  # the stray file is not probed
    assert calls[0] == (0, total) and calls[-1] == (total, total)


def test_cancel_stops_the_scan(messy):
    with pytest.raises(ScanCancelled):
        scan_folder(messy, workers=1, cancel=lambda: True)


def test_pixel_limit_reports_too_large(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.fromarray(_noise(1 if cls == "a" else 2, (40, 40, 3))).save(tmp_path / cls / "big.png")
        Image.fromarray(_noise(3 if cls == "a" else 4, (10, 10, 3))).save(tmp_path / cls / "small.png")
    rep = scan_folder(tmp_path, workers=1, max_pixels=1000)
    assert rep.counts == [1, 1]
    assert {s.path: s.kind for s in rep.skipped} == {"a/big.png": "too large", "b/big.png": "too large"}
    assert "1,000" in rep.skipped[0].reason


def test_single_class_and_empty_class_are_warned(tmp_path):
    (tmp_path / "only").mkdir()
    (tmp_path / "empty").mkdir()
    for i in range(25):
        Image.fromarray(_noise(i, (8, 8))).save(tmp_path / "only" / f"{i}.png")
    rep = scan_folder(tmp_path, workers=1)
    assert rep.class_names == ["empty", "only"] and rep.counts == [0, 25]
    assert any("Class folder 'empty' has no valid images" in w for w in rep.warnings)
    (tmp_path / "empty").rmdir()
    rep = scan_folder(tmp_path, workers=1)
    assert rep.warnings == ["Only one class ('only'): a classifier needs at least two"]


def test_missing_folder_raises(tmp_path):
    with pytest.raises(NotADirectoryError):
        scan_folder(tmp_path / "nope")


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_fifos_devices_and_broken_links_are_skipped_unopened(tmp_path):
    import os

    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.fromarray(_noise(i, (8, 8))).save(tmp_path / cls / f"{i}.png")
    os.mkfifo(tmp_path / "a" / "pipe.png")  # opening it for reading would block the scan
    (tmp_path / "b" / "zero.png").symlink_to("/dev/zero")
    (tmp_path / "b" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    rep = scan_folder(tmp_path, workers=1, use_cache=False)
    assert rep.counts == [2, 2]
    reasons = {s.path: s.reason for s in rep.skipped}
    assert reasons == {
        "a/pipe.png": "unreadable: a FIFO (named pipe), not a regular file",
        "b/gone.png": "unreadable: a link to a missing file",
        "b/zero.png": "unreadable: a character device, not a regular file",
    }
    assert data_scan.check_image_file(tmp_path / "a" / "pipe.png") == ("unreadable", reasons["a/pipe.png"])
