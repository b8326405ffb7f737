"""Live training curves: loss and accuracy, drawn with pyqtgraph.

Curves are created once. Events append to preallocated numpy arrays that grow
by doubling; a ~15 Hz timer calls ``setData`` only for the curves that changed,
so redraw cost does not depend on how often the engine reports. The x axis is
in epochs (a batch at 12 of 45 in epoch 3 sits at 2.27), so batch and epoch
points share it. The main window should import this module lazily (it pulls in
pyqtgraph).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

__all__ = ["LiveCurves", "Series", "REDRAW_HZ"]

REDRAW_HZ = 15
EMA_ALPHA = 0.25
TRAIN_COLOR = "#3B6FE0"
VAL_COLOR = "#E0793B"
# Compared runs: distinct, saturated colours, none close to the current run's blue and orange
# (Tableau 10 without those two), so each run reads as its own line.
OVERLAY_COLORS = ("#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#17BECF", "#BCBD22", "#7F7F7F")
PLOT_MIN_HEIGHT = 110


class Series:
    """x/y in preallocated float arrays that double when full; ``dirty`` until drawn."""

    __slots__ = ("x", "y", "n", "dirty")

    def __init__(self, capacity: int = 1024) -> None:
        self.x = np.empty(capacity, dtype=np.float64)
        self.y = np.empty(capacity, dtype=np.float64)
        self.n = 0
        self.dirty = False

    def append(self, x: float, y: float) -> None:
        if self.n == self.x.size:
            cap = self.x.size * 2
            self.x = np.resize(self.x, cap)
            self.y = np.resize(self.y, cap)
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1
        self.dirty = True

    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        need = self.n + xs.size
        if need > self.x.size:
            cap = self.x.size
            while cap < need:
                cap *= 2
            self.x = np.resize(self.x, cap)
            self.y = np.resize(self.y, cap)
        self.x[self.n : need] = xs
        self.y[self.n : need] = ys
        self.n = need
        self.dirty = True

    def clear(self) -> None:
        self.n = 0
        self.dirty = True

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n], self.y[: self.n]

    def nearest(self, x: float) -> tuple[float, float] | None:
        """The point at or just before ``x`` (the arrays are sorted by x)."""
        if self.n == 0:
            return None
        xs = self.x[: self.n]
        i = int(np.searchsorted(xs, x, side="right")) - 1
        i = min(max(i, 0), self.n - 1)
        return float(xs[i]), float(self.y[i])


class _Panel:
    """One plot (loss or accuracy): batch raw + EMA, epoch train + val, overlays, hover."""

    def __init__(self, title: str, object_name: str, y_label: str, legend_offset: tuple[int, int] = (-10, 10)) -> None:
        self.widget = pg.PlotWidget()
        self.widget.setObjectName(object_name)
        self.widget.setBackground("#FFFFFF")
        self.widget.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        item = self.widget.getPlotItem()
        self.item = item
        item.setTitle(f"<span style='color:#1F2430;font-size:10pt;font-weight:600'>{title}</span>")
        item.showGrid(x=False, y=False)  # axis grids cost ~20 ms a repaint
        item.setLabel("bottom", "epoch", color="#5B6472")
        item.setLabel("left", y_label, color="#5B6472")
        for axis in ("left", "bottom"):
            ax = item.getAxis(axis)
            ax.setPen(pg.mkPen("#C5CCD6"))
            ax.setTextPen(pg.mkPen("#5B6472"))
            ax.enableAutoSIPrefix(False)
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.setMenuEnabled(True)
        legend = item.addLegend(offset=legend_offset, labelTextColor="#3A4150", brush=pg.mkBrush(255, 255, 255, 210))
        legend.setLabelTextSize("8pt")
        legend.setColumnCount(4)  # one row: a short plot keeps its curves visible
        self.legend = legend  # the current run's four curves only; compared runs are listed outside the plot
        faint = QColor(TRAIN_COLOR)
        faint.setAlpha(90)
        self.batch = Series()
        self.smooth = Series()
        self.epoch_train = Series(64)
        self.epoch_val = Series(64)
        self.ema: float | None = None
        self.fixed_y: tuple[float, float] | None = None  # accuracy: (0, 1); loss: grown as needed
        self.ylo = math.inf
        self.yhi = -math.inf
        self.c_batch = item.plot(pen=pg.mkPen(faint, width=1), name="train (batch)")
        self.c_smooth = item.plot(pen=pg.mkPen(TRAIN_COLOR, width=2), name="train (smoothed)")
        self.c_train = item.plot(
            pen=None, symbol="o", symbolSize=7, symbolBrush=TRAIN_COLOR, symbolPen=pg.mkPen("#FFFFFF"), name="train (epoch)"
        )
        self.c_val = item.plot(
            pen=pg.mkPen(VAL_COLOR, width=2),
            symbol="s",
            symbolSize=7,
            symbolBrush=VAL_COLOR,
            symbolPen=pg.mkPen("#FFFFFF"),
            name="validation",
        )
        for c in (self.c_batch, self.c_smooth):
            c.setClipToView(True)
            c.opts["autoDownsampleFactor"] = 1.0  # ~one min/max pair per pixel column, no more
            c.setDownsampling(auto=True, method="peak")
        self.pairs = ((self.batch, self.c_batch), (self.smooth, self.c_smooth), (self.epoch_train, self.c_train), (self.epoch_val, self.c_val))
        self.overlays: dict[str, list[Any]] = {}
        # hover: a vertical line and a label with the values under the cursor
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#9AA3B2", width=1, style=Qt.PenStyle.DashLine))
        self.vline.setVisible(False)
        item.addItem(self.vline, ignoreBounds=True)
        self.label = pg.TextItem(color="#1F2430", fill=pg.mkBrush(255, 255, 255, 230), border=pg.mkPen("#DCE1E8"), anchor=(0, 1))
        self.label.setVisible(False)
        item.addItem(self.label, ignoreBounds=True)
        self.widget.scene().sigMouseMoved.connect(self._hover)

    def add_batch(self, x: float, y: float) -> None:
        if y is None or not math.isfinite(y):
            return
        self.batch.append(x, y)
        self.seen(y)
        self.ema = y if self.ema is None else self.ema + EMA_ALPHA * (y - self.ema)
        self.smooth.append(x, self.ema)

    def seen(self, y: float) -> None:
        if y < self.ylo:
            self.ylo = y
        if y > self.yhi:
            self.yhi = y

    def redraw(self) -> int:
        drawn = 0
        for series, curve in self.pairs:
            if series.dirty:
                x, y = series.data()
                curve.setData(x, y)
                series.dirty = False
                drawn += 1
        if drawn and self.managed:
            self._fit_y()
        return drawn

    # The axes are re-rendered (costly, and slower still while the training thread
    # competes for the GIL) whenever the view range changes; so during a run the x range
    # is the whole run and the y range only grows in steps, instead of auto-ranging on
    # every redraw.
    managed = False

    def manage_range(self, x_max: float | None) -> None:
        self.managed = x_max is not None
        vb = self.item.vb
        if x_max is None:
            vb.enableAutoRange()
            return
        vb.disableAutoRange()
        self.item.setXRange(0, max(1.0, float(x_max)), padding=0.02)
        if self.fixed_y is not None:
            self.item.setYRange(*self.fixed_y, padding=0.02)
        self._range = None

    def _fit_y(self) -> None:
        if self.fixed_y is not None or not math.isfinite(self.ylo):
            return
        if self.item.ctrl.logYCheck.isChecked():
            self.item.vb.enableAutoRange(axis="y")
            return
        lo, hi = min(0.0, self.ylo), self.yhi
        cur = getattr(self, "_range", None)
        if cur is not None and cur[0] <= lo and hi <= cur[1] and hi >= 0.4 * cur[1]:
            return
        top = hi * 1.15 if hi > 0 else 1.0
        self._range = (lo, top)
        self.item.setYRange(lo, top, padding=0)

    def clear(self) -> None:
        for series, _ in self.pairs:
            series.clear()
        self.ema = None
        self.ylo, self.yhi = math.inf, -math.inf
        self._range = None

    def hover_text(self, x: float) -> str:
        rows = []
        for label, series in (("train", self.smooth), ("epoch train", self.epoch_train), ("validation", self.epoch_val)):
            p = series.nearest(x)
            if p is not None and abs(p[0] - x) <= max(1.0, 0.0):
                rows.append(f"{label}: {p[1]:.4g}")
        return f"epoch {x:.2f}\n" + "\n".join(rows) if rows else ""

    def _hover(self, pos: Any) -> None:
        vb = self.item.vb
        if not self.item.sceneBoundingRect().contains(pos):
            self.vline.setVisible(False)
            self.label.setVisible(False)
            return
        point = vb.mapSceneToView(pos)
        x = point.x()
        text = self.hover_text(x)
        if not text:
            self.vline.setVisible(False)
            self.label.setVisible(False)
            return
        self.vline.setPos(x)
        self.vline.setVisible(True)
        self.label.setText(text)
        self.label.setPos(point)
        self.label.setVisible(True)


class LiveCurves(QWidget):
    """Two plots, ``lossPlot`` and ``accuracyPlot``, fed by :meth:`add_batch` / :meth:`add_epoch`."""

    exported = Signal(str)  # a written file's path

    def __init__(self, parent: QWidget | None = None, *, staged: bool = False) -> None:
        """Build both plots now, or (``staged``) as the caller drives :attr:`build_steps`."""
        super().__init__(parent)
        self.setObjectName("liveCurves")
        self.build_steps = self._build()
        if not staged:
            for _ in self.build_steps:
                pass

    def _build(self) -> Iterator[str]:
        """Each plot costs ~60 ms to make: one per step keeps a staged build's steps short."""
        self.loss = _Panel("Loss", "lossPlot", "loss")
        yield "loss plot"
        self.accuracy = _Panel("Accuracy", "accuracyPlot", "accuracy", legend_offset=(-10, -10))
        self.accuracy.fixed_y = (0.0, 1.0)
        self.accuracy.item.setYRange(0, 1, padding=0.02)
        self.accuracy.item.vb.setLimits(yMin=-0.05, yMax=1.05)
        self.accuracy.item.setXLink(self.loss.item)
        self.loss_plot = self.loss.widget
        self.accuracy_plot = self.accuracy.widget
        self._overlay_count = 0
        self.overlay_colors: dict[str, str] = {}  # compared run -> its colour

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(8)
        title = QLabel("Live curves")
        title.setStyleSheet("font-weight:600;color:#1F2430;")
        bar.addWidget(title)
        bar.addStretch(1)
        self.legend_check = QCheckBox("Legend")
        self.legend_check.setObjectName("legendToggle")
        self.legend_check.setToolTip("Show or hide the legend inside the plots")
        self.legend_check.setChecked(True)
        self.legend_check.toggled.connect(self.set_legend_visible)
        bar.addWidget(self.legend_check)
        self.log_check = QCheckBox("Log scale (loss)")
        self.log_check.setObjectName("logScaleToggle")
        self.log_check.toggled.connect(self.set_log_y)
        bar.addWidget(self.log_check)
        self.png_button = QPushButton("Export PNG…")
        self.png_button.setObjectName("exportPngButton")
        self.png_button.clicked.connect(self._ask_png)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.setObjectName("exportCsvButton")
        self.csv_button.clicked.connect(self._ask_csv)
        bar.addWidget(self.png_button)
        bar.addWidget(self.csv_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(bar)
        # Compared runs are named here, above the plots, so their legend never covers the curves.
        self.overlay_legend = QLabel()
        self.overlay_legend.setObjectName("overlayLegend")
        self.overlay_legend.setWordWrap(True)
        self.overlay_legend.setTextFormat(Qt.TextFormat.RichText)
        self.overlay_legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.overlay_legend.setVisible(False)
        layout.addWidget(self.overlay_legend)
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(self.accuracy_plot, 1)

        for panel in (self.loss, self.accuracy):
            menu = panel.item.vb.menu
            menu.addSeparator()
            a_png = QAction("Export PNG…", menu)
            a_png.triggered.connect(lambda _=False, p=panel: self._ask_png(p))
            a_csv = QAction("Export CSV…", menu)
            a_csv.triggered.connect(lambda _=False: self._ask_csv())
            menu.addAction(a_png)
            menu.addAction(a_csv)

        # One plot per tick, in turn: each is redrawn at REDRAW_HZ, and the GUI thread is
        # never held for both at once (half the longest block while training).
        self._turn = 0
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / (2 * REDRAW_HZ)))
        self._timer.timeout.connect(self.redraw_next)
        self._timer.start()

    # -- feeding -------------------------------------------------------------
    def add_batch(self, step: float, loss: float | None, acc: float | None = None) -> None:
        """One training batch at x = ``step`` (in epochs); nothing is drawn until the timer."""
        if loss is not None:
            self.loss.add_batch(float(step), float(loss))
        if acc is not None:
            self.accuracy.add_batch(float(step), float(acc))

    def add_epoch(self, epoch: float, logs: Mapping[str, Any]) -> None:
        """Per-epoch points from a history row / EpochEnd logs (loss, accuracy, val_*)."""
        for panel, key in ((self.loss, "loss"), (self.accuracy, "accuracy")):
            for series, name in ((panel.epoch_train, key), (panel.epoch_val, f"val_{key}")):
                v = logs.get(name)
                if isinstance(v, (int, float)) and math.isfinite(v):
                    series.append(float(epoch), float(v))
                    panel.seen(float(v))

    def set_run_length(self, epochs: float | None) -> None:
        """During a run: x from 0 to ``epochs``, y grown in steps (no per-redraw auto-range).

        None gives the axes back to auto-range (after the run, to zoom freely).
        """
        self.loss.manage_range(epochs)
        self.accuracy.manage_range(epochs)

    def redraw(self) -> int:
        """setData for the curves that changed since the last call; the number of curves drawn."""
        return self.loss.redraw() + self.accuracy.redraw()

    def redraw_next(self) -> int:
        """The timer's step: the next plot in turn that has changed (loss, accuracy, loss, ...)."""
        panels = (self.loss, self.accuracy)
        for k in range(2):
            panel = panels[(self._turn + k) % 2]
            drawn = panel.redraw()
            if drawn:
                self._turn = (self._turn + k + 1) % 2
                return drawn
        return 0

    def point_count(self) -> int:
        return sum(s.n for p in (self.loss, self.accuracy) for s, _ in p.pairs)

    def clear(self) -> None:
        """Forget this run's points (overlays stay)."""
        self.loss.clear()
        self.accuracy.clear()
        self.redraw()

    # -- other runs ------------------------------------------------------------
    def overlay(self, run_name: str, history_rows: Iterable[Mapping[str, Any]]) -> None:
        """Another run's epoch curves (train dashed, validation solid) in a colour of its own."""
        self.remove_overlay(run_name)
        rows = list(history_rows)
        color = OVERLAY_COLORS[self._overlay_count % len(OVERLAY_COLORS)]
        self._overlay_count += 1
        self.overlay_colors[run_name] = color
        for panel, key in ((self.loss, "loss"), (self.accuracy, "accuracy")):
            items = []
            for name, style, suffix in ((key, Qt.PenStyle.DashLine, ""), (f"val_{key}", Qt.PenStyle.SolidLine, " (val)")):
                pts = [(float(r["epoch"]), float(r[name])) for r in rows if _finite(r.get(name)) and _finite(r.get("epoch"))]
                if not pts:
                    continue
                xs, ys = zip(*pts, strict=True)
                c = panel.item.plot(list(xs), list(ys), pen=pg.mkPen(color, width=2, style=style))
                c.setToolTip(f"{run_name}{suffix}")
                c.setZValue(-5)
                items.append(c)
            panel.overlays[run_name] = items
        self._update_overlay_legend()

    def _update_overlay_legend(self) -> None:
        names = self.overlay_names()
        self.overlay_legend.setVisible(bool(names))
        entries = " &nbsp; ".join(
            f"<span style='color:{self.overlay_colors[n]}; font-weight:700'>━━</span> {escape(n)}" for n in names
        )
        self.overlay_legend.setText(
            f"<span style='color:#5B6472'>Compared (dashed: train, solid: validation):</span> {entries}"
        )

    def remove_overlay(self, run_name: str) -> None:
        for panel in (self.loss, self.accuracy):
            for c in panel.overlays.pop(run_name, []):
                panel.item.removeItem(c)
        self.overlay_colors.pop(run_name, None)
        self._update_overlay_legend()

    def clear_overlays(self) -> None:
        for panel in (self.loss, self.accuracy):
            for name in list(panel.overlays):
                for c in panel.overlays.pop(name):
                    panel.item.removeItem(c)
        self._overlay_count = 0
        self.overlay_colors.clear()
        self._update_overlay_legend()

    def overlay_names(self) -> list[str]:
        return list(self.loss.overlays)

    # -- view ---------------------------------------------------------------
    def set_log_y(self, on: bool) -> None:
        """Log scale on the loss axis."""
        self.loss.item.setLogMode(x=False, y=bool(on))
        if self.log_check.isChecked() != bool(on):
            self.log_check.blockSignals(True)
            self.log_check.setChecked(bool(on))
            self.log_check.blockSignals(False)

    def set_legend_visible(self, on: bool) -> None:
        """Show or hide the in-plot legends (the compared runs' line above the plots stays)."""
        for panel in (self.loss, self.accuracy):
            panel.legend.setVisible(bool(on))
        if self.legend_check.isChecked() != bool(on):
            self.legend_check.setChecked(bool(on))

    def is_log_y(self) -> bool:
        return bool(self.loss.item.ctrl.logYCheck.isChecked())

    # -- export -------------------------------------------------------------
    def export_png(self, path: str | Path, which: str = "both") -> Path:
        """``which``: "loss", "accuracy", or "both" (the whole widget)."""
        self.redraw()
        path = Path(path)
        if which in ("loss", "accuracy"):
            from pyqtgraph.exporters import ImageExporter

            panel = self.loss if which == "loss" else self.accuracy
            exporter = ImageExporter(panel.item)
            exporter.parameters()["width"] = max(800, int(panel.widget.width() * 2))
            exporter.export(str(path))
        else:
            self.grab().save(str(path), "PNG")
        self.exported.emit(str(path))
        return path

    def csv_text(self) -> str:
        """Every point: kind (batch / epoch), x (epochs), loss, accuracy, val_loss, val_accuracy."""
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["kind", "x", "loss", "accuracy", "loss_smoothed", "accuracy_smoothed", "val_loss", "val_accuracy"])
        lb, ab = self.loss.batch, self.accuracy.batch
        ls, as_ = self.loss.smooth, self.accuracy.smooth
        la = dict(zip(*(a.tolist() for a in ab.data()), strict=True))
        las = dict(zip(*(a.tolist() for a in as_.data()), strict=True))
        lxs, lys = lb.data()
        _, lss = ls.data()
        for i in range(lb.n):
            x = float(lxs[i])
            w.writerow(["batch", _f(x), _f(lys[i]), _f(la.get(x)), _f(lss[i]), _f(las.get(x)), "", ""])
        epochs: dict[float, dict[str, float]] = {}
        for name, s in (
            ("loss", self.loss.epoch_train),
            ("accuracy", self.accuracy.epoch_train),
            ("val_loss", self.loss.epoch_val),
            ("val_accuracy", self.accuracy.epoch_val),
        ):
            for x, y in zip(*(a.tolist() for a in s.data()), strict=True):
                epochs.setdefault(x, {})[name] = y
        for x in sorted(epochs):
            r = epochs[x]
            w.writerow(["epoch", _f(x), _f(r.get("loss")), _f(r.get("accuracy")), "", "", _f(r.get("val_loss")), _f(r.get("val_accuracy"))])
        return buf.getvalue()

    def export_csv(self, path: str | Path) -> Path:
        path = Path(path)
        from app.core.atomic import write_text_atomic

        write_text_atomic(path, self.csv_text())
        self.exported.emit(str(path))
        return path

    def _ask_png(self, panel: Any = None) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plot as PNG", "curves.png", "PNG image (*.png)")
        if path:
            which = "loss" if panel is self.loss else "accuracy" if panel is self.accuracy else "both"
            self.export_png(path, which)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curve data as CSV", "curves.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)


def _finite(v: Any) -> bool:
    try:
        return v is not None and v != "" and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _f(v: Any) -> str:
    if v is None:
        return ""
    return f"{float(v):.6g}"
