"""Results of a run: accuracy and loss, a confusion-matrix heatmap, per-class metrics, a gallery.

Reads a run folder's ``metrics.json`` (the evaluate object) and
``predictions.csv`` (one row per validation image: index, path, label,
label_index, predicted, predicted_index, confidence, p0..p{K-1}). Runs made
before that file existed have only ``misclassified.json`` (``{"split", "total",
"items": [{"index", "label", "label_index", "predicted", "predicted_index",
"probabilities", "path"?}]}``): the images they got wrong. No Keras here: plain
files, read through ``app.engine.run_folder``, so opening a run is instant.

Clicking a cell of the matrix shows, in the gallery beside it (never over it),
the images whose true label is the row and predicted label the column, least
confident first - the top of a diagonal cell is where mislabeled images hide.
An older run's diagonal cell says in words why it has no pictures.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine.run_folder import (
    METRICS_FILE,
    MISCLASSIFIED_FILE,
    PredictionsError,
    confidence,
    read_json,
    read_predictions,
)

GALLERY_THUMB = 96
GALLERY_LIMIT = 400  # thumbnails shown for one cell (the least confident ones)


def _pct(v: Any) -> str:
    return "–" if v is None or not math.isfinite(float(v)) else f"{100 * float(v):.1f} %"


def _blend(a: QColor, b: QColor, t: float) -> QColor:
    t = max(0.0, min(1.0, t))
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


# -- the heatmap ---------------------------------------------------------------------
class ConfusionMatrixView(QWidget):
    """A custom-painted confusion matrix: rows are true labels, columns predicted ones.

    Colour intensity is the row's share (so small classes read as clearly as
    large ones): blue on the diagonal, red off it. Click a cell: ``cellActivated``.
    """

    cellActivated = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.classes: list[str] = []
        self.matrix: list[list[int]] = []
        self._hover: tuple[int, int] | None = None
        self.selected: tuple[int, int] | None = None  # the cell whose images the gallery shows
        self.setMouseTracking(True)
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_matrix(self, classes: list[str], matrix: list[list[int]]) -> None:
        self.classes = [str(c) for c in classes]
        self.matrix = [[int(v) for v in row] for row in matrix]
        self.selected = None
        self.update()

    def set_selected(self, cell: tuple[int, int] | None) -> None:
        self.selected = cell
        self.update()

    def value(self, row: int, col: int) -> int:
        return self.matrix[row][col]

    def cell_clicked(self, row: int, col: int) -> None:
        """What a click on cell (row, col) does: emit ``cellActivated(row, col)``."""
        if 0 <= row < len(self.matrix) and 0 <= col < len(self.matrix):
            self.cellActivated.emit(row, col)

    # geometry
    def _layout(self) -> tuple[float, float, float]:
        """(left, top, cell size)."""
        fm = self.fontMetrics()
        n = max(1, len(self.classes))
        label_w = min(140, max([fm.horizontalAdvance(c) for c in self.classes] or [0]) + 14)
        left = label_w + fm.height() + 6  # room for the rotated "true label" title
        top = fm.height() * 2 + 10
        avail = min(self.width() - left - 8, self.height() - top - 8)
        return left, top, max(8.0, avail / n)

    def cell_rect(self, row: int, col: int) -> QRectF:
        left, top, s = self._layout()
        return QRectF(left + col * s, top + row * s, s, s)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        left, top, s = self._layout()
        n = len(self.matrix)
        c, r = int((x - left) // s), int((y - top) // s)
        if x >= left and y >= top and 0 <= r < n and 0 <= c < n:
            return r, c
        return None

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, 520)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        cell = self.cell_at(event.position().x(), event.position().y())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked(*cell)

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        cell = self.cell_at(event.position().x(), event.position().y())
        if cell != self._hover:
            self._hover = cell
            self.update()
        if cell is None:
            self.setToolTip("")
            self.unsetCursor()
            return
        r, c = cell
        total = sum(self.matrix[r]) or 1
        v = self.matrix[r][c]
        what = "correct" if r == c else f"predicted as '{self.classes[c]}'"
        self.setToolTip(
            f"true '{self.classes[r]}', {what}: {v:,} of {total:,} ({100 * v / total:.1f} %)\nclick to see the images"
        )
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def leaveEvent(self, event: Any) -> None:  # noqa: N802
        self._hover = None
        self.update()

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        n = len(self.matrix)
        if not n:
            p.setPen(QColor("#8A93A3"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Train a network to see its confusion matrix")
            return
        left, top, s = self._layout()
        fm = self.fontMetrics()
        white, blue, red = QColor("#FFFFFF"), QColor("#2F5BBE"), QColor("#D0453A")
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, min(self.font().pointSizeF(), s / 3.2)))
        for r in range(n):
            total = sum(self.matrix[r]) or 1
            for c in range(n):
                v = self.matrix[r][c]
                share = v / total
                rect = self.cell_rect(r, c).adjusted(1, 1, -1, -1)
                colour = _blend(white, blue if r == c else red, (share**0.6) if v else 0.0)
                if not v:
                    colour = QColor("#F7F8FA")
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(colour)
                p.drawRoundedRect(rect, 3, 3)
                if (r, c) in (self._hover, self.selected):
                    p.setPen(QPen(QColor("#1F2430"), 2.0 if (r, c) == self.selected else 1.0))
                    p.setBrush(Qt.BrushStyle.NoBrush)
                    p.drawRoundedRect(rect, 3, 3)
                if s >= 18 and v:
                    p.setFont(small)
                    p.setPen(QColor("#FFFFFF") if share > 0.45 else QColor("#1F2430"))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{v:,}")
        p.setFont(self.font())
        p.setPen(QColor("#3A4150"))
        label_w = left - fm.height() - 6
        for i, name in enumerate(self.classes):
            text = fm.elidedText(name, Qt.TextElideMode.ElideMiddle, int(label_w - 8))
            row_rect = QRectF(fm.height() + 6, top + i * s, label_w - 8, s)
            p.drawText(row_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, text)
            col_text = fm.elidedText(name, Qt.TextElideMode.ElideRight, int(max(s - 2, 10)))
            p.drawText(QRectF(left + i * s, top - fm.height() - 4, s, fm.height()),
                       Qt.AlignmentFlag.AlignCenter, col_text)  # fmt: skip
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(QColor("#5A6272"))
        p.drawText(QRectF(left, 2, s * n, fm.height()), Qt.AlignmentFlag.AlignCenter, "predicted label →")
        p.save()
        p.translate(2, top + s * n / 2)
        p.rotate(-90)
        p.drawText(QRectF(-s * n / 2, 0, s * n, fm.height()), Qt.AlignmentFlag.AlignCenter, "true label →")
        p.restore()


# -- the gallery ---------------------------------------------------------------------
def _thumb(path: str | None) -> QPixmap:
    img = QImage(path) if path else QImage()
    if img.isNull():
        pm = QPixmap(GALLERY_THUMB, GALLERY_THUMB)
        pm.fill(QColor("#E9EDF3"))
        return pm
    mode = (Qt.TransformationMode.FastTransformation if max(img.width(), img.height()) < GALLERY_THUMB
            else Qt.TransformationMode.SmoothTransformation)  # fmt: skip
    return QPixmap.fromImage(img.scaled(GALLERY_THUMB, GALLERY_THUMB, Qt.AspectRatioMode.KeepAspectRatio, mode))


class GalleryPanel(QWidget):
    """The images of one confusion cell beside the matrix, least confident first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsGallery")
        self.items: list[dict[str, Any]] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Images")
        self.title.setObjectName("galleryTitle")
        self.title.setStyleSheet("font-weight:600; color:#1F2430;")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.note = QLabel("Click a cell of the matrix to see its images here, least confident first.")
        self.note.setObjectName("galleryNote")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #5A6272;")
        lay.addWidget(self.note)
        self.list = QListWidget()
        self.list.setObjectName("galleryList")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(QSize(GALLERY_THUMB, GALLERY_THUMB))
        self.list.setGridSize(QSize(GALLERY_THUMB + 44, GALLERY_THUMB + 52))
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        lay.addWidget(self.list, 1)
        self.setMinimumWidth(GALLERY_THUMB + 80)

    def clear(self) -> None:
        self.items = []
        self.list.clear()
        self.title.setText("Images")
        self.note.setText("Click a cell of the matrix to see its images here, least confident first.")

    def show_items(self, title: str, note: str, items: list[dict[str, Any]], classes: list[str]) -> None:
        self.title.setText(title)
        self.note.setText(note)
        self.items = list(items)
        self.list.clear()
        for it in self.items:
            probs = [p if isinstance(p, (int, float)) else 0.0 for p in it.get("probabilities") or []]
            pi = int(it.get("predicted_index", -1))
            ti = int(it.get("label_index", -1))
            p_true = probs[ti] if 0 <= ti < len(probs) else None
            text = f"{it.get('predicted', '?')} {_pct(confidence(it))}"
            if ti != pi:
                text += f"\ntrue {it.get('label', '?')} {_pct(p_true)}"
            path = it.get("path")
            entry = QListWidgetItem(QIcon(_thumb(path)), text)
            order = sorted(range(len(probs)), key=lambda k: -probs[k])[:5]
            lines = [f"{classes[k] if k < len(classes) else k}: {_pct(probs[k])}" for k in order]
            where = path or f"validation sample #{it.get('index', '?')} (an in-memory array)"
            entry.setToolTip(f"{where}\n" + "\n".join(lines))
            entry.setData(Qt.ItemDataRole.UserRole, it)
            self.list.addItem(entry)

    def paths(self) -> list[str | None]:
        return [it.get("path") for it in self.items]


# -- the panel -----------------------------------------------------------------------
class ResultsPanel(QWidget):
    """A run's evaluation: header, confusion matrix and per-class table, the gallery beside them."""

    galleryOpened = Signal(object)  # the GalleryPanel, showing a cell's images
    cellActivated = Signal(int, int)  # re-emitted from the matrix

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsPanel")
        self.run_dir: Path | None = None
        self.metrics: dict[str, Any] = {}
        self.predictions: list[dict[str, Any]] = []  # every validation image (or only the mistakes)
        self.every_image = False  # True: from predictions.csv; False: an older run's misclassified.json
        self.wrong_total: int | None = None
        self.predictions_problem = ""  # why predictions.csv could not be used, in one line
        self._cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        head = QHBoxLayout()
        self.accuracyLabel = QLabel("–")
        self.accuracyLabel.setObjectName("resultsAccuracy")
        f = self.accuracyLabel.font()
        f.setPointSizeF(f.pointSizeF() * 2.0)
        f.setBold(True)
        self.accuracyLabel.setFont(f)
        self.accuracyLabel.setStyleSheet("color: #2F5BBE;")
        self.accuracyLabel.setVisible(False)
        head.addWidget(self.accuracyLabel)
        self.headerLabel = QLabel("No run loaded. Train a network, or open a run folder.")
        self.headerLabel.setObjectName("resultsHeader")
        self.headerLabel.setWordWrap(True)
        head.addWidget(self.headerLabel, 1)
        lay.addLayout(head)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("resultsSplit")
        left = QSplitter(Qt.Orientation.Vertical)
        matrix_box = QWidget()
        ll = QVBoxLayout(matrix_box)
        ll.setContentsMargins(0, 0, 0, 0)
        self.matrixView = ConfusionMatrixView()
        self.matrixView.cellActivated.connect(self.open_gallery)
        self.matrixView.cellActivated.connect(self.cellActivated)
        ll.addWidget(self.matrixView, 1)
        hint = QLabel("Click a cell to see its images on the right, least confident first.")
        hint.setStyleSheet("color: #6B7383;")
        hint.setWordWrap(True)
        ll.addWidget(hint)
        left.addWidget(matrix_box)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("perClassTable")
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        hh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        hh.setSortIndicatorShown(True)
        self.table.setSortingEnabled(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        hh.setMinimumSectionSize(54)
        self.table.setMinimumWidth(300)
        self.table.setMinimumHeight(90)
        left.addWidget(self.table)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 1)
        left.setChildrenCollapsible(False)
        split.addWidget(left)
        self.gallery = GalleryPanel()
        split.addWidget(self.gallery)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([560, 480])  # proportions: the matrix is square, the gallery wants columns
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)

    # ---------------------------------------------------------------- loading
    def clear(self) -> None:
        self.run_dir, self.metrics = None, {}
        self.predictions, self.every_image, self.wrong_total, self.predictions_problem = [], False, None, ""
        self._cells = {}
        self.gallery.clear()
        self.matrixView.set_matrix([], [])
        self.table.setRowCount(0)
        self.accuracyLabel.setText("–")
        self.accuracyLabel.setVisible(False)
        self.headerLabel.setText("No run loaded. Train a network, or open a run folder.")

    def load_run(self, run_dir: str | Path) -> bool:
        """Show the run in ``run_dir``; False (with a message in the header) when it has no metrics."""
        run = Path(run_dir)
        metrics = read_json(run / METRICS_FILE)
        if not isinstance(metrics, dict) or not metrics.get("confusion_matrix"):
            self.clear()
            self.run_dir = run
            self.headerLabel.setText(f"<span style='color:#C0392B'>{run.name}: no evaluation "
                                     f"({METRICS_FILE} is missing or empty)</span>")  # fmt: skip
            return False
        self.clear()
        self.run_dir, self.metrics = run, metrics
        self._read_images(run)
        self.show_metrics(metrics)
        return True

    def _read_images(self, run: Path) -> None:
        """Every image's prediction (predictions.csv), else an older run's mistakes (misclassified.json)."""
        try:
            every = read_predictions(run)
        except PredictionsError as exc:
            every, self.predictions_problem = None, str(exc)
        if every is not None:
            self.predictions, self.every_image = every, True
        else:
            wrong = read_json(run / MISCLASSIFIED_FILE)
            doc = wrong if isinstance(wrong, dict) else {"items": wrong if isinstance(wrong, list) else []}
            self.predictions = [it for it in doc.get("items") or [] if isinstance(it, dict)]
            self.wrong_total = doc.get("total") if isinstance(doc.get("total"), int) else None
        cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for it in self.predictions:
            try:
                key = (int(it.get("label_index", -1)), int(it.get("predicted_index", -1)))
            except (TypeError, ValueError):
                continue
            cells.setdefault(key, []).append(it)
        for items in cells.values():
            items.sort(key=confidence)  # least confident first: the likely mislabeled ones
        self._cells = cells

    def show_metrics(self, metrics: dict[str, Any]) -> None:
        classes = [str(c) for c in metrics.get("classes") or []]
        matrix = metrics.get("confusion_matrix") or []
        if len(classes) != len(matrix):
            classes = [*classes, *(str(i) for i in range(len(classes), len(matrix)))][: len(matrix)]
        self.matrixView.set_matrix(classes, matrix)
        acc, loss = metrics.get("accuracy"), metrics.get("loss")
        self.accuracyLabel.setText(_pct(acc) if acc is not None else "–")
        self.accuracyLabel.setVisible(True)
        n = sum(sum(r) for r in matrix)
        split = metrics.get("split", "validation")
        bits = [f"accuracy on {n:,} {split} images"]
        if loss is not None:
            bits.append(f"loss {float(loss):.4f}")
        if metrics.get("epochs_completed") is not None:
            bits.append(f"{metrics['epochs_completed']} epochs")
        if metrics.get("best_epoch"):
            bits.append(f"best epoch {metrics['best_epoch']}")
        reason = str(metrics.get("stopped_reason") or "")
        if reason and reason != "completed":
            bits.append(f"stopped: {reason}")
        name = self.run_dir.name if self.run_dir else ""
        text = (f"<b>{name}</b><br>" if name else "") + " · ".join(bits)
        if self.predictions_problem:
            text += f"<br><span style='color:#C0392B'>{_esc(self.predictions_problem)}</span>"
        self.headerLabel.setText(text)
        self._fill_table(metrics.get("per_class") or [])

    def _fill_table(self, rows: list[dict[str, Any]]) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(str(row.get("label", r))))
            for c, key in enumerate(("precision", "recall", "f1"), start=1):
                v = row.get(key)
                item = QTableWidgetItem(_pct(v))
                item.setData(Qt.ItemDataRole.UserRole, v)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if v is not None:
                    item.setBackground(_blend(QColor("#FBE3E0"), QColor("#E3F2E6"), float(v)))
                self.table.setItem(r, c, item)
            sup = QTableWidgetItem()
            sup.setData(Qt.ItemDataRole.DisplayRole, int(row.get("support") or 0))
            sup.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(r, 4, sup)
        self.table.setSortingEnabled(True)

    # ---------------------------------------------------------------- the gallery
    def cell_clicked(self, row: int, col: int) -> None:
        """Same as clicking cell (row, col) of the matrix."""
        self.matrixView.cell_clicked(row, col)

    def cell_items(self, row: int, col: int) -> list[dict[str, Any]]:
        """The samples with true label ``row`` and prediction ``col``, least confident first."""
        return list(self._cells.get((row, col), []))

    def open_gallery(self, row: int, col: int) -> GalleryPanel:
        """Show cell (row, col)'s images in the gallery beside the matrix and return it."""
        classes = self.matrixView.classes
        true, pred = _esc(classes[row]), _esc(classes[col])
        count = self.matrixView.value(row, col)
        items = self.cell_items(row, col)
        shown = items[:GALLERY_LIMIT]
        if row == col:
            title = f"'{classes[row]}' classified correctly"
            note = f"<b>{count:,}</b> '{true}' images were classified correctly."
        else:
            title = f"true '{classes[row]}', predicted '{classes[col]}'"
            note = f"<b>{count:,}</b> '{true}' images were predicted as '<b>{pred}</b>'."
        if row == col and not self.every_image:
            note += (" This run was trained before LayerLab kept every image's prediction: it saved only the "
                     "images it got wrong, so there are no pictures of correct ones here. Train again to see "
                     "them, or click an off-diagonal cell to see mistakes.")  # fmt: skip
        elif shown:
            if len(shown) < count:
                note += f" Showing the {len(shown):,} least confident"
                if not self.every_image and self.wrong_total:
                    note += f" (the run saved {len(items):,} of its {self.wrong_total:,} mistakes)"
                note += "."
            note += " Least confident first: the top ones may be mislabeled. Under each image: the predicted " \
                    "label and its probability" + ("" if row == col else ", then the true label's") + "."
        self.gallery.show_items(title, note, shown, classes)
        self.matrixView.set_selected((row, col))
        self.galleryOpened.emit(self.gallery)
        return self.gallery


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["ConfusionMatrixView", "GalleryPanel", "ResultsPanel"]
