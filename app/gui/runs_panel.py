"""Runs: every run folder under ``<project folder>/runs/``, listed, overlaid, compared.

Reading a run is plain file work in ``app.engine.run_folder`` (project snapshot,
metrics.json, history.csv); no Keras. The compare dialog shows its diff of two
runs' hyperparameters (training and data settings from each run's project
snapshot) and architectures (layers added, removed, changed - with the changed
parameters).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine.run_folder import (
    MODEL_FILE,
    RunInfo,
    diff_runs,
    finished,
    list_runs,
    show_value,
)

__all__ = ["CompareDialog", "RunsPanel"]

CHANGED = QColor("#FFF3C4")
ADDED = QColor("#DDF3E0")
REMOVED = QColor("#FBE0DD")


class CompareDialog(QDialog):
    """Side by side: hyperparameters and architecture of two runs, differences highlighted."""

    def __init__(self, a_dir: str | Path, b_dir: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareRunsDialog")
        a, b = Path(a_dir), Path(b_dir)
        self.setWindowTitle(f"Compare runs — {a.name} vs {b.name}")
        self.resize(860, 560)
        self.diff = diff_runs(a, b)
        tabs = QTabWidget()
        self.settings_tree = QTreeWidget()
        self.settings_tree.setObjectName("compareSettings")
        self.settings_tree.setHeaderLabels(["Setting", a.name, b.name])
        self.settings_tree.setRootIsDecorated(False)
        self.settings_tree.setAlternatingRowColors(False)
        changed = 0
        for key, va, vb, diff in self.diff["settings"]:
            it = QTreeWidgetItem([key, va, vb])
            if diff:
                changed += 1
                for c in range(3):
                    it.setBackground(c, QBrush(CHANGED))
                f = it.font(0)
                f.setBold(True)
                it.setFont(0, f)
            self.settings_tree.addTopLevelItem(it)
        self.arch_tree = QTreeWidget()
        self.arch_tree.setObjectName("compareArchitecture")
        self.arch_tree.setHeaderLabels(["Layer", "Change", a.name, b.name, "Changed parameters"])
        self.arch_tree.setRootIsDecorated(False)
        counts = {"added": 0, "removed": 0, "changed": 0}
        for name, status, da, db, details in self.diff["layers"]:
            it = QTreeWidgetItem([str(name), status, da, db, details])
            color = {"changed": CHANGED, "added": ADDED, "removed": REMOVED}.get(status)
            if color is not None:
                counts[status] += 1
                for c in range(5):
                    it.setBackground(c, QBrush(color))
            self.arch_tree.addTopLevelItem(it)
        for tree in (self.settings_tree, self.arch_tree):
            tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            tree.header().setStretchLastSection(True)
        tabs.addTab(self.settings_tree, f"Hyperparameters ({changed} differ)")
        tabs.addTab(
            self.arch_tree,
            f"Architecture (+{counts['added']} −{counts['removed']} ~{counts['changed']})",
        )
        summary = QLabel(
            f"<b>{changed}</b> setting(s) differ · layers: <b>{counts['added']}</b> added, "
            f"<b>{counts['removed']}</b> removed, <b>{counts['changed']}</b> changed (from {a.name} to {b.name})"
        )
        summary.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(tabs, 1)
        layout.addWidget(buttons)


class RunsPanel(QWidget):
    """Lists runs; ``overlayRequested(list of run dirs)`` on selection, ``openModelRequested(path)``."""

    overlayRequested = Signal(list)
    openModelRequested = Signal(str)
    continueRequested = Signal(str)  # a run folder to train on from its last completed epoch
    exportRequested = Signal(str)  # a finished run folder to export (the window's Export dialog)

    COLUMNS = ("Run", "Date", "Optimizer", "LR", "Epochs", "Batch", "Best val acc", "Result")

    def __init__(self, folder: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsPanel")
        self.folder: Path | None = Path(folder) if folder else None
        self.runs: list[RunInfo] = []
        self.busy = False
        self.tree = QTreeWidget()
        self.tree.setObjectName("runsList")
        self.tree.setHeaderLabels(list(self.COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSortingEnabled(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_model())
        self.empty_label = QLabel("No runs yet: train the network and its runs appear here.")
        self.empty_label.setStyleSheet("color:#7A8291;")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setObjectName("compareRunsButton")
        self.compare_button.setToolTip("Select two runs: side-by-side diff of settings and architecture")
        self.compare_button.clicked.connect(self.compare)
        self.open_button = QPushButton("Open model")
        self.open_button.setObjectName("openRunModelButton")
        self.open_button.clicked.connect(self.open_model)
        self.continue_button = QPushButton("Continue")
        self.continue_button.setObjectName("continueRunButton")
        self.continue_button.setToolTip(
            "Train a stopped or interrupted run on from its last completed epoch, with its own settings and data"
        )
        self.continue_button.clicked.connect(self.continue_run)
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("runsExportButton")
        self.export_button.setToolTip("Export this run's trained model (.keras, SavedModel, TFLite, ONNX)")
        self.export_button.clicked.connect(self.export_run)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("refreshRunsButton")
        self.refresh_button.clicked.connect(self.refresh)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Runs")
        title.setStyleSheet("font-weight:600;color:#1F2430;")
        bar.addWidget(title)
        bar.addStretch(1)
        for b in (self.compare_button, self.continue_button, self.open_button, self.export_button, self.refresh_button):
            bar.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label)
        self._overlay_timer = QTimer(self)
        self._overlay_timer.setSingleShot(True)
        self._overlay_timer.setInterval(150)
        self._overlay_timer.timeout.connect(lambda: self.overlayRequested.emit(self.selected_dirs()))
        self.refresh()

    def set_folder(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder else None
        self.refresh()

    def refresh(self) -> None:
        keep = set(self.selected_dirs())
        self.runs = list_runs(self.folder) if self.folder else []
        self.tree.blockSignals(True)
        self.tree.clear()
        for r in self.runs:
            acc = f"{r.best_val_accuracy:.1%}" if r.best_val_accuracy is not None else "–"
            epochs = f"{r.epochs_completed or 0}/{r.epochs}" if r.epochs else show_value(r.epochs_completed)
            reason = r.stopped_reason.split(":")[0].replace("_", " ")
            it = QTreeWidgetItem(
                [
                    r.name,
                    r.date.strftime("%Y-%m-%d %H:%M") if r.date else "",
                    r.optimizer,
                    f"{r.learning_rate:g}" if r.learning_rate is not None else "",
                    epochs,
                    show_value(r.batch_size),
                    acc,
                    reason,
                ]
            )
            it.setData(0, Qt.ItemDataRole.UserRole, str(r.path))
            it.setToolTip(0, str(r.path))
            it.setTextAlignment(6, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if r.stopped_reason.startswith(("nan", "error")):
                it.setForeground(7, QBrush(QColor("#B3261E")))
            self.tree.addTopLevelItem(it)
            if str(r.path) in keep:
                it.setSelected(True)
        self.tree.blockSignals(False)
        self.empty_label.setVisible(not self.runs)
        self._update_buttons()

    def run_dirs(self) -> list[str]:
        return [str(r.path) for r in self.runs]

    def selected_dirs(self) -> list[str]:
        return [str(it.data(0, Qt.ItemDataRole.UserRole)) for it in self.tree.selectedItems()]

    def select(self, run_dirs: list[str]) -> None:
        want = {str(d) for d in run_dirs}
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            it.setSelected(str(it.data(0, Qt.ItemDataRole.UserRole)) in want)

    def _selection_changed(self) -> None:
        self._update_buttons()
        self._overlay_timer.start()

    def _update_buttons(self) -> None:
        sel = self.selected_dirs()
        self.compare_button.setEnabled(len(sel) == 2)
        self.open_button.setEnabled(len(sel) == 1 and (Path(sel[0]) / MODEL_FILE).is_file())
        info = self._run(sel[0]) if len(sel) == 1 else None
        self.continue_button.setEnabled(not self.busy and info is not None and info.resumable)
        self.export_button.setEnabled(info is not None and finished(info))

    def set_busy(self, busy: bool) -> None:
        """While a run trains, no run can be continued (one run at a time)."""
        self.busy = busy
        self._update_buttons()

    def _run(self, run_dir: str) -> RunInfo | None:
        return next((r for r in self.runs if str(r.path) == run_dir), None)

    def continue_run(self) -> None:
        sel = self.selected_dirs()
        if len(sel) == 1 and not self.busy and (info := self._run(sel[0])) is not None and info.resumable:
            self.continueRequested.emit(sel[0])

    def export_run(self) -> None:
        sel = self.selected_dirs()
        if len(sel) == 1 and (info := self._run(sel[0])) is not None and finished(info):
            self.exportRequested.emit(sel[0])

    def compare(self) -> CompareDialog | None:
        sel = self.selected_dirs()
        if len(sel) != 2:
            return None
        a, b = sorted(sel)  # older first, so "added" means added by the newer run
        dialog = CompareDialog(a, b, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def open_model(self) -> None:
        sel = self.selected_dirs()
        if len(sel) == 1:
            model = Path(sel[0]) / MODEL_FILE
            if model.is_file():
                self.openModelRequested.emit(str(model))
