"""TrainingPanel end to end on a tiny network and a tiny PNG folder (3 classes x 8 images)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

pytest.importorskip("keras")
pytest.importorskip("pyqtgraph")
Image = pytest.importorskip("PIL.Image")

from app.core.project import Project  # noqa: E402
from app.engine import events as ev  # noqa: E402
from app.engine.run_folder import read_run  # noqa: E402
from app.gui.runs_panel import RunsPanel  # noqa: E402
from app.gui.train_panel import TrainingPanel, loss_choices, output_head  # noqa: E402
from app.gui.worker import plain_reason  # noqa: E402
from tests.projects import tiny_cnn_project  # noqa: E402

CLASSES = ("circle", "square", "triangle")


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir()
        for i in range(8):
            img = rng.integers(0, 60, (12, 12), dtype=np.uint8)
            img[:, c * 4 : (c + 1) * 4] = 220
            Image.fromarray(img, mode="L").save(root / name / f"{i}.png")
    return root




def make_panel(qtbot, project: Project, runs: Path) -> TrainingPanel:
    panel = TrainingPanel(lambda: project, runs_dir=runs)
    qtbot.addWidget(panel)
    panel.resize(1100, 650)
    panel.show()
    return panel


def wait_batches(qtbot, panel: TrainingPanel, n: int = 1) -> None:
    qtbot.waitUntil(lambda: panel.batch_events >= n, timeout=60_000)


def test_train_one_epoch_plots_progress_and_runs_list(qtbot, png_folder, tmp_path, monkeypatch):
    import gc

    from app.gui import worker as worker_module

    project = tiny_cnn_project(png_folder)
    panel = make_panel(qtbot, project, tmp_path / "runs")
    seen: list[str] = []
    during: list[tuple[int, int, int]] = []
    hold = worker_module._FitCollector.hold
    monkeypatch.setattr(worker_module._FitCollector, "hold", lambda self: (hold(self), during.append(gc.get_threshold())))
    panel.worker.event.connect(lambda e: seen.append(e.kind))
    thresholds = gc.get_threshold()
    assert panel.findChild(type(panel.train_button), "trainButton") is panel.train_button
    with qtbot.waitSignal(panel.runFinished, timeout=120_000) as blocker:
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
        assert not panel.train_button.isEnabled()  # a second Train is not possible
        assert panel.train() is False
    result = blocker.args[0]
    assert result.stopped_reason == "completed" and result.epochs_completed == 1
    # no full collection during the fit (it would stall the window); the collector is back after it
    assert during and during[0][2] > 1_000_000 and gc.get_threshold() == thresholds
    assert seen[0] in ("info", "run_started") and "epoch_end" in seen and seen[-1] == "finished"
    panel.curves.redraw()
    x, _ = panel.curves.loss.c_train.getData()
    assert x is not None and len(x) == 1
    assert panel.curves.loss.batch.n > 0 and panel.curves.accuracy.epoch_val.n == 1
    assert panel.progress.value() == panel.progress.maximum()
    assert panel.train_button.isEnabled() and not panel.stop_button.isEnabled()
    runs = RunsPanel(tmp_path / "runs")
    qtbot.addWidget(runs)
    assert str(result.run_dir) in runs.run_dirs()
    info = read_run(result.run_dir)
    assert info.optimizer == "adam" and info.best_val_accuracy is not None and info.epochs == 1


def test_stop_ends_within_a_batch(qtbot, png_folder, tmp_path):
    project = tiny_cnn_project(png_folder, epochs=500, batch_size=2)
    panel = make_panel(qtbot, project, tmp_path / "runs")
    with qtbot.waitSignal(panel.runFinished, timeout=120_000) as blocker:
        assert panel.train()
        wait_batches(qtbot, panel)
        t0 = time.perf_counter()
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.stopped_reason == "stopped_by_user"
    assert result.epochs_completed < 500
    assert time.perf_counter() - t0 < 30
    assert "Stopped" in panel.status_label.text()


def test_pause_holds_the_batch_count(qtbot, png_folder, tmp_path):
    project = tiny_cnn_project(png_folder, epochs=500, batch_size=2)
    panel = make_panel(qtbot, project, tmp_path / "runs")
    paused: list[ev.Paused] = []
    panel.worker.event.connect(lambda e: paused.append(e) if isinstance(e, ev.Paused) else None)
    assert panel.train()
    wait_batches(qtbot, panel)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: bool(paused), timeout=10_000)
    qtbot.wait(200)  # a batch event emitted just before the pause may still be queued
    held = panel.batch_events
    qtbot.wait(1000)
    assert panel.batch_events == held
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.pause_button.text() == "Pause"
    wait_batches(qtbot, panel, held + 1)
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        panel.stop()
    assert blocker.args[0].stopped_reason == "stopped_by_user"


def test_paused_run_tells_one_truth_everywhere(qtbot, png_folder, tmp_path):
    """Progress bar, status line, ETA line and the status-bar summary all say where it paused."""
    project = tiny_cnn_project(png_folder, epochs=500, batch_size=2)
    panel = make_panel(qtbot, project, tmp_path / "runs")
    summaries: list[str] = []
    panel.runStateChanged.connect(summaries.append)
    paused: list[ev.Paused] = []
    panel.worker.event.connect(lambda e: paused.append(e) if isinstance(e, ev.Paused) else None)
    assert panel.train()
    wait_batches(qtbot, panel, 3)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.progress.format().startswith("Pausing")
    qtbot.waitUntil(lambda: bool(paused), timeout=10_000)
    qtbot.wait(300)  # the 10 Hz painter has run since
    e = paused[0]
    where = f"epoch {e.epoch}/500 · batch {e.batch}/{panel.state.steps}"
    assert panel.progress.format() == f"Paused · {where}"
    assert f"epoch {e.epoch}, batch {e.batch}" in panel.status_label.text()
    assert summaries[-1] == f"Paused at {where}"
    stats = panel.stats_label.text()
    assert "ETA — paused" in stats and not re.search(r"ETA \d", stats)
    qtbot.wait(1100)
    assert panel.stats_label.text() == stats  # elapsed time stands still while paused
    assert panel.pause_button.text() == "Resume" and panel.stop_button.isEnabled()
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert summaries[-1].startswith("Training: ") and panel.pause_button.text() == "Pause"
    with qtbot.waitSignal(panel.runFinished, timeout=60_000):
        panel.stop()
        assert panel.progress.format().startswith("Stopping") and not panel.pause_button.isEnabled()
    assert summaries[-1] == "" and panel.train_button.isEnabled()
    assert panel.progress.format().startswith("Stopped")


def test_failed_run_shows_reason_not_traceback(qtbot, png_folder, tmp_path):
    # An absurd (but valid) learning rate: the weights overflow and the loss becomes NaN at once.
    project = tiny_cnn_project(png_folder, optimizer="sgd", learning_rate=1e36, epochs=20, batch_size=2)
    panel = make_panel(qtbot, project, tmp_path / "runs")
    with qtbot.waitSignal(panel.runFailed, timeout=120_000) as blocker:
        assert panel.train()
    reason = blocker.args[0]
    assert "NaN" in reason and "Traceback" not in reason
    assert panel.fault_label.isVisible() and "NaN" in panel.fault_label.text()
    assert panel.train_button.isEnabled()


def test_bad_data_is_one_plain_line(qtbot, tmp_path):
    project = tiny_cnn_project(tmp_path / "no-such-folder")
    panel = make_panel(qtbot, project, tmp_path / "runs")
    with qtbot.waitSignal(panel.runFailed, timeout=60_000) as blocker:
        assert panel.train()
    assert "Traceback" not in blocker.args[0] and "\n" not in blocker.args[0]
    assert panel.fault_label.isVisible()


def test_close_during_run_exits_within_3s(qtbot, png_folder, tmp_path, monkeypatch):
    project = tiny_cnn_project(png_folder, epochs=500, batch_size=2)
    panel = make_panel(qtbot, project, tmp_path / "runs")
    assert panel.train()
    wait_batches(qtbot, panel)
    asked: list[bool] = []
    monkeypatch.setattr(panel, "_confirm_close", lambda: asked.append(True) or True)
    t0 = time.perf_counter()
    assert panel.can_close()
    took = time.perf_counter() - t0
    print(f"\nclose during a run: worker ended in {took:.2f} s")
    assert asked and took < 3.0
    assert not panel.worker._thread or not panel.worker._thread.is_alive()


def test_edits_during_run_apply_to_next_run(qtbot, png_folder, tmp_path):
    project = tiny_cnn_project(png_folder, epochs=500, batch_size=2)
    panel = make_panel(qtbot, project, tmp_path / "runs")
    assert panel.train()
    wait_batches(qtbot, panel)
    panel.epochs_spin.setValue(7)
    assert project.training.epochs == 7
    assert panel.notice_label.isVisible()
    assert panel.shutdown(5.0)


def test_loss_choices_follow_the_output():
    soft = loss_choices(10, "softmax")
    assert [n for n, ok, _ in soft if ok] == ["sparse_categorical_crossentropy", "categorical_crossentropy"]
    assert "softmax" in dict((n, why) for n, _, why in soft)["binary_crossentropy"]
    sig = loss_choices(1, "sigmoid")
    assert sig[0][0] == "binary_crossentropy" and sig[0][1]
    assert not dict((n, ok) for n, ok, _ in sig)["sparse_categorical_crossentropy"]
    project = tiny_cnn_project(Path("x"))
    assert output_head(project) == (3, "softmax")


def test_loss_combo_disables_incompatible(qtbot, tmp_path):
    project = tiny_cnn_project(tmp_path)
    panel = make_panel(qtbot, project, tmp_path / "runs")
    model = panel.loss_combo.model()
    i = panel.loss_combo.findData("binary_crossentropy")
    assert not model.item(i).isEnabled()
    assert "softmax" in panel.loss_combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
    assert panel.loss_combo.itemData(0) == "sparse_categorical_crossentropy"
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
    assert project.training.optimizer == "sgd"


def test_plain_reason():
    assert "NaN" in plain_reason("nan_loss: epoch 1 batch 3")
    assert "Out of memory" in plain_reason("error: ResourceExhaustedError: OOM when allocating tensor")


def test_a_stopped_run_is_continued_from_the_runs_list(qtbot, png_folder, tmp_path):
    from app.engine import train
    from app.engine.control import RunControl

    project = tiny_cnn_project(png_folder, epochs=3)
    control = RunControl()  # stopped in the second epoch, from the training thread itself
    first = train.run(
        project, control=control, out_dir=tmp_path / "runs" / "first", event_interval=0,
        events=lambda e: isinstance(e, ev.BatchEnd) and e.epoch == 2 and control.stop(),
    )  # fmt: skip
    assert first.stopped_reason == "stopped_by_user" and first.epochs_completed == 1
    panel = make_panel(qtbot, project, tmp_path / "runs")
    epochs: list[int] = []
    panel.worker.event.connect(lambda e: isinstance(e, ev.EpochEnd) and epochs.append(e.epoch))

    runs = RunsPanel(tmp_path / "runs")
    qtbot.addWidget(runs)
    assert [r.resumable for r in runs.runs] == [True]
    runs.select([str(first.run_dir)])
    assert runs.continue_button.isEnabled()
    asked: list[str] = []
    runs.continueRequested.connect(asked.append)
    runs.set_busy(True)
    assert not runs.continue_button.isEnabled()  # one run at a time
    runs.set_busy(False)
    qtbot.mouseClick(runs.continue_button, Qt.MouseButton.LeftButton)
    assert asked == [str(first.run_dir)]

    with qtbot.waitSignal(panel.runFinished, timeout=120_000) as blocker:
        assert panel.continue_run(asked[0])
        panel.curves.redraw()
        assert panel.curves.loss.epoch_train.n == 1  # the earlier epoch is drawn before the new ones
    result = blocker.args[0]
    assert result.stopped_reason == "completed" and result.epochs_completed == 3
    assert str(result.run_dir) == str(first.run_dir) and epochs == [2, 3]
    panel.curves.redraw()
    assert panel.curves.loss.epoch_train.n == 3
    runs.refresh()
    assert not runs.runs[0].resumable and runs.runs[0].epochs_completed == 3


def problem_lines(panel) -> dict[str, object]:
    from app.gui.diagnostics_panel import SettingProblemLine

    return {line.problem.setting: line for line in panel.findChildren(SettingProblemLine) if line.isVisible()}


def test_wrong_settings_from_a_file_show_on_their_widgets_and_keep_train_off(qtbot, tmp_path):
    from dataclasses import replace

    project = tiny_cnn_project(tmp_path)
    project.training = replace(
        project.training, learning_rate=float("nan"), epochs=-3, batch_size="fast", optimizer=7, momentum="x"
    )
    panel = make_panel(qtbot, project, tmp_path / "runs")  # refreshing from it does not crash
    qtbot.wait(20)
    lines = problem_lines(panel)
    for setting, widget in (("training.learning_rate", panel.lr_spin), ("training.epochs", panel.epochs_spin),
                            ("training.batch_size", panel.batch_spin), ("training.optimizer", panel.optimizer_combo)):
        assert widget.property("settingProblem") is True, setting
        assert setting.split(".")[-1] in widget.toolTip()
        assert setting in lines and lines[setting].text.text().startswith("⚠")
        # the message line sits right under its widget
        assert 0 <= lines[setting].mapTo(panel, lines[setting].rect().topLeft()).y() - widget.mapTo(panel, widget.rect().bottomLeft()).y() < 20
    assert "training.momentum" in lines  # no widget here: listed above Train, with its fix
    assert panel.epochs_spin.value() == 1 and panel.batch_spin.value() == 32  # nearest value / the default
    assert not panel.train_button.isEnabled() and "learning_rate" in panel.train_button.toolTip()
    assert panel.problems_label.isVisible() and "5 settings" in panel.problems_label.text()
    assert panel.train() is False and panel.fault_label.isVisible()

    lr = lines["training.learning_rate"]
    assert lr.fix_button.text() == "Set learning_rate to 0.001"
    qtbot.mouseClick(lr.fix_button, Qt.MouseButton.LeftButton)  # one click fixes that one setting only
    assert project.training.learning_rate == 0.001 and project.training.epochs == -3
    assert panel.lr_spin.property("settingProblem") is False and "training.learning_rate" not in problem_lines(panel)
    panel.epochs_spin.setValue(4)  # an edit writes its own setting, leaving the others as they are
    assert project.training.epochs == 4 and project.training.batch_size == "fast"
    for setting in ("training.batch_size", "training.optimizer", "training.momentum"):
        qtbot.mouseClick(problem_lines(panel)[setting].fix_button, Qt.MouseButton.LeftButton)
    assert panel.problems() == [] and problem_lines(panel) == {}
    assert panel.train_button.isEnabled() and not panel.problems_label.isVisible()
    assert project.training.optimizer == "adam" and project.training.batch_size == 32
