"""LiveCurves: preallocated arrays, timer redraw, 100k-point redraw time, CSV and log scale."""

from __future__ import annotations

import csv
import io
import time

import numpy as np
import pytest

pg = pytest.importorskip("pyqtgraph")

from app.gui.plots import LiveCurves, Series  # noqa: E402


def test_series_grows_by_doubling():
    s = Series(4)
    for i in range(9):
        s.append(i, i * 2)
    assert s.n == 9 and s.x.size == 16
    x, y = s.data()
    assert x.tolist() == list(range(9)) and y[-1] == 16
    s.extend(np.arange(9, 40), np.zeros(31))
    assert s.n == 40 and s.x.size == 64
    assert s.nearest(10.5) == (10.0, 0.0)


def test_object_names_and_redraw_only_when_dirty(qtbot):
    w = LiveCurves()
    qtbot.addWidget(w)
    assert w.findChild(pg.PlotWidget, "lossPlot") is w.loss_plot
    assert w.findChild(pg.PlotWidget, "accuracyPlot") is w.accuracy_plot
    w.add_batch(0.1, 2.0, 0.1)
    w.add_batch(0.2, 1.5, 0.3)
    w.add_epoch(1, {"loss": 1.4, "accuracy": 0.4, "val_loss": 1.6, "val_accuracy": 0.35})
    assert w.redraw() == 8  # batch + smoothed + epoch train + val, on both plots
    assert w.redraw() == 0  # nothing new: nothing drawn
    x, y = w.loss.c_batch.getData()
    assert len(x) == 2 and y[1] == 1.5
    qtbot.waitUntil(lambda: True, timeout=100)
    w.add_batch(0.3, 1.2, 0.5)
    qtbot.waitUntil(lambda: len(w.loss.c_batch.getData()[0]) == 3, timeout=1000)  # the timer drew it
    qtbot.waitUntil(lambda: len(w.accuracy.c_batch.getData()[0]) == 3, timeout=1000)


def test_the_timer_redraws_one_plot_per_tick_in_turn(qtbot):
    w = LiveCurves()
    qtbot.addWidget(w)
    w._timer.stop()
    w.add_batch(0.1, 2.0, 0.1)
    assert w.redraw_next() == 2 and w.loss.c_batch.getData()[0] is not None
    assert w.accuracy.c_batch.getData()[0] is None  # its turn is next
    w.add_batch(0.2, 1.5, 0.3)
    assert w.redraw_next() == 2 and len(w.accuracy.c_batch.getData()[0]) == 2
    assert len(w.loss.c_batch.getData()[0]) == 1
    assert w.redraw_next() == 2 and len(w.loss.c_batch.getData()[0]) == 2
    assert w.redraw_next() == 0  # nothing changed on either plot


def test_redraw_100k_points_is_fast(qtbot):
    w = LiveCurves()
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.show()
    qtbot.waitExposed(w)
    n = 100_000
    xs = np.linspace(0, 50, n)
    for panel, ys in ((w.loss, np.exp(-xs / 10) + 0.05 * np.random.rand(n)), (w.accuracy, 1 - np.exp(-xs / 10))):
        panel.batch.extend(xs, ys)
        panel.smooth.extend(xs, ys)
    w.redraw()
    times = []
    for _ in range(5):
        for panel in (w.loss, w.accuracy):
            panel.batch.dirty = panel.smooth.dirty = True
        t0 = time.perf_counter()
        w.redraw()
        w.repaint()
        times.append((time.perf_counter() - t0) * 1000)
    best = min(times)
    print(f"\nredraw 100k points x 4 curves (setData + paint): best {best:.1f} ms, median {sorted(times)[2]:.1f} ms")
    assert best < 100


def test_csv_export(qtbot, tmp_path):
    w = LiveCurves()
    qtbot.addWidget(w)
    w.add_batch(0.5, 2.0, 0.2)
    w.add_batch(1.0, 1.0, 0.6)
    w.add_epoch(1, {"loss": 1.1, "accuracy": 0.55, "val_loss": 1.3, "val_accuracy": 0.5})
    path = w.export_csv(tmp_path / "curves.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["kind"] for r in rows] == ["batch", "batch", "epoch"]
    assert float(rows[1]["loss"]) == 1.0 and float(rows[1]["accuracy"]) == 0.6
    assert float(rows[2]["val_accuracy"]) == 0.5 and float(rows[2]["x"]) == 1.0
    png = w.export_png(tmp_path / "loss.png", "loss")
    assert png.stat().st_size > 1000


def test_log_toggle_and_overlay(qtbot):
    w = LiveCurves()
    qtbot.addWidget(w)
    w.log_check.setChecked(True)
    assert w.is_log_y()
    w.set_log_y(False)
    assert not w.is_log_y() and not w.log_check.isChecked()
    w.overlay("run-a", [{"epoch": 1, "loss": 1.0, "val_loss": 1.2, "accuracy": 0.5, "val_accuracy": ""}])
    assert w.overlay_names() == ["run-a"]
    assert len(w.loss.overlays["run-a"]) == 2 and len(w.accuracy.overlays["run-a"]) == 1
    w.clear_overlays()
    assert w.overlay_names() == []
    w.add_batch(0.1, 1.0, 0.1)
    w.clear()
    assert w.point_count() == 0


def test_compared_runs_have_distinct_colours_and_a_legend_outside_the_plots(qtbot):
    from PySide6.QtGui import QColor

    from app.gui.plots import TRAIN_COLOR, VAL_COLOR

    w = LiveCurves()
    qtbot.addWidget(w)
    w.resize(700, 500)
    w.show()
    in_plot = len(w.loss.legend.items)
    rows = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "accuracy": 0.5, "val_accuracy": 0.4} for e in (1, 2, 3)]
    names = [f"2026010{i}-120000-run" for i in range(1, 5)]
    for name in names:
        w.overlay(name, rows)
    colours = [w.loss.overlays[n][0].opts["pen"].color() for n in names]
    assert len({c.name() for c in colours}) == len(names)  # one colour per run
    mine = {QColor(TRAIN_COLOR).name(), QColor(VAL_COLOR).name()}
    assert not mine & {c.name() for c in colours}
    assert all(c.saturation() > 60 and c.alpha() == 255 for c in colours[:3])  # vivid, not faint grey
    # the plots' legends keep only the current run's curves; the runs are named above the plots
    assert len(w.loss.legend.items) == in_plot and len(w.accuracy.legend.items) == in_plot
    assert w.overlay_legend.isVisible() and all(n in w.overlay_legend.text() for n in names)
    assert w.overlay_legend.geometry().bottom() < w.loss_plot.geometry().top()
    w.remove_overlay(names[0])
    assert names[0] not in w.overlay_legend.text()
    w.legend_check.setChecked(False)  # collapsible: the in-plot legends hide
    assert not w.loss.legend.isVisible() and not w.accuracy.legend.isVisible()
    w.set_legend_visible(True)
    assert w.loss.legend.isVisible() and w.legend_check.isChecked()
    w.clear_overlays()
    assert not w.overlay_legend.isVisible()
