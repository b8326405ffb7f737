"""Dataset panel: pick a source, scan it in the background, see its health, tune the input.

Everything slow runs off the GUI thread and hands back plain data:

- the scan (``data_sources.scan_source``) in a :class:`ScanThread`;
- thumbnails in the global ``QThreadPool`` (``QImage`` only, never ``QPixmap``),
  requested by the model only for the cells the view actually paints;
- the augmentation preview (Keras layers) in ONE long-lived worker thread, debounced.

The panel edits ``project.data`` through ``dataclasses.replace`` and emits
``settingsChanged()``; a finished scan is emitted as ``scanFinished(ScanReport)``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QRectF,
    QRunnable,
    QSize,
    Qt,
    QThread,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import NORMALIZATIONS, Augmentation, DataSettings
from app.core.validation import check_settings, replace_setting
from app.gui.diagnostics_panel import PROBLEM_STYLE, SettingProblemLine, mark_widget

ACCENT = QColor("#3B6FE0")
# The folder layout a dataset needs, as a tiny picture (shown by the Folder… button).
LAYOUT_PICTURE = (
    "<pre style='margin:4px 0 0 8px; color:#3A4150'>"
    "my_images/\n"
    "├── cat/     cat1.png  cat2.jpg  …\n"
    "├── dog/     dog1.png  dog2.png  …\n"
    "└── bird/    bird1.jpg …</pre>"
)
HINT_STYLE = "QLabel#folderLayoutHint { background:#F3F6FB; border:1px solid #DCE3EE; border-radius:6px; padding:6px 8px; }"
HINT_ALARM = "QLabel#folderLayoutHint { background:#FCEEEC; border:1px solid #F2C4BF; border-radius:6px; padding:6px 8px; }"
THUMB = 72  # thumbnail cell size in pixels
_MODE_WORDS = {1: "grayscale", 3: "RGB colour", 4: "RGBA (colour + alpha)"}
_PIL_WORDS = {"L": "grayscale", "1": "black & white", "P": "palette", "RGB": "RGB", "RGBA": "RGBA",
              "LA": "grayscale + alpha", "CMYK": "CMYK", "I;16": "16-bit grayscale", "I": "32-bit grayscale",
              "F": "float grayscale", "array": "array"}  # fmt: skip
_FLIPS = (("none", "No flipping"), ("horizontal", "Flip left ↔ right"), ("vertical", "Flip top ↕ bottom"),
          ("horizontal_and_vertical", "Flip both ways"))  # fmt: skip
_AUG_FIELDS = (
    ("rotation", "Rotation", "fraction of a full turn (0.1 = ±36°)", 0.5),
    ("zoom", "Zoom", "fraction of the size (0.2 = ±20 %)", 0.9),
    ("translation", "Shift", "fraction of width/height", 0.5),
    ("contrast", "Contrast", "random contrast factor", 0.9),
    ("brightness", "Brightness", "random brightness change", 0.9),
)
_NORM_WORDS = {
    "rescale": "Rescale to 0…1 (pixel / 255)",
    "standardize": "Standardize (mean 0, variance 1, learned from the training set)",
    "none": "None (raw 0…255 pixels)",
}


# -- small helpers -----------------------------------------------------------------
def network_input_shape(project: Any) -> tuple[int, int, int] | None:
    """(height, width, channels) of the project's single InputLayer; None when not fixed."""
    try:
        inputs = project.graph.input_nodes()
    except AttributeError:
        return None
    if len(inputs) != 1:
        return None
    params = inputs[0].params
    shape = params.get("shape")
    if shape is None and params.get("batch_shape"):
        shape = list(params["batch_shape"])[1:]
    if not isinstance(shape, (list, tuple)) or len(shape) != 3:
        return None
    if not all(isinstance(d, int) and d > 0 for d in shape):
        return None
    return int(shape[0]), int(shape[1]), int(shape[2])


def describe_input(shape: tuple[int, int, int] | None, report: Any = None) -> str:
    """'Network input: 28×28×1 grayscale — images are resized and converted' plus what that means here."""
    if shape is None:
        return "Network input: not fixed — give the InputLayer a shape such as [28, 28, 1]"
    h, w, c = shape
    text = f"Network input: {h}×{w}×{c} {_MODE_WORDS.get(c, f'{c} channels')}"
    if report is None or not report.sizes:
        return text + " — images are resized and converted"
    parts = []
    sizes = list(report.sizes)
    if len(sizes) == 1 and sizes[0] == (w, h):
        parts.append("no resizing needed")
    elif len(sizes) == 1:
        parts.append(f"resized from {sizes[0][0]}×{sizes[0][1]}")
    else:
        summary = report.size_summary()
        lo, hi = summary["min"], summary["max"]
        parts.append(f"{len(sizes)} sizes ({lo[0]}×{lo[1]} … {hi[0]}×{hi[1]}) resized to {w}×{h}")
    wanted = {1: {"L"}, 3: {"RGB"}, 4: {"RGBA"}}.get(c, set())
    other = [m for m in report.modes if m not in wanted and m != "array"]
    if other:
        names = ", ".join(_PIL_WORDS.get(m, m) for m in sorted(other))
        parts.append(f"{names} converted to {_MODE_WORDS.get(c, str(c))}")
    elif report.arrays is not None:
        ac = report.arrays.image_shape[2]
        if ac != c:
            parts.append(f"{_MODE_WORDS.get(ac, ac)} converted to {_MODE_WORDS.get(c, c)}")
    if len(parts) == 1 and parts[0] == "no resizing needed":
        parts = ["used as they are"]
    return text + " — " + "; ".join(parts)


def array_to_qimage(arr: np.ndarray) -> QImage:
    """uint8 H×W×C (C 1, 3, 4) or H×W -> a QImage that owns its pixels (safe in any thread)."""
    a = np.ascontiguousarray(arr)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = np.ascontiguousarray(a[:, :, 0])
    h, w = a.shape[:2]
    if a.ndim == 2:
        fmt, bpl = QImage.Format.Format_Grayscale8, w
    elif a.shape[2] == 3:
        fmt, bpl = QImage.Format.Format_RGB888, 3 * w
    else:
        a = np.ascontiguousarray(a[:, :, :4])
        fmt, bpl = QImage.Format.Format_RGBA8888, 4 * w
    return QImage(a.data, w, h, bpl, fmt).copy()


def _read_array(path: str) -> np.ndarray | None:
    """A file as uint8 H×W×C via PIL (None when unreadable)."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            im.seek(0)
            mode = im.mode
            if mode not in ("L", "RGB", "RGBA"):
                im = im.convert("RGBA" if "A" in mode or "transparency" in im.info else "RGB")
            a = np.asarray(im, dtype=np.uint8)
        return a[..., None] if a.ndim == 2 else a
    except Exception:  # noqa: BLE001 - a bad file just has no preview
        return None


# -- the scan thread ---------------------------------------------------------------
class ScanThread(QThread):
    """Runs ``scan_source`` off the GUI thread; emits plain data only."""

    progressed = Signal(int, int)
    succeeded = Signal(object)  # ScanReport
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, source: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:  # noqa: D102 - QThread
        from app.engine.data_scan import ScanCancelled
        from app.engine.data_sources import DataSourceError, scan_source

        try:
            report = scan_source(
                self.source, progress=lambda done, total: self.progressed.emit(int(done), int(total)),
                cancel=self._cancel.is_set,
            )  # fmt: skip
        except ScanCancelled:
            self.cancelled.emit()
            return
        except DataSourceError as exc:
            self.failed.emit(f"{exc.path}: {exc.reason}")
            return
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        if self._cancel.is_set():
            self.cancelled.emit()
        else:
            self.succeeded.emit(report)


# -- class-count chart -------------------------------------------------------------
class ClassCountChart(QWidget):
    """Horizontal bars, one per class, painted with QPainter; click a bar to pick that class."""

    classClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("classCountChart")
        self._names: list[str] = []
        self._counts: list[int] = []
        self._selected = -1
        self.setMinimumHeight(60)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)

    # data, for tests and callers
    def set_counts(self, names: list[str], counts: list[int]) -> None:
        self._names, self._counts = list(names), [int(c) for c in counts]
        self._selected = -1
        self.updateGeometry()
        self.update()

    def counts(self) -> dict[str, int]:
        return dict(zip(self._names, self._counts, strict=True))

    def set_selected(self, index: int) -> None:
        self._selected = index
        self.update()

    # geometry
    _ROW = 20

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(320, max(60, 12 + self._ROW * len(self._names)))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(160, max(60, 12 + self._ROW * min(len(self._names), 30)))

    def _label_width(self) -> int:
        fm = self.fontMetrics()
        return min(160, max([fm.horizontalAdvance(n) for n in self._names] or [0]) + 12)

    def _row_at(self, y: float) -> int:
        i = int((y - 6) // self._ROW)
        return i if 0 <= i < len(self._names) else -1

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        i = self._row_at(event.position().y())
        if i >= 0:
            self.set_selected(i)
            self.classClicked.emit(i)

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        i = self._row_at(event.position().y())
        if i >= 0:
            total = sum(self._counts) or 1
            self.setToolTip(f"{self._names[i]}: {self._counts[i]:,} images ({100 * self._counts[i] / total:.1f} %)")
        else:
            self.setToolTip("")

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self._names:
            p.setPen(QColor("#8A93A3"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No dataset scanned yet")
            return
        fm = self.fontMetrics()
        lw = self._label_width()
        top = max(self._counts) or 1
        mean = sum(self._counts) / len(self._counts)
        num_w = fm.horizontalAdvance(f"{top:,}") + 10
        bar_w = max(10, self.width() - lw - num_w - 8)
        for i, (name, n) in enumerate(zip(self._names, self._counts, strict=True)):
            y = 6 + i * self._ROW
            if i == self._selected:
                p.fillRect(QRectF(0, y, self.width(), self._ROW), QColor("#EDF2FD"))
            p.setPen(QColor("#3A4150"))
            p.drawText(QRectF(4, y, lw - 8, self._ROW), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       fm.elidedText(name, Qt.TextElideMode.ElideMiddle, lw - 8))  # fmt: skip
            w = bar_w * n / top
            low = n < mean / 3 or n < 20
            colour = QColor("#E0893B") if low else ACCENT
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(colour)
            p.drawRoundedRect(QRectF(lw, y + 3, max(w, 2), self._ROW - 6), 3, 3)
            p.setPen(QColor("#5A6272"))
            p.drawText(QRectF(lw + w + 6, y, num_w, self._ROW), Qt.AlignmentFlag.AlignVCenter, f"{n:,}")


# -- thumbnails --------------------------------------------------------------------
class _ThumbSignals(QObject):
    loaded = Signal(int, int, QImage)  # generation, row, image


class _ThumbJob(QRunnable):
    def __init__(self, signals: _ThumbSignals, generation: int, row: int, path: str | None, array: Any) -> None:
        super().__init__()
        self.signals, self.generation, self.row, self.path, self.array = signals, generation, row, path, array

    def run(self) -> None:
        if self.path is not None:
            img = QImage(self.path)
            if img.isNull():
                a = _read_array(self.path)
                img = array_to_qimage(a) if a is not None else QImage()
        else:
            img = array_to_qimage(self.array)
        if not img.isNull():
            mode = (Qt.TransformationMode.FastTransformation if max(img.width(), img.height()) < THUMB
                    else Qt.TransformationMode.SmoothTransformation)  # fmt: skip
            img = img.scaled(THUMB - 8, THUMB - 8, Qt.AspectRatioMode.KeepAspectRatio, mode)
        self.signals.loaded.emit(self.generation, self.row, img)


class ThumbnailModel(QAbstractListModel):
    """Sample images of one class; each thumbnail is loaded the first time a view asks for it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[tuple[str | None, int | None, str]] = []  # (path, array index, tooltip)
        self._arrays: Any = None
        self._cache: dict[int, QPixmap] = {}
        self._pending: set[int] = set()
        self._generation = 0
        self._signals = _ThumbSignals(self)
        self._signals.loaded.connect(self._on_loaded)
        self._placeholder = QPixmap(THUMB - 8, THUMB - 8)
        self._placeholder.fill(QColor("#E9EDF3"))
        self.pool = QThreadPool.globalInstance()

    def set_items(self, items: list[tuple[str | None, int | None, str]], arrays: Any = None) -> None:
        self.beginResetModel()
        self._generation += 1
        self._items, self._arrays = list(items), arrays
        self._cache.clear()
        self._pending.clear()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._items)

    def loaded_count(self) -> int:
        return len(self._cache)

    def path(self, row: int) -> str | None:
        return self._items[row][0]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        row = index.row()
        path, arr_index, tip = self._items[row]
        if role == Qt.ItemDataRole.DecorationRole:
            if row in self._cache:
                return self._cache[row]
            if row not in self._pending:
                self._pending.add(row)
                array = self._arrays[arr_index] if arr_index is not None and self._arrays is not None else None
                self.pool.start(_ThumbJob(self._signals, self._generation, row, path, array))
            return self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(THUMB, THUMB)
        return None

    @Slot(int, int, QImage)
    def _on_loaded(self, generation: int, row: int, image: QImage) -> None:
        if generation != self._generation or not 0 <= row < len(self._items):
            return
        self._pending.discard(row)
        if image.isNull():
            pm = QPixmap(THUMB - 8, THUMB - 8)
            pm.fill(QColor("#F6D5D5"))
        else:
            pm = QPixmap.fromImage(image)
        self._cache[row] = pm
        idx = self.index(row)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


# -- a thread that runs jobs in ONE long Python call ---------------------------------------
def _load_keras_quietly() -> None:
    """Import Keras without stalling the GUI thread; a failure is left for the job to report."""
    from app.engine.keras_loader import load_keras

    with contextlib.suppress(Exception):
        load_keras()


class JobThread(QThread):
    """Runs submitted jobs one after another inside a single ``run()`` call.

    Why not a QObject moved to a QThread with queued slots: PySide enters
    Python afresh for every queued slot call on a thread it did not start
    itself, and TensorFlow keeps per-thread state (graph and context stacks,
    ``threading.local``) that does not survive that; tracing a new function in
    a later slot call crashed the process (segfault in ``predict_on_batch``).
    One ``run()`` keeps one Python thread state for the thread's whole life.
    Subclasses define methods named after the jobs; results go out as signals.
    """

    needs_keras = False  # import Keras (see engine.keras_loader) before the first job

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: queue.Queue = queue.Queue()

    def submit(self, name: str, *args: Any) -> None:
        """Run ``self.<name>(*args)`` in this thread, after the jobs already waiting."""
        self._jobs.put((name, args))

    def stop(self, timeout_ms: int = 15000) -> None:
        """Finish the current job, drop the rest, and end the thread."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._jobs.get_nowait()
        self._jobs.put(None)
        self.wait(timeout_ms)

    def run(self) -> None:  # noqa: D102 - QThread
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self.needs_keras:
                _load_keras_quietly()
            name, args = job
            try:
                getattr(self, name)(*args)
            except Exception:  # noqa: BLE001 - jobs report their own errors; never kill the thread
                import traceback

                traceback.print_exc()


# -- augmentation preview worker -------------------------------------------------------
class PreviewThread(JobThread):
    """All of the preview's Keras calls happen in this one thread."""

    needs_keras = True

    done = Signal(int, object, object)  # request id, originals uint8 N×H×W×C, augmented uint8
    failed = Signal(int, str)

    def compute(self, request: int, job: dict) -> None:
        try:
            from app.engine.data_pipeline import augmentation_layers, build_layers

            shape = tuple(job["shape"])
            images = job["images"]
            if not images:
                return
            originals = np.stack([_as_network_image(a, shape) for a in images])
            n = job["n"]
            batch = np.stack([originals[i % len(originals)] for i in range(n)]).astype(np.float32)
            # what data_pipeline.augmented_preview does, on images converted already
            for layer in build_layers(augmentation_layers(job["settings"], seed=job["seed"])):
                batch = np.asarray(layer(batch, training=True))
            out = np.clip(np.rint(batch), 0, 255).astype(np.uint8)
            self.done.emit(request, originals, out)
        except Exception as exc:  # noqa: BLE001 - reported in the panel
            self.failed.emit(request, f"{type(exc).__name__}: {exc}")


def _as_network_image(image: np.ndarray, shape: tuple) -> np.ndarray:
    """uint8 H×W×C at the network's size and channels, converted as the pipeline converts arrays.

    An image that already has the network's shape is used as it is
    (``convert_array_image`` fails on exactly that case: it hands a numpy array
    to ``Tensor.set_shape``).
    """
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if tuple(a.shape) == tuple(shape):
        return a.astype(np.uint8)
    from app.engine.data_pipeline import convert_array_image

    return np.clip(np.rint(convert_array_image(a, shape)), 0, 255).astype(np.uint8)


_THREADS: list[QThread] = []


def _stop_threads() -> None:
    for t in list(_THREADS):
        if isinstance(t, JobThread):
            t.stop(5000)
        else:
            t.quit()
            t.wait(5000)
    _THREADS.clear()


def _register_thread(thread: QThread) -> None:
    if not _THREADS:
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(_stop_threads)
    _THREADS.append(thread)


# -- the panel -----------------------------------------------------------------------
def _heading(text: str) -> QLabel:
    lab = QLabel(text)
    f = lab.font()
    f.setBold(True)
    lab.setFont(f)
    return lab


class DatasetPanel(QWidget):
    """Source picker, background scan, class chart, thumbnails, health report, input and augmentation."""

    settingsChanged = Signal()
    scanFinished = Signal(object)  # ScanReport
    scanFailed = Signal(str)

    PREVIEW_DELAY_MS = 250
    PREVIEW_N = 8

    def __init__(self, project_provider: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPanel")
        self.setStyleSheet(PROBLEM_STYLE)
        self.setAcceptDrops(True)
        self.project_provider = project_provider
        self.report: Any = None
        self._problems: list[Any] = []
        self._scan: ScanThread | None = None
        self._old_scans: list[ScanThread] = []
        self._loading = False
        self._preview_request = 0
        self._preview_images: list[np.ndarray] = []
        self._build()
        self._preview_thread = PreviewThread()
        self._preview_thread.setObjectName("augmentationPreview")
        self._preview_thread.done.connect(self._on_preview)
        self._preview_thread.failed.connect(self._on_preview_failed)
        self._preview_thread.start()
        _register_thread(self._preview_thread)
        self._preview_timer = QTimer(self, singleShot=True, interval=self.PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._request_preview)
        self.refresh_from_project()

    # ---------------------------------------------------------------- building
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.setSpacing(8)

        # source row
        src = QHBoxLayout()
        self.folderButton = QPushButton("Folder…")
        self.folderButton.setObjectName("dataFolderButton")
        self.folderButton.setToolTip("A folder with one subfolder of images per class (or IDX files)")
        self.fileButton = QPushButton("NPZ / IDX file…")
        self.fileButton.setObjectName("dataFileButton")
        self.fileButton.setToolTip("An .npz with x_train/y_train arrays, or MNIST-style IDX files")
        self.sampleCombo = QComboBox()
        self.sampleCombo.setObjectName("sampleCombo")
        self.sampleCombo.addItem("Built-in sample…", "")
        from app.engine.data_sources import SAMPLES, sample_names

        for name in sample_names():
            self.sampleCombo.addItem(f"sample:{name}", f"sample:{name}")
            self.sampleCombo.setItemData(self.sampleCombo.count() - 1, SAMPLES.get(name, ""), Qt.ItemDataRole.ToolTipRole)
        self.rescanButton = QPushButton("Rescan")
        self.rescanButton.setObjectName("rescanButton")
        self.cancelButton = QPushButton("Cancel")
        self.cancelButton.setObjectName("cancelScanButton")
        self.cancelButton.setVisible(False)
        for w in (self.folderButton, self.fileButton, self.sampleCombo):
            src.addWidget(w)
        src.addStretch(1)
        src.addWidget(self.rescanButton)
        src.addWidget(self.cancelButton)
        outer.addLayout(src)

        self.folderButton.setToolTip(f"<p>A folder with one subfolder of images per class (or IDX files):</p>{LAYOUT_PICTURE}")
        self.layoutHint = QLabel(
            "<b>A dataset folder holds one subfolder per class</b>; each subfolder's name is the label "
            f"of the images in it (files directly in the folder are not used).{LAYOUT_PICTURE}"
        )
        self.layoutHint.setObjectName("folderLayoutHint")
        self.layoutHint.setTextFormat(Qt.TextFormat.RichText)
        self.layoutHint.setWordWrap(True)
        self.layoutHint.setStyleSheet(HINT_STYLE)
        outer.addWidget(self.layoutHint)
        self.sourceLabel = QLabel()
        self.sourceLabel.setObjectName("dataSourceLabel")
        self.sourceLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sourceLabel.setWordWrap(True)
        outer.addWidget(self.sourceLabel)
        self._problem_lines: dict[str, tuple[Any, SettingProblemLine]] = {}
        self.sourceProblem = self._problem_line("data.source")
        outer.addWidget(self.sourceProblem)
        self.otherProblems = QVBoxLayout()  # settings with no widget here (seed, cache budget, …)
        outer.addLayout(self.otherProblems)
        self.progress = QProgressBar()
        self.progress.setObjectName("scanProgress")
        self.progress.setVisible(False)
        self.progress.setTextVisible(True)
        outer.addWidget(self.progress)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("datasetTabs")
        self.tabs.setDocumentMode(True)
        outer.addWidget(self.tabs, 1)

        # overview tab
        overview = QWidget()
        ov = QVBoxLayout(overview)
        ov.setContentsMargins(4, 8, 4, 4)
        self.summaryLabel = QLabel("Choose a folder of images (one subfolder per class), an NPZ / IDX file, "
                                   "or a built-in sample to start.")  # fmt: skip
        self.summaryLabel.setObjectName("datasetSummary")
        self.summaryLabel.setWordWrap(True)
        ov.addWidget(self.summaryLabel)
        self.chart = ClassCountChart()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.chart)
        ov.addWidget(scroll, 1)
        self.tabs.addTab(overview, "Classes")

        # samples tab
        samples = QWidget()
        sv = QVBoxLayout(samples)
        sv.setContentsMargins(4, 8, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Class:"))
        self.classCombo = QComboBox()
        self.classCombo.setObjectName("thumbClassCombo")
        row.addWidget(self.classCombo, 1)
        sv.addLayout(row)
        self.thumbModel = ThumbnailModel(self)
        self.thumbView = QListView()
        self.thumbView.setObjectName("thumbnailGrid")
        self.thumbView.setViewMode(QListView.ViewMode.IconMode)
        self.thumbView.setResizeMode(QListView.ResizeMode.Adjust)
        self.thumbView.setMovement(QListView.Movement.Static)
        self.thumbView.setUniformItemSizes(True)
        self.thumbView.setGridSize(QSize(THUMB, THUMB))
        self.thumbView.setIconSize(QSize(THUMB - 8, THUMB - 8))
        self.thumbView.setSpacing(0)
        self.thumbView.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.thumbView.setModel(self.thumbModel)
        sv.addWidget(self.thumbView, 1)
        self.tabs.addTab(samples, "Samples")

        # health tab
        health = QWidget()
        hv = QVBoxLayout(health)
        hv.setContentsMargins(4, 8, 4, 4)
        self.healthSummary = QLabel("No report yet.")
        self.healthSummary.setWordWrap(True)
        hv.addWidget(self.healthSummary)
        self.healthList = QListWidget()
        self.healthList.setObjectName("healthReport")
        self.healthList.setWordWrap(True)
        self.healthList.setAlternatingRowColors(True)
        hv.addWidget(self.healthList, 1)
        self.tabs.addTab(health, "Health")

        # input & augmentation tab
        prep = QWidget()
        pscroll = QScrollArea()
        pscroll.setWidgetResizable(True)
        pscroll.setFrameShape(QFrame.Shape.NoFrame)
        pscroll.setWidget(prep)
        pv = QVBoxLayout(prep)
        pv.setContentsMargins(4, 8, 4, 4)
        self.inputLabel = QLabel()
        self.inputLabel.setObjectName("networkInputLabel")
        self.inputLabel.setWordWrap(True)
        pv.addWidget(self.inputLabel)

        split_box = QGroupBox("Train / validation split")
        split_v = QVBoxLayout(split_box)
        sl = QHBoxLayout()
        split_v.addLayout(sl)
        split_v.addWidget(self._problem_line("data.validation_split"))
        self.splitSlider = QSlider(Qt.Orientation.Horizontal)
        self.splitSlider.setObjectName("splitSlider")
        self.splitSlider.setRange(0, 50)
        self.splitSpin = QSpinBox()
        self.splitSpin.setObjectName("splitSpin")
        self.splitSpin.setRange(0, 50)
        self.splitSpin.setSuffix(" % validation")
        self.splitLabel = QLabel()
        self.splitLabel.setObjectName("splitCounts")
        self.splitLabel.setMinimumWidth(170)
        sl.addWidget(self.splitSlider, 1)
        sl.addWidget(self.splitSpin)
        sl.addWidget(self.splitLabel)
        pv.addWidget(split_box)

        norm_box = QGroupBox("Normalization")
        nl = QVBoxLayout(norm_box)
        self.normCombo = QComboBox()
        self.normCombo.setObjectName("normalizationCombo")
        for key in NORMALIZATIONS:
            self.normCombo.addItem(_NORM_WORDS.get(key, key), key)
        nl.addWidget(self.normCombo, 1)
        nl.addWidget(self._problem_line("data.normalization"))
        pv.addWidget(norm_box)

        aug_box = QGroupBox("Augmentation (training only)")
        ag = QGridLayout(aug_box)
        ag.setHorizontalSpacing(10)
        self.flipCombo = QComboBox()
        self.flipCombo.setObjectName("flipCombo")
        for key, text in _FLIPS:
            self.flipCombo.addItem(text, key)
        ag.addWidget(QLabel("Flip"), 0, 0)
        ag.addWidget(self.flipCombo, 0, 1, 1, 2)
        ag.addWidget(self._problem_line("data.augmentation.flip"), 1, 0, 1, 3)
        self.augSpins: dict[str, QDoubleSpinBox] = {}
        self.augSliders: dict[str, QSlider] = {}
        for i, (key, text, tip, top) in enumerate(_AUG_FIELDS, start=1):
            r = 2 * i  # a field's row, its problem line under it
            lab = QLabel(text)
            lab.setToolTip(tip)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, int(round(top * 100)))
            slider.setToolTip(tip)
            spin = QDoubleSpinBox()
            spin.setObjectName(f"{key}Spin")
            spin.setRange(0.0, top)
            spin.setSingleStep(0.05)
            spin.setDecimals(2)
            spin.setToolTip(tip)
            slider.valueChanged.connect(lambda v, s=spin: s.setValue(v / 100))
            spin.valueChanged.connect(lambda v, s=slider: (s.blockSignals(True), s.setValue(int(round(v * 100))),
                                                           s.blockSignals(False)))  # fmt: skip
            spin.valueChanged.connect(lambda v, k=key: self._on_aug_changed(k, round(float(v), 3)))
            ag.addWidget(lab, r, 0)
            ag.addWidget(slider, r, 1)
            ag.addWidget(spin, r, 2)
            ag.addWidget(self._problem_line(f"data.augmentation.{key}"), r + 1, 0, 1, 3)
            self.augSpins[key], self.augSliders[key] = spin, slider
        ag.setColumnStretch(1, 1)
        pv.addWidget(aug_box)

        prev_box = QGroupBox("Preview: what the network sees while training")
        pl = QVBoxLayout(prev_box)
        self.previewStrip = QWidget()
        self.previewStrip.setObjectName("augmentationPreview")
        self._preview_layout = QHBoxLayout(self.previewStrip)
        self._preview_layout.setContentsMargins(0, 0, 0, 0)
        self._preview_layout.setSpacing(4)
        self._preview_labels: list[QLabel] = []
        for _ in range(self.PREVIEW_N):
            lab = QLabel()
            lab.setFixedSize(64, 64)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setStyleSheet("background: #E9EDF3; border-radius: 4px;")
            self._preview_layout.addWidget(lab)
            self._preview_labels.append(lab)
        self._preview_layout.addStretch(1)
        pl.addWidget(self.previewStrip)
        prow = QHBoxLayout()
        self.previewStatus = QLabel("Scan a dataset to preview its images.")
        self.previewStatus.setObjectName("previewStatus")
        self.previewStatus.setStyleSheet("color: #6B7383;")
        self.reshuffleButton = QPushButton("New samples")
        self.reshuffleButton.setToolTip("Draw other random augmentations")
        prow.addWidget(self.previewStatus, 1)
        prow.addWidget(self.reshuffleButton)
        pl.addLayout(prow)
        pv.addWidget(prev_box)
        pv.addStretch(1)
        self.tabs.addTab(pscroll, "Input && augmentation")

        # wiring
        self.folderButton.clicked.connect(self._choose_folder)
        self.fileButton.clicked.connect(self._choose_file)
        self.sampleCombo.activated.connect(self._on_sample)
        self.rescanButton.clicked.connect(lambda: self.scan())
        self.cancelButton.clicked.connect(self.cancel_scan)
        self.chart.classClicked.connect(self._show_class)
        self.classCombo.currentIndexChanged.connect(self._fill_thumbnails)
        self.splitSlider.valueChanged.connect(self.splitSpin.setValue)
        self.splitSpin.valueChanged.connect(self.splitSlider.setValue)
        self.splitSpin.valueChanged.connect(self._on_split)
        self.normCombo.currentIndexChanged.connect(self._on_norm)
        self.flipCombo.currentIndexChanged.connect(lambda _i: self._on_aug_changed("flip", self.flipCombo.currentData()))
        self.reshuffleButton.clicked.connect(self._reshuffle)
        self._seed = 0

    # ---------------------------------------------------------------- project <-> controls
    def project(self) -> Any:
        return self.project_provider()

    def refresh_from_project(self) -> None:
        """Put the project's data settings into the controls (after a project is opened)."""
        project = self.project()
        if project is None:
            return
        d = project.data
        # A file may hold anything (NaN, -3, "fast"): each widget shows the nearest value it
        # can, or the default; the problem line under it says what the file holds.
        self._loading = True
        try:
            split = _finite(d.validation_split, DataSettings().validation_split)
            self.splitSpin.setValue(_clamp(int(round(split * 100)), self.splitSpin))
            self.splitSlider.setValue(self.splitSpin.value())
            i = self.normCombo.findData(d.normalization) if isinstance(d.normalization, str) else -1
            self.normCombo.setCurrentIndex(max(i, 0))
            flip = d.augmentation.flip
            i = self.flipCombo.findData(flip) if isinstance(flip, str) else -1
            self.flipCombo.setCurrentIndex(max(i, 0))
            for key, spin in self.augSpins.items():
                spin.setValue(_clamp(_finite(getattr(d.augmentation, key), 0.0), spin))
            j = self.sampleCombo.findData(d.source) if isinstance(d.source, str) else -1
            self.sampleCombo.setCurrentIndex(max(j, 0))
        finally:
            self._loading = False
        self._show_source(d.source if isinstance(d.source, str) else "")
        self.refresh_input()
        self._update_split_counts()
        self.refresh_problems()

    def refresh_input(self) -> None:
        """Re-read the network's input shape (call when the graph changes)."""
        shape = network_input_shape(self.project())
        self.inputLabel.setText(describe_input(shape, self.report))
        self._schedule_preview()

    def _edit_data(self, **changes: Any) -> None:
        if self._loading:
            return
        project = self.project()
        if project is None:
            return
        new = replace(project.data, **changes)
        if new != project.data:
            project.data = new
            self.refresh_problems()
            self.settingsChanged.emit()

    def _on_split(self, value: int) -> None:
        self._edit_data(validation_split=round(value / 100, 2))
        self._update_split_counts()

    def _on_norm(self, _index: int) -> None:
        self._edit_data(normalization=self.normCombo.currentData())

    def augmentation(self) -> Augmentation:
        values = {k: round(s.value(), 3) for k, s in self.augSpins.items()}
        return Augmentation(flip=self.flipCombo.currentData() or "none", **values)

    def _on_aug_changed(self, key: str, value: Any) -> None:
        """One augmentation control changed: that field only (a wrong one elsewhere stays shown)."""
        if self._loading or value is None:
            return
        project = self.project()
        if project is not None:
            self._edit_data(augmentation=replace(project.data.augmentation, **{key: value}))
        self._schedule_preview()

    # ---------------------------------------------------------------- wrong settings
    def _problem_line(self, setting: str) -> SettingProblemLine:
        line = SettingProblemLine()
        line.fixClicked.connect(self._apply_fix)
        self._problem_lines[setting] = (None, line)
        return line

    def _setting_widget(self, setting: str) -> QWidget | None:
        key = setting.removeprefix("data.")
        if key.startswith("augmentation."):
            key = key.removeprefix("augmentation.")
            return self.flipCombo if key == "flip" else self.augSpins.get(key)
        return {"validation_split": self.splitSpin, "normalization": self.normCombo, "source": self.sourceLabel}.get(key)

    def problems(self) -> list[Any]:
        return list(self._problems)

    def refresh_problems(self) -> list[Any]:
        """Judge the data settings: each problem on its widget, the rest listed under the source."""
        project = self.project()
        problems = []
        if project is not None:
            problems = [p for p in check_settings(project.data, project.training, project.task) if p.setting.startswith("data.")]
        self._problems = problems
        by_setting = {p.setting: p for p in reversed(problems)}
        for setting, (_, line) in self._problem_lines.items():
            p = by_setting.get(setting)
            widget = self._setting_widget(setting)
            if widget is not None:
                mark_widget(widget, p.message if p else None)
            line.show_problem(p)
        while self.otherProblems.count():
            item = self.otherProblems.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # (out of the layout it would still paint until deleted)
                item.widget().deleteLater()
        for p in problems:
            if p.setting not in self._problem_lines:
                line = SettingProblemLine()
                line.fixClicked.connect(self._apply_fix)
                self.otherProblems.addWidget(line)  # (parented first: shown before that, it would be a window)
                line.show_problem(p)
        prep = [p for p in problems if p.setting != "data.source" and p.setting in self._problem_lines]
        self.tabs.setTabText(3, "Input && augmentation" + (f" ⚠ {len(prep)}" if prep else ""))
        self.tabs.setTabToolTip(3, "; ".join(p.message for p in prep))
        return problems

    def _apply_fix(self, problem: Any) -> None:
        """A problem's one-click fix: that one setting set to ``fix_value``."""
        project = self.project()
        if project is None or problem.fix_value is None or not problem.setting.startswith("data."):
            return
        project.data = replace_setting(project.data, problem.setting.removeprefix("data."), problem.fix_value)
        self.refresh_from_project()
        self.settingsChanged.emit()

    def _update_split_counts(self) -> None:
        if self.report is None or not self.report.images:
            self.splitLabel.setText("")
            return
        project = self.project()
        arrays = self.report.arrays
        if arrays is not None and arrays.x_val is not None:
            self.splitLabel.setText(f"{len(arrays.x_train):,} train · {len(arrays.x_val):,} validation (given)")
            return
        n = self.report.images
        frac = self.splitSpin.value() / 100  # what the file holds, when it is a usable fraction
        if project is not None and 0 <= _finite(project.data.validation_split, -1.0) < 1:
            frac = float(project.data.validation_split)
        val = int(round(n * frac))
        self.splitLabel.setText(f"{n - val:,} train · {val:,} validation")

    # ---------------------------------------------------------------- choosing a source
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder (one subfolder per class)")
        if folder:
            self.set_source(folder)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Dataset file", "", "Arrays (*.npz *-ubyte *-ubyte.gz *.idx *.idx3-ubyte);;All files (*)"
        )
        if path:
            self.set_source(path)

    def _on_sample(self, index: int) -> None:
        source = self.sampleCombo.itemData(index)
        if source:
            self.set_source(source)

    def set_source(self, source: str, *, scan: bool = True) -> None:
        """Use ``source`` (folder, file or "sample:NAME") for the project and scan it."""
        source = os.fspath(source)
        self._edit_data(source=source)
        j = self.sampleCombo.findData(source)
        self.sampleCombo.blockSignals(True)
        self.sampleCombo.setCurrentIndex(max(j, 0))
        self.sampleCombo.blockSignals(False)
        self._show_source(source)
        if scan:
            self.scan(source)

    def _show_source(self, source: str) -> None:
        if not source:
            self.sourceLabel.setText("<span style='color:#8A93A3'>No data source chosen.</span>")
        else:
            self.sourceLabel.setText(f"Source: <b>{_esc(source)}</b>")
        self.rescanButton.setEnabled(bool(source))

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.set_source(paths[0])
            event.acceptProposedAction()

    # ---------------------------------------------------------------- scanning
    def is_scanning(self) -> bool:
        return self._scan is not None and self._scan.isRunning()

    def scan(self, source: str | None = None) -> None:
        """Scan ``source`` (default: the project's) in the background."""
        if source is None:
            project = self.project()
            source = project.data.source if project is not None else ""
        if not source:
            self._scan_error("choose a folder, an .npz or IDX file, or a built-in sample first")
            return
        self.cancel_scan()
        thread = ScanThread(source)
        thread.progressed.connect(self._on_progress)
        thread.succeeded.connect(self._on_scanned)
        thread.failed.connect(self._scan_error)
        thread.cancelled.connect(self._on_cancelled)
        thread.finished.connect(lambda t=thread: self._reap(t))
        self._scan = thread
        self._old_scans.append(thread)
        _register_thread(thread)
        self.progress.setRange(0, 0)  # busy until the first count arrives
        self.progress.setFormat("Scanning…")
        self.progress.setVisible(True)
        self.cancelButton.setVisible(True)
        self.rescanButton.setEnabled(False)
        self.summaryLabel.setText(f"Scanning {_esc(source)} …")
        thread.start()

    def cancel_scan(self) -> None:
        if self._scan is not None and self._scan.isRunning():
            self._scan.cancel()
        self._scan = None
        self._scan_idle()

    def _reap(self, thread: ScanThread) -> None:
        if thread in self._old_scans:
            self._old_scans.remove(thread)
        if thread in _THREADS:
            _THREADS.remove(thread)
        thread.deleteLater()

    def shutdown(self) -> None:
        """Stop the background threads (call before the panel goes away)."""
        for t in list(self._old_scans):
            t.cancel()
            t.wait(10000)
        self._preview_thread.stop(10000)
        if self._preview_thread in _THREADS:
            _THREADS.remove(self._preview_thread)
        QThreadPool.globalInstance().waitForDone(5000)

    def _scan_idle(self) -> None:
        self.progress.setVisible(False)
        self.cancelButton.setVisible(False)
        self.rescanButton.setEnabled(True)

    def _on_progress(self, done: int, total: int) -> None:
        if self.sender() is not self._scan:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"Checking images… {done:,} / {total:,}")

    def _on_cancelled(self) -> None:
        if self.sender() is self._scan or self._scan is None:
            self._scan_idle()
            self.summaryLabel.setText("Scan cancelled.")

    def _scan_error(self, message: str) -> None:
        if self.sender() is not None and isinstance(self.sender(), ScanThread) and self.sender() is not self._scan:
            return
        self._scan = None
        self._scan_idle()
        self.summaryLabel.setText(f"<span style='color:#C0392B'><b>Cannot read the data:</b> {_esc(message)}</span>")
        self.layoutHint.setVisible(True)
        self.scanFailed.emit(message)

    def _on_scanned(self, report: Any) -> None:
        if self.sender() is not self._scan:
            return
        self._scan = None
        self._scan_idle()
        self.show_report(report)
        self.scanFinished.emit(report)

    # ---------------------------------------------------------------- showing a report
    def show_report(self, report: Any) -> None:
        """Fill the chart, thumbnails, health list and input line from a ScanReport."""
        self.report = report
        self.chart.set_counts(report.class_names, report.counts)
        self.chart.updateGeometry()
        sizes = report.size_summary()
        if sizes["distinct"] == 1:
            size_text = f"all {sizes['min'][0]}×{sizes['min'][1]}"
        elif sizes["distinct"]:
            size_text = f"{sizes['distinct']} sizes, {sizes['min'][0]}×{sizes['min'][1]} to {sizes['max'][0]}×{sizes['max'][1]}"
        else:
            size_text = "no images"
        modes = ", ".join(f"{_PIL_WORDS.get(m, m)} {n:,}" for m, n in report.modes.most_common()) or "–"
        problems = len(report.skipped) + len(report.warnings)
        tail = (f" · <span style='color:#C0392B'>{problems} issue{'s' if problems != 1 else ''}"
                " — see Health</span>" if problems else " · <span style='color:#2E8B57'>healthy</span>")  # fmt: skip
        self.summaryLabel.setText(
            f"<b>{report.images:,}</b> images in <b>{report.num_classes}</b> classes · {size_text} · {modes}{tail}"
        )
        self.classCombo.blockSignals(True)
        self.classCombo.clear()
        for name, n in zip(report.class_names, report.counts, strict=True):
            self.classCombo.addItem(f"{name}  ({n:,})")
        self.classCombo.blockSignals(False)
        self._fill_thumbnails(0)
        self._fill_health(report)
        self.tabs.setTabText(2, f"Health ({problems})" if problems else "Health ✓")
        self.inputLabel.setText(describe_input(network_input_shape(self.project()), report))
        self._update_split_counts()
        self._pick_preview_images(report)
        self._show_layout_hint(report)

    def _show_layout_hint(self, report: Any) -> None:
        """The folder-layout picture: shown until a dataset with classes is in; red with what is
        wrong when a chosen folder has no class subfolders."""
        missing = report is not None and report.arrays is None and report.num_classes == 0
        self.layoutHint.setVisible(report is None or missing)
        self.layoutHint.setStyleSheet(HINT_ALARM if missing else HINT_STYLE)
        if not missing:
            return
        from app.engine.data_scan import OUTSIDE

        loose = sum(1 for f in report.skipped if f.kind == OUTSIDE)
        where = os.path.basename(os.path.normpath(report.root)) or report.root
        tail = (
            f" Its {loose:,} image{'s' * (loose != 1)} lie directly in the folder and are not used: "
            "move them into one subfolder per class." if loose else " It holds no images in subfolders."
        )  # fmt: skip
        self.summaryLabel.setText(
            f"<span style='color:#C0392B'><b>No class subfolders in “{_esc(where)}”.</b>{_esc(tail)}</span>"
        )

    def _show_class(self, index: int) -> None:
        self.classCombo.setCurrentIndex(index)
        self.tabs.setCurrentIndex(1)

    def _fill_thumbnails(self, class_index: int) -> None:
        report = self.report
        if report is None or class_index < 0:
            self.thumbModel.set_items([])
            return
        self.chart.set_selected(class_index)
        if report.arrays is not None:
            idx = np.flatnonzero(report.arrays.y_train == class_index)
            items = [(None, int(i), f"x_train[{int(i)}]") for i in idx]
            self.thumbModel.set_items(items, report.arrays.x_train)
        else:
            root = report.root
            items = [(p, None, os.path.relpath(p, root)) for p, c in report.files if c == class_index]
            self.thumbModel.set_items(items)

    def _fill_health(self, report: Any) -> None:
        self.healthList.clear()

        def add(text: str, colour: str, tip: str = "") -> None:
            item = QListWidgetItem(text)
            item.setForeground(QColor(colour))
            item.setToolTip(tip or text)
            self.healthList.addItem(item)

        for w in report.warnings:
            add(f"⚠ {w}", "#B26A00")
        for s in report.skipped:
            add(f"✖ {s.path} — {s.reason}", "#C0392B", f"skipped ({s.kind}): {s.path}\n{s.reason}")
        for group in report.conflicts[:500]:
            add(f"⇄ Same image in several classes: {', '.join(group)}", "#C0392B")
        for group in report.duplicates[:500]:
            add(f"≡ Duplicate images: {', '.join(group)}", "#6B7383")
        n = len(report.skipped)
        bits = [f"{report.images:,} images usable"]
        bits.append(f"{n} file{'s' if n != 1 else ''} skipped")
        bits.append(f"{len(report.duplicates)} duplicate group{'s' if len(report.duplicates) != 1 else ''}")
        bits.append(f"{len(report.conflicts)} label conflict{'s' if len(report.conflicts) != 1 else ''}")
        if report.ignored:
            bits.append(f"{report.ignored} hidden/system files ignored")
        if report.seconds:
            bits.append(f"scanned in {report.seconds:.1f} s")
        self.healthSummary.setText(" · ".join(bits))
        if not self.healthList.count():
            add("✓ No problems found: every file is a readable image inside a class folder.", "#2E8B57")

    def health_lines(self) -> list[str]:
        return [self.healthList.item(i).text() for i in range(self.healthList.count())]

    # ---------------------------------------------------------------- augmentation preview
    def _pick_preview_images(self, report: Any) -> None:
        """A few images (from different classes) read in the GUI thread's spare time: small files only."""
        picks: list[np.ndarray] = []
        if report.arrays is not None:
            y = report.arrays.y_train
            for c in range(min(report.num_classes, 4)):
                idx = np.flatnonzero(y == c)
                if len(idx):
                    picks.append(report.arrays.x_train[idx[0]])
        else:
            seen: set[int] = set()
            for path, c in report.files:
                if c not in seen:
                    seen.add(c)
                    a = _read_array(path)
                    if a is not None:
                        picks.append(a)
                if len(picks) >= 4:
                    break
        self._preview_images = picks
        self._schedule_preview()

    def _reshuffle(self) -> None:
        self._seed += 1
        self._request_preview()

    def _schedule_preview(self) -> None:
        if hasattr(self, "_preview_timer"):
            self._preview_timer.start()

    def _request_preview(self) -> None:
        if not self._preview_images:
            return
        shape = network_input_shape(self.project())
        if shape is None:
            a = self._preview_images[0]
            shape = (a.shape[0], a.shape[1], a.shape[2])
        project = self.project()
        settings = replace(project.data, augmentation=self.augmentation()) if project is not None else None
        if settings is None:
            return
        self._preview_request += 1
        self.previewStatus.setText("Computing preview…")
        job = {"images": list(self._preview_images), "shape": shape, "settings": settings,
               "n": self.PREVIEW_N, "seed": self._seed}  # fmt: skip
        self._preview_thread.submit("compute", self._preview_request, job)

    def _on_preview(self, request: int, originals: np.ndarray, images: np.ndarray) -> None:
        if request != self._preview_request:
            return  # an older request; a newer one is on its way
        self._preview_pixmaps = []
        for lab, img in zip(self._preview_labels, images, strict=False):
            pm = QPixmap.fromImage(array_to_qimage(img))
            mode = Qt.TransformationMode.FastTransformation if img.shape[0] < 64 else Qt.TransformationMode.SmoothTransformation
            pm = pm.scaled(64, 64, Qt.AspectRatioMode.KeepAspectRatio, mode)
            lab.setPixmap(pm)
            self._preview_pixmaps.append(pm)
        h, w, c = images.shape[1:]
        aug = self.augmentation()
        what = "random augmentations" if aug.enabled else "no augmentation (turn some on above)"
        self.previewStatus.setText(f"{len(images)} samples at {h}×{w}×{c}, {what}")

    def _on_preview_failed(self, request: int, message: str) -> None:
        if request == self._preview_request:
            self.previewStatus.setText(f"Preview unavailable: {message}")

    def preview_count(self) -> int:
        return len(getattr(self, "_preview_pixmaps", []))


def _finite(value: Any, default: float) -> Any:
    """``value`` when it is a finite number (not a bool), else ``default``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return value if isinstance(value, int) or np.isfinite(value) else default  # (an int may not fit a float)


def _clamp(value: float, spin: QSpinBox | QDoubleSpinBox) -> Any:
    v = min(max(value, spin.minimum()), spin.maximum())
    return int(v) if isinstance(spin, QSpinBox) else float(v)


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["ClassCountChart", "DatasetPanel", "ScanThread", "ThumbnailModel", "describe_input", "network_input_shape"]

