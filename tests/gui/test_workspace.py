"""The window's Data / Train / Results / Predict tabs, wired together."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QWidget

from app.gui.main_window import MainWindow

SPEC_NAMES = [
    "layerPalette", "canvas", "inspector", "diagnostics", "datasetPanel", "trainingPanel", "trainButton",
    "stopButton", "pauseButton", "lossPlot", "accuracyPlot", "progressBar", "predictionPanel", "confusionMatrix",
]


@pytest.fixture
def window(ready_window):
    return ready_window


def test_every_spec_object_name_is_present(window):
    missing = [n for n in SPEC_NAMES if window.findChild(QWidget, n) is None]
    assert missing == []
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Design", "Data", "Train", "Results", "Predict"]


def test_designer_docks_hide_on_other_tabs_and_come_back(window):
    assert window.palette_dock.isVisible()
    window.tabs.setCurrentIndex(2)
    assert not window.palette_dock.isVisible() and not window.inspector_dock.isVisible()
    window.tabs.setCurrentIndex(0)
    assert window.palette_dock.isVisible() and window.inspector_dock.isVisible()


def test_settings_edits_mark_the_project_modified(window):
    assert not window.is_modified()
    window.workspace.data.settingsChanged.emit()
    assert window.is_modified() and window.windowTitle().count("*") == 1


def test_a_run_chosen_opens_results_and_prediction(window, tmp_path, qtbot):
    run = tmp_path / "run"
    run.mkdir()
    metrics = {"loss": 0.5, "accuracy": 0.5, "classes": ["a", "b"], "confusion_matrix": [[1, 1], [0, 2]],
               "per_class": [{"label": "a", "precision": 1.0, "recall": 0.5, "f1": 0.67, "support": 2},
                             {"label": "b", "precision": 0.67, "recall": 1.0, "f1": 0.8, "support": 2}],
               "epochs_completed": 1, "stopped_reason": "completed"}
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "misclassified.json").write_text(json.dumps({"split": "validation", "total": 1, "items": []}))
    window.workspace.open_model(str(run / "model.keras"))
    assert window.tabs.currentIndex() == 4
    assert window.workspace.results.findChild(QWidget, "confusionMatrix").value(0, 1) == 1


def test_images_dropped_on_the_window_go_to_prediction(window, tmp_path, monkeypatch):
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(img)
    seen = []
    monkeypatch.setattr(window.workspace.prediction, "handle_paths", lambda paths: seen.extend(paths))
    assert window.handle_dropped_paths([img, tmp_path / "notes.txt"])
    assert seen == [str(img)] and window.tabs.currentIndex() == 4
    assert not window.handle_dropped_paths([tmp_path / "notes.txt"])


def test_workspace_is_built_in_steps_and_a_sync_request_finishes_it(qtbot, tmp_path, monkeypatch):
    from app.gui.preload import ModulePreloader
    from app.gui.workspace import Workspace

    monkeypatch.setenv("LAYERLAB_SETTINGS", str(tmp_path / "settings.ini"))
    w = MainWindow(offer_recovery=False, autosave=False)
    qtbot.addWidget(w)
    staged = Workspace(w, staged=True)
    assert staged.step() and hasattr(staged, "data") and not hasattr(staged, "prediction")
    assert w.tabs.count() == 1  # tabs are added only once every panel exists
    w._workspace_building = staged
    assert w.build_workspace() is staged and w._workspace_building is None
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())][-1] == "Predict"
    assert not staged.step()

    pre = ModulePreloader(("json", "no_such_module_for_layerlab"))
    with qtbot.waitSignal(pre.finished, timeout=10_000):
        pre.start()
    assert list(pre.failed) == ["no_such_module_for_layerlab"]
    w.shutdown()


def test_runs_trained_before_the_first_save_follow_the_project(window, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from app.paths import cache_dir

    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path / "cache"))
    ws = window.workspace
    ws.refresh_project()  # the runs list reads the new cache folder
    assert window.project.path is None and ws.runs_folder() == cache_dir() / "runs"
    runs = []
    for name in ("20260101-120000-mnist-cnn", "20260101-130000-mnist-cnn"):
        run = cache_dir() / "runs" / name
        (run / "checkpoint").mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"epochs_completed": 1, "stopped_reason": "completed"}))
        ws._on_run_finished(SimpleNamespace(run_dir=str(run), stopped_reason="completed"))
        runs.append(run)
    other = cache_dir() / "runs" / "20250101-000000-someone-else"  # not trained by this window
    (other / "metrics.json").parent.mkdir()
    (other / "metrics.json").write_text(json.dumps({"epochs_completed": 1, "stopped_reason": "completed"}))
    ws.runs.refresh()
    assert len(ws.runs.run_dirs()) == 3

    target = tmp_path / "proj" / "digits.layerlab"
    assert window.save_to(target)
    moved = [target.parent / "runs" / r.name for r in runs]
    assert all(m.is_dir() for m in moved) and not any(r.exists() for r in runs)
    assert other.is_dir()  # left where it was
    assert sorted(ws.runs.run_dirs()) == sorted(str(m) for m in moved)
    assert "Moved 2 runs" in window.statusBar().currentMessage()
    assert window.save_to(target) and all(m.is_dir() for m in moved)  # saving again moves nothing
