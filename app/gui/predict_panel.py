"""Prediction panel: images in, the network's view of them, top-k labels and Grad-CAM out.

All model work (loading, predicting, Grad-CAM) happens in ONE worker thread that
owns the :class:`app.engine.predict.Predictor` (TensorFlow is not thread-safe);
the GUI sends it requests through queued signals and gets plain data back
(dicts, lists, numpy arrays), never widgets or Keras objects.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.data_panel import _THREADS, JobThread, _register_thread, array_to_qimage

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
VIEW_SIZE = 224
_MODE_WORDS = {1: "grayscale", 3: "RGB", 4: "RGBA"}


def _clean(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def image_files(folder: str | os.PathLike[str]) -> list[str]:
    """Image files (by suffix) in ``folder`` and its subfolders, sorted; hidden ones left out."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                out.append(os.path.join(dirpath, name))
    return out


# -- the worker (lives in its own QThread) -------------------------------------------------
class PredictWorker(JobThread):
    """Owns the Predictor; its jobs run in this one thread and answer with plain data."""

    needs_keras = True

    modelReady = Signal(object)  # {"source", "classes", "image_shape", "warnings", "gradcam_layer"}
    imageDone = Signal(object)  # {"request", "path", "view", "top", "probs", "size", "mode"}
    gradcamDone = Signal(object)  # {"request", "path", "output", "label", "layer"}
    folderProgress = Signal(int, int, int)  # request, done, total
    folderDone = Signal(object)  # {"request", "folder", "rows": [{"file", "label", "probability", "top", "error"}]}
    failed = Signal(object)  # {"request", "what", "path", "message"}

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("predictionWorker")
        self.setStackSize(64 * 1024 * 1024)  # TensorFlow tracing recurses deeply
        self.predictor: Any = None

    def _fail(self, request: int, what: str, path: str, message: str) -> None:
        self.failed.emit({"request": request, "what": what, "path": path, "message": message})

    def load(self, request: int, source: Any) -> None:
        try:
            from app.engine.predict import Predictor

            self.predictor = None
            pred = Predictor(source)
        except Exception as exc:  # noqa: BLE001 - a message for the user, not a traceback
            self._fail(request, "model", str(source), _clean(exc))
            return
        self.predictor = pred
        try:
            layer = pred.gradcam_layer().name
        except Exception:  # noqa: BLE001 - no conv layer: Grad-CAM is off for this model
            layer = None
        self.modelReady.emit({
            "request": request,
            "source": pred.source or getattr(pred.model, "name", "model"),
            "classes": list(pred.class_names),
            "image_shape": list(pred.image_shape),
            "warnings": list(pred.warnings),
            "gradcam_layer": layer,
        })  # fmt: skip

    def _ready(self, request: int, what: str, path: str) -> bool:
        if self.predictor is None:
            self._fail(request, what, path, "no model yet: train a network or open a run folder first")
            return False
        return True

    def predict(self, request: int, path: str, top_k: int) -> None:
        if not self._ready(request, "image", path):
            return
        try:
            from app.engine.predict import check_image

            w, h = check_image(path)
            mode = _image_mode(path)
            x = self.predictor.load_image(path)
            probs = self.predictor.predict_array(x)[0]
            top = self.predictor.top(probs, top_k)
        except Exception as exc:  # noqa: BLE001
            self._fail(request, "image", path, _reason(exc))
            return
        view = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        self.imageDone.emit({
            "request": request, "path": path, "view": view, "top": top,
            "probs": [float(p) for p in probs], "size": (w, h), "mode": mode,
        })  # fmt: skip

    def gradcam(self, request: int, path: str, out_png: str) -> None:
        if not self._ready(request, "gradcam", path):
            return
        try:
            info = self.predictor.gradcam(path, out_png)
        except Exception as exc:  # noqa: BLE001
            self._fail(request, "gradcam", path, _reason(exc))
            return
        self.gradcamDone.emit({"request": request, "path": path, **info})

    def predict_folder(self, request: int, folder: str, top_k: int) -> None:
        if not self._ready(request, "folder", folder):
            return
        from app.engine.predict import check_image

        files = image_files(folder)
        rows: list[dict[str, Any]] = []
        good: list[str] = []
        for f in files:
            try:
                check_image(f)
                good.append(f)
            except Exception as exc:  # noqa: BLE001
                rows.append({"file": f, "label": "", "probability": None, "top": [], "error": _reason(exc)})
        done = len(rows)
        self.folderProgress.emit(request, done, len(files))
        for start in range(0, len(good), 32):
            chunk = good[start : start + 32]
            try:
                results = self.predictor.predict_paths(chunk, top_k=top_k)
            except Exception:  # noqa: BLE001 - one bad file: go one by one
                results = []
                for f in chunk:
                    try:
                        results += self.predictor.predict_paths([f], top_k=top_k)
                    except Exception as exc:  # noqa: BLE001
                        results.append({"image": f, "top": [], "error": _reason(exc)})
            for r in results:
                top = r.get("top") or []
                rows.append({
                    "file": r["image"], "label": top[0]["label"] if top else "",
                    "probability": top[0]["probability"] if top else None, "top": top, "error": r.get("error"),
                })  # fmt: skip
            done += len(chunk)
            self.folderProgress.emit(request, done, len(files))
        rows.sort(key=lambda r: r["file"])
        self.folderDone.emit({"request": request, "folder": folder, "rows": rows})


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else _clean(exc)


def _image_mode(path: str) -> str:
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.mode
    except Exception:  # noqa: BLE001
        return "?"


# -- top-k bars -------------------------------------------------------------------------
class TopKBars(QWidget):
    """Horizontal probability bars, highest first, with percentages."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("topkBars")
        self._rows: list[tuple[str, float]] = []
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_rows(self, rows: list[dict[str, Any]] | list[tuple[str, float]]) -> None:
        self._rows = [(r["label"], float(r["probability"])) if isinstance(r, dict) else (str(r[0]), float(r[1]))
                      for r in rows]  # fmt: skip
        self.updateGeometry()
        self.update()

    def rows(self) -> list[tuple[str, float]]:
        return list(self._rows)

    def bar_count(self) -> int:
        return len(self._rows)

    _ROW = 34

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(320, max(120, 10 + self._ROW * len(self._rows)))

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self._rows:
            p.setPen(QColor("#8A93A3"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Top predictions appear here")
            return
        fm = self.fontMetrics()
        lw = min(150, max(fm.horizontalAdvance(r[0]) for r in self._rows) + 14)
        pw = fm.horizontalAdvance("100.0 %") + 12
        bw = max(20, self.width() - lw - pw - 8)
        for i, (label, prob) in enumerate(self._rows):
            y = 6 + i * self._ROW
            bold = p.font()
            bold.setBold(i == 0)
            p.setFont(bold)
            p.setPen(QColor("#1F2430"))
            p.drawText(QRectF(0, y, lw - 8, self._ROW - 8), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       fm.elidedText(label, Qt.TextElideMode.ElideMiddle, lw - 10))  # fmt: skip
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#EEF1F5"))
            p.drawRoundedRect(QRectF(lw, y + 4, bw, self._ROW - 16), 4, 4)
            p.setBrush(QColor("#3B6FE0") if i == 0 else QColor("#9DB5EE"))
            p.drawRoundedRect(QRectF(lw, y + 4, max(3.0, bw * max(0.0, min(prob, 1.0))), self._ROW - 16), 4, 4)
            p.setPen(QColor("#3A4150"))
            p.drawText(QRectF(lw + bw + 6, y, pw, self._ROW - 8), Qt.AlignmentFlag.AlignVCenter, f"{100 * prob:.1f} %")


# -- the panel --------------------------------------------------------------------------
class PredictionPanel(QWidget):
    """Open or drop images, see them as the network does, top-k bars, Grad-CAM, folder table."""

    modelChanged = Signal(object)  # the worker's modelReady dict
    predicted = Signal(object)  # an imageDone dict (one image)
    folderPredicted = Signal(object)  # the rows of a folder
    failed = Signal(str)  # a message for the user


    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictionPanel")
        self.setAcceptDrops(True)
        self.model_info: dict[str, Any] | None = None
        self.results: dict[str, dict[str, Any]] = {}  # path -> imageDone
        self.errors: dict[str, str] = {}  # path -> message
        self.cams: dict[str, str] = {}  # path -> overlay PNG
        self.rows: list[dict[str, Any]] = []
        self.current: str | None = None
        self._request = 0
        self._model_request = 0
        self._folder_request = 0
        self._camdir = tempfile.TemporaryDirectory(prefix="layerlab-gradcam-")
        self._build()
        self.worker = PredictWorker()
        self.worker.modelReady.connect(self._on_model)
        self.worker.imageDone.connect(self._on_image)
        self.worker.gradcamDone.connect(self._on_gradcam)
        self.worker.folderProgress.connect(self._on_folder_progress)
        self.worker.folderDone.connect(self._on_folder)
        self.worker.failed.connect(self._on_failed)
        self.worker.start()
        _register_thread(self.worker)

    # ---------------------------------------------------------------- building
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        self.openRunButton = QPushButton("Open run…")
        self.openRunButton.setToolTip("A run folder (model.keras + classes.json) or a .keras model file")
        self.openButton = QPushButton("Open images…")
        self.openButton.setObjectName("openImagesButton")
        self.folderButton = QPushButton("Predict folder…")
        self.folderButton.setObjectName("predictFolderButton")
        self.topkSpin = QSpinBox()
        self.topkSpin.setObjectName("topkSpin")
        self.topkSpin.setRange(1, 20)
        self.topkSpin.setValue(5)
        self.topkSpin.setPrefix("top ")
        self.gradcamToggle = QCheckBox("Grad-CAM")
        self.gradcamToggle.setObjectName("gradcamToggle")
        self.gradcamToggle.setToolTip("Overlay where the last convolution layer looked for the top class")
        for w in (self.openRunButton, self.openButton, self.folderButton):
            bar.addWidget(w)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.modelLabel = QLabel("No model: train a network, or open a run folder.")
        self.modelLabel.setObjectName("predictionModel")
        self.modelLabel.setWordWrap(True)
        lay.addWidget(self.modelLabel)
        self.message = QLabel("Open images or drop them here to see what the network predicts.")
        self.message.setObjectName("predictionMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #6B7383;")
        lay.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tl = QHBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        self.imageList = QListWidget()
        self.imageList.setObjectName("predictionImages")
        self.imageList.setIconSize(QSize(36, 36))
        self.imageList.setMaximumWidth(200)
        self.imageList.setMinimumWidth(110)
        tl.addWidget(self.imageList)
        view_box = QVBoxLayout()
        self.view = QLabel()
        self.view.setObjectName("networkView")
        self.view.setFixedSize(VIEW_SIZE, VIEW_SIZE)
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setFrameShape(QFrame.Shape.StyledPanel)
        self.view.setStyleSheet("background: #E9EDF3; border-radius: 6px;")
        self.view.setText("drop an image")
        view_box.addWidget(self.view)
        self.viewCaption = QLabel("")
        self.viewCaption.setObjectName("networkViewCaption")
        self.viewCaption.setWordWrap(True)
        self.viewCaption.setMaximumWidth(VIEW_SIZE)
        self.viewCaption.setStyleSheet("color: #6B7383;")
        view_box.addWidget(self.viewCaption)
        view_box.addStretch(1)
        tl.addLayout(view_box)
        right = QVBoxLayout()
        opts = QHBoxLayout()
        opts.addWidget(self.topkSpin)
        opts.addWidget(self.gradcamToggle)
        opts.addStretch(1)
        right.addLayout(opts)
        self.resultTitle = QLabel("")
        self.resultTitle.setObjectName("predictionTitle")
        f = self.resultTitle.font()
        f.setPointSizeF(f.pointSizeF() * 1.5)
        f.setBold(True)
        self.resultTitle.setFont(f)
        right.addWidget(self.resultTitle)
        self.bars = TopKBars()
        right.addWidget(self.bars)
        right.addStretch(1)
        tl.addLayout(right, 1)
        split.addWidget(top)

        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.folderLabel = QLabel("Predict a folder to list every image with its top label.")
        self.folderLabel.setStyleSheet("color: #6B7383;")
        row.addWidget(self.folderLabel, 1)
        self.folderProgress = QProgressBar()
        self.folderProgress.setObjectName("predictFolderProgress")
        self.folderProgress.setVisible(False)
        self.folderProgress.setMaximumWidth(240)
        row.addWidget(self.folderProgress)
        self.exportButton = QPushButton("Export CSV…")
        self.exportButton.setObjectName("exportCsvButton")
        self.exportButton.setEnabled(False)
        row.addWidget(self.exportButton)
        bl.addLayout(row)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("predictionTable")
        self.table.setHorizontalHeaderLabels(["File", "Top label", "Probability"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        bl.addWidget(self.table, 1)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)

        self.openRunButton.clicked.connect(self._choose_run)
        self.openButton.clicked.connect(self._choose_images)
        self.folderButton.clicked.connect(self._choose_folder)
        self.exportButton.clicked.connect(self._choose_csv)
        self.gradcamToggle.toggled.connect(lambda _on: self._show_current())
        self.imageList.currentItemChanged.connect(self._on_pick)
        self.topkSpin.valueChanged.connect(self._repredict)
        self.table.cellDoubleClicked.connect(lambda r, _c: self._open_row(r))

    # ---------------------------------------------------------------- public API
    def set_model(self, run_dir_or_model: Any) -> None:
        """Load a run folder or a .keras file (or a keras.Model no other thread uses) in the worker."""
        self._model_request += 1
        self.model_info = None
        self.results.clear()
        self.cams.clear()
        self.errors.clear()
        self.modelLabel.setText("Loading the model…")
        self.worker.submit("load", self._model_request, run_dir_or_model if not isinstance(run_dir_or_model, Path)
                                 else str(run_dir_or_model))  # fmt: skip
        for i in range(self.imageList.count()):  # predict what is open again with the new model
            self._request_image(self.imageList.item(i).data(Qt.ItemDataRole.UserRole))

    def handle_paths(self, paths: list[str] | list[Path]) -> None:
        """Image files to predict (the first is shown) and folders to predict into the table."""
        first: str | None = None
        for raw in paths:
            path = os.fspath(raw)
            if os.path.isdir(path):
                self.predict_folder(path)
                continue
            item = self._list_item(path)
            self._request_image(path)
            if first is None:
                first = path
                self.imageList.setCurrentItem(item)
        if first is not None:
            self.current = first
            self._show_current()

    def predict_folder(self, folder: str | Path) -> None:
        self._folder_request += 1
        self.folderProgress.setRange(0, 0)
        self.folderProgress.setVisible(True)
        self.folderLabel.setText(f"Predicting {folder} …")
        self.exportButton.setEnabled(False)
        self.worker.submit("predict_folder", self._folder_request, os.fspath(folder), self.topkSpin.value())

    def export_csv(self, path: str | Path) -> Path:
        """The folder table as CSV: file, label, probability, then the top-k as 'label:prob' pairs."""
        out = Path(path)
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "label", "probability", "top_k", "error"])
            for r in self.rows:
                prob = "" if r["probability"] is None else f"{r['probability']:.6f}"
                topk = " ".join(f"{t['label']}:{t['probability']:.4f}" for t in r.get("top") or [])
                w.writerow([r["file"], r["label"], prob, topk, r.get("error") or ""])
        return out

    def current_result(self) -> dict[str, Any] | None:
        return self.results.get(self.current) if self.current else None

    def shutdown(self) -> None:
        """Stop the worker thread (call before the panel goes away)."""
        self.worker.stop(15000)
        if self.worker in _THREADS:
            _THREADS.remove(self.worker)
        self._camdir.cleanup()

    # ---------------------------------------------------------------- dialogs and drops
    def _choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder (model.keras + classes.json)")
        if folder:
            self.set_model(folder)

    def _choose_images(self) -> None:
        pattern = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        paths, _ = QFileDialog.getOpenFileNames(self, "Images to predict", "", f"Images ({pattern});;All files (*)")
        if paths:
            self.handle_paths(paths)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images to predict")
        if folder:
            self.predict_folder(folder)

    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export predictions", "predictions.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_csv(path)
                self.folderLabel.setText(f"Saved {len(self.rows)} rows to {path}")
            except OSError as exc:
                self._say(f"Cannot write {path}: {exc.strerror or exc}", error=True)

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.handle_paths(paths)
            event.acceptProposedAction()

    # ---------------------------------------------------------------- requests
    def _list_item(self, path: str) -> QListWidgetItem:
        for i in range(self.imageList.count()):
            it = self.imageList.item(i)
            if it.data(Qt.ItemDataRole.UserRole) == path:
                return it
        it = QListWidgetItem(Path(path).name)
        it.setData(Qt.ItemDataRole.UserRole, path)
        it.setToolTip(path)
        self.imageList.addItem(it)
        return it

    def _request_image(self, path: str) -> None:
        self._request += 1
        self.errors.pop(path, None)
        self.worker.submit("predict", self._request, path, self.topkSpin.value())

    def _repredict(self, *_: Any) -> None:
        for path in list(self.results):
            self._request_image(path)

    def _on_pick(self, item: QListWidgetItem | None, _prev: Any = None) -> None:
        if item is not None:
            self.current = item.data(Qt.ItemDataRole.UserRole)
            self._show_current()

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.rows) and not self.rows[row].get("error"):
            self.handle_paths([self.rows[row]["file"]])

    # ---------------------------------------------------------------- worker answers
    def _on_model(self, info: dict[str, Any]) -> None:
        if info["request"] != self._model_request:
            return
        self.model_info = info
        shape = info["image_shape"]
        h, w, c = (d if d is not None else "any" for d in shape)
        name = Path(str(info["source"])).name or str(info["source"])
        classes = info["classes"]
        shown = ", ".join(classes[:8]) + (" …" if len(classes) > 8 else "")
        text = f"Model: <b>{name}</b> · input {h}×{w}×{c} · {len(classes)} classes ({shown})"
        if info["warnings"]:
            text += f"<br><span style='color:#B26A00'>{'; '.join(info['warnings'])}</span>"
        self.modelLabel.setText(text)
        self.gradcamToggle.setEnabled(info["gradcam_layer"] is not None)
        if info["gradcam_layer"] is None:
            self.gradcamToggle.setChecked(False)  # not left ticked from the previous model
        self.gradcamToggle.setToolTip(
            f"Overlay where layer '{info['gradcam_layer']}' looked for the top class"
            if info["gradcam_layer"] else "Grad-CAM needs a convolution layer; this model has none"
        )  # fmt: skip
        self.modelChanged.emit(info)

    def _on_image(self, res: dict[str, Any]) -> None:
        path = res["path"]
        self.results[path] = res
        self.cams.pop(path, None)
        it = self._list_item(path)
        top = res["top"][0] if res["top"] else None
        it.setText(f"{Path(path).name}\n→ {top['label']} ({100 * top['probability']:.0f} %)" if top else Path(path).name)
        it.setIcon(QIcon(QPixmap.fromImage(array_to_qimage(res["view"])).scaled(
            36, 36, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)))  # fmt: skip
        it.setForeground(QColor("#1F2430"))
        if path == self.current:
            self._show_current()
        self.predicted.emit(res)

    def _on_gradcam(self, info: dict[str, Any]) -> None:
        self.cams[info["path"]] = info["output"]
        if info["path"] == self.current:
            self._show_current()

    def _on_failed(self, info: dict[str, Any]) -> None:
        what, path, msg = info["what"], info["path"], info["message"]
        name = Path(path).name or path
        if what == "model":
            if info["request"] != self._model_request:
                return
            self.modelLabel.setText(f"<span style='color:#C0392B'><b>Cannot use this model:</b> {_esc(msg)}</span>")
            text = f"Cannot load {name}: {msg}"
        elif what == "image":
            self.errors[path] = msg
            self.results.pop(path, None)
            it = self._list_item(path)
            it.setText(f"{name}\n✖ {msg[:40]}")
            it.setForeground(QColor("#C0392B"))
            text = f"{name}: {msg}"
            if path == self.current:
                self._show_current()
        elif what == "gradcam":
            self.gradcamToggle.setChecked(False)
            text = f"Grad-CAM unavailable: {msg}"
        else:
            self.folderProgress.setVisible(False)
            self.folderLabel.setText(f"Cannot predict {name}: {msg}")
            text = f"Cannot predict {name}: {msg}"
        self._say(text, error=True)
        self.failed.emit(text)

    def _on_folder_progress(self, request: int, done: int, total: int) -> None:
        if request == self._folder_request:
            self.folderProgress.setRange(0, max(total, 1))
            self.folderProgress.setValue(done)
            self.folderProgress.setFormat(f"{done:,} / {total:,}")

    def _on_folder(self, res: dict[str, Any]) -> None:
        if res["request"] != self._folder_request:
            return
        self.folderProgress.setVisible(False)
        self.rows = res["rows"]
        self.table.setRowCount(len(self.rows))
        root = res["folder"]
        for r, row in enumerate(self.rows):
            self.table.setItem(r, 0, QTableWidgetItem(os.path.relpath(row["file"], root)))
            if row.get("error"):
                err = QTableWidgetItem(f"✖ {row['error']}")
                err.setForeground(QColor("#C0392B"))
                self.table.setItem(r, 1, err)
                self.table.setItem(r, 2, QTableWidgetItem(""))
                continue
            self.table.setItem(r, 1, QTableWidgetItem(str(row["label"])))
            pr = QTableWidgetItem(f"{100 * row['probability']:.1f} %" if row["probability"] is not None else "")
            pr.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(r, 2, pr)
        bad = sum(1 for r in self.rows if r.get("error"))
        self.folderLabel.setText(f"{len(self.rows) - bad:,} images predicted in {root}"
                                 + (f" · {bad} unreadable" if bad else "") + " · double-click a row to inspect it")  # fmt: skip
        self.exportButton.setEnabled(bool(self.rows))
        self.folderPredicted.emit(self.rows)

    # ---------------------------------------------------------------- showing
    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(_esc(text))
        self.message.setStyleSheet("color: #C0392B;" if error else "color: #6B7383;")

    def _show_current(self) -> None:
        path = self.current
        if path is None:
            return
        res = self.results.get(path)
        if res is None:
            self.bars.set_rows([])
            self.view.setPixmap(QPixmap())
            if path in self.errors:
                self.view.setText("✖")
                self.resultTitle.setText("")
                self.viewCaption.setText("")
                self._say(f"{Path(path).name}: {self.errors[path]}", error=True)
            else:
                self.view.setText("predicting…")
            return
        self.bars.set_rows(res["top"])
        top = res["top"][0]
        self.resultTitle.setText(f"{top['label']}  ·  {100 * top['probability']:.1f} %")
        view = res["view"]
        h, w, c = view.shape
        cam = self.cams.get(path)
        if self.gradcamToggle.isChecked() and self.gradcamToggle.isEnabled():
            if cam is None:
                self._request += 1
                out = os.path.join(self._camdir.name, f"cam{self._request}.png")
                self.worker.submit("gradcam", self._request, path, out)
                self._say("Computing Grad-CAM…")
            else:
                pm = QPixmap(cam)
                self.view.setPixmap(pm.scaled(VIEW_SIZE - 4, VIEW_SIZE - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))  # fmt: skip
                self._say(f"Grad-CAM for '{top['label']}': red is where the network looked most.")
                self._caption(res)
                return
        pm = QPixmap.fromImage(array_to_qimage(view))
        self.view.setPixmap(pm.scaled(VIEW_SIZE - 4, VIEW_SIZE - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.FastTransformation))  # fmt: skip
        if cam is None or not self.gradcamToggle.isChecked():
            self._say(f"{Path(path).name}: predicted '{top['label']}'.")
        self._caption(res)

    def _caption(self, res: dict[str, Any]) -> None:
        h, w, c = res["view"].shape
        ow, oh = res["size"]
        mode = res.get("mode", "?")
        changes = []
        if (ow, oh) != (w, h):
            changes.append(f"resized from {ow}×{oh}")
        want = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
        if mode != want:
            changes.append(f"converted from {mode}")
        tail = ", ".join(changes) if changes else "used as it is"
        self.viewCaption.setText(f"As the network sees it: {w}×{h} {_MODE_WORDS.get(c, c)} ({tail})")


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["PredictWorker", "PredictionPanel", "TopKBars", "image_files"]
