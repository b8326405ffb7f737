"""The training panel: settings form, Train / Pause / Stop, progress and live curves.

Edits go straight to ``project.training`` (``dataclasses.replace``) and emit
``settingsChanged``; Train snapshots ``project.copy()`` and hands it to a
:class:`~app.gui.worker.TrainWorker`, so edits during a run apply to the next
run (a notice says so). Events update plain state; a 10 Hz timer paints the
progress bar and the stats line, the curves redraw on their own timer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import LOSSES, OPTIMIZERS, SCHEDULES, TrainSettings
from app.core.validation import check_settings, replace_setting
from app.engine import events as ev
from app.gui.diagnostics_panel import PROBLEM_STYLE, SettingProblemLine, mark_widget
from app.gui.staged import StagedBuild
from app.gui.worker import TrainWorker

__all__ = ["TrainingPanel", "loss_choices", "output_head"]

LOSS_LABELS = {
    "sparse_categorical_crossentropy": "Sparse categorical cross-entropy",
    "categorical_crossentropy": "Categorical cross-entropy (one-hot)",
    "binary_crossentropy": "Binary cross-entropy",
    "mean_squared_error": "Mean squared error",
    "mean_absolute_error": "Mean absolute error",
    "huber": "Huber",
}
OPTIMIZER_LABELS = {
    "adam": "Adam",
    "adamw": "AdamW",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "nadam": "Nadam",
    "adagrad": "Adagrad",
    "adamax": "Adamax",
    "lion": "Lion",
}
SCHEDULE_LABELS = {
    "constant": "Constant",
    "step": "Step decay",
    "exponential": "Exponential decay",
    "cosine": "Cosine",
    "warmup_cosine": "Warm-up + cosine",
    "reduce_on_plateau": "Reduce on plateau",
}
# training setting -> the panel's widget that shows it (problems are marked there)
SETTING_WIDGETS = {
    "loss": "loss_combo",
    "optimizer": "optimizer_combo",
    "learning_rate": "lr_spin",
    "schedule.name": "schedule_combo",
    "epochs": "epochs_spin",
    "batch_size": "batch_spin",
    "early_stopping": "early_check",
    "early_stopping_patience": "patience_spin",
}
CLASSIFICATION = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")
PASS_THROUGH = {"Dropout", "Activation", "Softmax", "ActivityRegularization", "GaussianNoise", "GaussianDropout", "AlphaDropout"}
PLAIN_STOP = {
    "completed": "Finished",
    "early_stopping": "Stopped early (no more improvement)",
    "stopped_by_user": "Stopped",
}

PANEL_STYLE = """
QPushButton#trainButton { background:#3B6FE0; color:#FFFFFF; border:1px solid #2F5BBE; border-radius:6px;
    padding:7px 16px; font-weight:600; }
QPushButton#trainButton:hover { background:#2F5BBE; }
QPushButton#trainButton:disabled { background:#AFC2EE; color:#F4F6F9; border-color:#AFC2EE; }
QPushButton#stopButton { color:#B3261E; border:1px solid #E3B6B2; border-radius:6px; padding:7px 12px; background:#FFFFFF; }
QPushButton#stopButton:hover { background:#FCEEEC; }
QPushButton#stopButton:disabled, QPushButton#pauseButton:disabled { color:#A3AAB6; background:#F2F4F7; border-color:#E3E7ED; }
QPushButton#pauseButton { border:1px solid #D3D9E2; border-radius:6px; padding:7px 12px; background:#FFFFFF; }
QPushButton#pauseButton:hover { background:#F3F6FB; }
QProgressBar#progressBar { border:1px solid #DCE1E8; border-radius:6px; background:#FFFFFF; text-align:center;
    min-height:20px; color:#1F2430; }
QProgressBar#progressBar::chunk { background:#7FA2EC; border-radius:5px; }
QLabel#runStats { color:#5B6472; }
QLabel#runNotice { color:#7A5B00; background:#FFF6D6; border:1px solid #F1DF9C; border-radius:6px; padding:5px 8px; }
QLabel#runStatus { color:#1F2430; padding:2px 0; }
QLabel#runFault { color:#8C1D18; background:#FCEEEC; border:1px solid #F2C4BF; border-radius:6px; padding:6px 8px; }
QGroupBox { font-weight:600; color:#1F2430; border:1px solid #E3E7ED; border-radius:8px; margin-top:10px;
    padding:10px 8px 6px 8px; background:#FFFFFF; }
QGroupBox::title { subcontrol-origin: margin; left:10px; padding:0 4px; }
"""


# -- the run state --------------------------------------------------------------------
IDLE, STARTING, RUNNING, PAUSING, PAUSED, STOPPING = "idle", "starting", "running", "pausing", "paused", "stopping"


@dataclass
class RunState:
    """The run as the panel knows it: one record that every widget is painted from.

    The buttons, the progress bar, the ETA line, the status line and the window's
    status bar all read it, so they cannot disagree (paused at batch 35 everywhere).
    """

    phase: str = IDLE
    epoch: int = 0  # the epoch in progress (1-based)
    batch: int = 0  # batches done in it
    steps: int = 0  # batches per epoch; 0 until the run has started
    total_epochs: int = 0
    initial_epoch: int = 0  # epochs done before this run (a continued run)
    rate: float = 0.0  # samples per second
    status: str = ""  # the status line
    outcome: str = ""  # the progress bar's text once a run has ended
    done: float = 0.0  # the progress bar's fill once a run has ended

    def fraction(self) -> float:
        """How much of this run is done, 0..1."""
        if not self.steps:
            return 0.0
        todo = max(1, self.total_epochs - self.initial_epoch)
        done = (self.epoch - 1 - self.initial_epoch) + self.batch / self.steps
        return min(1.0, max(0.0, done / todo))

    def position(self) -> str:
        return f"epoch {self.epoch}/{self.total_epochs} · batch {self.batch}/{self.steps}" if self.steps else ""

    def progress_text(self) -> str:
        if self.phase == IDLE:
            return self.outcome or "Ready"
        pos = self.position()
        if not pos:
            return {STOPPING: "Stopping…", PAUSING: "Pausing…"}.get(self.phase, "Starting…")
        word = {RUNNING: "", PAUSING: "Pausing · ", PAUSED: "Paused · ", STOPPING: "Stopping · "}.get(self.phase, "")
        return f"{word}{pos}" if word else pos[0].upper() + pos[1:]

    def summary(self) -> str:
        """One line for the window's status bar; empty when no run is active."""
        pos = self.position()
        return {
            IDLE: "",
            STARTING: "Training: starting…",
            RUNNING: f"Training: {pos}",
            PAUSING: f"Pausing: {pos}" if pos else "Pausing…",
            PAUSED: f"Paused at {pos}",
            STOPPING: f"Stopping: {pos}" if pos else "Stopping…",
        }[self.phase]


# -- what fits the network's output ---------------------------------------------------
def output_head(project: Any, analysis: Any = None) -> tuple[int | None, str | None]:
    """(units, activation) of the network's single output, from an Analysis or from the graph."""
    graph = project.graph
    try:
        outputs = list(graph.output_nodes())
    except Exception:  # noqa: BLE001
        return None, None
    if len(outputs) != 1:
        return None, None
    node = outputs[0]
    units: int | None = None
    if analysis is not None:
        info = getattr(analysis, "layers", {}).get(node.id)
        shape = info.shape_for(0) if info is not None else None
        if shape:
            units = shape[-1]
    act: str | None = None
    cur = node
    for _ in range(50):
        cls = cur.class_name
        if cls == "Softmax":
            act = "softmax"
            break
        if cls == "Activation":
            act = str(cur.params.get("activation", "linear"))
            break
        if "activation" in cur.params or cls in ("Dense", "Conv2D", "Conv1D"):
            a = cur.params.get("activation", "linear")
            act = a if isinstance(a, str) else None
            if units is None and cls == "Dense":
                units = _int(cur.params.get("units"))
            break
        if cls in PASS_THROUGH:
            preds = graph.predecessors(cur.id)
            if len(preds) != 1:
                break
            cur = graph.node(preds[0])
            continue
        break
    if units is None and cur.class_name == "Dense":
        units = _int(cur.params.get("units"))
    return units, act


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def loss_choices(units: int | None, activation: str | None, task: str = "classification") -> list[tuple[str, bool, str]]:
    """Every loss as (name, fits, why): the fitting ones first, the others with the reason."""
    fits: list[tuple[str, bool, str]] = []
    rest: list[tuple[str, bool, str]] = []
    for name in LOSSES:
        ok, why = True, ""
        if name in CLASSIFICATION:
            if task == "regression":
                ok, why = False, "This project predicts numbers (regression); cross-entropy is for classes."
            elif name in ("sparse_categorical_crossentropy", "categorical_crossentropy") and units == 1:
                ok, why = False, "Needs one output unit per class, but the output layer has 1 unit. Use binary cross-entropy."
            elif name == "binary_crossentropy" and units not in (None, 1) and activation == "softmax":
                ok, why = (
                    False,
                    f"Would score each of the {units} softmax units as its own yes/no answer; for one label "
                    "per image use sparse categorical cross-entropy.",
                )
            elif name == "binary_crossentropy" and units not in (None, 1):
                ok, why = False, f"Binary cross-entropy expects 1 sigmoid unit; the output has {units} units."
        elif task != "regression":
            ok, why = False, "A regression loss (for predicting numbers); this project classifies images."
        if ok:
            if units == 1 and name == "binary_crossentropy":
                why = "Fits: 1 output unit (sigmoid), two classes."
            elif units and units > 1 and activation == "softmax" and name == "sparse_categorical_crossentropy":
                why = f"Fits: {units} softmax units, integer labels (what the image folders give)."
            elif units and units > 1 and activation == "softmax" and name == "categorical_crossentropy":
                why = f"Fits: {units} softmax units; labels are one-hot encoded for you."
        (fits if ok else rest).append((name, ok, why))
    return fits + rest


# -- widgets ------------------------------------------------------------------------------
class LearningRateSpin(QDoubleSpinBox):
    """A learning rate: shown like 0.001 / 3e-05, typed in any float notation, steps ×2 / ÷2."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(1e-9, 1e3)
        self.setKeyboardTracking(False)
        self.setValue(1e-3)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        from PySide6.QtGui import QValidator

        t = text.strip()
        if not t:
            return QValidator.State.Intermediate, text, pos
        try:
            v = float(t)
        except ValueError:
            ok = all(c in "0123456789.eE-+" for c in t)
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid), text, pos
        state = QValidator.State.Acceptable if self.minimum() <= v <= self.maximum() else QValidator.State.Intermediate
        return state, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        v = self.value() * (2.0 ** steps)
        self.setValue(min(max(v, self.minimum()), self.maximum()))


class FittingScrollArea(QScrollArea):
    """A scroll area that asks for its whole content's height (Qt caps the hint at ~24 lines),
    so a tall window shows every setting unscrolled and a short one scrolls them."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        widget = self.widget()
        if widget is None:
            return super().sizeHint()
        frame = 2 * self.frameWidth()
        return QSize(super().sizeHint().width(), widget.sizeHint().height() + frame)


class TrainingPanel(QWidget, StagedBuild):
    """See the module docstring. ``project_provider()`` returns the current Project."""

    runStarted = Signal()
    runFinished = Signal(object)  # RunResult
    runFailed = Signal(str)  # the reason, in plain words
    settingsChanged = Signal(object)  # the new TrainSettings
    runStateChanged = Signal(str)  # RunState.summary(): one line for the window's status bar, "" when idle

    def __init__(
        self,
        project_provider: Callable[[], Any],
        parent: QWidget | None = None,
        *,
        embed_curves: bool = True,
        runs_dir: str | Path | None = None,
        staged: bool = False,
    ) -> None:
        """Build the whole panel now, or (``staged``) one piece per :meth:`step` call."""
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.setStyleSheet(PANEL_STYLE + PROBLEM_STYLE)
        self._provider = project_provider
        self._analysis: Any = None
        self.runs_dir: Path | None = Path(runs_dir) if runs_dir else None
        self.data_override: Any = None  # a source string / Datasets that Train uses instead of the project's
        self.worker = TrainWorker(self)
        self.worker.started.connect(self._on_started)
        self.worker.event.connect(self._on_event)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.last_result: Any = None
        self._reset_run_state()
        self._lr_steps = 0  # steps per epoch of the last run: the schedule plot's x resolution
        self._problems: list[Any] = []  # SettingProblems of the current settings
        self._construction = self._build_all(embed_curves)
        if not staged:
            self.finish()

    def _build_all(self, embed_curves: bool) -> Iterator[str]:
        yield from self._build(embed_curves)
        self.refresh_from_project()
        self._ui_timer = QTimer(self)
        self._ui_timer.setInterval(100)
        self._ui_timer.timeout.connect(self._paint_progress)

    # -- layout ----------------------------------------------------------------
    def _build(self, embed_curves: bool) -> Iterator[str]:
        style = self.style()
        # settings
        self.loss_combo = QComboBox()
        self.loss_combo.setObjectName("lossCombo")
        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("optimizerCombo")
        for name in OPTIMIZERS:
            self.optimizer_combo.addItem(OPTIMIZER_LABELS.get(name, name), name)
        self.lr_spin = LearningRateSpin()
        self.lr_spin.setObjectName("learningRateSpin")
        self.lr_spin.setToolTip("Step size of the optimizer. The arrows halve / double it; type any value, e.g. 3e-4.")
        self.schedule_combo = QComboBox()
        self.schedule_combo.setObjectName("scheduleCombo")
        for name in SCHEDULES:
            self.schedule_combo.addItem(SCHEDULE_LABELS.get(name, name), name)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("epochsSpin")
        self.epochs_spin.setRange(1, 10000)
        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("batchSizeSpin")
        self.batch_spin.setRange(1, 65536)
        self.early_check = QCheckBox("Early stopping")
        self.early_check.setObjectName("earlyStoppingCheck")
        self.early_check.setToolTip("Stop when the validation metric has not improved for 'patience' epochs.")
        self.patience_spin = QSpinBox()
        self.patience_spin.setObjectName("patienceSpin")
        self.patience_spin.setRange(0, 1000)
        self.patience_spin.setPrefix("patience ")
        self.patience_spin.setSuffix(" epochs")

        import pyqtgraph as pg

        self.lr_plot = pg.PlotWidget()
        self.lr_plot.setObjectName("lrSchedulePlot")
        self.lr_plot.setBackground("#FFFFFF")
        self.lr_plot.setFixedHeight(84)
        self.lr_plot.setMouseEnabled(False, False)
        self.lr_plot.hideButtons()
        self.lr_plot.setMenuEnabled(False)
        item = self.lr_plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.12)
        for axis in ("left", "bottom"):
            ax = item.getAxis(axis)
            ax.setPen(pg.mkPen("#C5CCD6"))
            ax.setTextPen(pg.mkPen("#7A8291"))
            ax.setStyle(tickFont=self.font(), tickLength=-3)
        item.getAxis("left").setWidth(42)
        self.lr_curve_item = item.plot(
            pen=pg.mkPen("#3B6FE0", width=2), fillLevel=0, brush=pg.mkBrush(59, 111, 224, 40), stepMode=None
        )
        self.lr_plot.setToolTip("Learning rate at the start of each epoch")

        opt_box = QGroupBox("Loss && optimizer")
        form = QFormLayout(opt_box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(7)
        self._problem_lines: dict[str, tuple[QFormLayout, SettingProblemLine]] = {}
        self._field(form, "Loss", self.loss_combo, "loss")
        self._field(form, "Optimizer", self.optimizer_combo, "optimizer")
        self._field(form, "Learning rate", self.lr_spin, "learning_rate")
        self._field(form, "Schedule", self.schedule_combo, "schedule.name")
        form.addRow(self.lr_plot)

        run_box = QGroupBox("Run")
        form2 = QFormLayout(run_box)
        form2.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form2.setHorizontalSpacing(10)
        form2.setVerticalSpacing(7)
        self._field(form2, "Epochs", self.epochs_spin, "epochs")
        self._field(form2, "Batch size", self.batch_spin, "batch_size")
        early_row = QHBoxLayout()
        early_row.addWidget(self.early_check)
        early_row.addWidget(self.patience_spin, 1)
        form2.addRow(early_row)
        self._field(form2, None, None, "early_stopping")
        self._field(form2, None, None, "early_stopping_patience")

        # buttons
        self.train_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Train")
        self.train_button.setObjectName("trainButton")
        self.train_button.setToolTip("Train the current network on the project's dataset")
        self.pause_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause")
        self.pause_button.setObjectName("pauseButton")
        self.stop_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop at the next batch; the run folder keeps what was learned")
        for b in (self.train_button, self.pause_button, self.stop_button):
            b.setCursor(Qt.CursorShape.PointingHandCursor)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.train_button, 2)
        buttons.addWidget(self.pause_button, 1)
        buttons.addWidget(self.stop_button, 1)

        self.progress = QProgressBar()
        self.progress.setObjectName("progressBar")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Ready")
        self.progress.setTextVisible(True)
        self.stats_label = QLabel("")
        self.stats_label.setObjectName("runStats")
        self.status_label = QLabel("")
        self.status_label.setObjectName("runStatus")
        self.status_label.setWordWrap(True)
        self.fault_label = QLabel("")
        self.fault_label.setObjectName("runFault")
        self.fault_label.setWordWrap(True)
        self.fault_label.setVisible(False)
        self.notice_label = QLabel("Settings changed during the run: they apply to the next run.")
        self.notice_label.setObjectName("runNotice")
        self.notice_label.setWordWrap(True)
        self.notice_label.setVisible(False)
        self.problems_label = QLabel("")
        self.problems_label.setObjectName("settingsProblems")
        self.problems_label.setStyleSheet(
            "color:#8C1D18; background:#FCEEEC; border:1px solid #F2C4BF; border-radius:6px; padding:5px 8px;"
        )
        self.problems_label.setWordWrap(True)
        self.problems_label.setVisible(False)

        side = QWidget()
        side.setObjectName("trainingSettings")
        side_l = QVBoxLayout(side)
        side_l.setContentsMargins(0, 0, 0, 0)
        side_l.setSpacing(8)
        side_l.addWidget(opt_box)
        side_l.addWidget(run_box)
        side_l.addStretch(1)
        # The run controls sit below the settings, outside their scroll area: on a short
        # screen the settings scroll, but Train / Pause / Stop and the progress always show.
        controls = QWidget()
        controls.setObjectName("trainingControls")
        ctl = QVBoxLayout(controls)
        ctl.setContentsMargins(0, 0, 0, 0)
        ctl.setSpacing(6)
        ctl.addWidget(self.problems_label)
        self.other_problems = QVBoxLayout()  # settings this panel has no widget for (task, name, momentum…)
        self.other_problems.setSpacing(4)
        ctl.addLayout(self.other_problems)
        ctl.addLayout(buttons)
        ctl.addWidget(self.progress)
        ctl.addWidget(self.stats_label)
        ctl.addWidget(self.status_label)
        ctl.addWidget(self.fault_label)
        ctl.addWidget(self.notice_label)
        self.controls = controls
        # Text that changes during a run must never resize the plots (a pyqtgraph relayout
        # costs tens of ms): the labels ignore their text width and the column has a fixed width.
        for label in (self.stats_label, self.status_label, self.fault_label, self.notice_label, self.problems_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.side_scroll = FittingScrollArea()
        self.side_scroll.setObjectName("trainingSettingsScroll")
        self.side_scroll.setWidget(side)
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side_scroll.setMinimumHeight(120)
        self.side_scroll.viewport().setAutoFillBackground(False)
        side.setAutoFillBackground(False)
        column = QWidget()
        column.setObjectName("trainingColumn")
        col_l = QVBoxLayout(column)
        col_l.setContentsMargins(0, 0, 0, 0)
        col_l.setSpacing(8)
        col_l.addWidget(self.side_scroll)
        col_l.addWidget(controls)
        col_l.addStretch(1)  # a tall window: the controls stay right under the settings
        bar = self.side_scroll.verticalScrollBar().sizeHint().width()
        width = 360 if embed_curves else 290
        side.setMinimumWidth(width)
        if embed_curves:
            column.setFixedWidth(width + bar)
        else:
            column.setMinimumWidth(width + bar)
        side.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

        yield "settings"
        from app.gui.plots import LiveCurves

        self.curves = LiveCurves(staged=True)
        yield from self.curves.build_steps
        root = QHBoxLayout(self)
        root.setContentsMargins(8, 8, 8, 8)
        root.setSpacing(12)
        root.addWidget(column)
        if embed_curves:
            line = QFrame()
            line.setFrameShape(QFrame.Shape.VLine)
            line.setStyleSheet("color:#E3E7ED;")
            root.addWidget(line)
            root.addWidget(self.curves, 1)

        # wiring
        # each widget writes its own setting only: a wrong value elsewhere stays for its widget to show
        self.loss_combo.currentIndexChanged.connect(lambda _i: self._edited("loss", self.loss_combo.currentData()))
        self.optimizer_combo.currentIndexChanged.connect(
            lambda _i: self._edited("optimizer", self.optimizer_combo.currentData())
        )
        self.lr_spin.valueChanged.connect(lambda v: self._edited("learning_rate", float(v)))
        self.schedule_combo.currentIndexChanged.connect(
            lambda _i: self._edited("schedule.name", self.schedule_combo.currentData())
        )
        self.epochs_spin.valueChanged.connect(lambda v: self._edited("epochs", int(v)))
        self.batch_spin.valueChanged.connect(lambda v: self._edited("batch_size", int(v)))
        self.early_check.toggled.connect(lambda on: self._edited("early_stopping", bool(on)))
        self.patience_spin.valueChanged.connect(lambda v: self._edited("early_stopping_patience", int(v)))
        self.train_button.clicked.connect(self.train)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self._render()

    # -- project <-> form ---------------------------------------------------------
    def project(self) -> Any:
        return self._provider()

    def set_analysis(self, analysis: Any) -> None:
        """The analyzer's result for the current network: reorders and explains the losses."""
        self._analysis = analysis
        self._fill_losses()

    def refresh_from_project(self) -> None:
        """Load the form from ``project.training`` (after open, undo, a fix that set the loss)."""
        project = self.project()
        if project is None:
            return
        s: TrainSettings = project.training
        blockers = [
            QSignalBlocker(w)
            for w in (
                self.loss_combo,
                self.optimizer_combo,
                self.lr_spin,
                self.schedule_combo,
                self.epochs_spin,
                self.batch_spin,
                self.early_check,
                self.patience_spin,
            )
        ]
        # A file may hold anything (NaN, -3, "fast"): each widget shows the nearest value it
        # can, or the default, and the problem line under it says what the file holds.
        d = TrainSettings()
        self._fill_losses()
        _select(self.optimizer_combo, s.optimizer, d.optimizer)
        self.lr_spin.setValue(_spin_value(self.lr_spin, s.learning_rate, d.learning_rate))
        _select(self.schedule_combo, s.schedule.name, d.schedule.name)
        self.epochs_spin.setValue(_spin_value(self.epochs_spin, s.epochs, d.epochs))
        self.batch_spin.setValue(_spin_value(self.batch_spin, s.batch_size, d.batch_size))
        early = s.early_stopping if isinstance(s.early_stopping, bool) else d.early_stopping
        self.early_check.setChecked(early)
        self.patience_spin.setValue(_spin_value(self.patience_spin, s.early_stopping_patience, d.early_stopping_patience))
        self.patience_spin.setEnabled(early)
        del blockers
        self._update_lr_plot()
        self.refresh_problems()

    def _fill_losses(self) -> None:
        project = self.project()
        if project is None:
            return
        units, act = output_head(project, self._analysis)
        current = project.training.loss
        blocker = QSignalBlocker(self.loss_combo)
        self.loss_combo.clear()
        model = self.loss_combo.model()
        choices = loss_choices(units, act, getattr(project, "task", "classification"))
        first_bad = True
        for name, ok, why in choices:
            if not ok and first_bad:
                first_bad = False
                if self.loss_combo.count():
                    self.loss_combo.insertSeparator(self.loss_combo.count())
            label = LOSS_LABELS.get(name, name)
            self.loss_combo.addItem(label if ok or name != current else f"⚠ {label}", name)
            i = self.loss_combo.count() - 1
            self.loss_combo.setItemData(i, why or name, Qt.ItemDataRole.ToolTipRole)
            if not ok and isinstance(model, QStandardItemModel):
                it = model.item(i)
                if it is not None:
                    it.setEnabled(False)
        if current not in LOSSES:
            self.loss_combo.addItem(_show_value(current), current)
        _select(self.loss_combo, current)
        fit = next((why for n, ok, why in choices if n == current), "")
        bad = next((not ok for n, ok, _ in choices if n == current), False)
        self.loss_combo.setProperty("plainToolTip", ("Does not fit this network: " if bad else "") + (fit or _show_value(current)))
        del blocker
        if hasattr(self, "_problem_lines"):
            self._mark("loss")

    def _edited(self, key: str, value: Any) -> None:
        """One widget's edit: ``key`` (e.g. ``schedule.name``) of ``project.training`` set to ``value``."""
        project = self.project()
        if project is None or value is None:  # (a combo's separator has no data)
            return
        if key == "early_stopping":
            self.patience_spin.setEnabled(bool(value))
        new = replace_setting(project.training, key, value)
        if new == project.training:
            return
        loss_changed = new.loss != project.training.loss
        project.training = new
        if loss_changed:
            self._fill_losses()
        self._update_lr_plot()
        self.refresh_problems()
        if self.is_running():
            self.notice_label.setVisible(True)
        self.settingsChanged.emit(new)

    # -- wrong settings, shown where they are set ------------------------------------
    def _field(self, form: QFormLayout, label: str | None, widget: QWidget | None, key: str) -> None:
        """A form row for ``widget`` (if any) and, under it, the line that names its problem."""
        if widget is not None:
            form.addRow(label, widget)
        line = SettingProblemLine()
        line.fixClicked.connect(self._apply_fix)
        form.addRow(line)
        form.setRowVisible(line, False)
        self._problem_lines[f"training.{key}"] = (form, line)

    def problems(self) -> list[Any]:
        """The SettingProblems of the current project (Train stays off while there are any)."""
        return list(self._problems)

    def refresh_problems(self) -> list[Any]:
        """Judge the settings again: mark each problem on its widget, or list it above Train."""
        project = self.project()
        problems = []
        if project is not None:
            problems = check_settings(project.data, project.training, project.task, name=project.name)
        self._problems = problems
        for path in self._problem_lines:
            self._mark(path.removeprefix("training."))
        while self.other_problems.count():
            item = self.other_problems.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # (out of the layout it would still paint until deleted)
                item.widget().deleteLater()
        for p in problems:
            if p.setting not in self._problem_lines and not p.setting.startswith("data."):
                line = SettingProblemLine()
                line.fixClicked.connect(self._apply_fix)
                self.other_problems.addWidget(line)  # (parented first: shown before that, it would be a window)
                line.show_problem(p)
        mine = sum(1 for p in problems if not p.setting.startswith("data."))
        data = len(problems) - mine
        parts = [f"{mine} here (marked in red)" if mine else "", f"{data} in the Data tab" if data else ""]
        n = len(problems)
        self.problems_label.setText(
            f"Train is off until {n} setting{'s' * (n != 1)} {'are' if n != 1 else 'is'} fixed: "
            + ", ".join(x for x in parts if x) + "."
        )
        self.problems_label.setVisible(bool(problems))
        self._set_running_ui(self.state.phase != IDLE)
        return problems

    def _mark(self, key: str) -> None:
        path = f"training.{key}"
        problem = next((p for p in self._problems if p.setting == path), None)
        widget = SETTING_WIDGETS.get(key)
        if widget is not None:
            mark_widget(getattr(self, widget), problem.message if problem else None)
        form, line = self._problem_lines[path]
        line.show_problem(problem)
        form.setRowVisible(line, problem is not None)

    def _apply_fix(self, problem: Any) -> None:
        """A problem's one-click fix: that one setting set to ``fix_value``."""
        project = self.project()
        if project is None or problem.fix_value is None:
            return
        section, _, rest = problem.setting.partition(".")
        if section == "training":
            project.training = replace_setting(project.training, rest, problem.fix_value)
        elif section == "data":
            project.data = replace_setting(project.data, rest, problem.fix_value)
        elif section in ("task", "name") and not rest:
            setattr(project, section, problem.fix_value)
        else:
            return
        self.refresh_from_project()
        self.settingsChanged.emit(project.training)

    def _update_lr_plot(self) -> None:
        project = self.project()
        if project is None:
            return
        try:
            from app.engine.compile import lr_curve

            s = project.training
            steps = self._lr_steps or 50
            values = lr_curve(s, int(s.epochs), int(steps))
        except Exception:  # noqa: BLE001 - a half-typed setting: keep the last curve
            return
        xs = list(range(1, len(values) + 1))
        if len(values) == 1:
            xs, values = [1, 2], [values[0], values[0]]
        self.lr_curve_item.setData(xs, values)
        self.lr_plot.getPlotItem().setYRange(0, max(values) * 1.1 if values and max(values) > 0 else 1, padding=0)

    # -- run control ---------------------------------------------------------------
    def is_running(self) -> bool:
        return self.worker.is_running()

    def train(self) -> bool:
        """Start a run on a snapshot of the project; False (and a reason) when one cannot start."""
        if self.is_running():
            return False
        project = self.project()
        if project is None:
            self._show_fault("No project is open.")
            return False
        if self.refresh_problems():
            self._show_fault("Fix the settings marked in red first: " + "; ".join(p.message for p in self._problems))
            return False
        data = self.data_override
        if data is None and not project.data.source:
            self._show_fault("Choose a dataset first (Data panel), or open the embedded default.")
            return False
        snapshot = project.copy()  # the form writes every edit into project.training at once
        out_dir = None
        base = self.runs_dir
        if base is None and project.path is None:
            from app.paths import cache_dir

            base = cache_dir() / "runs"
        if base is not None:
            from app.engine.train import default_run_dir

            probe = snapshot.copy()
            probe.path = Path(base) / "x.layerlab"
            out_dir = Path(base) / default_run_dir(probe).name  # <stamp>-<name>, unique
            i = 2
            while out_dir.exists():
                out_dir = Path(base) / f"{default_run_dir(probe).name}-{i}"
                i += 1
        self._prepare_start(snapshot, "Preparing the data and building the model…")
        return self.worker.start(snapshot, data=data, out_dir=out_dir)

    def _prepare_start(self, snapshot: Any, status: str, history: Sequence[Mapping[str, Any]] = ()) -> None:
        """A clean panel for a new run: no old curves (but ``history``'s epochs), faults or progress."""
        self._reset_run_state()
        self.curves.clear()
        for row in history:
            self.curves.add_epoch(row["epoch"], row)
        self.fault_label.setVisible(False)
        self.notice_label.setVisible(False)
        self.state = RunState(phase=STARTING, total_epochs=_int(snapshot.training.epochs) or 0, status=status)
        self._render()

    def continue_run(self, run_dir: str | Path) -> bool:
        """Train a stopped or interrupted run on from its last completed epoch.

        The run keeps its own settings, data and folder (the engine's resume); its
        earlier epochs are drawn first so the curves carry on where they ended.
        """
        if self.is_running():
            return False
        from app.core.project import ProjectError, load_project
        from app.engine.run_folder import PROJECT_FILE, read_history

        run_dir = Path(run_dir)
        try:
            snapshot = load_project(run_dir / PROJECT_FILE)
        except (ProjectError, OSError) as exc:
            self._show_fault(f"Cannot continue {run_dir.name}: {exc}")
            return False
        history = read_history(run_dir)
        done = history[-1]["epoch"] if history else 0
        self._prepare_start(snapshot, f"Continuing {run_dir.name} after epoch {done}…", history)
        return self.worker.start(snapshot, resume=run_dir)

    def toggle_pause(self) -> None:
        if self.state.phase in (PAUSING, PAUSED):
            self.resume()
        else:
            self.pause()

    def pause(self) -> None:
        """Ask the run to pause at its next batch; the Paused event says where it did."""
        if not self.is_running() or self.state.phase not in (STARTING, RUNNING):
            return
        self.worker.pause()
        self._set_state(phase=PAUSING, status="Pausing at the next batch…")

    def resume(self) -> None:
        if not self.is_running() or self.state.phase not in (PAUSING, PAUSED):
            return
        self.worker.resume()
        if self._pause_t0 is not None:
            self._paused_s += time.perf_counter() - self._pause_t0
            self._pause_t0 = None
        self._set_state(phase=RUNNING if self.state.steps else STARTING, status="Training…")

    def stop(self) -> None:
        if not self.is_running() or self.state.phase == STOPPING:
            return
        self.worker.stop()
        if self._pause_t0 is not None:
            self._paused_s += time.perf_counter() - self._pause_t0
            self._pause_t0 = None
        self._set_state(phase=STOPPING, status="Stopping at the next batch…")

    # -- closing -------------------------------------------------------------------
    def _confirm_close(self) -> bool:
        """Ask whether to stop the run; tests monkeypatch this."""
        answer = QMessageBox.question(
            self,
            "Training in progress",
            "A training run is in progress. Stop it and close?\n\nThe run folder keeps the epochs completed so far.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def can_close(self) -> bool:
        """For the window's closeEvent: True when there is no run or the user agreed to stop it."""
        if not self.is_running():
            return True
        if not self._confirm_close():
            return False
        self.shutdown()
        return True

    def shutdown(self, timeout_s: float = 3.0) -> bool:
        """Stop the run at its next batch and wait for the thread (at most ``timeout_s``)."""
        self._ui_timer.stop()
        return self.worker.shutdown(timeout_s)

    # -- overlays (connect RunsPanel.overlayRequested here) ----------------------------
    def show_overlays(self, run_dirs: list[str]) -> None:
        from app.engine.run_folder import read_history

        self.curves.clear_overlays()
        for d in run_dirs:
            rows = read_history(d)
            if rows:
                self.curves.overlay(Path(d).name, rows)

    # -- events (GUI thread) -------------------------------------------------------------
    def _reset_run_state(self) -> None:
        self.state = RunState()
        self._t0: float | None = None
        self._paused_s = 0.0
        self._pause_t0: float | None = None
        self._dirty = False
        self._summary = ""
        self.batch_events = 0
        self._prev_batch: tuple[int, int, float, float] | None = None
        self.run_dir: str | None = None

    def _set_running_ui(self, running: bool) -> None:
        """Train is enabled with no run active and no settings problem; its tooltip says why not."""
        if running:
            why = "A run is active: stop it first"
        elif self._problems:
            why = "Fix the settings first: " + "; ".join(p.message for p in self._problems)
        else:
            why = ""
        self.train_button.setEnabled(not why)
        self.train_button.setToolTip(why or "Train the current network on the project's dataset")

    def _set_state(self, **changes: Any) -> None:
        """Change the run state and repaint every widget from it at once."""
        self.state = replace(self.state, **changes)
        self._render()

    def _on_started(self) -> None:
        self._ui_timer.start()
        self._render()
        self.runStarted.emit()

    def _on_event(self, e: Any) -> None:
        st = self.state
        if isinstance(e, ev.BatchEnd):
            self.batch_events += 1
            st.epoch, st.batch, st.steps = e.epoch, e.batch, e.steps
            st.rate = e.samples_per_s or st.rate
            x = (e.epoch - 1) + (e.batch / e.steps if e.steps else 0.0)
            loss, acc = self._batch_values(e)
            self.curves.add_batch(x, loss, acc)
            self._dirty = True
        elif isinstance(e, ev.EpochEnd):
            st.epoch, st.batch = e.epoch, st.steps or st.batch
            self.curves.add_epoch(e.epoch, e.logs)
            self._dirty = True
        elif isinstance(e, ev.RunStarted):
            self._t0 = time.perf_counter()
            self.run_dir = e.run_dir
            self._lr_steps = e.steps_per_epoch
            self.curves.set_run_length(e.epochs)
            status = (
                f"Training on {e.train_samples} images ({e.validation_samples} for validation), "
                f"{len(e.class_names)} classes."
            )
            phase = st.phase if st.phase in (PAUSING, STOPPING) else RUNNING
            self._set_state(
                phase=phase, total_epochs=e.epochs, initial_epoch=e.initial_epoch, epoch=e.initial_epoch + 1,
                batch=0, steps=e.steps_per_epoch, status=status if phase == RUNNING else st.status,
            )  # fmt: skip
            self._update_lr_plot()
        elif isinstance(e, ev.Paused):
            if st.phase == PAUSING:  # (not when Resume or Stop came first)
                self._pause_t0 = time.perf_counter()
                self._set_state(
                    phase=PAUSED, epoch=e.epoch, batch=e.batch,
                    status=f"Paused at epoch {e.epoch}, batch {e.batch}. Resume carries on from there.",
                )  # fmt: skip
        elif isinstance(e, ev.Resumed):
            if st.phase == RUNNING:
                self._set_state(epoch=e.epoch, batch=e.batch, status="Training…")
        elif isinstance(e, ev.Stopped):
            self._set_state(phase=STOPPING, status=PLAIN_STOP.get(e.reason, e.reason) + "; saving the run…")
        elif isinstance(e, ev.Info):
            self._set_state(status=e.message)

    def _batch_values(self, e: ev.BatchEnd) -> tuple[float | None, float | None]:
        """The mean loss / accuracy of the batches since the last event.

        Keras reports running means over the epoch; the difference of two running
        sums gives what the batches in between scored, so the faint line shows the
        real batch-to-batch noise and does not flatten as the epoch goes on.
        """
        acc = e.metrics.get("accuracy")
        prev = self._prev_batch
        if prev is None or prev[0] != e.epoch or prev[1] >= e.batch:
            b0, l0, a0 = 0, 0.0, 0.0
        else:
            _, b0, l0, a0 = prev
        self._prev_batch = (e.epoch, e.batch, e.loss, acc if acc is not None else 0.0)
        n = e.batch - b0
        if n <= 0:
            return e.loss, acc
        loss = (e.loss * e.batch - l0 * b0) / n if math.isfinite(e.loss) else e.loss
        if acc is not None:
            acc = min(1.0, max(0.0, (acc * e.batch - a0 * b0) / n))
        return loss, acc

    def _on_finished(self, result: Any) -> None:
        self.last_result = result
        self._ui_timer.stop()
        if self._pause_t0 is not None:
            self._paused_s += time.perf_counter() - self._pause_t0
            self._pause_t0 = None
        st = self.state
        if not result.failed:
            what = PLAIN_STOP.get(result.stopped_reason, result.stopped_reason)
            acc = (result.metrics or {}).get("accuracy")
            tail = f" · validation accuracy {acc:.1%}" if isinstance(acc, (int, float)) else ""
            complete = result.stopped_reason in ("completed", "early_stopping")
            self._set_state(
                phase=IDLE, done=1.0 if complete else st.fraction(), outcome=f"{what} · {result.epochs_completed} epoch(s)",
                status=f"{what} after {result.epochs_completed} epoch(s){tail}. Saved to {Path(result.run_dir).name}.",
            )  # fmt: skip
        else:
            self._set_state(phase=IDLE, done=st.fraction(), outcome="Failed")
        self.curves.redraw()
        self.curves.set_run_length(None)  # free zoom / auto-range again
        self.runFinished.emit(result)

    def _on_failed(self, reason: str) -> None:
        self._ui_timer.stop()
        self.curves.set_run_length(None)
        self._set_state(phase=IDLE, done=self.state.fraction(), outcome="Failed", status="The run failed.")
        self._show_fault(reason)
        self.runFailed.emit(reason)

    def _show_fault(self, text: str) -> None:
        self.fault_label.setText(text)
        self.fault_label.setVisible(True)

    # -- painting: every widget from self.state ----------------------------------------------
    def _elapsed(self) -> float:
        if self._t0 is None:
            return 0.0
        paused = self._paused_s + (time.perf_counter() - self._pause_t0 if self._pause_t0 is not None else 0.0)
        return max(0.0, time.perf_counter() - self._t0 - paused)

    def _render(self) -> None:
        """Buttons, progress bar, ETA line, status line and ``runStateChanged``, all from the state."""
        st = self.state
        self._dirty = False
        active = st.phase != IDLE
        self._set_running_ui(active)
        paused = st.phase in (PAUSING, PAUSED)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setIcon(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause)
        )
        self.pause_button.setEnabled(active and st.phase != STOPPING)
        self.stop_button.setEnabled(active and st.phase != STOPPING)
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(round((st.fraction() if active else st.done) * 1000)))
        self.progress.setFormat(st.progress_text())
        self.status_label.setText(st.status)
        self._paint_stats()
        summary = st.summary()
        if summary != self._summary:
            self._summary = summary
            self.runStateChanged.emit(summary)

    def _paint_progress(self) -> None:
        """The 10 Hz timer: the ETA line always, the rest when batches came in."""
        if self._dirty:
            self._render()
        else:
            self._paint_stats()

    def _paint_stats(self) -> None:
        if self._t0 is None:
            self.stats_label.setText("")
            return
        st = self.state
        elapsed = self._elapsed()
        frac = st.fraction()
        parts = [f"Elapsed {_hms(elapsed)}"]
        if st.phase == PAUSED:
            parts.append("ETA — paused")
        elif st.phase in (RUNNING, PAUSING) and frac > 0.005:
            parts.append(f"ETA {_hms(elapsed / frac * (1 - frac))}")
        if st.rate > 0 and st.phase != PAUSED:
            parts.append(f"{st.rate:,.0f} samples/s")
        self.stats_label.setText("  ·  ".join(parts))


def _select(combo: QComboBox, value: Any, fallback: str | None = None) -> None:
    i = combo.findData(value) if isinstance(value, str) else -1
    if i < 0 and fallback is not None:
        i = combo.findData(fallback)
    if i >= 0:
        combo.setCurrentIndex(i)


def _spin_value(spin: QSpinBox | QDoubleSpinBox, value: Any, default: float) -> Any:
    """What a spin box can show for a setting that may be anything: clamped, or the default."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = number and (isinstance(value, int) or math.isfinite(value))  # (an int may not fit a float)
    v = value if ok else default
    v = min(max(v, spin.minimum()), spin.maximum())
    return int(v) if isinstance(spin, QSpinBox) else float(v)


def _show_value(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def run_label(run_dir: str | Path) -> str:
    """``20260101-120000-name`` → ``2026-01-01 12:00``; the folder name otherwise."""
    name = Path(run_dir).name
    try:
        return datetime.strptime(name[:15], "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return name
