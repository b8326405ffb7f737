"""The Export dialog: which format, and which weights - a trained run or the design.

File > Export and the runs list's Export… open it. A project that has trained
exports what it learned: the newest completed run is chosen by default and
named in the title ("Export run 20261202-160930 (val acc 98.3 %)"); any other
run, or the design itself, is one click away. Choosing the design says in
words that its weights are fresh, so nobody ships a random network unaware.
The training script (``python``) is always written from the design.

No Keras here: runs are read with the runs list's plain-file reader, and the
window runs the export itself (``choice()`` says what to export).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.run_folder import RunInfo, finished, read_run

__all__ = ["FORMATS", "ExportChoice", "ExportDialog", "exportable_runs", "latest_run", "run_title"]

# key, menu text, file suffix ("" for a folder), what it is for
FORMATS: tuple[tuple[str, str, str, str], ...] = (
    ("keras", "Keras model (.keras)", ".keras", "Load it with keras.saving.load_model, or open it in LayerLab."),
    ("savedmodel", "TensorFlow SavedModel (folder)", "", "For TensorFlow Serving and TensorFlow tools."),
    ("tflite", "TensorFlow Lite (.tflite)", ".tflite", "For phones and small devices (LiteRT)."),
    ("onnx", "ONNX (.onnx)", ".onnx", "For ONNX Runtime and other ONNX tools."),
    ("python", "Training script (.py)", ".py", "A standalone train.py that builds this design and trains it."),
)
SUFFIXES = {key: suffix for key, _t, suffix, _w in FORMATS}
FAILED_PREFIXES = ("nan", "error")
DESIGN = "design"  # the source entry that is no run
WARNING_STYLE = "color:#B3261E; background:#FBE0DD; border-radius:4px; padding:6px;"
NOTE_STYLE = "color:#5A6272;"


@dataclass(frozen=True)
class ExportChoice:
    """What the user asked for: format, target and source (``run`` None: the design)."""

    fmt: str
    path: Path
    run: Path | None


def exportable_runs(runs: list[RunInfo]) -> list[RunInfo]:
    """The runs that finished with a trained model (model.keras and metrics.json), newest first."""
    return [r for r in runs if finished(r)]


def failed(run: RunInfo) -> bool:
    return run.stopped_reason.startswith(FAILED_PREFIXES)


def latest_run(runs: list[RunInfo]) -> RunInfo | None:
    """The newest completed run that did not fail (the default export)."""
    return next((r for r in exportable_runs(runs) if not failed(r)), None)


def run_title(run: RunInfo) -> str:
    """``run 20261202-160930 (val acc 98.3 %)``: how the dialog and the status bar name a run."""
    acc = run.best_val_accuracy
    return f"run {run.name}" + (f" (val acc {100 * acc:.1f} %)" if acc is not None else "")


def with_suffix(path: str, fmt: str) -> str:
    """``path`` with the file suffix of ``fmt`` in place of any export suffix it has."""
    if not path:
        return path
    p = Path(path)
    name = p.name
    for suffix in (s for s in SUFFIXES.values() if s):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return str(p.with_name(name + SUFFIXES.get(fmt, "")))


class ExportDialog(QDialog):
    """Format, source (runs, then the design) and target path; Export accepts."""

    def __init__(
        self,
        runs: list[RunInfo],
        *,
        project_name: str,
        design_has_weights: bool = False,
        fmt: str = "keras",
        run: str | Path | None = None,
        start_dir: str | Path = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.project_name = project_name or "model"
        self.design_has_weights = design_has_weights
        self.runs = exportable_runs(runs)
        wanted = Path(run) if run else None
        if wanted is not None and all(r.path != wanted for r in self.runs):
            info = read_run(wanted)  # asked for by name (the runs list): offer it even if unfinished
            if info is not None and info.has_model:
                self.runs.insert(0, info)
        self.resize(640, 360)

        self.headline = QLabel(self)
        self.headline.setObjectName("exportHeadline")
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet("font-size:15px; font-weight:600; color:#1F2430;")

        self.format_combo = QComboBox(self)
        self.format_combo.setObjectName("exportFormat")
        for key, text, _suffix, what in FORMATS:
            self.format_combo.addItem(text, key)
            self.format_combo.setItemData(self.format_combo.count() - 1, what, Qt.ItemDataRole.ToolTipRole)
        self.format_note = QLabel(self)
        self.format_note.setObjectName("exportFormatNote")
        self.format_note.setWordWrap(True)
        self.format_note.setStyleSheet(NOTE_STYLE)

        self.source_list = QListWidget(self)
        self.source_list.setObjectName("exportSource")
        for r in self.runs:
            text = run_title(r).capitalize()
            bits = [r.date.strftime("%Y-%m-%d %H:%M")] if r.date else []
            if r.epochs_completed:
                bits.append(f"{r.epochs_completed} epochs")
            if r.stopped_reason and r.stopped_reason != "completed":
                bits.append(r.stopped_reason.split(":")[0].replace("_", " "))
            item = QListWidgetItem(text + (f"  ·  {', '.join(bits)}" if bits else ""))
            item.setData(Qt.ItemDataRole.UserRole, str(r.path))
            item.setToolTip(str(r.path))
            self.source_list.addItem(item)
        design = QListWidgetItem(self.design_text())
        design.setData(Qt.ItemDataRole.UserRole, DESIGN)
        self.source_list.addItem(design)
        rows = self.source_list.count()
        self.source_list.setFixedHeight(min(8, max(3, rows)) * (self.source_list.fontMetrics().height() + 6) + 8)

        self.warning = QLabel(self)
        self.warning.setObjectName("exportWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(WARNING_STYLE)

        self.path_edit = QLineEdit(self)
        self.path_edit.setObjectName("exportPath")
        self.path_edit.setText(str(Path(start_dir or Path.home()) / f"{self.project_name}.keras"))
        browse = QPushButton("Browse…", self)
        browse.setObjectName("exportBrowse")
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.export_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.export_button.setText("Export")
        self.export_button.setObjectName("exportButton")
        for button in self.buttons.buttons():
            button.setIcon(QIcon())  # plain words, as in the New dialog
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("", self.format_note)
        form.addRow("Weights from", self.source_list)
        form.addRow("", self.warning)
        form.addRow("Save to", path_row)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 14)
        lay.addWidget(self.headline)
        lay.addSpacing(6)
        lay.addLayout(form)
        lay.addStretch(1)
        lay.addWidget(self.buttons)

        self.format_combo.currentIndexChanged.connect(self._on_format)
        self.source_list.currentRowChanged.connect(self._update)
        self.path_edit.textChanged.connect(self._update)
        self.select_source(wanted)
        self.set_format(fmt)
        self._update()

    # -- state ------------------------------------------------------------------------
    def design_text(self) -> str:
        if self.design_has_weights:
            return "The design with its imported weights (not trained in LayerLab)"
        return "Untrained design (fresh weights)"

    def fmt(self) -> str:
        return str(self.format_combo.currentData())

    def selected_run(self) -> Path | None:
        """The chosen run folder, or None for the design (and for the training script)."""
        item = self.source_list.currentItem()
        data = item.data(Qt.ItemDataRole.UserRole) if item is not None else DESIGN
        return None if self.fmt() == "python" or data == DESIGN else Path(data)

    def untrained(self) -> bool:
        """Whether the export would carry fresh, random weights."""
        return self.fmt() != "python" and self.selected_run() is None and not self.design_has_weights

    def choice(self) -> ExportChoice:
        return ExportChoice(self.fmt(), Path(self.path_edit.text().strip()).expanduser(), self.selected_run())

    def set_format(self, fmt: str) -> None:
        index = self.format_combo.findData(fmt)
        self.format_combo.setCurrentIndex(max(0, index))
        self._on_format()

    def select_source(self, run: str | Path | None) -> None:
        """Select ``run`` (a folder), the design (``"design"``), or by default the latest completed run."""
        if run is None:
            latest = latest_run(self.runs)
            want = str(latest.path) if latest is not None else DESIGN
        else:
            want = DESIGN if str(run) == DESIGN else str(Path(run))
        for i in range(self.source_list.count()):
            if self.source_list.item(i).data(Qt.ItemDataRole.UserRole) == want:
                self.source_list.setCurrentRow(i)
                return
        self.source_list.setCurrentRow(self.source_list.count() - 1)

    # -- reactions --------------------------------------------------------------------
    def _on_format(self, *_: object) -> None:
        fmt = self.fmt()
        self.path_edit.setText(with_suffix(self.path_edit.text(), fmt))
        self.source_list.setEnabled(fmt != "python")
        self._update()

    def _update(self, *_: object) -> None:
        fmt, run = self.fmt(), self.selected_run()
        what = next(w for k, _t, _s, w in FORMATS if k == fmt)
        info = next((r for r in self.runs if r.path == run), None)
        if fmt == "python":
            title = f"Export the training script of {self.project_name}"
            what += " It is written from the current design and carries no weights: it trains from scratch."
        elif info is not None:
            title = f"Export {run_title(info)}"
            what += f" The network is the one {info.name} trained, with the weights it learned."
        elif self.design_has_weights:
            title = f"Export the design of {self.project_name} with its imported weights"
        else:
            title = f"Export the untrained design of {self.project_name} (fresh weights)"
        self.setWindowTitle(title)
        self.headline.setText(title)
        self.format_note.setText(what)
        if self.untrained():
            lead = "This project has no trained run yet. " if not self.runs else ""
            self.warning.setText(
                f"⚠ {lead}Untrained: the design is exported with fresh, random weights, so the model "
                "predicts like a random network. Train it first (Train tab) or choose a run above to "
                "export what it learned."
            )
        self.warning.setVisible(self.untrained())
        self.export_button.setEnabled(bool(self.path_edit.text().strip()))

    def browse(self) -> None:
        fmt = self.fmt()
        suffix = SUFFIXES.get(fmt, "")
        name_filter = f"{self.format_combo.currentText()} (*{suffix})" if suffix else "SavedModel folder (*)"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(), name_filter)
        if chosen:
            self.path_edit.setText(with_suffix(chosen, fmt))
