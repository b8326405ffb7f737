"""``layerlab train`` under SIGTERM, a NaN run and hostile run folders: exit codes and one-line messages."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.graph import sequential
from app.core.project import Project
from app.core.settings import TrainSettings
from tests.cli.test_cli_train import train_cli

ROOT = Path(__file__).resolve().parents[2]


def two_class_folder(root: Path, per_class: int = 12) -> Path:
    """8x8 grayscale PNGs; the bright half (left or right) is the class."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(["left", "right"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 60, (8, 8), dtype=np.uint8)
            img[:, 4 * k : 4 * k + 4] += 150
            Image.fromarray(img, "L").save(root / name / f"{i}.png")
    return root


def mlp_project(path: Path, **training) -> Path:
    graph = sequential(
        [
            ("InputLayer", {"shape": [8, 8, 1]}, "image"),
            ("Flatten", {}, "flat"),
            ("Dense", {"units": 16, "activation": "relu"}, "hidden"),
            ("Dense", {"units": 2, "activation": "softmax"}, "out"),
        ]
    )
    settings = {"epochs": 2, "batch_size": 2, "learning_rate": 0.003, **training}
    Project(graph=graph, training=TrainSettings(**settings), name="mlp8").save(path)
    return path


def test_sigterm_stops_like_ctrl_c_and_keeps_the_run(tmp_path):
    pytest.importorskip("keras")
    data = two_class_folder(tmp_path / "data")
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "app", "train", str(mlp_project(tmp_path / "p.layerlab")), "--data", str(data),
           "--epochs", "1000", "--out", str(run_dir)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "checkpoint" / "state.json").exists():  # the first epoch is on disk
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err[-2000:]
    said = [line for line in err.splitlines() if "SIGTERM" in line]
    assert len(said) == 1 and said[0].startswith("SIGTERM: stopping after this batch"), err
    assert "Traceback" not in err
    assert "stopped by user" in out and "(best epoch " in out
    for name in ("model.keras", "metrics.json", "history.csv", "predictions.csv", "checkpoint/state.json"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert metrics["stopped_reason"] == "stopped_by_user" and 1 <= metrics["epochs_completed"] < 1000
    assert state["epoch"] == metrics["epochs_completed"]
    with open(run_dir / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == sum(map(sum, metrics["confusion_matrix"])) > 0
    assert all(Path(r["path"]).is_absolute() and Path(r["path"]).is_file() for r in rows)
    assert all(Path(r["path"]).parent.name == r["label"] for r in rows)


def test_a_run_that_never_has_a_finite_epoch_exits_1_without_a_model(capsys, tmp_path):
    pytest.importorskip("keras")
    data = two_class_folder(tmp_path / "data")
    project = mlp_project(tmp_path / "p.layerlab", optimizer="sgd", learning_rate=1e30, batch_size=32)
    code, out, err = train_cli(capsys, str(project), "--data", str(data), "--out", str(tmp_path / "run"))
    assert code == 1, err
    line = out.splitlines()[-1]
    assert line.startswith("nan loss: epoch ") and "model.keras not written" in line and "best epoch" not in line
    assert not (tmp_path / "run" / "model.keras").exists()


def test_a_folder_of_other_files_and_a_hostile_checkpoint_exit_2(capsys, tmp_path):
    pytest.importorskip("keras")
    data = two_class_folder(tmp_path / "data")
    project = mlp_project(tmp_path / "p.layerlab", epochs=1)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "history.csv").write_text("mine\n")
    code, _, err = train_cli(capsys, str(project), "--data", str(data), "--out", str(mine))
    assert code == 2 and err.strip().splitlines() == [f"error: {mine}: is not empty and holds no run to continue: "
                                                      "choose a new or empty folder"]  # fmt: skip
    assert (mine / "history.csv").read_text() == "mine\n"

    run_dir = tmp_path / "run"
    assert train_cli(capsys, str(project), "--data", str(data), "--out", str(run_dir))[0] == 0
    state_path = run_dir / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    state["weights"] = os.path.relpath(tmp_path / "data" / "left" / "0.png", run_dir / "checkpoint")
    state_path.write_text(json.dumps(state))
    code, _, err = train_cli(capsys, str(project), "--resume", str(run_dir), "--epochs", "2")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: {state_path}: malformed checkpoint: 'weights'") and "outside" in lines[0]
