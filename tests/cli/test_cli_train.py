"""``layerlab train``: arguments, progress output, exit codes, a real run on sample:digits."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
from pathlib import Path

import pytest

from app.cli.train import ProgressPrinter, add_train_parser, summary_line
from app.core.graph import sequential
from app.core.project import Project
from app.core.settings import TrainSettings
from app.engine import events as ev
from app.engine.stderr_filter import NOISE

ROOT = Path(__file__).resolve().parents[2]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layerlab")
    p.add_argument("--debug", action="store_true")
    add_train_parser(p.add_subparsers(dest="command"))
    return p


def train_cli(capsys, *argv):
    args = parser().parse_args(["train", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_arguments_follow_the_spec():
    a = parser().parse_args(
        ["train", "p.layerlab", "--data", "sample:digits", "--epochs", "3", "--batch-size", "16",
         "--learning-rate", "0.01", "--optimizer", "SGD", "--out", "r", "--resume", "q"]
    )  # fmt: skip
    assert (a.project, a.data, a.epochs, a.batch_size, a.learning_rate, a.optimizer, a.out, a.resume) == (
        "p.layerlab", "sample:digits", 3, 16, 0.01, "sgd", "r", "q"
    )  # fmt: skip
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "p.layerlab", "--optimizer", "nope"])


def events_of_a_short_run():
    return [
        ev.RunStarted(run_dir="r", epochs=2, initial_epoch=0, steps_per_epoch=4, batch_size=8,
                      train_samples=32, validation_samples=8),  # fmt: skip
        ev.Info("output layer 'out' adapted from 10 to 3 units to match the dataset's 3 classes"),
        ev.BatchEnd(epoch=1, batch=2, steps=4, loss=0.9, metrics={"accuracy": 0.5}, learning_rate=0.001, samples_per_s=100.0),
        ev.EpochEnd(epoch=1, logs={"loss": 0.8, "accuracy": 0.6, "val_loss": 0.7, "val_accuracy": 0.65,
                                    "learning_rate": 0.001}, seconds=1.5),  # fmt: skip
        ev.Finished(run_dir="r", metrics={}),
    ]


def test_progress_bar_on_a_terminal_redraws_in_place():
    err, out = io.StringIO(), io.StringIO()
    printer = ProgressPrinter(err, out, tty=True)
    for e in events_of_a_short_run():
        printer(e)
    text = err.getvalue()
    assert "\repoch 1/2 [" in text and "2/4 loss 0.9000 acc 0.5000" in text and "100 img/s ETA 0:" in text
    assert "epoch 1/2  loss 0.8000  accuracy 0.6000  val_loss 0.7000  val_accuracy 0.6500  lr 0.001  1.5s" in text
    assert "adapted from 10 to 3 units" in out.getvalue()


def test_plain_lines_when_not_a_terminal():
    err, out = io.StringIO(), io.StringIO()
    printer = ProgressPrinter(err, out, tty=False)
    for e in events_of_a_short_run():
        printer(e)
    text = err.getvalue()
    assert "\r" not in text and "\033" not in text
    assert text.splitlines()[-1].startswith("epoch 1/2  loss 0.8000")


def test_missing_project_is_exit_2(capsys, tmp_path):
    code, _, err = train_cli(capsys, str(tmp_path / "nope.layerlab"))
    assert code == 2 and "nope.layerlab" in err and "not found" in err


def small_project(path, units=3):
    graph = sequential(
        [
            ("InputLayer", {"shape": [28, 28, 1]}, "image"),
            ("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2, "activation": "relu"}, "conv"),
            ("Flatten", {}, "flat"),
            ("Dense", {"units": units, "activation": "softmax"}, "out"),
        ]
    )
    project = Project(graph=graph, training=TrainSettings(epochs=5, batch_size=64, learning_rate=0.003), name="small")
    project.save(path)
    return path


def test_unwritable_out_is_exit_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = train_cli(capsys, str(small_project(tmp_path / "p.layerlab")), "--data", "sample:digits",
                             "--out", str(blocker / "run"))  # fmt: skip
    assert code == 2 and str(blocker / "run") in err and "not writable" in err


def test_train_on_sample_digits_then_resume(capsys, tmp_path):
    pytest.importorskip("keras")
    project = small_project(tmp_path / "p.layerlab")
    run_dir = tmp_path / "run"
    code, out, err = train_cli(capsys, str(project), "--data", "sample:digits", "--epochs", "1", "--out", str(run_dir))
    assert code == 0, err
    assert "output layer 'out' adapted from 3 to 10 units to match the dataset's 10 classes" in out
    assert "completed: 1 epoch" in out and str(run_dir) in out
    assert "epoch 1/1" in err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stopped_reason"] == "completed" and len(metrics["classes"]) == 10
    assert metrics["accuracy"] > 0.5

    code, out, err = train_cli(capsys, str(project), "--resume", str(run_dir), "--epochs", "2")
    assert code == 0, err
    assert "carrying on after epoch 1" in err and "completed: 2 epochs" in out
    with open(run_dir / "history.csv", newline="") as fh:
        assert [r["epoch"] for r in csv.DictReader(fh)] == ["1", "2"]
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_completed"] == 2


def test_summary_line():
    class R:
        stopped_reason, epochs_completed, best_epoch, run_dir = "early_stopping", 3, 2, "runs/x"
        metrics = {"accuracy": 0.9, "loss": 0.25, "split": "validation"}

    assert summary_line(R) == "early stopping: 3 epochs, val_accuracy 0.9000, val_loss 0.2500 (best epoch 2); run folder runs/x"


def test_the_train_process_ends_quickly_with_everything_written(tmp_path):
    """``python -m app train`` skips the slow interpreter teardown, never the run folder."""
    import subprocess
    import sys

    pytest.importorskip("keras")
    project = small_project(tmp_path / "p.layerlab")
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "app", "train", str(project), "--data", "sample:digits", "--epochs", "1",
           "--out", str(run_dir)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL")}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "completed: 1 epoch" in r.stdout  # flushed before the quick exit
    assert not [line for line in r.stderr.splitlines() if NOISE.match(line.encode())], r.stderr[-2000:]
    for name in ("model.keras", "metrics.json", "history.csv", "classes.json", "misclassified.json"):
        assert (run_dir / name).is_file(), name
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_completed"] == 1
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    r = subprocess.run([sys.executable, "-m", "app", "predict", str(run_dir / "model.keras"), str(not_image)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 2 and str(not_image) in r.stderr  # the exit status survives the quick exit


def test_a_segmentation_network_is_refused_in_one_line_without_tensorflow_noise(tmp_path):
    import subprocess
    import sys

    pytest.importorskip("keras")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL")}
    cmd = [sys.executable, "-m", "app", "train", str(ROOT / "models" / "unet-mini.layerlab"), "--data",
           "sample:digits", "--epochs", "1", "--out", str(tmp_path / "run")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "segmentation" in lines[0], r.stderr
    assert not (tmp_path / "run").exists()
