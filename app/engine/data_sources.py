"""Turn a data source string into something the pipeline can train on.

A source is a class-per-subfolder image folder, an ``.npz`` file of arrays,
MNIST-style IDX files, or a built-in ``sample:NAME``. Samples are written once
as PNG folders into the cache, so they take exactly the path a user's folder
takes. Arrays (npz, IDX) stay in memory as uint8 N×H×W×C: writing 70,000 PNGs
just to read them back would only cost time and disk. Pure Python + numpy.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.atomic import write_text_atomic
from app.engine.data_scan import ScanReport, dataset_warnings, scan_folder
from app.engine.safety import ModelFileError, open_regular_file, read_npz
from app.paths import cache_dir

SAMPLES = {"digits": "scikit-learn's 1,797 handwritten digits, 8×8 upscaled to 28×28 grayscale, 10 classes"}
_SAMPLE_VERSION = 1
_MARKER = ".layerlab-sample.json"
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_NAME = re.compile(
    r"^(?P<prefix>.*?)(?P<split>train|t10k|test)-(?P<kind>images|labels)[.-]idx(?P<ndim>\d)-ubyte(?P<gz>\.gz)?$",
    re.IGNORECASE,
)


class DataSourceError(Exception):
    """A source that cannot be read: missing, of an unknown kind, or malformed."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class ArrayData:
    """An in-memory dataset: uint8 images N×H×W×C and int labels 0..K-1."""

    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    class_names: list[str]
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]


# -- images and labels as arrays -------------------------------------------------------
def as_uint8_images(x: np.ndarray, where: str) -> np.ndarray:
    """N×H×W or N×H×W×C (C 1, 3 or 4), any numeric dtype -> uint8 N×H×W×C."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or 0 in x.shape[1:]:
        raise DataSourceError(where, f"images must be N×H×W or N×H×W×C with C 1, 3 or 4; got shape {x.shape}")
    if x.dtype == np.uint8:
        return x
    if x.dtype == bool:
        return x.astype(np.uint8) * 255
    if np.issubdtype(x.dtype, np.floating):
        top = float(np.nanmax(x)) if x.size else 0.0
        x = np.nan_to_num(x) * (255.0 if top <= 1.0 else 1.0)
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if np.issubdtype(x.dtype, np.integer):
        if x.size and x.max() > 255:
            return (x.astype(np.int64) >> 8).clip(0, 255).astype(np.uint8)  # 16-bit data
        return np.clip(x, 0, 255).astype(np.uint8)
    raise DataSourceError(where, f"images of type {x.dtype} are not numbers")


def _as_labels(y: np.ndarray, n: int, where: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)  # one-hot
    y = y.reshape(-1)
    if len(y) != n:
        raise DataSourceError(where, f"{n} images but {len(y)} labels")
    if not (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        raise DataSourceError(where, "labels must be whole numbers (class indices)")
    return y.astype(np.int64)


def _finish(
    source: str,
    pairs: dict[str, tuple[np.ndarray, np.ndarray] | None],
    names: list[str] | None = None,
) -> ArrayData:
    """Shared label space: class indices 0..K-1 over the sorted label values of every split."""
    xs = {k: as_uint8_images(v[0], f"{source} ({k})") for k, v in pairs.items() if v is not None}
    ys = {k: _as_labels(v[1], len(xs[k]), f"{source} ({k})") for k, v in pairs.items() if v is not None}
    shapes = {x.shape[1:] for x in xs.values()}
    if len(shapes) > 1:
        raise DataSourceError(source, f"the splits have different image shapes: {sorted(shapes)}")
    values = np.unique(np.concatenate(list(ys.values())))
    if names is not None and len(names) and values.min() >= 0 and values.max() < len(names):
        values = np.arange(len(names))
        class_names = [str(n) for n in names]
    else:
        class_names = [str(v) for v in values]
    lookup = {int(v): i for i, v in enumerate(values)}
    remap = {k: np.array([lookup[int(v)] for v in y], dtype=np.int32) if len(y) else y.astype(np.int32)
             for k, y in ys.items()}  # fmt: skip
    return ArrayData(
        source=source,
        x_train=xs["train"],
        y_train=remap["train"],
        class_names=class_names,
        x_val=xs.get("val"),
        y_val=remap.get("val"),
        x_test=xs.get("test"),
        y_test=remap.get("test"),
    )


def load_npz(path: str | os.PathLike[str]) -> ArrayData:
    """``x_train``/``y_train`` and optionally ``x_val``/``y_val`` (or ``x_valid``), ``x_test``/``y_test``,
    ``class_names``. Never unpickles; a FIFO, a device, an empty or fake file is refused in one line."""
    path = Path(path)
    try:
        z = read_npz(path, "dataset file")
    except ModelFileError as exc:
        raise DataSourceError(exc.path, exc.reason) from None
    keys = set(z)

    def pair(*names: str) -> tuple[np.ndarray, np.ndarray] | None:
        for n in names:
            if f"x_{n}" in keys and f"y_{n}" in keys:
                return z[f"x_{n}"], z[f"y_{n}"]
        return None

    train = pair("train")
    if train is None and {"x", "y"} <= keys:
        train = (z["x"], z["y"])
    if train is None:
        raise DataSourceError(path, f"no x_train/y_train arrays in it (found: {', '.join(sorted(keys)) or 'none'})")
    names = None
    for key in ("class_names", "classes", "labels_names"):
        if key in keys:
            names = [str(n) for n in z[key].reshape(-1)]
    try:
        return _finish(str(path), {"train": train, "val": pair("val", "valid", "validation"), "test": pair("test")}, names)
    except (TypeError, ValueError) as exc:  # e.g. labels of strings, mismatched dtypes
        raise DataSourceError(path, f"not a usable dataset ({str(exc).splitlines()[0][:120]})") from None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """One IDX file (raw or .gz): a 0,0,type,ndim magic, big-endian int32 sizes, then the data."""
    path = Path(path)
    try:
        with open_regular_file(path, "IDX file") as raw:
            data = gzip.GzipFile(fileobj=raw).read() if path.suffix.lower() == ".gz" else raw.read()
    except ModelFileError as exc:
        raise DataSourceError(exc.path, exc.reason) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataSourceError(path, f"cannot read it ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or not 1 <= data[3] <= 4:
        raise DataSourceError(path, "not an IDX file (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, ">i4", count=ndim, offset=4)
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    offset = 4 + 4 * ndim
    if len(data) - offset < expected:
        raise DataSourceError(path, f"truncated IDX file: {len(data) - offset} bytes of data, {expected} expected")
    return np.frombuffer(data, dtype, count=int(np.prod(dims)), offset=offset).reshape(tuple(dims)).astype(
        dtype.newbyteorder("=")
    )


def find_idx_files(folder: str | os.PathLike[str]) -> dict[str, dict[str, Path]]:
    """{"train": {"images": p, "labels": p}, "test": {...}} from the IDX files in ``folder``."""
    found: dict[str, dict[str, Path]] = {}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return found
    for name in names:
        m = _IDX_NAME.match(name)
        if m:
            split = "train" if m["split"].lower() == "train" else "test"
            found.setdefault(split, {}).setdefault(m["kind"].lower(), Path(folder) / name)
    return found


def is_idx_name(name: str) -> bool:
    return _IDX_NAME.match(os.path.basename(name)) is not None


def load_idx(path: str | os.PathLike[str]) -> ArrayData:
    """IDX images and labels: a folder holding them, or the train images file itself.

    ``train-*`` is the training set, ``t10k-*``/``test-*`` the test set.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    files = find_idx_files(folder)
    train = files.get("train", {})
    if "images" not in train or "labels" not in train:
        raise DataSourceError(path, "needs train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] side by side")
    pairs: dict[str, tuple[np.ndarray, np.ndarray] | None] = {"train": (read_idx(train["images"]), read_idx(train["labels"]))}
    test = files.get("test", {})
    if "images" in test and "labels" in test:
        pairs["test"] = (read_idx(test["images"]), read_idx(test["labels"]))
    return _finish(str(path), pairs)


# -- built-in samples ---------------------------------------------------------------
def sample_names() -> list[str]:
    return sorted(SAMPLES)


def _write_digits(folder: Path) -> int:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for cls in range(10):
        (folder / str(cls)).mkdir(parents=True, exist_ok=True)
    images = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    for i, (img, label) in enumerate(zip(images, digits.target, strict=True)):
        big = Image.fromarray(img, "L").resize((28, 28), Image.Resampling.BILINEAR)
        big.save(folder / str(int(label)) / f"{i:04d}.png", optimize=False)
    return len(images)


_SAMPLE_WRITERS: dict[str, Callable[[Path], int]] = {"digits": _write_digits}


def _sample_ready(folder: Path) -> bool:
    try:
        info = json.loads((folder / _MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("version") == _SAMPLE_VERSION


def sample_dir(name: str) -> Path:
    """The folder of built-in sample ``name``, written on first use.

    Written into a temporary sibling folder, then renamed into place, so an
    interrupted write never leaves a half sample; a second call reuses it.
    """
    if name not in _SAMPLE_WRITERS:
        raise DataSourceError(f"sample:{name}", f"no such built-in sample (available: {', '.join(sample_names())})")
    base = cache_dir() / "samples"
    target = base / name
    if _sample_ready(target):
        return target
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=base))
    try:
        count = _SAMPLE_WRITERS[name](tmp)
        write_text_atomic(tmp / _MARKER, json.dumps({"version": _SAMPLE_VERSION, "images": count}))
        if _sample_ready(target):  # another process finished first: keep its copy
            return target
        if target.exists():  # an older or broken copy: move it aside first
            old = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=base))
            os.replace(target, old / name)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _sample_ready(target):  # not another process that just finished it
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# -- resolving a source string ------------------------------------------------------
def resolve_source(source: str | os.PathLike[str]) -> Path | ArrayData:
    """A folder to scan (``Path``) or arrays in memory (``ArrayData``) for ``source``."""
    text = os.fspath(source)
    if text.startswith("sample:"):
        return sample_dir(text[len("sample:") :])
    if not text:
        raise DataSourceError("(no data source)", "choose a folder, an .npz or IDX file, or sample:digits")
    path = Path(text).expanduser()
    if path.is_dir():
        idx = find_idx_files(path).get("train", {})
        try:
            with os.scandir(path) as it:
                has_subdirs = any(e.is_dir() and not e.name.startswith(".") for e in it)
        except OSError as exc:
            raise DataSourceError(path, f"cannot read the folder ({exc.strerror or exc})") from None
        if "images" in idx and "labels" in idx and not has_subdirs:
            return load_idx(path)
        return path
    if not path.exists():
        raise DataSourceError(path, "no such file or folder")
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    if is_idx_name(path.name):
        return load_idx(path)
    raise DataSourceError(path, "not a dataset: give a folder with one subfolder per class, an .npz file or IDX files")


def report_for_arrays(data: ArrayData) -> ScanReport:
    """A health report for arrays: counts, shape, duplicates and conflicts by content."""
    counts = np.bincount(data.y_train, minlength=len(data.class_names)).tolist()
    n, h, w, c = data.x_train.shape
    groups: dict[bytes, list[int]] = {}
    flat = data.x_train.reshape(n, -1)
    for i in range(n):
        groups.setdefault(hashlib.blake2b(flat[i].tobytes(), digest_size=16).digest(), []).append(i)
    duplicates, conflicts = [], []
    for members in groups.values():
        if len(members) > 1:
            names = [f"x_train[{i}]" for i in members]
            (conflicts if len({int(data.y_train[i]) for i in members}) > 1 else duplicates).append(names)
    report = ScanReport(
        root=data.source,
        class_names=list(data.class_names),
        counts=counts,
        files=[],
        sizes=Counter({(w, h): n}),
        modes=Counter({{1: "L", 3: "RGB", 4: "RGBA"}[c]: n}),
        formats=Counter({"array": n}),
        duplicates=duplicates,
        conflicts=conflicts,
        arrays=data,
    )
    report.warnings = dataset_warnings(report.class_names, counts, duplicates, conflicts)
    return report


def scan_source(
    source: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], Any] | None = None,
    cancel: Callable[[], bool] | None = None,
    workers: int | None = None,
) -> ScanReport:
    """The health report of any source; arrays ride along in ``report.arrays``."""
    resolved = resolve_source(source)
    if isinstance(resolved, ArrayData):
        return report_for_arrays(resolved)
    return scan_folder(resolved, progress=progress, cancel=cancel, workers=workers)


# -- class names saved with a run ----------------------------------------------------
def write_class_names(path: str | os.PathLike[str], class_names: list[str]) -> Path:
    """``classes.json``: the label of output unit i is item i (a plain JSON list)."""
    return write_text_atomic(path, json.dumps(list(class_names), ensure_ascii=False, indent=1) + "\n")


def read_class_names(path: str | os.PathLike[str]) -> list[str]:
    """The list written by :func:`write_class_names` (a ``{"classes": [...]}`` object works too)."""
    data = json.loads(Path(path).read_text("utf-8"))
    if isinstance(data, dict):
        data = data.get("classes", data.get("class_names"))
    if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
        raise DataSourceError(path, "not a list of class names")
    return data
