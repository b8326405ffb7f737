"""A training run end to end on tiny data: run folder, control, faults, resume, schedules."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.core.graph import sequential
from app.core.project import Project, load_project
from app.core.settings import OPTIMIZERS, SCHEDULES, Schedule, TrainSettings
from app.engine import events as ev
from app.engine.compile import class_weights, lr_curve, make_optimizer, make_schedule
from app.engine.control import RunControl
from app.engine.evaluate import evaluate_model, misclassified

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from app.engine import train  # noqa: E402  (after the Keras skip)

SHAPE = (12, 12, 1)
CLASSES = ["circle", "square", "triangle"]
SPEC_FILES = {
    "model.keras",
    "history.csv",
    "metrics.json",
    "classes.json",
    "project.layerlab",
    "misclassified.json",
    "predictions.csv",
    "checkpoint",
    "tensorboard",
}
EVALUATE_KEYS = {"loss", "accuracy", "classes", "confusion_matrix", "per_class"}


def tiny_data(n: int = 60, batch: int = 8, seed: int = 0) -> train.DataBundle:
    """Three classes told apart by which third of the image is bright; 80/20 split."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % len(CLASSES)).astype("int32")
    x = rng.uniform(0, 60, (n, *SHAPE)).astype("float32")
    for c in range(len(CLASSES)):
        x[y == c, :, c * 4 : (c + 1) * 4, :] += 180
    k = int(n * 0.8)
    ds = tf.data.Dataset.from_tensor_slices
    return train.DataBundle(
        train=ds((x[:k], y[:k])).shuffle(k, seed=seed).batch(batch),
        validation=ds((x[k:], y[k:])).batch(batch),
        class_names=list(CLASSES),
        train_count=k,
        validation_count=n - k,
        source="tiny",
    )


def tiny_project(units: int = 10, **training) -> Project:
    graph = sequential(
        [
            ("InputLayer", {"shape": list(SHAPE)}, "image"),
            ("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "relu"}, "conv"),
            ("MaxPooling2D", {"pool_size": 2}, "pool"),
            ("Flatten", {}, "flat"),
            ("Dense", {"units": units, "activation": "softmax"}, "dense_1"),
        ]
    )
    settings = {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, **training}
    return Project(graph=graph, training=TrainSettings(**settings), name="tiny")


def history_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


class Recorder:
    """An event sink that keeps everything and can run a hook on each event."""

    def __init__(self, hook=None):
        self.events: list[ev.Event] = []
        self.hook = hook

    def __call__(self, event):
        self.events.append(event)
        if self.hook:
            self.hook(event)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


# -- a whole run --------------------------------------------------------------------
def test_run_writes_every_spec_file_and_adapts_the_output(tmp_path):
    rec = Recorder()
    t0 = time.perf_counter()
    result = train.run(tiny_project(units=10), data=tiny_data(), events=rec, out_dir=tmp_path / "run")
    elapsed = time.perf_counter() - t0
    run_dir = tmp_path / "run"
    assert result.stopped_reason == "completed" and not result.failed
    assert result.epochs_completed == 2
    assert SPEC_FILES <= {p.name for p in run_dir.iterdir()}

    rows = history_rows(run_dir)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert list(rows[0])[:6] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    assert all(float(r["learning_rate"]) == pytest.approx(0.01) for r in rows)

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert EVALUATE_KEYS | {"epochs_completed", "stopped_reason"} <= set(metrics)
    assert metrics["epochs_completed"] == 2 and metrics["stopped_reason"] == "completed"
    assert metrics["classes"] == CLASSES and len(metrics["confusion_matrix"]) == 3
    assert sum(map(sum, metrics["confusion_matrix"])) == 12
    assert json.loads((run_dir / "classes.json").read_text()) == CLASSES

    # The output layer got one unit per class, and a line said so.
    infos = [e.message for e in rec.of(ev.Info)]
    assert "output layer 'dense_1' adapted from 10 to 3 units to match the dataset's 3 classes" in infos
    snapshot = load_project(run_dir / "project.layerlab")
    assert snapshot.graph.find("dense_1").params["units"] == 3

    # model.keras is self-contained: raw 0..255 pixels in, probabilities out.
    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.output_shape == (None, 3)
    assert any(type(layer).__name__ == "Rescaling" for layer in model.layers)
    x = np.asarray([b for b, _ in tiny_data().validation.unbatch().take(4)])
    p = model.predict_on_batch(x)
    assert np.allclose(np.sum(p, axis=1), 1.0, atol=1e-4)

    # Resume checkpoint and TensorBoard logs are there.
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2 and (run_dir / "checkpoint" / state["weights"]).is_file()
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))

    kinds = [type(e) for e in rec.events]
    assert kinds[0] in (ev.Info, ev.RunStarted) and kinds[-1] is ev.Finished
    assert len(rec.of(ev.EpochEnd)) == 2 and rec.of(ev.BatchEnd)
    assert len(rec.of(ev.BatchEnd)) <= elapsed / train.EVENT_INTERVAL_S + 2  # throttled by time
    batch = rec.of(ev.BatchEnd)[0]
    assert batch.steps == 6 and math.isfinite(batch.loss) and batch.learning_rate == pytest.approx(0.01)
    assert rec.of(ev.Finished)[0].metrics["stopped_reason"] == "completed"
    assert all(isinstance(e.to_dict(), dict) for e in rec.events)


def test_stop_from_another_thread_takes_effect_at_the_next_batch(tmp_path):
    control = RunControl()
    reached = threading.Event()
    seen_at_stop = []

    def hook(event):
        if isinstance(event, ev.BatchEnd) and event.epoch == 1 and event.batch == 3:
            reached.set()
            time.sleep(0.3)  # the other thread stops the run meanwhile

    rec = Recorder(hook)

    def stopper():
        reached.wait(60)
        control.stop()
        seen_at_stop.append(len(rec.of(ev.BatchEnd)))

    t = threading.Thread(target=stopper)
    t.start()
    result = train.run(
        tiny_project(units=3, epochs=5, batch_size=2),
        data=tiny_data(batch=2),
        events=rec,
        control=control,
        out_dir=tmp_path / "run",
        event_interval=0,
    )
    t.join()
    assert result.stopped_reason == "stopped_by_user" and not result.failed
    assert len(rec.of(ev.BatchEnd)) - seen_at_stop[0] <= 1
    assert result.epochs_completed == 0 and history_rows(tmp_path / "run") == []
    assert [type(e) for e in rec.events[-2:]] == [ev.Stopped, ev.Finished]
    # A stopped run still leaves a usable folder.
    assert (tmp_path / "run" / "model.keras").is_file()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["stopped_reason"] == "stopped_by_user" and EVALUATE_KEYS <= set(metrics)


def test_pause_holds_the_batch_count_then_resume_finishes(tmp_path):
    # Training on a worker thread, the way the GUI runs it; pause and resume from this one.
    control = RunControl()
    reached, paused = threading.Event(), threading.Event()

    def hook(event):
        if isinstance(event, ev.BatchEnd) and event.epoch == 1 and event.batch == 2:
            reached.set()
            time.sleep(0.2)  # the pause lands at the next batch boundary
        if isinstance(event, ev.Paused):
            paused.set()

    rec = Recorder(hook)
    box = {}
    worker = threading.Thread(
        target=lambda: box.update(
            result=train.run(
                tiny_project(units=3),
                data=tiny_data(),
                events=rec,
                control=control,
                out_dir=tmp_path / "run",
                event_interval=0,
            )
        )
    )
    worker.start()
    assert reached.wait(120)
    control.pause()
    assert paused.wait(60)
    before = len(rec.of(ev.BatchEnd))
    time.sleep(0.6)
    held = len(rec.of(ev.BatchEnd)) - before
    assert control.paused
    control.resume()
    worker.join(120)
    assert held == 0
    result = box["result"]
    assert result.stopped_reason == "completed" and result.epochs_completed == 2
    assert len(rec.of(ev.Paused)) == 1 and len(rec.of(ev.Resumed)) == 1
    assert rec.of(ev.EpochEnd)[0].seconds < 0.6 + 5  # paused time is left out


def diverging_data(from_pass: int = 2) -> train.DataBundle:
    """tiny_data whose training images are NaN from the ``from_pass``-th pass over them on."""
    good = tiny_data()
    batches = [(x.numpy(), y.numpy()) for x, y in good.train]
    passes = []

    def gen():
        passes.append(1)
        for x, y in batches:
            yield (x * np.nan if len(passes) >= from_pass else x), y

    ds = tf.data.Dataset.from_generator(gen, output_signature=good.train.element_spec)
    return train.DataBundle(**{**good.__dict__, "train": ds})


def test_nan_loss_stops_with_epoch_and_batch_and_keeps_the_last_good_checkpoint(tmp_path):
    # Sane images in epoch 1, NaN ones from epoch 2 on: the loss blows up there.
    project = tiny_project(units=3, epochs=4)
    rec = Recorder()
    result = train.run(project, data=diverging_data(), events=rec, out_dir=tmp_path / "run")
    assert result.failed
    m = re.fullmatch(r"nan_loss: epoch (\d+) batch (\d+)", result.stopped_reason)
    assert m, result.stopped_reason
    assert int(m.group(1)) >= 2 and result.epochs_completed == int(m.group(1)) - 1
    failed = rec.of(ev.Failed)
    assert len(failed) == 1 and failed[0].epoch == int(m.group(1)) and failed[0].batch == int(m.group(2))
    assert not rec.of(ev.Finished)
    run_dir = tmp_path / "run"
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == result.epochs_completed
    with np.load(run_dir / "checkpoint" / state["weights"]) as z:
        assert all(np.isfinite(z[k]).all() for k in z.files)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stopped_reason"] == result.stopped_reason
    model = keras.saving.load_model(run_dir / "model.keras")
    x = np.asarray([b for b, _ in tiny_data().validation.unbatch().take(2)])
    assert np.isfinite(model.predict_on_batch(x)).all()
    assert len(history_rows(run_dir)) == result.epochs_completed


def test_mixed_precision_class_weights_one_hot_loss_plateau_and_early_stopping(tmp_path):
    # A rate too small to change anything: the monitored metric stays flat, so
    # ReduceLROnPlateau halves the rate after epoch 2 and EarlyStopping ends epoch 3.
    project = tiny_project(
        units=3,
        epochs=8,
        learning_rate=1e-12,
        loss="categorical_crossentropy",
        mixed_precision=True,
        class_weights=True,
        early_stopping=True,
        early_stopping_patience=2,
        schedule=Schedule(name="reduce_on_plateau", patience=0, factor=0.5),
    )
    rec = Recorder()
    result = train.run(project, data=tiny_data(), events=rec, out_dir=tmp_path / "run")
    assert result.stopped_reason == "early_stopping" and result.epochs_completed == 3
    assert [type(e) for e in rec.events[-2:]] == [ev.Stopped, ev.Finished]
    rates = [float(r["learning_rate"]) for r in history_rows(tmp_path / "run")]
    assert rates == pytest.approx([1e-12, 1e-12, 5e-13])
    assert keras.config.dtype_policy().name == "float32"  # the policy did not leak out of the run
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"
    assert model.get_layer("conv").dtype_policy.name == "mixed_float16"
    assert result.metrics["loss"] is not None


CHILD = """
import os, signal, sys, time
sys.path.insert(0, {tests!r})
from test_train import tiny_data, tiny_project
from app.engine import events as ev, train

def die(event):
    if isinstance(event, ev.BatchEnd) and event.epoch == 3 and event.batch == 2:
        # Checkpoints are written by a background thread; on a loaded machine epoch 2's
        # may still be on its way. Wait (bounded) for its last file, history.csv, so the
        # kill lands mid-epoch 3 with epoch 2 on disk.
        history = os.path.join({out!r}, "history.csv")
        for _ in range(600):
            if os.path.exists(history) and len(open(history).read().splitlines()) >= 3:
                break
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGKILL)

train.run(tiny_project(units=3, epochs=4), data=tiny_data(), events=die, out_dir={out!r}, event_interval=0)
"""


def test_sigkill_mid_epoch_then_resume_carries_on(tmp_path):
    run_dir = tmp_path / "run"
    code = CHILD.format(tests=str(Path(__file__).parent), out=str(run_dir))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2
    assert [r["epoch"] for r in history_rows(run_dir)] == ["1", "2"]

    rec = Recorder()
    result = train.run(tiny_project(units=3, epochs=4), data=tiny_data(), events=rec, resume=run_dir)
    assert result.stopped_reason == "completed" and result.epochs_completed == 4
    started = rec.of(ev.RunStarted)[0]
    assert started.resumed and started.initial_epoch == 2 and started.epochs == 4
    assert [e.epoch for e in rec.of(ev.EpochEnd)] == [3, 4]
    assert [r["epoch"] for r in history_rows(run_dir)] == ["1", "2", "3", "4"]
    # The optimizer carried on from its saved step count (6 batches an epoch).
    assert any(re.search(r"optimizer step 12\b", e.message) for e in rec.of(ev.Info))
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    with np.load(run_dir / "checkpoint" / state["weights"]) as z:
        assert int(z["optimizer/00000"]) == 24  # iterations
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_completed"] == 4


@pytest.mark.parametrize("loss", ["mean_squared_error", "binary_crossentropy", "huber"])
def test_losses_that_compare_same_shape_tensors_get_one_hot_labels(tmp_path, loss):
    result = train.run(tiny_project(units=3, epochs=1, loss=loss), data=tiny_data(), out_dir=tmp_path / "run")
    assert result.stopped_reason == "completed" and not result.failed, result.messages
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["loss"] is not None and math.isfinite(metrics["loss"])  # the same loss, on one-hot rows
    assert sum(map(sum, metrics["confusion_matrix"])) == 12


def test_one_sigmoid_unit_trains_on_two_classes_with_binary_crossentropy(tmp_path):
    rng = np.random.default_rng(0)
    y = (np.arange(40) % 2).astype("int32")
    x = rng.uniform(0, 60, (40, *SHAPE)).astype("float32")
    x[y == 1, :, :6, :] += 180
    ds = tf.data.Dataset.from_tensor_slices
    bundle = train.DataBundle(
        train=ds((x[:32], y[:32])).batch(8), validation=ds((x[32:], y[32:])).batch(8),
        class_names=["no", "yes"], train_count=32, validation_count=8, source="two",
    )  # fmt: skip
    project = tiny_project(units=1, epochs=2, loss="binary_crossentropy")
    project.graph.set_param(project.graph.find("dense_1").id, "activation", "sigmoid")
    rec = Recorder()
    result = train.run(project, data=bundle, events=rec, out_dir=tmp_path / "run")
    assert result.stopped_reason == "completed", result.messages
    assert not [e for e in rec.of(ev.Info) if "adapted" in e.message]  # one unit stays one unit
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["classes"] == ["no", "yes"] and metrics["loss"] is not None
    assert sum(map(sum, metrics["confusion_matrix"])) == 8


def test_target_form_follows_the_loss_and_the_output():
    from app.engine.compile import target_form

    assert target_form("sparse_categorical_crossentropy", 10) == "sparse"
    assert target_form("categorical_crossentropy", 10) == "one_hot"
    assert target_form("mean_squared_error", 10) == "one_hot"
    assert target_form("binary_crossentropy", 1) == "column"


def test_a_folder_that_holds_a_run_is_not_overwritten(tmp_path):
    (tmp_path / "run" / "checkpoint").mkdir(parents=True)
    (tmp_path / "run" / "checkpoint" / "state.json").write_text("{}")
    with pytest.raises(train.RunFolderError, match="--resume"):
        train.run(tiny_project(), data=tiny_data(), out_dir=tmp_path / "run")


def test_unwritable_out_dir_is_a_run_folder_error_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rec = Recorder()
    target = blocker / "run"
    with pytest.raises(train.RunFolderError) as info:
        train.run(tiny_project(), data=tiny_data(), events=rec, out_dir=target)
    assert info.value.path == str(target) and str(target) in str(info.value)
    assert rec.events == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_out_dir_is_a_run_folder_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(train.RunFolderError, match="not writable"):
            train.run(tiny_project(), data=tiny_data(), out_dir=ro / "run")
    finally:
        ro.chmod(0o700)


def test_unreadable_data_is_a_train_error_and_leaves_no_folder(tmp_path):
    with pytest.raises(train.TrainError, match="nowhere"):
        train.run(tiny_project(), data=str(tmp_path / "nowhere"), out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_resume_of_a_folder_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(train.RunFolderError, match="no checkpoint"):
        train.run(tiny_project(), data=tiny_data(), resume=tmp_path)


# -- settings -> Keras ----------------------------------------------------------------
@pytest.mark.parametrize("name", SCHEDULES)
def test_every_schedule_gives_a_working_optimizer_and_a_sane_curve(name):
    settings = TrainSettings(
        learning_rate=0.1, schedule=Schedule(name=name, step_epochs=2, factor=0.5, warmup_epochs=2, min_learning_rate=0.001)
    )
    epochs, steps = 8, 5
    curve = lr_curve(settings, epochs, steps)
    assert len(curve) == epochs and all(math.isfinite(v) and 0 < v <= 0.1 + 1e-12 for v in curve)
    opt = make_optimizer(settings, steps, epochs)
    var = keras.Variable(np.ones(3, "float32"))
    opt.apply([keras.ops.ones(3)], [var])
    assert int(opt.iterations) == 1
    sched = make_schedule(settings, steps, epochs)
    keras_curve = [float(sched(e * steps)) if callable(sched) else float(sched) for e in range(epochs)]
    assert np.allclose(curve, keras_curve, rtol=1e-5), (curve, keras_curve)
    if name in ("constant", "reduce_on_plateau"):
        assert curve == [0.1] * epochs
    elif name == "step":
        assert curve[:4] == pytest.approx([0.1, 0.1, 0.05, 0.05])
    elif name == "warmup_cosine":
        assert curve[0] < curve[1] < curve[2] and curve[2] == pytest.approx(0.1) and curve[-1] < curve[2]
    else:
        assert all(a >= b for a, b in zip(curve, curve[1:], strict=False)) and curve[-1] < curve[0]
        assert min(curve) >= (0.001 if name == "cosine" else 0)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_builds(name):
    opt = make_optimizer(TrainSettings(optimizer=name, weight_decay=1e-4, nesterov=True), 10, 2)
    assert opt.__class__.__name__.lower() == name


def test_unknown_names_are_clear_errors():
    from app.engine.compile import CompileError, make_loss

    with pytest.raises(CompileError, match="unknown optimizer 'adamm'"):
        make_optimizer(TrainSettings(optimizer="adamm"), 1, 1)
    with pytest.raises(CompileError, match="schedule 'weird'"):
        make_schedule(TrainSettings(schedule=Schedule(name="weird")), 1, 1)
    with pytest.raises(CompileError, match="unknown loss"):
        make_loss("no_such_loss")
    with pytest.raises(train.TrainError, match="unknown optimizer"):
        train.apply_overrides(TrainSettings(), {"optimizer": "nope"})


def test_overrides_replace_only_what_is_given():
    s = train.apply_overrides(TrainSettings(), {"epochs": 3, "batch_size": None, "optimizer": "SGD", "learning_rate": 0.5})
    assert (s.epochs, s.batch_size, s.optimizer, s.learning_rate) == (3, 32, "sgd", 0.5)


def test_balanced_class_weights():
    w = class_weights([10, 30, 0])
    assert w[0] == pytest.approx(40 / (2 * 10)) and w[1] == pytest.approx(40 / (2 * 30)) and w[2] == 1.0


# -- evaluation ---------------------------------------------------------------------
class FixedModel:
    """Returns given probabilities batch by batch: the evaluation is checked by hand."""

    def __init__(self, probs):
        self.probs = np.asarray(probs, "float32")
        self.i = 0

    def predict_on_batch(self, x):
        n = len(x)
        out = self.probs[self.i : self.i + n]
        self.i += n
        return out


def test_evaluate_model_matches_a_hand_count():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = [
        [0.9, 0.05, 0.05],  # 0 -> 0
        [0.2, 0.7, 0.1],  # 0 -> 1  wrong
        [0.1, 0.8, 0.1],  # 1 -> 1
        [0.1, 0.6, 0.3],  # 1 -> 1
        [0.3, 0.3, 0.4],  # 2 -> 2
        [0.5, 0.2, 0.3],  # 2 -> 0  wrong
    ]
    x = np.zeros((6, 2, 2, 1), "float32")
    batches = [(x[:4], labels[:4]), (x[4:], labels[4:])]
    result = evaluate_model(FixedModel(probs), batches, ["a", "b", "c"])
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert result["accuracy"] == pytest.approx(4 / 6)
    expected_loss = -np.mean(np.log([0.9, 0.2, 0.8, 0.6, 0.4, 0.3]))
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-4)
    a, b, c = result["per_class"]
    assert a == {"label": "a", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert b["precision"] == pytest.approx(2 / 3) and b["recall"] == 1.0 and b["f1"] == pytest.approx(0.8)
    assert c["precision"] == 1.0 and c["recall"] == 0.5 and c["support"] == 2
    wrong = misclassified(FixedModel(probs), batches, ["a", "b", "c"])
    assert [(w["index"], w["label"], w["predicted"]) for w in wrong] == [(1, "a", "b"), (5, "c", "a")]
    assert wrong[0]["probabilities"] == pytest.approx([0.2, 0.7, 0.1])


def test_run_control_flags_and_waits():
    c = RunControl()
    assert not c.paused and not c.stopped and c.wait_if_paused(0)
    c.pause()
    t0 = time.perf_counter()
    assert c.paused and not c.wait_if_paused(0.05) and time.perf_counter() - t0 >= 0.04
    threading.Timer(0.05, c.resume).start()
    assert c.wait_if_paused(5) and not c.paused
    c.pause()
    c.stop()
    assert c.stopped and not c.paused and not c.wait_if_paused(0)
