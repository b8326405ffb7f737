"""The results panel, offscreen: a fake run folder, the heatmap, a cell click opens its images."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

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


def test_diagonal_cell_explains_and_missing_run(qtbot, panel, run_dir, tmp_path):
    panel.load_run(run_dir)
    gallery = panel.open_gallery(2, 2)
    assert gallery.list.count() == 0
    assert "classified correctly" in gallery.findChild(type(panel.headerLabel), "galleryNote").text()
    assert not panel.load_run(tmp_path / "nothing")
    assert "no evaluation" in panel.headerLabel.text()
