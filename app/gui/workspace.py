"""The window's workspace tabs beyond the designer: Data, Train, Results, Predict.

Built right after the window is first painted (so start-up stays fast), and
wired here rather than in the main window: dataset scans feed the analyzer's
class count, a finished run opens in Results and Predict, a run picked in the
runs list reopens there too. The designer docks (palette, inspector, history)
hide while another tab is in front and come back with the Design tab; the
Problems dock shrinks to its summary line there.

Each page sits in a scroll area, so no page's minimum size makes the window
taller or wider than a laptop screen (the Train page fits 1280×720 as it is).
The status bar shows the training panel's run state while a run is active, in
place of the analysis state ("Ready to train" while paused would contradict it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSplitter, QTabWidget, QWidget

from app.engine.run_folder import METRICS_FILE, MODEL_FILE
from app.gui.staged import StagedBuild
from app.paths import cache_dir

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
DESIGN, DATA, TRAIN, RESULTS, PREDICT = range(5)


class Workspace(QObject, StagedBuild):
    """Owns the Data / Train / Results / Predict panels of one main window."""

    def __init__(self, window: Any, *, staged: bool = False) -> None:
        """Build every panel now, or (``staged``) one per :meth:`step` call."""
        super().__init__(window)
        self.window = window
        self.tabs: QTabWidget = window.tabs
        self.num_classes: int | None = None
        self.unsaved_runs: list[Path] = []  # trained while the project had no file: they follow its first save
        self._construction = self._build()
        if not staged:
            self.finish()

    def _build(self) -> Any:
        from app.gui.data_panel import DatasetPanel
        from app.gui.predict_panel import PredictionPanel
        from app.gui.results_panel import ResultsPanel
        from app.gui.runs_panel import RunsPanel
        from app.gui.train_panel import TrainingPanel

        window = self.window
        provider = lambda: window.project  # noqa: E731 - the current document, whatever it is now

        self.data = DatasetPanel(provider)
        yield "data"
        self.training = TrainingPanel(provider, staged=True)
        while self.training.step():
            yield "training"
        self.runs = RunsPanel()
        yield "runs"
        self.results = ResultsPanel()
        yield "results"
        self.prediction = PredictionPanel()
        yield "prediction"

        train_page = QSplitter(Qt.Orientation.Vertical)
        train_page.setObjectName("trainPage")
        train_page.addWidget(self.training)
        train_page.addWidget(self.runs)
        train_page.setStretchFactor(0, 4)
        train_page.setStretchFactor(1, 1)
        train_page.setChildrenCollapsible(False)  # the run controls never vanish under the runs list
        self.tabs.addTab(_page(self.data), "Data")
        self.tabs.addTab(_page(train_page), "Train")
        self.tabs.addTab(_page(self.results), "Results")
        self.tabs.addTab(_page(self.prediction), "Predict")
        self.run_state_label = QLabel(window)
        self.run_state_label.setObjectName("runStateLabel")
        self.run_state_label.setVisible(False)
        window.statusBar().addPermanentWidget(self.run_state_label)
        self.training.runStateChanged.connect(self._on_run_state)
        window.diagnostics.expandRequested.connect(lambda: self.tabs.setCurrentIndex(DESIGN))
        window.undo_stack.indexChanged.connect(self._after_edit)  # a Problems-panel fix may set a data setting
        self._docks_shown: dict[str, bool] = {}
        self._scanned = ""
        self.tabs.currentChanged.connect(self._on_tab)

        self.data.scanFinished.connect(self._on_scan)
        self.data.settingsChanged.connect(self._on_settings)
        self.training.settingsChanged.connect(self._on_settings)
        self.training.runStarted.connect(lambda: window.statusBar().showMessage("Training…", 3000))
        self.training.runFinished.connect(self._on_run_finished)
        self.runs.overlayRequested.connect(self.training.show_overlays)
        self.runs.openModelRequested.connect(self.open_model)
        self.runs.continueRequested.connect(self.continue_run)
        self.runs.exportRequested.connect(window.open_export_dialog)
        self.training.runStarted.connect(lambda: self.runs.set_busy(True))
        self.training.runFinished.connect(lambda *_: self.runs.set_busy(False))
        self.training.runFailed.connect(lambda *_: self.runs.set_busy(False))
        self.refresh_project()
        if window.last_analysis is not None:
            self.training.set_analysis(window.last_analysis)

    # -- the document -----------------------------------------------------------------
    def runs_folder(self) -> Path:
        path = self.window.project.path
        return (Path(path).parent / "runs") if path else cache_dir() / "runs"

    def refresh_project(self) -> None:
        """After New/Open/Import/Undo: every panel shows the current project's settings."""
        self.num_classes = None
        self.unsaved_runs = []  # another document: those runs stay where they are
        self._data_shown = self.window.project.data  # what the Data panel shows
        self.data.refresh_from_project()
        self.training.refresh_from_project()
        self.runs.set_folder(self.runs_folder())

    def set_analysis(self, analysis: Any) -> None:
        self.training.set_analysis(analysis)

    def _after_edit(self, *_: Any) -> None:
        if self.window.project.data != self._data_shown:
            self.data.refresh_from_project()
            self._data_shown = self.window.project.data

    def _on_settings(self, *_: Any) -> None:
        self._data_shown = self.window.project.data
        self.window.mark_modified()
        self.data.refresh_problems()  # a fix in one panel clears its mark in the other (and Train)
        self.training.refresh_problems()

    def _on_scan(self, report: Any) -> None:
        self._scanned = str(self.window.project.data.source)
        self.num_classes = int(getattr(report, "num_classes", 0)) or None
        self.window.request_analysis()

    # -- runs ----------------------------------------------------------------------------
    def project_saved(self) -> None:
        """After a save: the runs list follows the project's folder, and the runs this
        window trained before the project had a file move there with it."""
        moved = self._adopt_unsaved_runs()  # a run still training joins them when it ends
        self.runs.set_folder(self.runs_folder())
        if moved:
            self.window.statusBar().showMessage(
                f"Moved {moved} run{'s' * (moved != 1)} into {self.runs_folder()}", 8000
            )

    def _adopt_unsaved_runs(self) -> int:
        """Move the finished unsaved runs into the project's runs folder; how many moved."""
        if self.window.project.path is None:
            return 0
        import shutil

        target_base = self.runs_folder()
        moved, keep = 0, []
        for run in self.unsaved_runs:
            target = target_base / run.name
            if not run.is_dir() or target.exists():
                continue
            try:
                target_base.mkdir(parents=True, exist_ok=True)
                shutil.move(str(run), str(target))
                moved += 1
            except OSError:
                keep.append(run)
        self.unsaved_runs = keep
        return moved

    def _on_run_finished(self, result: Any) -> None:
        run_dir = getattr(result, "run_dir", None)
        if run_dir and Path(run_dir).parent == cache_dir() / "runs" and Path(run_dir) not in self.unsaved_runs:
            self.unsaved_runs.append(Path(run_dir))
            moved_to = self.runs_folder() / Path(run_dir).name
            if self.window.project.path is not None and self._adopt_unsaved_runs() and moved_to.is_dir():
                run_dir = str(moved_to)  # saved while it trained: it follows the project
        self.runs.refresh()
        if run_dir and (Path(run_dir) / MODEL_FILE).is_file():
            self.results.load_run(run_dir)
            self.prediction.set_model(run_dir)
        reason = getattr(result, "stopped_reason", "")
        self.window.statusBar().showMessage(f"Training ended: {reason}", 8000)

    def continue_run(self, run_dir: str) -> None:
        """Continue in the Train tab, where its curves and progress show."""
        self.tabs.setCurrentIndex(TRAIN)
        if self.training.continue_run(run_dir):  # its own curves carry on: no overlay copy of them
            self.training.show_overlays([d for d in self.runs.selected_dirs() if d != run_dir])

    def open_model(self, path: str) -> None:
        """A run's model chosen in the runs list: its results, and prediction with it."""
        p = Path(path)
        run_dir = p.parent if p.suffix.lower() in (".keras", ".h5", ".hdf5") else p
        if (run_dir / METRICS_FILE).is_file():
            self.results.load_run(run_dir)
        self.prediction.set_model(str(run_dir if (run_dir / MODEL_FILE).is_file() else p))
        self.tabs.setCurrentIndex(PREDICT)

    # -- drops on the window ----------------------------------------------------------------
    def handle_dropped_paths(self, paths: list[Path]) -> bool:
        """Images dropped anywhere go to the prediction panel; True when some were taken."""
        images = [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        if not images:
            return False
        self.tabs.setCurrentIndex(PREDICT)
        self.prediction.handle_paths([str(p) for p in images])
        return True

    # -- tabs -----------------------------------------------------------------------------------
    def _designer_docks(self) -> list[QWidget]:
        return [self.window.palette_dock, self.window.inspector_dock, self.window.history_dock]

    def _on_run_state(self, summary: str) -> None:
        """While a run is active the status bar says what it is doing, and only that."""
        colour = "#B7791F" if summary.startswith(("Paused", "Pausing")) else "#3B6FE0"
        self.run_state_label.setText(f"<span style='color:{colour}'>●</span> {summary}")
        self.run_state_label.setVisible(bool(summary))
        self.window.state_label.setVisible(not summary)

    def _on_tab(self, index: int) -> None:
        self.window.diagnostics.hold_collapsed(index != DESIGN)
        for dock in self._designer_docks():
            name = dock.objectName()
            if index == DESIGN:
                if self._docks_shown.pop(name, False):
                    dock.show()
            elif name not in self._docks_shown:
                self._docks_shown[name] = dock.isVisible()
                dock.hide()
        if index == DATA:
            self.data.refresh_input()
            source = self.window.project.data.source
            if source and source != self._scanned and not self.data.is_scanning():
                self._scanned = source  # the first look at the Data tab scans the project's dataset
                self.data.scan(source)

    # -- shutdown -----------------------------------------------------------------------------
    def can_close(self) -> bool:
        return self.training.can_close()

    def shutdown(self) -> None:
        for panel in (self.training, self.data, self.prediction):
            try:
                panel.shutdown()
            except RuntimeError:
                pass


class _Fitted(QWidget):
    """Holds a page without a layout of its own, so its scroll area scrolls only below the
    page's minimum size. (A layout with word-wrapped labels reports height-for-width, and
    QScrollArea then scrolls whenever the page is shorter than its *preferred* height.)"""

    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self.page = page
        page.setParent(self)
        page.installEventFilter(self)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt
        return self.page.minimumSizeHint().expandedTo(self.page.minimumSize())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt
        return self.minimumSizeHint()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt
        self.page.setGeometry(self.rect())

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt
        if obj is self.page and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the page's minimum may have changed
        return False


def _page(widget: QWidget) -> QScrollArea:
    """A tab page that scrolls when the window is smaller than the page's minimum size."""
    scroll = QScrollArea()
    scroll.setObjectName(f"{widget.objectName() or 'page'}Scroll")
    scroll.setWidget(_Fitted(widget))
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    return scroll
