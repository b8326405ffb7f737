"""Reading run folders back, without Qt or Keras: the runs list, history, the compare diff, predictions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.engine.run_folder import (
    CHECKPOINT_DIR,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PREDICTIONS_FILE,
    PROJECT_FILE,
    STATE_FILE,
    PredictionsError,
    confidence,
    diff_runs,
    finished,
    list_runs,
    read_history,
    read_predictions,
    read_run,
)
from tests.projects import tiny_cnn_project


def test_diff_runs(tmp_path):
    a, b = tmp_path / "20260101-100000-a", tmp_path / "20260101-110000-b"
    pa = tiny_cnn_project(tmp_path)
    pb = tiny_cnn_project(tmp_path, learning_rate=0.1)
    pb.graph.node(pb.graph.nodes[1].id).params["filters"] = 8
    pb.graph.add_node("Dropout", {"rate": 0.5}, name="drop")
    pb.graph.remove_node(pb.graph.nodes[2].id)
    pa.save(a / "project.layerlab")
    pb.save(b / "project.layerlab")
    d = diff_runs(a, b)
    changed = {k: (x, y) for k, x, y, c in d["settings"] if c}
    assert changed == {"training.learning_rate": ("0.01", "0.1")}
    status = {n: s for n, s, *_ in d["layers"]}
    assert status["conv"] == "changed" and status["drop"] == "added" and status["image"] == "same"
    assert status["pool"] == "removed"
    conv = next(row for row in d["layers"] if row[0] == "conv")
    assert "filters: 4 → 8" in conv[4]


def test_runs_are_listed_newest_first_and_a_stopped_one_is_resumable(tmp_path):
    old, new = tmp_path / "20260101-100000-old", tmp_path / "20260102-100000-new"
    tiny_cnn_project(tmp_path, epochs=3).save(old / PROJECT_FILE)
    (old / HISTORY_FILE).write_text("epoch,loss,val_accuracy\n1,0.9,0.5\n2,0.7,0.75\n")
    (old / METRICS_FILE).write_text(json.dumps({"accuracy": 0.7, "epochs_completed": 2, "stopped_reason": "completed"}))
    (old / MODEL_FILE).write_bytes(b"not read")
    tiny_cnn_project(tmp_path, epochs=5).save(new / PROJECT_FILE)
    (new / CHECKPOINT_DIR).mkdir()
    (new / CHECKPOINT_DIR / STATE_FILE).write_text(json.dumps({"epoch": 1, "epochs": 5}))
    (tmp_path / "notes").mkdir()  # a folder that is no run is left out

    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == [new.name, old.name]
    fresh, done = runs
    assert fresh.resumable and not fresh.has_model and fresh.stopped_reason == "running or interrupted"
    assert not finished(fresh)
    assert done.best_val_accuracy == 0.75 and done.epochs_completed == 2 and done.epochs == 3
    assert finished(done) and not done.resumable and done.optimizer == "adam"
    assert read_history(old)[1] == {"epoch": 2, "loss": 0.7, "val_accuracy": 0.75}
    assert read_run(tmp_path / "notes") is None and list_runs(tmp_path / "missing") == []


def test_predictions_are_read_and_a_broken_file_is_named(tmp_path):
    assert read_predictions(tmp_path) is None  # an older run: none
    (tmp_path / PREDICTIONS_FILE).write_text(
        "index,path,label,label_index,predicted,predicted_index,confidence,p0,p1\n"
        "0,a.png,cat,0,dog,1,0.8,0.2,0.8\n"
    )
    (item,) = read_predictions(tmp_path)
    assert item["path"] == str(tmp_path / "a.png") and item["probabilities"] == [0.2, 0.8]
    assert confidence(item) == 0.8
    assert confidence({"predicted_index": 1, "probabilities": [0.3, 0.7]}) == 0.7  # a misclassified.json item
    (tmp_path / PREDICTIONS_FILE).write_text("index,label\n0,cat\n")
    with pytest.raises(PredictionsError, match=r"predictions.csv: missing columns path, label_index"):
        read_predictions(tmp_path)


def test_reading_runs_imports_neither_keras_nor_qt():
    code = (
        "import sys, app.engine.run_folder, app.engine.evaluate\n"
        "bad = [m for m in ('keras', 'tensorflow', 'PySide6') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
