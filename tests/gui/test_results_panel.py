"""The results panel, offscreen: run folders written by hand (metrics.json, predictions.csv or an
older run's misclassified.json, real PNGs), the heatmap, a cell click shows its images beside it."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QLabel, QWidget  # noqa: E402

import app.gui.app  # noqa: E402,F401  (before any Qt call: the None workaround)
from app.gui.results_panel import ResultsPanel  # noqa: E402

CLASSES = ["cat", "dog", "bird"]
MATRIX = [[5, 2, 0], [1, 6, 1], [0, 0, 4]]


def _item(i, true, pred, path):
    probs = [0.1, 0.1, 0.1]
    probs[pred] = 0.8
    return {"index": i, "label": CLASSES[true], "label_index": true, "predicted": CLASSES[pred],
            "predicted_index": pred, "probabilities": probs, "path": str(path)}  # fmt: skip


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "run1"
    imgs = run / "imgs"
    imgs.mkdir(parents=True)
    wrong = [(0, 1), (0, 1), (1, 0), (1, 2)]
    items = []
    for i, (t, p) in enumerate(wrong):
        path = imgs / f"w{i}.png"
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8), "L").save(path)
        items.append(_item(i, t, p, path))
    per_class = [{"label": c, "precision": 0.8, "recall": 0.7, "f1": 0.75, "support": sum(MATRIX[k])}
                 for k, c in enumerate(CLASSES)]  # fmt: skip
    metrics = {"loss": 0.42, "accuracy": 15 / 19, "classes": CLASSES, "confusion_matrix": MATRIX,
               "per_class": per_class, "epochs_completed": 2, "stopped_reason": "completed"}  # fmt: skip
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "misclassified.json").write_text(json.dumps({"split": "validation", "total": 4, "items": items}))
    return run


@pytest.fixture
def panel(qtbot):
    p = ResultsPanel()
    qtbot.addWidget(p)
    p.resize(900, 600)
    p.show()
    return p


def test_cell_click_opens_matching_images(qtbot, panel, run_dir):
    assert panel.load_run(run_dir)
    assert panel.matrixView.objectName() == "confusionMatrix"
    assert panel.matrixView.value(0, 1) == 2
    assert panel.table.rowCount() == 3
    assert "78.9 %" in panel.accuracyLabel.text()
    # a real mouse click on cell (true cat, predicted dog)
    centre = panel.matrixView.cell_rect(0, 1).center()
    with qtbot.waitSignal(panel.cellActivated) as blocker:
        QTest.mouseClick(panel.matrixView, Qt.MouseButton.LeftButton, pos=QPointF(centre).toPoint())
    assert blocker.args == [0, 1]
    gallery = panel.gallery
    assert gallery is not None and gallery.isVisible()
    assert gallery.paths() == [str(run_dir / "imgs" / "w0.png"), str(run_dir / "imgs" / "w1.png")]
    assert gallery.list.count() == 2
    first = gallery.list.item(0)
    assert "dog 80.0 %" in first.text() and "true cat" in first.text()
    # another cell replaces the gallery
    panel.cell_clicked(1, 2)
    assert panel.gallery.paths() == [str(run_dir / "imgs" / "w3.png")]


def test_older_run_diagonal_cell_explains_and_missing_run(qtbot, panel, run_dir, tmp_path):
    """A run from before predictions.csv kept only its mistakes: its diagonal says so in words."""
    panel.load_run(run_dir)
    gallery = panel.open_gallery(2, 2)
    assert gallery.list.count() == 0
    note = gallery.findChild(QLabel, "galleryNote").text()
    assert "classified correctly" in note and "saved only the images it got wrong" in note
    assert not panel.load_run(tmp_path / "nothing")
    assert "no evaluation" in panel.headerLabel.text()
    assert panel.gallery.list.count() == 0  # the last run's images went with it


# -- every validation image: predictions.csv -------------------------------------------------
# (true, predicted, confidence) per image, in dataset order; the matrix counts them
ROWS = [(0, 0, 0.91), (0, 0, 0.42), (0, 1, 0.55), (0, 0, 0.67), (1, 1, 0.99), (1, 2, 0.51),
        (1, 1, 0.38), (2, 2, 0.73), (2, 2, 0.88)]  # fmt: skip


def _matrix(rows):
    m = [[0] * len(CLASSES) for _ in CLASSES]
    for t, p, _c in rows:
        m[t][p] += 1
    return m


@pytest.fixture
def full_run(tmp_path):
    """A run folder as training writes it now: one predictions.csv row per validation image."""
    run = tmp_path / "20251202-160930"
    imgs = run / "val"
    imgs.mkdir(parents=True)
    lines = ["index,path,label,label_index,predicted,predicted_index,confidence,p0,p1,p2"]
    for i, (t, p, conf) in enumerate(ROWS):
        path = imgs / f"img{i}.png"
        Image.fromarray(np.full((12, 12), 25 * i, np.uint8), "L").save(path)
        probs = [(1 - conf) / 2] * 3
        probs[p] = conf
        cells = ",".join(f"{v:.6f}" for v in probs)
        lines.append(f"{i},{path},{CLASSES[t]},{t},{CLASSES[p]},{p},{conf:.6f},{cells}")
    (run / "predictions.csv").write_text("\n".join(lines) + "\n")
    matrix = _matrix(ROWS)
    metrics = {"loss": 0.3, "accuracy": 7 / 9, "classes": CLASSES, "confusion_matrix": matrix,
               "per_class": [], "epochs_completed": 1, "stopped_reason": "completed"}  # fmt: skip
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "classes.json").write_text(json.dumps(CLASSES))
    (run / "misclassified.json").write_text(json.dumps({"split": "validation", "total": 2, "items": []}))
    return run


def _click_cell(qtbot, panel, row, col):
    centre = panel.matrixView.cell_rect(row, col).center()
    with qtbot.waitSignal(panel.galleryOpened):
        QTest.mouseClick(panel.matrixView, Qt.MouseButton.LeftButton, pos=QPointF(centre).toPoint())
    return panel.gallery


def test_a_correct_cell_opens_its_images_least_confident_first(qtbot, panel, full_run):
    assert panel.load_run(full_run)
    gallery = _click_cell(qtbot, panel, 0, 0)  # true cat, predicted cat: three images
    img = full_run / "val"
    assert gallery.paths() == [str(img / "img1.png"), str(img / "img3.png"), str(img / "img0.png")]
    assert gallery.list.count() == 3
    assert gallery.list.item(0).text() == "cat 42.0 %"  # the least sure (likely mislabeled) first
    assert "classified correctly" in gallery.findChild(QLabel, "galleryNote").text()
    assert "Least confident first" in gallery.findChild(QLabel, "galleryNote").text()
    # every cell: the other diagonal ones and a mistake
    assert _click_cell(qtbot, panel, 1, 1).paths() == [str(img / "img6.png"), str(img / "img4.png")]
    wrong = _click_cell(qtbot, panel, 1, 2)
    assert wrong.paths() == [str(img / "img5.png")] and "true dog" in wrong.list.item(0).text()
    assert _click_cell(qtbot, panel, 2, 0).list.count() == 0  # an empty cell: nothing


def test_the_gallery_is_a_panel_beside_the_matrix(qtbot, panel, full_run):
    """It must not cover the matrix: a child of the Results panel, next to it, both visible."""
    panel.resize(1200, 640)
    panel.load_run(full_run)
    gallery = _click_cell(qtbot, panel, 0, 0)
    assert gallery.objectName() == "resultsGallery"
    assert panel.findChild(QWidget, "resultsGallery") is gallery and not gallery.isWindow()
    assert gallery.isVisible() and panel.matrixView.isVisible()
    origin = gallery.mapTo(panel, gallery.rect().topLeft())
    gallery_rect = gallery.rect().translated(origin)
    matrix_rect = panel.matrixView.rect().translated(panel.matrixView.mapTo(panel, panel.matrixView.rect().topLeft()))
    assert not gallery_rect.intersects(matrix_rect)
    assert gallery_rect.left() >= matrix_rect.right()  # beside it, on the right


def test_an_unreadable_predictions_file_is_named_and_the_mistakes_still_show(qtbot, panel, run_dir):
    (run_dir / "predictions.csv").write_text("index,label\n0,cat\n")
    assert panel.load_run(run_dir)
    assert "predictions.csv: missing columns path, label_index" in panel.headerLabel.text()
    assert panel.open_gallery(0, 1).list.count() == 2  # misclassified.json, as for an older run
