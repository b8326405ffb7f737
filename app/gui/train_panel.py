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
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
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
from app.engine import events as ev
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


class TrainingPanel(QWidget, StagedBuild):
    """See the module docstring. ``project_provider()`` returns the current Project."""

    runStarted = Signal()
    runFinished = Signal(object)  # RunResult
    runFailed = Signal(str)  # the reason, in plain words
    settingsChanged = Signal(object)  # the new TrainSettings

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
        self.setStyleSheet(PANEL_STYLE)
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
        self._construction = self._build_all(embed_curves)  # (self._steps is the run's steps per epoch)
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
        form.addRow("Loss", self.loss_combo)
        form.addRow("Optimizer", self.optimizer_combo)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Schedule", self.schedule_combo)
        form.addRow(self.lr_plot)

        run_box = QGroupBox("Run")
        form2 = QFormLayout(run_box)
        form2.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form2.setHorizontalSpacing(10)
        form2.setVerticalSpacing(7)
        form2.addRow("Epochs", self.epochs_spin)
        form2.addRow("Batch size", self.batch_spin)
        early_row = QHBoxLayout()
        early_row.addWidget(self.early_check)
        early_row.addWidget(self.patience_spin, 1)
        form2.addRow(early_row)

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

        side = QWidget()
        side.setObjectName("trainingSettings")
        side_l = QVBoxLayout(side)
        side_l.setContentsMargins(0, 0, 0, 0)
        side_l.setSpacing(8)
        side_l.addWidget(opt_box)
        side_l.addWidget(run_box)
        side_l.addLayout(buttons)
        side_l.addWidget(self.progress)
        side_l.addWidget(self.stats_label)
        side_l.addWidget(self.status_label)
        side_l.addWidget(self.fault_label)
        side_l.addWidget(self.notice_label)
        side_l.addStretch(1)
        # Text that changes during a run must never resize the plots (a pyqtgraph relayout
        # costs tens of ms): the labels ignore their text width and the column has a fixed width.
        for label in (self.stats_label, self.status_label, self.fault_label, self.notice_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # A short window scrolls the settings column rather than squashing its boxes.
        self.side_scroll = QScrollArea()
        self.side_scroll.setObjectName("trainingSettingsScroll")
        self.side_scroll.setWidget(side)
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side_scroll.viewport().setAutoFillBackground(False)
        side.setAutoFillBackground(False)
        bar = self.side_scroll.verticalScrollBar().sizeHint().width()
        if embed_curves:
            side.setMinimumWidth(360)
            self.side_scroll.setFixedWidth(360 + bar)
        else:
            side.setMinimumWidth(290)
            self.side_scroll.setMinimumWidth(290 + bar)
        side.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

        yield "settings"
        from app.gui.plots import LiveCurves

        self.curves = LiveCurves(staged=True)
        yield from self.curves.build_steps
        root = QHBoxLayout(self)
        root.setContentsMargins(8, 8, 8, 8)
        root.setSpacing(12)
        root.addWidget(self.side_scroll)
        if embed_curves:
            line = QFrame()
            line.setFrameShape(QFrame.Shape.VLine)
            line.setStyleSheet("color:#E3E7ED;")
            root.addWidget(line)
            root.addWidget(self.curves, 1)

        # wiring
        self.loss_combo.currentIndexChanged.connect(self._edited)
        self.optimizer_combo.currentIndexChanged.connect(self._edited)
        self.lr_spin.valueChanged.connect(self._edited)
        self.schedule_combo.currentIndexChanged.connect(self._edited)
        self.epochs_spin.valueChanged.connect(self._edited)
        self.batch_spin.valueChanged.connect(self._edited)
        self.early_check.toggled.connect(self._edited)
        self.patience_spin.valueChanged.connect(self._edited)
        self.train_button.clicked.connect(self.train)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self._set_running_ui(False)

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
        self._fill_losses()
        _select(self.optimizer_combo, s.optimizer)
        self.lr_spin.setValue(float(s.learning_rate))
        _select(self.schedule_combo, s.schedule.name)
        self.epochs_spin.setValue(int(s.epochs))
        self.batch_spin.setValue(int(s.batch_size))
        self.early_check.setChecked(bool(s.early_stopping))
        self.patience_spin.setValue(int(s.early_stopping_patience))
        self.patience_spin.setEnabled(bool(s.early_stopping))
        del blockers
        self._update_lr_plot()

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
            self.loss_combo.addItem(current, current)
        _select(self.loss_combo, current)
        fit = next((why for n, ok, why in choices if n == current), "")
        bad = next((not ok for n, ok, _ in choices if n == current), False)
        self.loss_combo.setToolTip(("Does not fit this network: " if bad else "") + (fit or current))
        del blocker

    def settings_from_form(self, base: TrainSettings) -> TrainSettings:
        schedule = replace(base.schedule, name=str(self.schedule_combo.currentData() or base.schedule.name))
        return replace(
            base,
            loss=str(self.loss_combo.currentData() or base.loss),
            optimizer=str(self.optimizer_combo.currentData() or base.optimizer),
            learning_rate=float(self.lr_spin.value()),
            schedule=schedule,
            epochs=int(self.epochs_spin.value()),
            batch_size=int(self.batch_spin.value()),
            early_stopping=bool(self.early_check.isChecked()),
            early_stopping_patience=int(self.patience_spin.value()),
        )

    def _edited(self, *_: Any) -> None:
        project = self.project()
        if project is None:
            return
        new = self.settings_from_form(project.training)
        self.patience_spin.setEnabled(self.early_check.isChecked())
        if new == project.training:
            return
        loss_changed = new.loss != project.training.loss
        project.training = new
        if loss_changed:
            self._fill_losses()
        self._update_lr_plot()
        if self.is_running():
            self.notice_label.setVisible(True)
        self.settingsChanged.emit(new)

    def _update_lr_plot(self) -> None:
        project = self.project()
        if project is None:
            return
        try:
            from app.engine.compile import lr_curve

            s = project.training
            steps = self._steps or 50
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
        self.status_label.setText(status)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        self._total_epochs = int(snapshot.training.epochs)

    def continue_run(self, run_dir: str | Path) -> bool:
        """Train a stopped or interrupted run on from its last completed epoch.

        The run keeps its own settings, data and folder (the engine's resume); its
        earlier epochs are drawn first so the curves carry on where they ended.
        """
        if self.is_running():
            return False
        from app.core.project import ProjectError, load_project
        from app.gui.runs_panel import PROJECT_FILE, read_history

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
        if not self.is_running():
            return
        if self.worker.is_paused():
            self.resume()
        else:
            self.pause()

    def pause(self) -> None:
        if not self.is_running():
            return
        self.worker.pause()
        self.pause_button.setText("Resume")
        self.pause_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.status_label.setText("Pausing at the next batch…")
        self._pause_t0 = time.perf_counter()

    def resume(self) -> None:
        self.worker.resume()
        self.pause_button.setText("Pause")
        self.pause_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        if self._pause_t0 is not None:
            self._paused_s += time.perf_counter() - self._pause_t0
            self._pause_t0 = None
        self.status_label.setText("Training…")

    def stop(self) -> None:
        if not self.is_running():
            return
        self.worker.stop()
        self.resume_ui_only()
        self.stop_button.setEnabled(False)
        self.pause_button.setEnabled(False)
        self.status_label.setText("Stopping at the next batch…")

    def resume_ui_only(self) -> None:
        self.pause_button.setText("Pause")
        self.pause_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))

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
        from app.gui.runs_panel import read_history

        self.curves.clear_overlays()
        for d in run_dirs:
            rows = read_history(d)
            if rows:
                self.curves.overlay(Path(d).name, rows)

    # -- events (GUI thread) -------------------------------------------------------------
    def _reset_run_state(self) -> None:
        self._epoch = 0
        self._batch = 0
        self._steps = getattr(self, "_steps", 0) or 0
        self._total_epochs = 0
        self._initial_epoch = 0
        self._rate = 0.0
        self._t0: float | None = None
        self._paused_s = 0.0
        self._pause_t0: float | None = None
        self._dirty = False
        self._phase = "idle"
        self.batch_events = 0
        self._prev_batch: tuple[int, int, float, float] | None = None
        self.run_dir: str | None = None

    def _set_running_ui(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.train_button.setToolTip(
            "A run is active: stop it first" if running else "Train the current network on the project's dataset"
        )
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running:
            self.resume_ui_only()

    def _on_started(self) -> None:
        self._set_running_ui(True)
        self._phase = "starting"
        self._ui_timer.start()
        self.runStarted.emit()

    def _on_event(self, e: Any) -> None:
        if isinstance(e, ev.BatchEnd):
            self.batch_events += 1
            self._epoch, self._batch, self._steps = e.epoch, e.batch, e.steps
            self._rate = e.samples_per_s or self._rate
            x = (e.epoch - 1) + (e.batch / e.steps if e.steps else 0.0)
            loss, acc = self._batch_values(e)
            self.curves.add_batch(x, loss, acc)
            self._dirty = True
        elif isinstance(e, ev.EpochEnd):
            self._epoch, self._batch = e.epoch, self._steps or self._batch
            self.curves.add_epoch(e.epoch, e.logs)
            self._dirty = True
        elif isinstance(e, ev.RunStarted):
            self._t0 = time.perf_counter()
            self._total_epochs = e.epochs
            self._initial_epoch = e.initial_epoch
            self._epoch = e.initial_epoch + 1
            self._steps = e.steps_per_epoch
            self.run_dir = e.run_dir
            self.curves.set_run_length(e.epochs)
            self._phase = "running"
            self.status_label.setText(
                f"Training on {e.train_samples} images ({e.validation_samples} for validation), "
                f"{len(e.class_names)} classes."
            )
            self._update_lr_plot()
            self._dirty = True
        elif isinstance(e, ev.Paused):
            self.status_label.setText(f"Paused at epoch {e.epoch}, batch {e.batch}.")
            self._phase = "paused"
        elif isinstance(e, ev.Resumed):
            self.status_label.setText("Training…")
            self._phase = "running"
        elif isinstance(e, ev.Stopped):
            self.status_label.setText(PLAIN_STOP.get(e.reason, e.reason) + "; saving the run…")
        elif isinstance(e, ev.Info):
            self.status_label.setText(e.message)

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
        self._set_running_ui(False)
        self._phase = "idle"
        if self._pause_t0 is not None:
            self._paused_s += time.perf_counter() - self._pause_t0
            self._pause_t0 = None
        if not result.failed:
            if result.stopped_reason in ("completed", "early_stopping"):
                self.progress.setRange(0, 1000)
                self.progress.setValue(1000)
            acc = (result.metrics or {}).get("accuracy")
            what = PLAIN_STOP.get(result.stopped_reason, result.stopped_reason)
            tail = f" · validation accuracy {acc:.1%}" if isinstance(acc, (int, float)) else ""
            self.progress.setFormat(f"{what} · {result.epochs_completed} epoch(s)")
            self.status_label.setText(f"{what} after {result.epochs_completed} epoch(s){tail}. Saved to {Path(result.run_dir).name}.")
        else:
            self.progress.setFormat("Failed")
        self._paint_stats(final=True)
        self.curves.redraw()
        self.curves.set_run_length(None)  # free zoom / auto-range again
        self.runFinished.emit(result)

    def _on_failed(self, reason: str) -> None:
        self._ui_timer.stop()
        self.curves.set_run_length(None)
        self._set_running_ui(False)
        self._phase = "idle"
        self._show_fault(reason)
        self.status_label.setText("The run failed.")
        if self.progress.format() in ("Starting…", "Ready"):
            self.progress.setFormat("Failed")
        self.runFailed.emit(reason)

    def _show_fault(self, text: str) -> None:
        self.fault_label.setText(text)
        self.fault_label.setVisible(True)
        # Once laid out, scroll the settings column (if it must scroll) so the reason shows.
        QTimer.singleShot(0, lambda: self.side_scroll.ensureWidgetVisible(self.fault_label, 0, 8))

    # -- painting (10 Hz while running) ----------------------------------------------------
    def _elapsed(self) -> float:
        if self._t0 is None:
            return 0.0
        paused = self._paused_s + (time.perf_counter() - self._pause_t0 if self._pause_t0 is not None else 0.0)
        return max(0.0, time.perf_counter() - self._t0 - paused)

    def _fraction(self) -> float:
        todo = max(1, self._total_epochs - self._initial_epoch)
        if not self._steps:
            return 0.0
        done = (self._epoch - 1 - self._initial_epoch) + self._batch / self._steps
        return min(1.0, max(0.0, done / todo))

    def _paint_progress(self) -> None:
        self._paint_stats()
        if not self._dirty:
            return
        self._dirty = False
        if self._steps:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(round(self._fraction() * 1000)))
            self.progress.setFormat(
                f"Epoch {self._epoch}/{self._total_epochs} · batch {self._batch}/{self._steps}"
            )

    def _paint_stats(self, final: bool = False) -> None:
        if self._t0 is None:
            return
        elapsed = self._elapsed()
        frac = self._fraction()
        parts = [f"Elapsed {_hms(elapsed)}"]
        if not final and frac > 0.005:
            parts.append(f"ETA {_hms(elapsed / frac * (1 - frac))}")
        if self._rate > 0:
            parts.append(f"{self._rate:,.0f} samples/s")
        self.stats_label.setText("  ·  ".join(parts))


def _select(combo: QComboBox, value: str) -> None:
    i = combo.findData(value)
    if i >= 0:
        combo.setCurrentIndex(i)


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
