"""Results of a run: accuracy and loss, a confusion-matrix heatmap, per-class metrics, a gallery.

Reads a run folder's ``metrics.json`` (the evaluate object) and
``misclassified.json`` (``{"split", "total", "items": [{"index", "label",
"label_index", "predicted", "predicted_index", "probabilities", "path"?}]}``).
No Keras here: plain JSON and image files, so opening a run is instant.

Clicking a cell of the matrix opens a gallery of the images whose true label is
the row and predicted label the column. A run keeps only the images it got
wrong, so a diagonal cell (correct predictions) shows how many there were and
no pictures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
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

METRICS_FILE = "metrics.json"
MISCLASSIFIED_FILE = "misclassified.json"
GALLERY_THUMB = 96


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


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
        self.setMouseTracking(True)
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_matrix(self, classes: list[str], matrix: list[list[int]]) -> None:
        self.classes = [str(c) for c in classes]
        self.matrix = [[int(v) for v in row] for row in matrix]
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
                if self._hover == (r, c):
                    p.setPen(QColor("#1F2430"))
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


class GalleryDialog(QDialog):
    """The images of one confusion cell, each with its predicted probabilities."""

    def __init__(self, title: str, note: str, items: list[dict], classes: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("confusionGallery")
        self.setWindowTitle(title)
        self.items = list(items)
        lay = QVBoxLayout(self)
        head = QLabel(note)
        head.setObjectName("galleryNote")
        head.setWordWrap(True)
        lay.addWidget(head)
        self.list = QListWidget()
        self.list.setObjectName("galleryList")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(QSize(GALLERY_THUMB, GALLERY_THUMB))
        self.list.setGridSize(QSize(GALLERY_THUMB + 44, GALLERY_THUMB + 52))
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for it in self.items:
            probs = [p if isinstance(p, (int, float)) else 0.0 for p in it.get("probabilities") or []]
            pi = int(it.get("predicted_index", -1))
            ti = int(it.get("label_index", -1))
            p_pred = probs[pi] if 0 <= pi < len(probs) else None
            p_true = probs[ti] if 0 <= ti < len(probs) else None
            text = f"{it.get('predicted', '?')} {_pct(p_pred)}"
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
        lay.addWidget(self.list, 1)
        self.resize(720, 520)

    def paths(self) -> list[str | None]:
        return [it.get("path") for it in self.items]


# -- the panel -----------------------------------------------------------------------
class ResultsPanel(QWidget):
    """A run's evaluation: header, confusion matrix (click: gallery), per-class table."""

    galleryOpened = Signal(object)  # the GalleryDialog
    cellActivated = Signal(int, int)  # re-emitted from the matrix

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsPanel")
        self.run_dir: Path | None = None
        self.metrics: dict[str, Any] = {}
        self.misclassified: dict[str, Any] = {}
        self.gallery: GalleryDialog | None = None
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
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.matrixView = ConfusionMatrixView()
        self.matrixView.cellActivated.connect(self.open_gallery)
        self.matrixView.cellActivated.connect(self.cellActivated)
        ll.addWidget(self.matrixView, 1)
        hint = QLabel("Click a cell to see those images and what the network predicted.")
        hint.setStyleSheet("color: #6B7383;")
        ll.addWidget(hint)
        split.addWidget(left)
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
        split.addWidget(self.table)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)

    # ---------------------------------------------------------------- loading
    def clear(self) -> None:
        self.run_dir, self.metrics, self.misclassified = None, {}, {}
        self.matrixView.set_matrix([], [])
        self.table.setRowCount(0)
        self.accuracyLabel.setText("–")
        self.accuracyLabel.setVisible(False)
        self.headerLabel.setText("No run loaded. Train a network, or open a run folder.")

    def load_run(self, run_dir: str | Path) -> bool:
        """Show the run in ``run_dir``; False (with a message in the header) when it has no metrics."""
        run = Path(run_dir)
        metrics = _read_json(run / METRICS_FILE)
        if not isinstance(metrics, dict) or not metrics.get("confusion_matrix"):
            self.clear()
            self.run_dir = run
            self.headerLabel.setText(f"<span style='color:#C0392B'>{run.name}: no evaluation "
                                     f"({METRICS_FILE} is missing or empty)</span>")  # fmt: skip
            return False
        wrong = _read_json(run / MISCLASSIFIED_FILE)
        self.run_dir, self.metrics = run, metrics
        self.misclassified = wrong if isinstance(wrong, dict) else {"items": wrong if isinstance(wrong, list) else []}
        self.show_metrics(metrics)
        return True

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
        self.headerLabel.setText((f"<b>{name}</b><br>" if name else "") + " · ".join(bits))
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
        """The saved samples with true label ``row`` and prediction ``col``."""
        items = self.misclassified.get("items") or []
        return [it for it in items
                if int(it.get("label_index", -1)) == row and int(it.get("predicted_index", -1)) == col]  # fmt: skip

    def open_gallery(self, row: int, col: int) -> GalleryDialog:
        """Open (non-modal) the gallery for cell (row, col) and return it."""
        classes = self.matrixView.classes
        true, pred = classes[row], classes[col]
        count = self.matrixView.value(row, col)
        items = self.cell_items(row, col)
        if row == col:
            title = f"'{true}' classified correctly"
            note = (f"<b>{count:,}</b> '{_esc(true)}' images were classified correctly. A run keeps only the "
                    "images it gets wrong, so there are no pictures to show here; click an off-diagonal "
                    "cell to see mistakes.")  # fmt: skip
        else:
            title = f"true '{true}', predicted '{pred}'"
            shown = len(items)
            note = f"<b>{count:,}</b> '{_esc(true)}' images were predicted as '<b>{_esc(pred)}</b>'."
            if shown < count:
                total = self.misclassified.get("total")
                note += f" Showing the {shown:,} the run saved" + (f" (of {total:,} mistakes in all)." if total else ".")
            note += " Under each image: the predicted label and its probability, then the true label's."
        if self.gallery is not None:
            self.gallery.close()
            self.gallery.deleteLater()
        self.gallery = GalleryDialog(title, note, items, classes, self)
        self.gallery.show()
        self.galleryOpened.emit(self.gallery)
        return self.gallery


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["ConfusionMatrixView", "GalleryDialog", "ResultsPanel"]
