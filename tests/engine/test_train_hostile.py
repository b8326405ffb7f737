"""A run that cannot keep or report garbage: NaN weights, foreign folders, hostile checkpoints."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

tf = pytest.importorskip("tensorflow")

from app.engine import events as ev  # noqa: E402
from app.engine import train  # noqa: E402
from tests.engine.test_train import CLASSES, SHAPE, Recorder, tiny_data, tiny_project  # noqa: E402


def huge_pixels() -> train.DataBundle:
    """Finite images so bright that one SGD step at a high rate overflows the weights to inf."""
    y = (np.arange(24) % 3).astype("int32")
    x = np.full((24, *SHAPE), 1e30, "float32")
    ds = tf.data.Dataset.from_tensor_slices
    return train.DataBundle(
        train=ds((x[:16], y[:16])).batch(16), validation=ds((x[16:], y[16:])).batch(8),
        class_names=list(CLASSES), train_count=16, validation_count=8, source="huge",
    )  # fmt: skip


@pytest.mark.parametrize(
    "data, rate",
    [
        (huge_pixels, 1e12),  # the first update makes the weights inf while the batch loss is finite
        (lambda: tiny_data(batch=48), 1e30),  # finite weights, but a NaN validation loss
    ],
    ids=["weights-overflow", "nan-validation-loss"],
)
def test_a_run_without_one_finite_epoch_writes_no_model(tmp_path, data, rate):
    rec = Recorder()
    run_dir = tmp_path / "run"
    result = train.run(
        tiny_project(units=3, epochs=3, optimizer="sgd", learning_rate=rate), data=data(), events=rec, out_dir=run_dir
    )
    assert result.failed and result.stopped_reason.startswith("nan_loss: epoch ")
    assert not result.model_written and result.best_epoch is None
    assert not (run_dir / "model.keras").exists() and not (run_dir / "predictions.csv").exists()
    assert result.problems == [
        "model.keras not written: no epoch ended with finite weights and a finite validation loss"
    ]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["problems"] == result.problems and metrics["best_epoch"] is None
    assert "confusion_matrix" not in metrics  # nothing was evaluated: there is no model
    assert len(rec.of(ev.Failed)) == 1
    state = run_dir / "checkpoint" / "state.json"
    if state.exists():  # a checkpoint, where one was written, holds finite weights only
        with np.load(run_dir / "checkpoint" / json.loads(state.read_text())["weights"]) as z:
            assert all(np.isfinite(z[k]).all() for k in z.files)


def test_the_first_epoch_whose_weights_overflow_is_not_recorded(tmp_path):
    rec = Recorder()
    result = train.run(
        tiny_project(units=3, epochs=3, optimizer="sgd", learning_rate=1e12),
        data=huge_pixels(),
        events=rec,
        out_dir=tmp_path / "run",
        event_interval=0,
    )
    assert result.stopped_reason == "nan_loss: epoch 1 batch 1" and result.epochs_completed == 0
    assert not rec.of(ev.EpochEnd) and not (tmp_path / "run" / "checkpoint" / "state.json").exists()


def test_a_full_disk_at_the_end_says_no_best_epoch(tmp_path):
    run_dir = tmp_path / "run"

    def block_model(event):  # a folder where model.keras goes: its rename fails like a full disk
        if isinstance(event, ev.EpochEnd) and event.epoch == 2:
            (run_dir / "model.keras" / "x").mkdir(parents=True)

    result = train.run(tiny_project(units=3), data=tiny_data(), events=block_model, out_dir=run_dir)
    assert result.failed and result.stopped_reason.startswith("error: model.keras not written")
    assert not result.model_written and result.best_epoch is None
    from app.cli.train import summary_line

    line = summary_line(result)
    assert "best epoch" not in line and "val_accuracy" not in line and "model.keras not written" in line
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["best_epoch"] is None and metrics["epochs_completed"] == 2


def test_predictions_csv_holds_every_validation_image(tmp_path):
    run_dir = tmp_path / "run"
    result = train.run(tiny_project(units=3), data=tiny_data(), out_dir=run_dir)
    assert result.model_written and result.best_epoch in (1, 2)
    with open(run_dir / "predictions.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "index", "path", "label", "label_index", "predicted", "predicted_index", "confidence", "p0", "p1", "p2"
    ]  # fmt: skip
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [int(r["index"]) for r in body] == list(range(12))
    truth = [int(y) for _, y in tiny_data().validation.unbatch()]
    assert [int(r["label_index"]) for r in body] == truth
    assert all(r["path"] == "" for r in body)  # in-memory data: no files
    for r in body:
        p = [float(r[f"p{k}"]) for k in range(3)]
        assert sum(p) == pytest.approx(1.0, abs=1e-4)
        assert int(r["predicted_index"]) == int(np.argmax(p)) and float(r["confidence"]) == max(p)
        assert r["label"] == CLASSES[int(r["label_index"])] and r["predicted"] == CLASSES[int(r["predicted_index"])]
        assert all(len(r[f"p{k}"].partition(".")[2]) <= 6 for k in range(3))
    wrong = json.loads((run_dir / "misclassified.json").read_text())
    assert [i["index"] for i in wrong["items"]] == [
        int(r["index"]) for r in body if r["label_index"] != r["predicted_index"]
    ]
    assert result.metrics["confusion_matrix"] == [
        [sum(1 for r in body if (int(r["label_index"]), int(r["predicted_index"])) == (i, j)) for j in range(3)]
        for i in range(3)
    ]


def test_a_folder_with_other_files_is_not_written_over(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "history.csv").write_text("my own numbers\n")
    (target / "project.layerlab").write_text("{}")
    with pytest.raises(train.RunFolderError, match="not empty"):
        train.run(tiny_project(), data=tiny_data(), out_dir=target)
    assert (target / "history.csv").read_text() == "my own numbers\n"
    assert sorted(p.name for p in target.iterdir()) == ["history.csv", "project.layerlab"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert train.run(tiny_project(units=3, epochs=1), data=tiny_data(), out_dir=empty).model_written


def test_a_one_class_dataset_is_refused_naming_it(tmp_path):
    folder = tmp_path / "only-cats"
    (folder / "cat").mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.full((12, 12), 20 * i, np.uint8), "L").save(folder / "cat" / f"{i}.png")
    with pytest.raises(train.TrainError) as info:
        train.run(tiny_project(), data=str(folder), out_dir=tmp_path / "run")
    assert str(folder) in str(info.value) and "at least two classes" in str(info.value)
    assert not (tmp_path / "run").exists()


# -- hostile checkpoints ---------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("done") / "run"
    train.run(tiny_project(units=3, epochs=1), data=tiny_data(), out_dir=run_dir)
    return run_dir


def tampered(finished_run: Path, tmp_path: Path, change) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir, symlinks=True)
    state_path = run_dir / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    change(state, run_dir)
    state_path.write_text(json.dumps(state))
    return run_dir


def _set(key, value):
    def change(state, run_dir):
        state[key] = value

    return change


def _best_file(name):
    def change(state, run_dir):
        state["best"]["file"] = name

    return change


def _link_out(state, run_dir):
    outside = run_dir.parent / "elsewhere.npz"
    shutil.copy(run_dir / "checkpoint" / state["weights"], outside)
    os.symlink(outside, run_dir / "checkpoint" / "link.npz")
    state["weights"] = "link.npz"


@pytest.mark.parametrize(
    "change, says",
    [
        (_set("weights", "../../../victim.npz"), "points outside the run folder"),
        (_set("weights", "/etc/passwd"), "points outside the run folder"),
        (_best_file("..\\..\\victim.npz"), "points outside the run folder"),
        (_link_out, "links outside the run folder"),
        (_set("weights", 7), "'weights' must name a file"),
        (_set("epoch", -1), "'epoch' must be a non-negative integer"),
        (_set("epoch", "1"), "'epoch' must be a non-negative integer"),
        (_set("epoch", True), "'epoch' must be a non-negative integer"),
        (_set("image_shape", None), "'image_shape'"),
        (_set("class_names", "cat"), "'class_names'"),
        (_set("history", [{"epoch": "x"}]), "'history'"),
    ],
    ids=["dotdot", "absolute", "windows-dotdot", "symlink", "not-a-name", "negative-epoch", "string-epoch",
         "bool-epoch", "no-shape", "names", "history"],  # fmt: skip
)
def test_a_hostile_state_json_is_refused_naming_it(finished_run, tmp_path, change, says):
    run_dir = tampered(finished_run, tmp_path, change)
    with pytest.raises(train.RunFolderError) as info:
        train.run(tiny_project(units=3, epochs=2), data=tiny_data(), resume=run_dir)
    assert info.value.path == str(run_dir / "checkpoint" / "state.json")
    assert says in info.value.reason and "\n" not in str(info.value)


def test_a_truncated_checkpoint_is_refused_naming_the_file(finished_run, tmp_path):
    run_dir = tampered(finished_run, tmp_path, lambda state, run_dir: None)
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    weights = run_dir / "checkpoint" / state["weights"]
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(train.RunFolderError) as info:
        train.run(tiny_project(units=3, epochs=2), data=tiny_data(), resume=run_dir)
    assert info.value.path == str(weights) and "cannot be read" in info.value.reason

    state_path = run_dir / "checkpoint" / "state.json"
    state_path.write_text(state_path.read_text()[:40])
    with pytest.raises(train.RunFolderError) as info:
        train.run(tiny_project(units=3, epochs=2), data=tiny_data(), resume=run_dir)
    assert info.value.path == str(state_path) and "cannot be read" in info.value.reason
