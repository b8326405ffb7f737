"""check reports what train and export would refuse; hostile files are one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from app.cli import main
from app.core.graph import sequential
from app.core.project import Project
from app.core.settings import TrainSettings

GOOD = [("InputLayer", {"shape": [8]}), ("Dense", {"units": 16, "activation": "relu"}),
        ("Dense", {"units": 10, "activation": "softmax"})]


def write(tmp_path, doc, name="p.layerlab"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def good_doc(**training):
    d = Project(graph=sequential(GOOD), training=TrainSettings()).to_dict()
    d["training"].update(training)
    return d


def one_error_line(err, path):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {path}: ") and "Traceback" not in err and "RecursionError" not in err
    return lines[0]


@pytest.mark.parametrize(
    "text, words",
    [
        (lambda: json.dumps(good_doc())[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper"),
        (lambda: json.dumps(good_doc())[:-1] + ', "n": ' + "1" * 5001 + "}", "digits"),
        (lambda: json.dumps(good_doc()).replace('"name": "dense"', '"name": "de\\udc80nse"'), "surrogate"),
        (lambda: json.dumps(good_doc()).replace('"name": "dense"', '"name": "de\\u0000nse"'), "NUL"),
    ],
)
def test_hostile_project_files_exit_2_with_one_line(capsys, tmp_path, text, words):
    path = write(tmp_path, text())
    code = main(["check", str(path)])
    _, err = capsys.readouterr()
    assert code == 2 and words in one_error_line(err, path)


def test_a_100000_deep_file_in_a_real_process(tmp_path):
    path = write(tmp_path, '{"format": "layerlab-project", "version": 1, "graph": ' + "[" * 100_000 + "]" * 100_000 + "}")
    proc = subprocess.run([sys.executable, "-m", "app", "check", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "nested deeper" in one_error_line(proc.stderr, path)


def test_check_reports_settings_as_errors_tied_to_the_setting(capsys, tmp_path):
    path = write(tmp_path, good_doc(learning_rate=float("nan"), epochs=-3, optimizer="fast", batch_size=0))
    code = main(["check", str(path), "--json"])
    out, _ = capsys.readouterr()
    result = json.loads(out)
    assert code == 1 and result["ok"] is False
    rows = {e["setting"]: e for e in result["errors"]}
    assert set(rows) == {"training.learning_rate", "training.epochs", "training.optimizer", "training.batch_size"}
    assert rows["training.epochs"]["layer"] is None and rows["training.epochs"]["fix"] == "Set epochs to 10"
    code = main(["check", str(path)])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "error [training.learning_rate]: learning_rate must be a finite number greater than 0 (got nan)" in out
    assert "FAILED (4 errors" in out


def test_check_reports_duplicate_names_on_the_layer(capsys, tmp_path):
    d = good_doc()
    for node in d["graph"]["nodes"][1:]:
        node["name"] = "same"
    code = main(["check", str(write(tmp_path, d)), "--json"])
    result = json.loads(capsys.readouterr()[0])
    assert code == 1
    (row,) = [e for e in result["errors"] if e["layer"] == "same"]
    assert row["setting"] is None and row["fix"] == "Rename to 'same_1'"


def test_train_refuses_invalid_settings_before_doing_anything(capsys, tmp_path):
    path = write(tmp_path, good_doc(epochs=-3))
    out_dir = tmp_path / "run"
    code = main(["train", str(path), "--data", "sample:digits", "--out", str(out_dir)])
    _, err = capsys.readouterr()
    assert code == 2 and not out_dir.exists()
    assert "training.epochs: epochs must be a whole number" in one_error_line(err, path)


def test_check_on_a_10000_layer_chain_is_quick(tmp_path):
    nodes = [{"id": "n0", "class_name": "InputLayer", "name": "input", "params": {"shape": [8]}}]
    nodes += [{"id": f"n{i}", "class_name": "Dense", "name": f"d{i}", "params": {"units": 4}} for i in range(1, 10_001)]
    doc = good_doc(loss="mse")
    doc["graph"] = {"nodes": nodes, "edges": [{"src": f"n{i}", "dst": f"n{i + 1}"} for i in range(10_000)]}
    path = write(tmp_path, doc, "big.layerlab")
    env = {**os.environ, "LAYERLAB_CACHE": str(tmp_path / "cache")}  # a cold shape cache: Keras builds the layers
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "app", "check", str(path)], capture_output=True, text=True,
                          timeout=300, env=env)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert f"{path}: OK" in proc.stdout
    assert elapsed < 15  # ~3.5 s here including the Keras import (was ~35 s); slack for a busy machine
