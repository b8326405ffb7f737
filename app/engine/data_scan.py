"""Scan an image folder and report on its health before anything trains on it.

One subfolder per class (deeper folders allowed), like Keras'
``image_dataset_from_directory``. Every file is read once: hashed (exact
duplicates, label conflicts) and decoded cheaply by PIL (JPEG at 1/8 scale
through ``draft``; small PNGs fully, large ones by their chunk checksums), so
that a corrupt or truncated file is named here instead of killing an epoch.
Content decides the format, not the extension. Large folders are probed by
worker processes: on small files the work is Python-bound, so threads
serialize on the GIL (measured on 20k 32×32 PNGs, 2 cores: 1 process 2.6 s,
2 threads 3.2 s, 2 processes 1.6 s). Pure Python + PIL: no Keras, no TensorFlow.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import queue
import re
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from app.engine import scan_cache
from app.engine.safety import special_file_kind

# -- kinds of skipped files (the first words of every reason) ----------------------
CORRUPT = "corrupt"
TRUNCATED = "truncated"
EMPTY = "empty file"
NOT_IMAGE = "not an image"
UNSUPPORTED = "unsupported format"
OUTSIDE = "outside any class folder"
TOO_LARGE = "too large"
UNREADABLE = "unreadable"

SUPPORTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
# What the pipeline decodes natively in TensorFlow; anything else goes through PIL.
_TF_JPEG_MODES = ("L", "RGB")

IMAGE_EXTENSIONS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG",
    ".gif": "GIF", ".bmp": "BMP", ".dib": "BMP", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
}  # fmt: skip
UNSUPPORTED_EXTENSIONS = {
    ".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF", ".jxl": "JPEG XL", ".svg": "SVG",
    ".svgz": "SVG", ".psd": "Photoshop", ".ico": "ICO", ".icns": "ICNS", ".jp2": "JPEG 2000",
    ".j2k": "JPEG 2000", ".tga": "TGA", ".ppm": "PPM", ".pgm": "PGM", ".pbm": "PBM",
    ".exr": "OpenEXR", ".hdr": "Radiance HDR", ".dds": "DDS", ".raw": "camera RAW",
    ".cr2": "camera RAW", ".cr3": "camera RAW", ".nef": "camera RAW", ".arw": "camera RAW",
    ".dng": "camera RAW", ".orf": "camera RAW", ".rw2": "camera RAW", ".eps": "EPS",
}  # fmt: skip
# Operating-system litter, ignored silently (counted in ``ScanReport.ignored``).
SYSTEM_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", "__macosx", "$recycle.bin", "icon\r"})

MIN_PER_CLASS = 20
IMBALANCE_RATIO = 3.0
FULL_DECODE_PIXELS = 256 * 256  # PNGs up to this size are decoded; larger ones are CRC-checked
MAX_FILE_BYTES = 512 * 1024 * 1024
_SERIAL_BELOW = 2000  # fewer files than this: a pool costs more than it saves
_CHUNK = 256


class ScanCancelled(Exception):
    """The caller's ``cancel()`` returned True; no report is made from a partial scan."""


@dataclass(frozen=True)
class SkippedFile:
    path: str  # relative to the scanned root, with "/" separators
    kind: str  # one of the kind constants above
    reason: str  # a sentence for people; starts with ``kind``

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason, "kind": self.kind}


@dataclass
class ScanReport:
    """What a folder holds; ``files`` is the validated list the pipeline trains on."""

    root: str
    class_names: list[str]
    counts: list[int]
    files: list[tuple[str, int]]  # (absolute path, class index), in class then path order
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sizes: Counter = field(default_factory=Counter)  # (width, height) -> images
    modes: Counter = field(default_factory=Counter)  # PIL mode -> images
    formats: Counter = field(default_factory=Counter)  # PNG/JPEG/... -> images
    duplicates: list[list[str]] = field(default_factory=list)  # same content, same class
    conflicts: list[list[str]] = field(default_factory=list)  # same content, several classes
    pil_decode: frozenset[str] = frozenset()  # paths TensorFlow cannot decode itself
    jpeg_files: frozenset[str] = frozenset()  # JPEGs (no alpha channel in TensorFlow)
    ignored: int = 0  # hidden and system files, not reported one by one
    seconds: float = 0.0
    probed: int = 0  # files opened and decoded by this scan (the rest came from the scan cache)
    cached: int = 0  # files whose probe result came from the scan cache
    arrays: Any = None  # an in-memory source (``data_sources.ArrayData``) instead of files

    @property
    def images(self) -> int:
        return sum(self.counts)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def size_summary(self) -> dict[str, Any]:
        if not self.sizes:
            return {"distinct": 0, "min": None, "max": None, "most_common": []}
        by_area = sorted(self.sizes, key=lambda s: (s[0] * s[1], s))
        return {
            "distinct": len(self.sizes),
            "min": list(by_area[0]),
            "max": list(by_area[-1]),
            "most_common": [{"size": list(s), "count": n} for s, n in self.sizes.most_common(5)],
        }

    def to_json(self) -> dict[str, Any]:
        """SPEC's ``layerlab data --json`` object, plus sizes, modes, formats and duplicates."""
        return {
            "root": self.root,
            "images": self.images,
            "classes": [{"name": n, "count": c} for n, c in zip(self.class_names, self.counts, strict=True)],
            "skipped": [s.to_json() for s in self.skipped],
            "warnings": list(self.warnings),
            "sizes": self.size_summary(),
            "modes": dict(self.modes.most_common()),
            "formats": dict(self.formats.most_common()),
            "duplicates": self.duplicates[:1000],
            "conflicts": self.conflicts[:1000],
            "ignored": self.ignored,
            "scan_seconds": round(self.seconds, 3),
        }


# -- probing one file ---------------------------------------------------------------
def sniff_format(head: bytes) -> str | None:
    """The image format from the first bytes, or None; ``unsupported:NAME`` for known others."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"BM") and len(head) >= 26:
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "unsupported:AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "unsupported:HEIC"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL "):
        return "unsupported:JPEG XL"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "unsupported:JPEG 2000"
    if head.startswith(b"8BPS"):
        return "unsupported:Photoshop"
    if head.startswith(b"\x00\x00\x01\x00") and len(head) > 6 and head[4] > 0:
        return "unsupported:ICO"
    if len(head) > 2 and head[0:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "unsupported:PPM"
    if head.startswith(b"v/1\x01"):
        return "unsupported:OpenEXR"
    text = head.lstrip()[:256].lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head.lower()):
        return "unsupported:SVG"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # a character cut at the end of the sample
    return True


_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _decode_failure(fmt: str, data: bytes, exc: BaseException) -> tuple[str, str]:
    text = str(exc)
    if isinstance(exc, EOFError) or "truncat" in text.lower():
        return TRUNCATED, f"{TRUNCATED}: the {fmt} file ends before its image data does"
    text = _OBJECT_REPR.sub("", text)  # "cannot identify image file <_io.BytesIO object at 0x...>"
    detail = text.strip().rstrip(".") or exc.__class__.__name__
    return CORRUPT, f"{CORRUPT}: cannot decode the {fmt} data ({detail})"


def _too_large(pixels: int | None, limit: int | None) -> tuple:
    size = f"{pixels:,} pixels" if pixels else "the image"
    bound = f"the limit of {limit:,}" if limit else "PIL's limit"
    return ("bad", TOO_LARGE, f"{TOO_LARGE}: {size} is over {bound} (a possible decompression bomb)")


def _check_image(data: bytes, fmt: str, max_pixels: int | None) -> tuple:
    """Open and cheaply decode; ("ok", w, h, mode) or ("bad", kind, reason)."""
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        return _too_large(int(found[1]) if found else None, max_pixels)
    except Exception as exc:  # noqa: BLE001 - any failure to parse is a bad file
        return ("bad", *_decode_failure(fmt, data, exc))
    w, h = img.size
    mode = img.mode
    if w <= 0 or h <= 0:
        return ("bad", CORRUPT, f"{CORRUPT}: the {fmt} header gives a size of {w}×{h}")
    if max_pixels is not None and w * h > max_pixels:
        return _too_large(w * h, max_pixels)
    try:
        if fmt == "JPEG":
            img.draft(None, (max(1, w // 8), max(1, h // 8)))
            img.load()
        elif fmt == "PNG" and w * h > FULL_DECODE_PIXELS:
            img.verify()  # every chunk's CRC through IEND: catches truncation, cheap
        else:
            img.load()
    except Exception as exc:  # noqa: BLE001
        return ("bad", *_decode_failure(fmt, data, exc))
    finally:
        img.close()
    return ("ok", w, h, mode)


def probe_file(path: str, *, max_pixels: int | None = None, max_bytes: int = MAX_FILE_BYTES) -> tuple:
    """Check one file: ("ok", hash, w, h, mode, fmt) or ("bad", kind, reason).

    ``max_pixels`` None means PIL's own ``Image.MAX_IMAGE_PIXELS``.
    """
    if max_pixels is None:
        max_pixels = Image.MAX_IMAGE_PIXELS
    try:
        kind = special_file_kind(os.stat(path).st_mode)
        if kind is not None:  # never opened: a FIFO would block the scan, /dev/zero never ends
            return ("bad", UNREADABLE, f"{UNREADABLE}: {kind}, not a regular file")
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                return ("bad", EMPTY, f"{EMPTY}: 0 bytes")
            if size > max_bytes:
                return ("bad", TOO_LARGE, f"{TOO_LARGE}: the file is {size / 2**20:,.0f} MB")
            data = fh.read()
    except PermissionError:
        return ("bad", UNREADABLE, f"{UNREADABLE}: permission denied")
    except FileNotFoundError as exc:
        broken = os.path.islink(path)
        return ("bad", UNREADABLE, f"{UNREADABLE}: {'a link to a missing file' if broken else exc.strerror}")
    except OSError as exc:
        return ("bad", UNREADABLE, f"{UNREADABLE}: {exc.strerror or exc}")
    head = data[:512]
    fmt = sniff_format(head)
    ext = os.path.splitext(path)[1].lower()
    if fmt is None:
        if ext in IMAGE_EXTENSIONS:
            what = "text" if _looks_like_text(head) else "unrecognized content"
            return ("bad", CORRUPT, f"{CORRUPT}: not a valid {IMAGE_EXTENSIONS[ext]} file ({what})")
        if ext in UNSUPPORTED_EXTENSIONS:
            return ("bad", UNSUPPORTED, f"{UNSUPPORTED}: {UNSUPPORTED_EXTENSIONS[ext]} (convert it to PNG or JPEG)")
        if head.startswith(b"%PDF"):
            return ("bad", NOT_IMAGE, f"{NOT_IMAGE}: a PDF document")
        what = "a text file" if _looks_like_text(head) else "unrecognized content"
        return ("bad", NOT_IMAGE, f"{NOT_IMAGE}: {what}")
    if fmt.startswith("unsupported:"):
        return ("bad", UNSUPPORTED, f"{UNSUPPORTED}: {fmt[12:]} (convert it to PNG or JPEG)")
    result = _check_image(data, fmt, max_pixels)
    if result[0] != "ok":
        return result
    digest = hashlib.blake2b(data, digest_size=16).digest()
    return ("ok", digest, result[1], result[2], result[3], fmt)


def _probe_chunk(paths: Sequence[str], max_pixels: int | None) -> list[tuple]:
    return [probe_file(p, max_pixels=max_pixels) for p in paths]


# -- walking the folder --------------------------------------------------------------
def is_hidden(name: str) -> bool:
    """Dot files, AppleDouble ``._x`` files and OS litter (Thumbs.db, __MACOSX, ...)."""
    return name.startswith(".") or name.startswith("~$") or name.lower() in SYSTEM_NAMES


def _walk_files(folder: str, stats: list | None = None) -> tuple[list[str], int]:
    """Every file under ``folder`` (sorted, recursive, not following folder links); hidden count.

    ``stats``: a list that gets each file's ``os.stat_result`` (links followed; None
    when stat fails), in step with the paths.
    """
    out: list[str] = []
    ignored = 0
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            if is_hidden(e.name):
                ignored += 1
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    subdirs.append(e.path)
                elif not e.is_dir():  # a file, or a FIFO, device or broken link (skipped with the reason)
                    if stats is not None:
                        try:
                            stats.append(e.stat())
                        except OSError:
                            stats.append(None)
                    out.append(e.path)
            except OSError:
                continue
        stack.extend(reversed(subdirs))
    return out, ignored


def display_name(name: str) -> str:
    """A file name that prints and encodes as UTF-8 (undecodable bytes become U+FFFD)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _rel(path: str, root: str) -> str:
    return display_name(os.path.relpath(path, root).replace(os.sep, "/"))


def _serve() -> None:
    """Worker loop (``python -m app.engine.data_scan``): pickled chunks in, results out.

    A plain child process rather than multiprocessing: it starts in ~0.1 s, never
    re-runs the caller's ``__main__`` script and never forks a process that runs
    TensorFlow or Qt threads. Its own process, so PIL's global bomb limit can be
    replaced by the explicit ``max_pixels`` check of :func:`probe_file`.
    """
    out = os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr  # nothing else may write into the result stream
    Image.MAX_IMAGE_PIXELS = None
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    stdin = sys.stdin.buffer
    while True:
        try:
            paths, max_pixels = pickle.load(stdin)
        except EOFError:
            return
        pickle.dump(_probe_chunk(paths, max_pixels), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


def _start_workers(n: int) -> list[subprocess.Popen]:
    env = dict(os.environ)
    top = str(Path(__file__).resolve().parents[2])  # the folder that holds the app package
    env["PYTHONPATH"] = top + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    procs = []
    try:
        for _ in range(n):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "app.engine.data_scan"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
            )
    except OSError:
        _stop_workers(procs)
        return []
    return procs


def _stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        try:
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
    for proc in procs:
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _probe_in_workers(
    chunks: list[tuple[int, list[str]]],
    limit: int | None,
    workers: int,
    on_result: Callable[[int, list[tuple]], None],
    cancelled: Callable[[], bool],
) -> list[tuple[int, list[str]]]:
    """Probe chunks in child processes; returns the chunks they could not do."""
    procs = _start_workers(workers)
    if not procs:
        return chunks
    tasks: queue.SimpleQueue = queue.SimpleQueue()
    for item in chunks:
        tasks.put(item)
    done_q: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    failed: list[tuple[int, list[str]]] = []

    def feed(proc: subprocess.Popen) -> None:
        # One thread per child; it only waits on pipes, so the GIL is free meanwhile.
        item = None
        try:
            while not stop.is_set():
                try:
                    item = tasks.get_nowait()
                except queue.Empty:
                    break
                pickle.dump((item[1], limit), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                proc.stdin.flush()  # type: ignore[union-attr]
                done_q.put((item[0], pickle.load(proc.stdout)))  # type: ignore[arg-type]
                item = None
        except Exception:  # noqa: BLE001 - a dead child: its chunk is redone here
            if item is not None:
                failed.append(item)
        finally:
            done_q.put(None)

    threads = [threading.Thread(target=feed, args=(p,), daemon=True) for p in procs]
    for t in threads:
        t.start()
    alive = len(threads)
    try:
        while alive:
            try:
                msg = done_q.get(timeout=0.1)
            except queue.Empty:
                msg = ()
            if cancelled():
                stop.set()
                raise ScanCancelled("scan cancelled")
            if msg is None:
                alive -= 1
            elif msg:
                on_result(*msg)
    finally:
        stop.set()
        _stop_workers(procs)
        for t in threads:
            t.join(timeout=2)
    while True:
        try:
            failed.append(tasks.get_nowait())
        except queue.Empty:
            return failed


def _run_probes(
    paths: list[str],
    *,
    workers: int,
    max_pixels: int | None,
    progress: Callable[[int, int], Any] | None,
    cancel: Callable[[], bool] | None,
) -> list[tuple]:
    total = len(paths)
    results: list[tuple | None] = [None] * total
    last_report = [0.0]
    done = [0]

    def report(force: bool = False) -> None:
        now = time.monotonic()
        if progress is not None and (force or now - last_report[0] >= 0.1):
            last_report[0] = now
            progress(done[0], total)

    def store(start: int, res: list[tuple]) -> None:
        results[start : start + len(res)] = res
        done[0] += len(res)
        report()

    def cancelled() -> bool:
        return cancel is not None and bool(cancel())

    report(force=True)
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    chunks = [(i, paths[i : i + _CHUNK]) for i in range(0, total, _CHUNK)]
    if workers > 1 and total >= _SERIAL_BELOW:
        chunks = _probe_in_workers(chunks, limit, workers, store, cancelled)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        for start, chunk in chunks:
            if cancelled():
                raise ScanCancelled(f"scan cancelled after {done[0]} of {total} files")
            store(start, _probe_chunk(chunk, limit))
    report(force=True)
    return results  # type: ignore[return-value]


# -- warnings (shared with in-memory sources) ---------------------------------------
def _quote_list(items: Iterable[str], limit: int = 3) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def dataset_warnings(
    class_names: Sequence[str],
    counts: Sequence[int],
    duplicates: Sequence[Sequence[str]] = (),
    conflicts: Sequence[Sequence[str]] = (),
    *,
    min_per_class: int = MIN_PER_CLASS,
    imbalance_ratio: float = IMBALANCE_RATIO,
) -> list[str]:
    """Beginner-readable warnings about class balance, size and duplicated content."""
    out: list[str] = []
    if len(class_names) == 1:
        out.append(f"Only one class ('{class_names[0]}'): a classifier needs at least two")
    empty = [n for n, c in zip(class_names, counts, strict=True) if c == 0]
    if empty:
        names = _quote_list(f"'{n}'" for n in empty)
        out.append(f"Class folder{'s' * (len(empty) > 1)} {names} ha{'ve' if len(empty) > 1 else 's'} no valid images")
    few = [(n, c) for n, c in zip(class_names, counts, strict=True) if 0 < c < min_per_class]
    if 0 < len(few) <= 3:
        for n, c in few:
            out.append(
                f"Class '{n}' has only {c} image{'s' * (c != 1)}; aim for at least {min_per_class} per class"
            )
    elif few:
        out.append(
            f"{len(few)} classes have fewer than {min_per_class} images "
            f"({_quote_list(f'{n!r} {c}' for n, c in few)}); aim for at least {min_per_class} per class"
        )
    present = [(c, n) for n, c in zip(class_names, counts, strict=True) if c > 0]
    if len(present) >= 2:
        hi_c, hi_n = max(present, key=lambda t: t[0])
        lo_c, lo_n = min(present, key=lambda t: t[0])
        ratio = hi_c / lo_c
        if ratio >= imbalance_ratio:
            out.append(
                f"Class imbalance: '{hi_n}' has {hi_c} images, '{lo_n}' {lo_c} (ratio {ratio:.1f}:1); "
                "consider class weights or more images of the smaller classes"
            )
    extra = sum(len(g) - 1 for g in duplicates)
    if extra:
        g = duplicates[0]
        out.append(f"{extra} exact duplicate file{'s' * (extra != 1)} (e.g. {g[0]} = {g[1]})")
    if conflicts:
        g = conflicts[0]
        n = len(conflicts)
        out.append(
            f"{n} image{'s' * (n != 1)} appear{'s' * (n == 1)} under two or more classes (label conflict), "
            f"e.g. {g[0]} = {g[1]}"
        )
    return out


def _group_content(
    ok: list[tuple[str, int, bytes]], class_names: Sequence[str]
) -> tuple[list[list[str]], list[list[str]]]:
    """Duplicates (same hash, one class) and conflicts (same hash, several classes)."""
    groups: dict[bytes, list[tuple[str, int]]] = defaultdict(list)
    for rel, label, digest in ok:
        groups[digest].append((rel, label))
    duplicates: list[list[str]] = []
    conflicts: list[list[str]] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        if len({label for _, label in members}) > 1:
            conflicts.append([rel for rel, _ in members])
        else:
            duplicates.append([rel for rel, _ in members])
    duplicates.sort()
    conflicts.sort()
    return duplicates, conflicts


def _cached_probes(
    root: str,
    paths: list[str],
    stats: list[os.stat_result | None],
    fresh_after_ns: int,
    *,
    workers: int,
    max_pixels: int | None,
    progress: Callable[[int, int], Any] | None,
    cancel: Callable[[], bool] | None,
) -> tuple[list[tuple], int]:
    """Probe results of ``paths``, reusing the scan cache for unchanged files; (results, probed)."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    current = scan_cache.settings(limit, MAX_FILE_BYTES)
    old = scan_cache.load(root, current)
    prefix = os.path.join(root, "")
    rels = [p[len(prefix) :] if p.startswith(prefix) else os.path.relpath(p, root) for p in paths]
    keys = [None if st is None else scan_cache.stat_key(st) for st in stats]
    results: list[tuple | None] = [None] * len(paths)
    todo: list[int] = []
    if old:
        for i, (rel, key) in enumerate(zip(rels, keys, strict=True)):
            hit = None if key is None else scan_cache.lookup(old, rel, key)
            if hit is None:
                todo.append(i)
            else:
                results[i] = hit
    else:
        todo = list(range(len(paths)))
    cached = len(paths) - len(todo)
    total = len(paths)
    if progress is not None:
        progress(0, total)
    if todo:
        shifted = None if progress is None else (lambda d, t: progress(cached + d, cached + t))
        fresh = _run_probes([paths[i] for i in todo], workers=workers, max_pixels=max_pixels, progress=shifted,
                            cancel=cancel)  # fmt: skip
        for i, res in zip(todo, fresh, strict=True):
            results[i] = res
    elif progress is not None:
        progress(total, total)
    entries: dict[str, list[Any]] = {}
    for rel, key, res in zip(rels, keys, results, strict=True):
        if key is not None and scan_cache.cacheable(key, res, fresh_after_ns):  # type: ignore[arg-type]
            entries[rel] = [*key, *scan_cache.encode_result(res)]  # type: ignore[arg-type]
    if entries != old:
        scan_cache.save(root, current, entries)
    return results, len(todo)  # type: ignore[return-value]


# -- the scan ------------------------------------------------------------------------
def scan_folder(
    root: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], Any] | None = None,
    workers: int | None = None,
    cancel: Callable[[], bool] | None = None,
    max_pixels: int | None = None,
    use_cache: bool = True,
) -> ScanReport:
    """Scan ``root`` (one subfolder per class) and report what is usable and what is not.

    ``progress(done, total)`` is called at most ~10 times a second and once at the
    end; ``cancel()`` is polled between chunks and raises :class:`ScanCancelled`.
    ``workers``: None picks one process per core for large folders, 1 scans in
    this process. ``max_pixels`` (default PIL's ``Image.MAX_IMAGE_PIXELS``)
    makes larger images "too large" rather than a memory blow-up.
    ``use_cache``: reuse the probe results of files whose (size, mtime, inode)
    has not changed since an earlier scan (:mod:`app.engine.scan_cache`) and
    store this scan's; the report is the same either way.
    """
    t0 = time.perf_counter()
    fresh_after_ns = time.time_ns() - scan_cache.RACY_NS
    root_path = Path(os.path.abspath(root))
    if not root_path.is_dir():
        raise NotADirectoryError(20, "not a folder" if root_path.exists() else "no such folder", str(root))
    root_s = str(root_path)
    with os.scandir(root_s) as it:
        top = sorted(it, key=lambda e: e.name)
    class_names: list[str] = []
    class_dirs: list[str] = []
    skipped: list[SkippedFile] = []
    ignored = 0
    for e in top:
        if is_hidden(e.name):
            ignored += 1
        elif e.is_dir():
            class_names.append(display_name(e.name))
            class_dirs.append(e.path)
        elif e.is_file():
            skipped.append(
                SkippedFile(display_name(e.name), OUTSIDE, f"{OUTSIDE}: files directly in the dataset folder are not used; "
                            "move it into a class subfolder")
            )  # fmt: skip
    paths: list[str] = []
    labels: list[int] = []
    stats: list[os.stat_result | None] | None = [] if use_cache else None
    for label, folder in enumerate(class_dirs):
        found, hidden = _walk_files(folder, stats)
        ignored += hidden
        paths.extend(found)
        labels.extend([label] * len(found))

    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    if cancel is not None and cancel():
        raise ScanCancelled("scan cancelled")
    if stats is None:
        results = _run_probes(paths, workers=workers, max_pixels=max_pixels, progress=progress, cancel=cancel)
        probed = len(paths)
    else:
        results, probed = _cached_probes(
            root_s, paths, stats, fresh_after_ns, workers=workers, max_pixels=max_pixels, progress=progress,
            cancel=cancel,
        )  # fmt: skip

    files: list[tuple[str, int]] = []
    counts = [0] * len(class_names)
    sizes: Counter = Counter()
    modes: Counter = Counter()
    formats: Counter = Counter()
    pil_decode: set[str] = set()
    jpeg_files: set[str] = set()
    hashed: list[tuple[str, int, bytes]] = []
    for path, label, res in zip(paths, labels, results, strict=True):
        if res[0] != "ok":
            skipped.append(SkippedFile(_rel(path, root_s), res[1], res[2]))
            continue
        _, digest, w, h, mode, fmt = res
        files.append((path, label))
        counts[label] += 1
        sizes[(w, h)] += 1
        modes[mode] += 1
        formats[fmt] += 1
        if not (fmt == "PNG" or (fmt == "JPEG" and mode in _TF_JPEG_MODES)):
            pil_decode.add(path)
        if fmt == "JPEG":
            jpeg_files.add(path)
        hashed.append((_rel(path, root_s), label, digest))
    duplicates, conflicts = _group_content(hashed, class_names)
    report = ScanReport(
        root=root_s,
        class_names=class_names,
        counts=counts,
        files=files,
        skipped=skipped,
        sizes=sizes,
        modes=modes,
        formats=formats,
        duplicates=duplicates,
        conflicts=conflicts,
        pil_decode=frozenset(pil_decode),
        jpeg_files=frozenset(jpeg_files),
        ignored=ignored,
        probed=probed,
        cached=len(paths) - probed,
    )
    report.warnings = dataset_warnings(class_names, counts, duplicates, conflicts)
    report.seconds = time.perf_counter() - t0
    return report


def check_image_file(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> tuple[str, str] | None:
    """None when ``path`` is a usable image, else (kind, reason): for prediction inputs."""
    res = probe_file(os.fspath(path), max_pixels=max_pixels)
    return None if res[0] == "ok" else (res[1], res[2])


__all__ = [
    "CORRUPT", "EMPTY", "NOT_IMAGE", "OUTSIDE", "TOO_LARGE", "TRUNCATED", "UNREADABLE", "UNSUPPORTED",
    "ScanCancelled", "ScanReport", "SkippedFile", "check_image_file", "dataset_warnings", "is_hidden",
    "probe_file", "scan_folder", "sniff_format",
]  # fmt: skip


if __name__ == "__main__":
    _serve()
