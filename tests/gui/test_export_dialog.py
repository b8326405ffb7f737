"""File > Export… exports what the project learned: the latest completed run by default,
any other run or the design by choice, and the design only with a warning in words.

The run folders are written here with a real Keras model whose weights differ
from a fresh build (they are what "training" left), so an export that quietly
builds fresh weights cannot pass.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QDialog, QLabel, QListWidget, QPushButton  # noqa: E402

import app.gui.app  # noqa: E402,F401  (before any Qt call: the None workaround)
from app.core.templates import load_template  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning"),
]
TIMEOUT = 180_000  # ms: the first export waits for Keras to load on a busy machine
OLD, NEW, UNFINISHED = "20251201-090000", "20251202-160930", "20251203-080000"
CLASSES = [str(i) for i in range(10)]


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setattr(MainWindow, "confirm_unsaved", False)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two real .keras files of the mlp template: 'trained' weights (fresh + an offset), per run."""
    from app.engine.build import build_model

    out = tmp_path_factory.mktemp("models")
    project = load_template("mlp")
    files = {}
    for name, offset in ((OLD, 0.25), (NEW, 0.5)):
        model = build_model(project.graph, name="mlp")
        model.set_weights([w + offset for w in model.get_weights()])
        files[name] = out / f"{name}.keras"
        model.save(files[name])
    return files


def _run(runs: Path, name: str, model: Path, val_acc: float | None) -> Path:
    run = runs / name
    run.mkdir(parents=True)
    shutil.copy(model, run / "model.keras")
    (run / "project.layerlab").write_text(json.dumps(load_template("mlp").to_dict()))
    (run / "classes.json").write_text(json.dumps(CLASSES))
    if val_acc is not None:  # a finished run; without these files it is still training (or died)
        matrix = [[10 if r == c else 0 for c in range(10)] for r in range(10)]
        (run / "metrics.json").write_text(json.dumps({
            "loss": 0.1, "accuracy": val_acc, "classes": CLASSES, "confusion_matrix": matrix,
            "per_class": [], "epochs_completed": 3, "stopped_reason": "completed"}))  # fmt: skip
        (run / "history.csv").write_text(
            "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate\n"
            f"1,0.5,0.8,0.4,{val_acc - 0.1},0.001\n2,0.2,0.95,0.1,{val_acc},0.001\n"
        )
    return run


@pytest.fixture
def project_file(tmp_path, models):
    """A saved mlp project with an older run, the newest completed run and an unfinished one."""
    folder = tmp_path / "proj"
    folder.mkdir()
    path = folder / "net.layerlab"
    load_template("mlp").save(path)
    runs = folder / "runs"
    _run(runs, OLD, models[OLD], 0.61)
    _run(runs, NEW, models[NEW], 0.983)
    _run(runs, UNFINISHED, models[NEW], None)
    return path


@pytest.fixture
def window(qtbot, project_file):
    from app.core.project import load_project

    w = MainWindow(load_project(project_file), offer_recovery=False, autosave=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.allclose(x, y) for x, y in zip(a, b, strict=True))


def _file_menu_action(w: MainWindow, text: str):
    menu = w.menuBar().actions()[0].menu()
    return next((a for a in menu.actions() if a.text().replace("&", "") == text), None)


def test_file_export_writes_the_latest_completed_run(window, qtbot, project_file, models, tmp_path):
    act = _file_menu_action(window, "Export…")
    assert act is not None, "File > Export… is missing"
    assert act in window.toolbar.actions()
    act.trigger()
    dialog = window.findChild(QDialog, "exportDialog")
    assert dialog is not None and dialog.isVisible()
    title = f"Export run {NEW} (val acc 98.3 %)"
    assert dialog.windowTitle() == title
    assert dialog.findChild(QLabel, "exportHeadline").text() == title
    sources = dialog.findChild(QListWidget, "exportSource")
    texts = [sources.item(i).text() for i in range(sources.count())]
    assert texts[0].startswith(f"Run {NEW} (val acc 98.3 %)") and texts[1].startswith(f"Run {OLD} (val acc 61.0 %)")
    assert texts[-1] == "Untrained design (fresh weights)"
    assert not any(UNFINISHED in t for t in texts)  # no metrics.json: not a finished run
    assert sources.currentRow() == 0
    assert not dialog.findChild(QLabel, "exportWarning").isVisible()

    target = tmp_path / "out" / "digits.keras"
    dialog.path_edit.setText(str(target))
    with qtbot.waitSignal(window.exportFinished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(dialog.findChild(QPushButton, "exportButton"), Qt.MouseButton.LeftButton)
    assert blocker.args[0] == target
    assert _same(_weights(target), _weights(models[NEW]))
    assert f"run {NEW}" in window.statusBar().currentMessage()


def test_choosing_the_design_warns_and_exports_fresh_weights(window, qtbot, models, tmp_path):
    dialog = window.open_export_dialog()
    warning = dialog.findChild(QLabel, "exportWarning")
    sources = dialog.findChild(QListWidget, "exportSource")
    sources.setCurrentRow(sources.count() - 1)  # Untrained design (fresh weights)
    assert warning.isVisible() and "fresh, random weights" in warning.text()
    assert "untrained design" in dialog.windowTitle()
    sources.setCurrentRow(1)  # the older run: explicit choice, no warning
    assert not warning.isVisible() and dialog.windowTitle() == f"Export run {OLD} (val acc 61.0 %)"
    assert dialog.choice().run is not None and dialog.choice().run.name == OLD
    sources.setCurrentRow(sources.count() - 1)

    target = tmp_path / "design.keras"
    dialog.path_edit.setText(str(target))
    with qtbot.waitSignal(window.exportFinished, timeout=TIMEOUT):
        qtbot.mouseClick(dialog.findChild(QPushButton, "exportButton"), Qt.MouseButton.LeftButton)
    fresh = _weights(target)
    assert not _same(fresh, _weights(models[NEW])) and not _same(fresh, _weights(models[OLD]))
    assert "untrained" in window.statusBar().currentMessage()


def test_format_changes_the_suffix_and_the_script_comes_from_the_design(window):
    dialog = window.open_export_dialog()
    dialog.path_edit.setText("/tmp/x/net.keras")
    dialog.set_format("tflite")
    assert dialog.path_edit.text() == "/tmp/x/net.tflite"
    dialog.set_format("savedmodel")
    assert dialog.path_edit.text() == "/tmp/x/net"
    dialog.set_format("python")
    assert dialog.path_edit.text() == "/tmp/x/net.py"
    assert not dialog.findChild(QListWidget, "exportSource").isEnabled()
    assert dialog.choice().run is None and not dialog.untrained()
    assert not dialog.findChild(QLabel, "exportWarning").isVisible()
    assert "training script" in dialog.windowTitle()


def test_tflite_export_takes_the_latest_trained_run_by_default(window, qtbot, models, tmp_path):
    """The programmatic entry, another format: no run named -> the latest completed run."""
    target = tmp_path / "net.tflite"
    with qtbot.waitSignal(window.exportFinished, timeout=TIMEOUT) as blocker:
        assert window.export_to(target, "tflite")
    assert blocker.args[0] == target and target.is_file()
    import keras
    import tensorflow as tf

    x = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
    want = keras.saving.load_model(models[NEW], compile=False).predict(x, verbose=0)
    interp = tf.lite.Interpreter(model_path=str(target))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert np.allclose(got, want, atol=1e-4)


def test_runs_panel_export_opens_the_dialog_on_that_run(window, qtbot):
    ws = window.build_workspace()
    button = ws.runs.findChild(QPushButton, "runsExportButton")
    assert button is not None and button.text() == "Export…"
    ws.runs.select([])
    assert not button.isEnabled()
    run_dirs = {Path(d).name: d for d in ws.runs.run_dirs()}
    ws.runs.select([run_dirs[UNFINISHED]])
    assert not button.isEnabled()  # still training or interrupted: nothing finished to export
    ws.runs.select([run_dirs[OLD]])
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(QDialog, "exportDialog")
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowTitle() == f"Export run {OLD} (val acc 61.0 %)"
    assert dialog.choice().run == Path(run_dirs[OLD])


def test_a_project_without_runs_says_the_export_is_untrained(qtbot, tmp_path):
    w = MainWindow(load_template("mlp"), offer_recovery=False, autosave=False)
    qtbot.addWidget(w)
    try:
        dialog = w.open_export_dialog()
        warning = dialog.findChild(QLabel, "exportWarning")
        assert warning.isVisibleTo(dialog) and "no trained run yet" in warning.text()
        assert dialog.choice().run is None and dialog.untrained()
    finally:
        w.shutdown()
