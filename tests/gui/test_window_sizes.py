"""The real main window on laptop screens: training controls in view, readable docks, compact Problems.

A screen of W×H gives a window about W×(H - 64): a title bar and a desktop panel take
the rest. Each check resizes the real MainWindow and asks Qt where each widget is and
how much of it is left visible after every parent (scroll areas, splitters) clipped it.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QRect, Qt  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

import app.gui.app  # noqa: E402,F401  (before any Qt call: the None workaround)
from app.core.templates import load_template  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402
from app.gui.workspace import DESIGN, TRAIN  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
FRAME_H = 64  # title bar + a desktop panel
SCREENS = [(1280, 720), (1366, 768)]
MIN_DOCK = 180  # layer names readable in the palette, values in the inspector
CONTROLS = ["trainButton", "pauseButton", "stopButton", "progressBar", "runStats", "runStatus"]


@pytest.fixture
def window(ready_window):
    return ready_window


def settle(qtbot, w: MainWindow, size: tuple[int, int] | None = None) -> None:
    if size is not None:
        w.resize(*size)
    qtbot.wait(60)  # layout requests and deferred resizes


def fully_visible(w: MainWindow, widget: QWidget) -> str | None:
    """None when ``widget`` is shown whole inside the window's client area; else what is wrong."""
    if not widget.isVisible():
        return "hidden"
    rect = QRect(widget.mapTo(w, QPoint(0, 0)), widget.size())
    central = w.centralWidget()
    area = QRect(central.mapTo(w, QPoint(0, 0)), central.size())
    if not w.rect().contains(rect) or not area.contains(rect):
        return f"at {rect.getCoords()}, outside the client area {area.getCoords()}"
    shown = widget.visibleRegion().boundingRect()
    if shown != widget.rect():
        return f"clipped to {shown.getCoords()} of {widget.rect().getCoords()}"
    return None


def control_problems(w: MainWindow) -> dict[str, str]:
    out = {}
    for name in CONTROLS:
        widget = w.findChild(QWidget, name)
        assert widget is not None, name
        why = fully_visible(w, widget)
        if why:
            out[name] = why
    return out


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_training_control_is_in_view_on_a_laptop_screen(window, qtbot, screen):
    size = (screen[0], screen[1] - FRAME_H)
    window.tabs.setCurrentIndex(TRAIN)
    settle(qtbot, window, size)
    assert (window.width(), window.height()) == size  # the window did not grow past the screen
    assert control_problems(window) == {}
    # and on the full screen height too
    settle(qtbot, window, screen)
    assert control_problems(window) == {}


def test_the_minimum_size_fits_1280x720_on_every_tab(window, qtbot):
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        settle(qtbot, window)
        hint, least = window.minimumSizeHint(), window.minimumSize()
        for s in (hint, least):
            assert s.width() <= 1280 and s.height() <= 720 - FRAME_H, (window.tabs.tabText(i), s)


def test_side_docks_stay_readable_and_get_their_width_back(window, qtbot):
    palette, inspector = window.palette_dock, window.inspector_dock
    window.tabs.setCurrentIndex(DESIGN)
    settle(qtbot, window, (1400, 880))
    wide = (palette.width(), inspector.width())
    assert wide[0] >= 220 and wide[1] >= 300
    settle(qtbot, window, (1024, 700))  # the canvas gives way first
    assert (palette.width(), inspector.width()) == wide
    settle(qtbot, window, (640, 600))  # then the docks, down to their minimum
    assert palette.width() >= MIN_DOCK and inspector.width() >= MIN_DOCK
    assert palette.width() < wide[0]
    settle(qtbot, window, (1400, 880))  # growing back restores the proportions
    assert abs(palette.width() - wide[0]) <= 2 and abs(inspector.width() - wide[1]) <= 2
    # a width the user chose is the one that comes back
    window.resizeDocks([palette], [300], Qt.Orientation.Horizontal)
    settle(qtbot, window)
    assert abs(palette.width() - 300) <= 2
    settle(qtbot, window, (700, 600))
    settle(qtbot, window, (1400, 880))
    assert abs(palette.width() - 300) <= 2


def test_problems_dock_is_one_line_when_empty_and_outside_design(window, qtbot):
    dock, panel = window.diagnostics_dock, window.diagnostics
    window.tabs.setCurrentIndex(DESIGN)
    settle(qtbot, window, (1280, 720 - FRAME_H))
    assert not panel.diagnostics and panel.is_collapsed()
    assert dock.height() <= 72, dock.height()  # title + the summary line
    assert "No problems" in panel.header.text()

    broken = load_template("mnist-cnn")
    graph = broken.graph
    dense = graph.find("dense1")
    flat = graph.find("flatten")
    pool = graph.predecessors(flat.id)[0]
    graph.remove_node(flat.id)
    graph.connect(pool, dense.id, 0)
    with qtbot.waitSignal(window.analysisApplied, timeout=120_000):
        window.set_project(broken)
    settle(qtbot, window)
    assert panel.diagnostics and not panel.is_collapsed()
    assert dock.height() >= 120 and panel.scroll.isVisible()

    window.tabs.setCurrentIndex(TRAIN)
    settle(qtbot, window)
    assert panel.is_collapsed() and dock.height() <= 72
    assert re.search(r"\d+ error", panel.header.text()) and "Show" in panel.header.text()
    panel.header.linkActivated.emit("show")  # the summary's Show link goes to the Design tab
    settle(qtbot, window)
    assert window.tabs.currentIndex() == DESIGN
    assert not panel.is_collapsed() and dock.height() >= 120


def test_paused_run_at_1280x720_controls_in_view_and_one_state_everywhere(window, qtbot):
    from dataclasses import replace

    from app.engine import events as ev

    window.project.training = replace(window.project.training, epochs=50)
    window.workspace.training.refresh_from_project()
    window.tabs.setCurrentIndex(TRAIN)
    settle(qtbot, window, (1280, 720 - FRAME_H))
    panel = window.workspace.training
    paused: list[ev.Paused] = []
    panel.worker.event.connect(lambda e: paused.append(e) if isinstance(e, ev.Paused) else None)
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    try:
        qtbot.waitUntil(lambda: panel.batch_events >= 2, timeout=180_000)
        assert control_problems(window) == {}  # mid-run
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(paused), timeout=30_000)
        qtbot.wait(300)
        e = paused[0]
        where = f"epoch {e.epoch}/50 · batch {e.batch}/{panel.state.steps}"
        assert control_problems(window) == {}  # paused
        assert panel.progress.format() == f"Paused · {where}"
        assert f"batch {e.batch}" in panel.status_label.text() and "ETA — paused" in panel.stats_label.text()
        label = window.workspace.run_state_label
        assert label.isVisible() and f"Paused at {where}" in label.text()
        assert not window.state_label.isVisible()  # no "Ready to train" beside it
        with qtbot.waitSignal(panel.runFinished, timeout=60_000):
            panel.stop()
    finally:
        panel.shutdown(10.0)
    assert not window.workspace.run_state_label.isVisible() and window.state_label.isVisible()
    assert "Ready to train" in window.state_label.text()


def _ten_class_run(folder):
    """A run folder as training writes it (10 classes, a few images each), by hand: no Keras."""
    import json

    import numpy as np
    from PIL import Image

    classes = [f"class_{i}" for i in range(10)]
    run = folder / "20261202-1609"
    (run / "val").mkdir(parents=True)
    lines = ["index,path,label,label_index,predicted,predicted_index,confidence," + ",".join(f"p{k}" for k in range(10))]
    matrix = [[0] * 10 for _ in classes]
    for i in range(60):
        t, p = i % 10, (i % 10 if i % 4 else (i + 1) % 10)
        matrix[t][p] += 1
        path = run / "val" / f"{i}.png"
        Image.fromarray(np.full((16, 16), 4 * i, np.uint8), "L").save(path)
        probs = [0.02] * 10
        probs[p] = 0.82
        lines.append(f"{i},{path},{classes[t]},{t},{classes[p]},{p},0.82," + ",".join(f"{v:.6f}" for v in probs))
    (run / "predictions.csv").write_text("\n".join(lines) + "\n")
    per_class = [{"label": c, "precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 6} for c in classes]
    metrics = {"loss": 0.5, "accuracy": 0.75, "classes": classes, "confusion_matrix": matrix,
               "per_class": per_class, "epochs_completed": 3, "stopped_reason": "completed"}  # fmt: skip
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "classes.json").write_text(json.dumps(classes))
    return run


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_results_matrix_and_gallery_fit_without_scrolling(window, qtbot, tmp_path, screen):
    """Word-wrapped notes once made the Results page scroll (its preferred height, not its minimum)."""
    from app.gui.workspace import RESULTS

    results = window.workspace.results
    assert results.load_run(_ten_class_run(tmp_path))
    window.tabs.setCurrentIndex(RESULTS)
    settle(qtbot, window, (screen[0], screen[1] - FRAME_H))
    results.cell_clicked(3, 3)  # a diagonal cell: its images beside the matrix
    settle(qtbot, window)
    page = window.tabs.currentWidget()
    assert not page.verticalScrollBar().isVisible()
    assert fully_visible(window, results.matrixView) is None
    gallery = window.findChild(QWidget, "resultsGallery")
    assert gallery is not None and fully_visible(window, gallery) is None
