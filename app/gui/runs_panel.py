"""Runs: every run folder under ``<project folder>/runs/``, listed, overlaid, compared.

Reading a run is plain file work (project snapshot, metrics.json, history.csv);
no Keras. The compare dialog diffs two runs' hyperparameters (training and
data settings from each run's project snapshot) and their architectures
(layers added, removed, changed - with the changed parameters).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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

__all__ = ["RunInfo", "RunsPanel", "CompareDialog", "diff_runs", "finished", "list_runs", "read_history", "read_run"]

PROJECT_FILE = "project.layerlab"
CHANGED = QColor("#FFF3C4")
ADDED = QColor("#DDF3E0")
REMOVED = QColor("#FBE0DD")


@dataclass
class RunInfo:
    path: Path
    date: datetime | None = None
    optimizer: str = ""
    learning_rate: float | None = None
    epochs: int | None = None
    epochs_completed: int | None = None
    batch_size: int | None = None
    loss: str = ""
    best_val_accuracy: float | None = None
    stopped_reason: str = ""
    has_model: bool = False
    project: dict[str, Any] = field(default_factory=dict)
    resumable: bool = False  # a checkpoint short of the planned epochs, and not ended on purpose

    @property
    def name(self) -> str:
        return self.path.name


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """history.csv as rows of floats (empty cells left out); [] when there is none."""
    path = Path(run_dir) / "history.csv"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for r in csv.DictReader(text.splitlines()):
        row = {k: _num(v) for k, v in r.items() if k and _num(v) is not None}
        if "epoch" in row:
            row["epoch"] = int(row["epoch"])
            rows.append(row)
    return rows


def _date(run_dir: Path) -> datetime | None:
    try:
        return datetime.strptime(run_dir.name[:15], "%Y%m%d-%H%M%S")
    except ValueError:
        try:
            return datetime.fromtimestamp(run_dir.stat().st_mtime)
        except OSError:
            return None


def read_run(run_dir: str | Path) -> RunInfo | None:
    """What the list shows about one run folder; None for a folder that is no run."""
    d = Path(run_dir)
    project = _read_json(d / PROJECT_FILE)
    metrics = _read_json(d / "metrics.json")
    if not isinstance(project, dict) and not isinstance(metrics, dict):
        return None
    project = project if isinstance(project, dict) else {}
    metrics = metrics if isinstance(metrics, dict) else {}
    training = project.get("training") or {}
    history = read_history(d)
    vals = [r["val_accuracy"] for r in history if "val_accuracy" in r]
    best = max(vals) if vals else _num(metrics.get("accuracy"))
    state = _read_json(d / "checkpoint" / "state.json")
    done, planned = (_num(state.get("epoch")), _num(state.get("epochs"))) if isinstance(state, dict) else (None, None)
    resumable = (
        done is not None
        and planned is not None
        and done < planned
        and str(metrics.get("stopped_reason") or "") not in ("completed", "early_stopping")
    )
    return RunInfo(
        path=d,
        date=_date(d),
        optimizer=str(training.get("optimizer") or ""),
        learning_rate=_num(training.get("learning_rate")),
        epochs=int(training["epochs"]) if _num(training.get("epochs")) is not None else None,
        epochs_completed=int(metrics["epochs_completed"]) if _num(metrics.get("epochs_completed")) is not None else len(history) or None,
        batch_size=int(training["batch_size"]) if _num(training.get("batch_size")) is not None else None,
        loss=str(training.get("loss") or ""),
        best_val_accuracy=best,
        stopped_reason=str(metrics.get("stopped_reason") or ("running or interrupted" if not metrics else "")),
        has_model=(d / "model.keras").is_file(),
        project=project,
        resumable=resumable,
    )


def finished(run: RunInfo) -> bool:
    """A run that ended with a trained model: model.keras and its metrics.json (what Export takes)."""
    return run.has_model and (run.path / "metrics.json").is_file()


def list_runs(folder: str | Path) -> list[RunInfo]:
    """The runs in ``folder``, newest first."""
    base = Path(folder)
    if not base.is_dir():
        return []
    runs = [r for r in (read_run(p) for p in base.iterdir() if p.is_dir()) if r is not None]
    runs.sort(key=lambda r: (r.date or datetime.min, r.name), reverse=True)
    return runs


# -- diff ----------------------------------------------------------------------------------
def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k in sorted(value):
            _flat(f"{prefix}.{k}" if prefix else str(k), value[k], out)
    else:
        out[prefix] = value


def _show(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_show(x) for x in v) + ")" if v else "()"
    return str(v)


def diff_runs(a_dir: str | Path, b_dir: str | Path) -> dict[str, Any]:
    """``{"settings": [(key, a, b, changed)], "layers": [(name, status, a_desc, b_desc, details)]}``.

    status: "same", "changed", "added" (only in B), "removed" (only in A). Layers
    are matched by name, then by position for renamed layers of the same class.
    """
    pa = _read_json(Path(a_dir) / PROJECT_FILE) or {}
    pb = _read_json(Path(b_dir) / PROJECT_FILE) or {}
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flat("training", pa.get("training") or {}, fa)
    _flat("data", pa.get("data") or {}, fa)
    _flat("training", pb.get("training") or {}, fb)
    _flat("data", pb.get("data") or {}, fb)
    settings = []
    for k in sorted(set(fa) | set(fb), key=lambda k: (not k.startswith("training"), k)):
        a, b = fa.get(k), fb.get(k)
        settings.append((k, _show(a), _show(b), a != b))

    na = [n for n in (pa.get("graph") or {}).get("nodes", [])]
    nb = [n for n in (pb.get("graph") or {}).get("nodes", [])]
    by_b = {n.get("name"): n for n in nb}
    used: set[str] = set()
    layers = []
    for n in na:
        m = by_b.get(n.get("name"))
        if m is None or m.get("name") in used:
            layers.append((n.get("name"), "removed", _desc(n), "", ""))
            continue
        used.add(m.get("name"))
        details = _param_diff(n, m)
        status = "changed" if details else "same"
        layers.append((n.get("name"), status, _desc(n), _desc(m), details))
    for m in nb:
        if m.get("name") not in used:
            layers.append((m.get("name"), "added", "", _desc(m), ""))
    return {"settings": settings, "layers": layers}


def _desc(node: dict[str, Any]) -> str:
    p = node.get("params") or {}
    keys = ("units", "filters", "kernel_size", "pool_size", "rate", "activation", "shape")
    bits = [f"{k}={_show(p[k])}" for k in keys if k in p]
    return f"{node.get('class_name')}" + (f" ({', '.join(bits)})" if bits else "")


def _param_diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    out = []
    if a.get("class_name") != b.get("class_name"):
        out.append(f"class {a.get('class_name')} → {b.get('class_name')}")
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flat("", a.get("params") or {}, fa)
    _flat("", b.get("params") or {}, fb)
    for k in sorted(set(fa) | set(fb)):
        if fa.get(k) != fb.get(k):
            out.append(f"{k}: {_show(fa.get(k))} → {_show(fb.get(k))}")
    return "; ".join(out)


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
            epochs = f"{r.epochs_completed or 0}/{r.epochs}" if r.epochs else _show(r.epochs_completed)
            reason = r.stopped_reason.split(":")[0].replace("_", " ")
            it = QTreeWidgetItem(
                [
                    r.name,
                    r.date.strftime("%Y-%m-%d %H:%M") if r.date else "",
                    r.optimizer,
                    f"{r.learning_rate:g}" if r.learning_rate is not None else "",
                    epochs,
                    _show(r.batch_size),
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
        self.open_button.setEnabled(len(sel) == 1 and (Path(sel[0]) / "model.keras").is_file())
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
            model = Path(sel[0]) / "model.keras"
            if model.is_file():
                self.openModelRequested.emit(str(model))
