"""The main window: palette, canvas, inspector and diagnostics around one project.

Layout: the canvas in the centre; the palette (left), the inspector and the undo
history (right, tabbed) and the Problems list (bottom) are docks the user can
move. The window fits a 1280×720 screen: the side docks keep at least 180 px
(the centre gives way first, and they get their width back when the window
grows) and Problems shrinks to its summary line when it has nothing to list.
Every edit is a QUndoCommand on one QUndoStack (Edit menu, history view).

Start-up: nothing here imports Keras. The window is shown and painted first;
then the analysis thread imports Keras in the background (``kerasReady``) and
analyzes the project; whatever needs Keras waits for it and says "loading".

``run_gui(args)`` is what ``layerlab gui`` calls; with ``--smoke-test`` it
opens the window, waits until it is painted and idle, optionally saves a
screenshot, prints ``startup_s=S keras_imported=yes|no`` and exits 0.

Start time: the figure is measured from the moment the *process* was created,
not from when this module was imported, so interpreter start-up and every
import count. On Linux the kernel records each process's start in
``/proc/self/stat`` (field 22, clock ticks since boot on the boot-time clock);
``time.clock_gettime(CLOCK_BOOTTIME)`` reads that same clock now, so their
difference is the process's age (10 ms resolution), which we turn into a
``perf_counter`` origin once, at import. Elsewhere we fall back to the
import time of this module (a lower bound).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def _process_start_perf() -> float:
    """The ``time.perf_counter()`` reading at which this process was created."""
    now_perf = time.perf_counter()
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            stat = fh.read()
        fields = stat[stat.rindex(")") + 2 :].split()
        start_ticks = int(fields[19])  # field 22 of the whole line: starttime
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
        if 0.0 <= age < 3600.0:
            return now_perf - age
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    return now_perf


PROCESS_START = _process_start_perf()

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtGui import (  # noqa: E402
    QAction,
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QToolBar,
    QUndoView,
    QWidget,
)

from app.core.graph import EVENT_NODE_MOVED, INPUT_CLASS, GraphEvent, NetworkGraph  # noqa: E402
from app.core.project import SUFFIX, Project, ProjectError, load_project  # noqa: E402
from app.core.templates import TemplateError, load_template  # noqa: E402
from app.gui import recovery as recovery_mod  # noqa: E402
from app.gui.analysis_worker import AnalysisService, JobResult  # noqa: E402
from app.gui.app import create_application, icon, settings  # noqa: E402
from app.gui.canvas import CanvasView  # noqa: E402
from app.gui.commands import ApplyFix  # noqa: E402
from app.gui.diagnostics_panel import DiagnosticsPanel  # noqa: E402
from app.gui.inspector import Inspector  # noqa: E402
from app.gui.palette import LayerPalette  # noqa: E402
from app.gui.recovery import RecoveryManager  # noqa: E402
from app.gui.template_gallery import EMPTY, TemplateGallery  # noqa: E402

DEFAULT_TEMPLATE = "mnist-cnn"
DEFAULT_DATA = "sample:digits"
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
MAX_RECENT = 8
PROJECT_FILTER = "LayerLab projects (*.layerlab)"
DOCK_MIN_WIDTH = 180  # the palette and the inspector never get narrower
CANVAS_MIN_WIDTH = 240  # the centre gives way first, down to this
PROBLEMS_HEIGHT = 150  # the Problems dock's first height when it lists problems
TITLE_BAR_ALLOWANCE = 32  # what a window manager's title bar takes above the window
STATE_VERSION = 2  # saveState's version: 2 = History beside the inspector, Problems alone below
MODEL_FILTER = "Keras models (*.keras *.h5 *.hdf5)"


def default_project() -> Project:
    """The embedded default: the mnist-cnn template on the built-in digits, ready to train."""
    project = load_template(DEFAULT_TEMPLATE)
    if not project.data.source:
        from dataclasses import replace

        project.data = replace(project.data, source=DEFAULT_DATA)
    return project


def empty_project() -> Project:
    g = NetworkGraph()
    g.add_node(INPUT_CLASS, {"shape": [28, 28, 1]}, name="input", position=(0.0, 0.0))
    project = Project(graph=g, name="untitled")
    return project


def fmt_bytes(n: float) -> str:
    """``12.3 MB`` (the engine's fmt_bytes, without importing the engine)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.0f} B"


def fmt_count(n: int) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.1f} M"
    return f"{n:,}"


class MainWindow(QMainWindow):
    """One project in one window."""

    projectChanged = Signal(object)  # the new Project (New, Open, Import, Recover)
    analysisApplied = Signal(object)  # the Analysis now on screen
    importFinished = Signal(bool)  # a model import ended (True: the project was replaced)
    exportFinished = Signal(object)  # the written path, or None
    firstPainted = Signal()

    confirm_unsaved = True  # tests switch prompts off

    def __init__(
        self,
        project: Project | None = None,
        *,
        offer_recovery: bool = True,
        autosave: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setDockNestingEnabled(True)
        self.setDocumentMode(True)
        self.offer_recovery = offer_recovery
        self._painted = False
        self._closed = False
        self.background = True  # start the analysis thread after the first paint
        self._force_dirty = False
        self._selected: list[str] = []
        self._analysis_queued = False
        self._jobs: dict[int, tuple[str, Any]] = {}
        self.last_analysis: Any = None
        self.export_dialog: Any = None  # the Export dialog while it is open

        self.project: Project = project if project is not None else default_project()
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self.analysis = AnalysisService(self)

        # central canvas and docks
        self.canvas = CanvasView(self.project, self.undo_stack, self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("workspaceTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.canvas, "Design")
        self.setCentralWidget(self.tabs)
        self.workspace: Any = None  # Data / Train / Results / Predict, built after the first paint
        self._workspace_building: Any = None  # the workspace while it is built step by step
        self.setAcceptDrops(True)
        self.palette = LayerPalette(parent=self)
        self.inspector = Inspector(self.project, self.undo_stack, parent=self)
        self.diagnostics = DiagnosticsPanel(self)
        self.history = QUndoView(self.undo_stack, self)
        self.history.setObjectName("undoHistory")
        self.history.setEmptyLabel("Opened")
        self.palette_dock = self._dock("Layers", "paletteDock", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspectorDock", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.diagnostics_dock = self._dock("Problems", "diagnosticsDock", self.diagnostics, Qt.DockWidgetArea.BottomDockWidgetArea)
        # History shares the inspector's column: the Problems dock alone owns the bottom
        # strip, so it can shrink to its summary line without squeezing another dock.
        self.history_dock = self._dock("History", "historyDock", self.history, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.inspector_dock, self.history_dock)
        self.inspector_dock.raise_()
        self.tabs.setMinimumWidth(CANVAS_MIN_WIDTH)  # below this the side docks give way too
        self.dock_widths = DockWidths(self, {self.palette_dock: 230, self.inspector_dock: 320})
        self._problems_height = PROBLEMS_HEIGHT
        self.resizeDocks([self.diagnostics_dock], [PROBLEMS_HEIGHT], Qt.Orientation.Vertical)
        self.diagnostics.collapsedChanged.connect(self._fit_problems_dock)

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self._connect()

        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)  # never leave the thread running at exit
        self.recovery = RecoveryManager(lambda: self.project, self.is_modified, self)
        if autosave:
            self.recovery.start()

        self._attach(self.project)
        self.resize(1400, 880)
        self._restore_settings()
        self._update_title()
        self.installEventFilter(self)

    # -- construction -----------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        if area in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea):
            dock.setMinimumWidth(DOCK_MIN_WIDTH)  # layer names stay readable in a narrow window
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _fit_problems_dock(self, collapsed: bool) -> None:
        """The Problems dock at its summary line (collapsed), or back at the height it had."""
        dock = self.diagnostics_dock
        if collapsed:
            if dock.height() > 2 * self.diagnostics.maximumHeight():
                self._problems_height = dock.height()
        elif dock.isVisible() and not dock.isFloating():
            # once the layout has dropped the collapsed maximum (a posted layout request)
            QTimer.singleShot(0, self, lambda: self.resizeDocks([dock], [self._problems_height], Qt.Orientation.Vertical))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt
        super().resizeEvent(event)
        self.dock_widths.window_resized()

    def _action(self, text: str, slot: Any, shortcut: Any = None, icon_name: str | None = None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            act.setShortcuts(QKeySequence.keyBindings(shortcut))
        elif isinstance(shortcut, list):
            act.setShortcuts(shortcut)
        elif shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if icon_name:
            act.setIcon(icon(icon_name))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.triggered.connect(slot)
        return act

    def _make_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.act_new = self._action("&New…", self.new_project, K.New, "new", "Start a new network from a template")
        self.act_open = self._action("&Open…", lambda: self.open_file(), K.Open, "open", "Open a project or a Keras model")
        self.act_save = self._action("&Save", self.save, K.Save, "save", "Save the project")
        self.act_save_as = self._action("Save &As…", self.save_as, K.SaveAs, None, "Save the project under a new name")
        if self.act_save_as.shortcut().isEmpty():  # no standard binding on some platforms
            self.act_save_as.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.act_import = self._action("&Import Keras Model…", lambda: self.import_model(), None, "import",
                                       "Turn a .keras or .h5 model into an editable network (safe mode)")
        self.act_export = self._action("&Export…", lambda: self.open_export_dialog(), "Ctrl+E", "export",
                                       "Export the trained model (latest run by default) or the design: "
                                       ".keras, SavedModel, TFLite, ONNX or a training script")
        self.act_quit = self._action("&Quit", self.close, K.Quit, None, "Quit LayerLab")
        if self.act_quit.shortcut().isEmpty():
            self.act_quit.setShortcut(QKeySequence("Ctrl+Q"))

        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts(QKeySequence.keyBindings(K.Undo))
        self.act_undo.setIcon(icon("undo"))
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts(_redo_keys())
        self.act_redo.setIcon(icon("redo"))
        self.act_cut = self._action("Cu&t", self.cut, K.Cut, None, "Cut the selected layers")
        self.act_copy = self._action("&Copy", self.copy, K.Copy, None, "Copy the selected layers")
        self.act_paste = self._action("&Paste", self.paste, K.Paste, None, "Paste layers")
        # Backspace too, but only where the canvas has the focus (it handles that key itself)
        self.act_delete = self._action("&Delete", self.delete_selected, K.Delete, "delete", "Delete the selected layers")
        self.act_select_all = self._action("Select &All", self.select_all, K.SelectAll, None, "Select every layer")

        self.act_zoom_in = self._action("Zoom &In", self.canvas.zoom_in,
                                        [*QKeySequence.keyBindings(K.ZoomIn), QKeySequence("Ctrl+=")], "zoom-in", "Zoom in")
        self.act_zoom_out = self._action("Zoom &Out", self.canvas.zoom_out, K.ZoomOut, "zoom-out", "Zoom out")
        self.act_fit = self._action("&Fit Network", self.canvas.fit, "Ctrl+0", "fit", "Show the whole network")
        self.act_relayout = self._action("&Tidy Layout", self.canvas.relayout, "Ctrl+L", "layout",
                                         "Arrange the layers automatically (one undo step)")
        self.act_find_layer = self._action("Find &Layer…", self.palette.focus_search, K.Find, None,
                                           "Search the layer palette")
        for act in (self.act_cut, self.act_copy, self.act_delete):
            act.setEnabled(False)

    def _make_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.act_new, self.act_open])
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        m.addSeparator()
        m.addActions([self.act_save, self.act_save_as])
        m.addSeparator()
        m.addActions([self.act_import, self.act_export])
        m.addSeparator()
        m.addAction(self.act_quit)

        m = mb.addMenu("&Edit")
        m.addActions([self.act_undo, self.act_redo])
        m.addSeparator()
        m.addActions([self.act_cut, self.act_copy, self.act_paste, self.act_delete])
        m.addSeparator()
        m.addActions([self.act_select_all, self.act_find_layer])

        m = mb.addMenu("&View")
        m.addActions([self.act_zoom_in, self.act_zoom_out, self.act_fit])
        m.addSeparator()
        m.addAction(self.act_relayout)
        m.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.diagnostics_dock, self.history_dock):
            m.addAction(dock.toggleViewAction())

        m = mb.addMenu("&Help")
        m.addAction(self._action("&About LayerLab", self.about))

    def _make_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(20, 20))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        tb.addActions([self.act_new, self.act_open, self.act_save])
        tb.addSeparator()
        tb.addActions([self.act_undo, self.act_redo, self.act_delete])
        tb.addSeparator()
        tb.addActions([self.act_zoom_out, self.act_zoom_in, self.act_fit, self.act_relayout])
        tb.addSeparator()
        tb.addActions([self.act_import, self.act_export])
        for act in tb.actions():
            if act.shortcut().toString():
                act.setToolTip(f"{act.toolTip() or act.text().replace('&', '')}  ({act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        sb.setObjectName("statusBar")
        sb.setSizeGripEnabled(True)
        self.state_busy = QProgressBar(self)
        self.state_busy.setObjectName("busyIndicator")
        self.state_busy.setRange(0, 0)
        self.state_busy.setFixedSize(70, 8)
        self.state_busy.setTextVisible(False)
        self.state_label = QLabel("Checking…", self)
        self.state_label.setObjectName("analysisState")
        self.keras_label = QLabel("Loading TensorFlow…", self)
        self.keras_label.setObjectName("kerasState")
        self.keras_label.setToolTip("Keras and TensorFlow load in the background; training and model import wait for them")
        self.params_label = QLabel("Parameters —", self)
        self.params_label.setObjectName("paramsLabel")
        self.params_label.setToolTip("Total parameters of the network (trainable and frozen)")
        self.memory_label = QLabel("Memory —", self)
        self.memory_label.setObjectName("memoryLabel")
        self.memory_label.setToolTip("Estimated training memory: weights, gradients, optimizer state and activations")
        for w in (self.keras_label, self.state_busy, self.state_label, self.params_label, self.memory_label):
            sb.addPermanentWidget(w)

    def _connect(self) -> None:
        self.palette.layerActivated.connect(self._add_from_palette)
        self.canvas.selectionChangedIds.connect(self._on_selection)
        self.canvas.nodeActivated.connect(self._on_node_activated)
        self.diagnostics.nodeRequested.connect(self.show_node)
        self.diagnostics.fixRequested.connect(self.apply_fix)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.undo_stack.indexChanged.connect(self._on_edit)
        self.analysis.kerasReady.connect(self._on_keras_ready)
        self.analysis.kerasFailed.connect(self._on_keras_failed)
        self.analysis.analyzed.connect(self._on_analyzed)
        self.analysis.analysisFailed.connect(self._on_analysis_failed)
        self.analysis.busyChanged.connect(self._on_busy)
        self.analysis.jobFinished.connect(self._on_job)

    # -- start-up -----------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self and not self._painted and event.type() == QEvent.Type.Paint:
            self._painted = True
            QTimer.singleShot(0, self._after_first_paint)
        return super().eventFilter(obj, event)

    def _after_first_paint(self) -> None:
        if self._closed:
            return
        self.firstPainted.emit()
        self.start_background()
        from app.gui.preload import ModulePreloader

        self._preloader = ModulePreloader(parent=self)
        self._preloader.finished.connect(self._build_workspace_step)
        self._preloader.start()
        if self.offer_recovery:
            QTimer.singleShot(0, self.check_recovery)

    def build_workspace(self) -> Any:
        """The Data, Train, Results and Predict tabs, now (idempotent)."""
        if self.workspace is None and not self._closed:
            self._complete_workspace()
            if self.workspace is None:
                from app.gui.workspace import Workspace

                self.workspace = Workspace(self)
        return self.workspace

    def _complete_workspace(self) -> None:
        """A workspace being built step by step: build the rest now; it is the workspace."""
        if self._workspace_building is not None:
            self._workspace_building.finish()
            self.workspace, self._workspace_building = self._workspace_building, None

    def _build_workspace_step(self) -> None:
        """Build the tabs one panel per event-loop turn, so the window keeps answering."""
        if self.workspace is not None or self._closed:
            return
        if self._workspace_building is None:
            from app.gui.workspace import Workspace

            self._workspace_building = Workspace(self, staged=True)
        if self._workspace_building.step():
            QTimer.singleShot(10, self._build_workspace_step)  # 0 would starve input and timers
        else:
            self._complete_workspace()

    def mark_modified(self) -> None:
        """A settings edit made outside the undo stack (data and training panels)."""
        self._force_dirty = True
        self._update_title()
        self._schedule_analysis()

    def request_analysis(self) -> None:
        self._schedule_analysis()

    def start_background(self) -> None:
        """Start the analysis thread (after the first paint, so the window comes first)."""
        if self.background:
            self.analysis.start()

    # -- the project ------------------------------------------------------------------
    def _attach(self, project: Project) -> None:
        project.graph.subscribe(self._on_graph_event)
        self._schedule_analysis()

    def set_project(self, project: Project, *, modified: bool = False) -> None:
        """Replace the document (New, Open, Import, Recover); the history starts afresh."""
        self.project.graph.unsubscribe(self._on_graph_event)
        self.project = project
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._force_dirty = modified
        self._selected = []
        self.last_analysis = None
        self.canvas.set_project(project)
        self.inspector.set_project(project)
        self.diagnostics.set_loading("Checking the network…")
        self._attach(project)
        self._update_title()
        if self.workspace is not None:
            self.workspace.refresh_project()
        self.projectChanged.emit(project)
        QTimer.singleShot(0, self.canvas.fit)

    def is_modified(self) -> bool:
        return self._force_dirty or not self.undo_stack.isClean()

    def _update_title(self) -> None:
        name = self.project.path.name if self.project.path else f"{self.project.name} (unsaved)"
        self.setWindowTitle(f"{name}[*] — LayerLab")
        self.setWindowModified(self.is_modified())
        self.setWindowFilePath(str(self.project.path) if self.project.path else "")

    def _on_graph_event(self, event: GraphEvent) -> None:
        if event.kind != EVENT_NODE_MOVED:
            self._schedule_analysis()

    def _on_clean_changed(self, _clean: bool) -> None:
        if not self._closed:
            self._update_title()

    def _on_edit(self, _index: int = 0) -> None:
        if self._closed:
            return
        self._schedule_analysis()  # covers edits outside the graph (training settings)
        if self.workspace is not None:
            self.workspace.training.refresh_from_project()  # a fix or its undo may change the loss
        self._update_title()

    # -- analysis ---------------------------------------------------------------------
    def _schedule_analysis(self) -> None:
        if not self._analysis_queued and not self._closed:
            self._analysis_queued = True
            QTimer.singleShot(0, self._request_analysis)

    def _request_analysis(self) -> None:
        self._analysis_queued = False
        if not self._closed:
            classes = self.workspace.num_classes if self.workspace is not None else None
            self.analysis.request(self.project, classes)

    def _on_keras_ready(self) -> None:
        self.keras_label.hide()

    def _on_keras_failed(self, message: str) -> None:
        self.state_busy.hide()
        self.keras_label.setText("Keras unavailable")
        self.diagnostics.set_failed(message)

    def _on_busy(self, busy: bool) -> None:
        self.state_busy.setVisible(busy)
        if busy:
            self.state_label.setText("Checking…")

    def _on_analyzed(self, payload: tuple[int, Any]) -> None:
        _rev, analysis = payload
        self.last_analysis = analysis
        scene = self.canvas.scene()
        if hasattr(scene, "set_analysis"):
            scene.set_analysis(analysis)
        self.inspector.set_analysis(analysis)
        self.diagnostics.set_analysis(analysis)
        if self.workspace is not None:
            self.workspace.set_analysis(analysis)
        self.params_label.setText(f"Parameters <b>{fmt_count(analysis.total_params)}</b>")
        batch = self.project.training.batch_size
        self.memory_label.setText(f"Training memory ≈ <b>{fmt_bytes(analysis.memory.total)}</b> (batch {batch})")
        from app.engine.analyze import NOT_TRAINABLE  # loaded by the analysis thread already

        ne = len(analysis.errors)
        nw = len(analysis.warnings)
        if ne:
            self.state_label.setText(f"<span style='color:#D64545'>● {ne} error{'s' * (ne != 1)}</span>")
        elif nw:
            self.state_label.setText(f"<span style='color:#B7791F'>● {nw} warning{'s' * (nw != 1)}</span>")
        elif any(d.code == NOT_TRAINABLE for d in analysis.diagnostics):
            self.state_label.setText("<span style='color:#6B7280'>● Network OK</span> — design only: not trainable yet")
        elif self.project.data.source:
            self.state_label.setText("<span style='color:#2E9E6B'>● Ready to train</span>")
        else:
            self.state_label.setText("<span style='color:#2E9E6B'>● Network OK</span> — choose a dataset to train")
        self.analysisApplied.emit(analysis)

    def _on_analysis_failed(self, payload: tuple[int, str]) -> None:
        self.diagnostics.set_failed(payload[1])
        self.state_label.setText("Check failed")

    # -- selection and editing -----------------------------------------------------------
    def _on_selection(self, ids: list[str]) -> None:
        self._selected = [i for i in ids if i in self.project.graph]
        self.inspector.set_selection(self._selected)
        has = bool(self._selected)
        for act in (self.act_cut, self.act_copy, self.act_delete):
            act.setEnabled(has)

    def _on_node_activated(self, node_id: str) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.inspector.show_node(node_id)

    def _add_from_palette(self, class_name: str) -> None:
        self.canvas.add_after_selection(class_name)
        self.canvas.setFocus()

    def show_node(self, node_id: str) -> None:
        """Select and centre a layer (a click on a problem)."""
        if node_id in self.project.graph:
            self.canvas.select_node(node_id)
            self.canvas.center_on(node_id)

    def apply_fix(self, fix: Any) -> None:
        """A diagnostic's Fix, as one undo step."""
        self.undo_stack.push(ApplyFix(self.project, fix))
        self.statusBar().showMessage(f"{fix.label} — Undo ({self.act_undo.shortcut().toString(QKeySequence.SequenceFormat.NativeText)}) takes it back", 5000)

    def delete_selected(self) -> None:
        self.canvas.delete_selection()

    def copy(self) -> None:
        self.canvas.copy_selection()

    def cut(self) -> None:
        self.canvas.cut_selection()

    def paste(self) -> None:
        self.canvas.paste()

    def select_all(self) -> None:
        self.canvas.select_all()

    # -- files ----------------------------------------------------------------------------
    def ask_unsaved(self) -> str:
        """``save``, ``discard`` or ``cancel`` (replaced in tests)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved changes")
        box.setText(f"Save the changes to “{self.project.path.name if self.project.path else self.project.name}”?")
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setStandardButtons(
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, discarded, or unchanged)."""
        if not self.is_modified() or not self.confirm_unsaved:
            return True
        answer = self.ask_unsaved()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_project(self, template: str | None = None) -> bool:
        if not self.maybe_save():
            return False
        name = template or TemplateGallery.choose(self)
        if not name:
            return False
        try:
            project = empty_project() if name == EMPTY else load_template(name)
        except (TemplateError, ProjectError) as exc:
            self.error("Cannot create the network", str(exc))
            return False
        if not project.data.source and name != EMPTY:
            from dataclasses import replace

            project.data = replace(project.data, source=DEFAULT_DATA)
        self.set_project(project)
        self.statusBar().showMessage(f"New network from the {name if name != EMPTY else 'empty'} template", 4000)
        return True

    def _last_dir(self) -> str:
        d = settings().value("lastDir", "", str)
        return d if d and Path(d).is_dir() else str(Path.home())

    def _remember_dir(self, path: Path) -> None:
        settings().setValue("lastDir", str(path.parent))

    def open_file(self, path: str | Path | None = None) -> bool:
        """Open a project, or import a ``.keras``/``.h5`` model (safe mode)."""
        if path is None:
            if not self.maybe_save():
                return False
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Open", self._last_dir(), f"Projects and models (*.layerlab *.keras *.h5 *.hdf5);;{PROJECT_FILTER};;{MODEL_FILTER};;All files (*)"
            )
            if not chosen:
                return False
            path = chosen
        elif not self.maybe_save():
            return False
        p = Path(path)
        self._remember_dir(p)
        if p.suffix.lower() in MODEL_SUFFIXES:
            return self.import_model(p, ask_save=False)
        try:
            project = load_project(p)
        except ProjectError as exc:
            self.error("Cannot open the project", str(exc))
            return False
        self.set_project(project)
        self.add_recent(p)
        self.statusBar().showMessage(f"Opened {p}", 4000)
        return True

    def save(self) -> bool:
        if self.project.path is None:
            return self.save_as()
        return self.save_to(self.project.path)

    def save_as(self) -> bool:
        start = str(Path(self._last_dir()) / f"{self.project.name or 'untitled'}{SUFFIX}")
        chosen, _ = QFileDialog.getSaveFileName(self, "Save project as", start, PROJECT_FILTER)
        if not chosen:
            return False
        target = Path(chosen)
        if target.suffix != SUFFIX:
            target = target.with_name(target.name + SUFFIX)
        return self.save_to(target)

    def save_to(self, path: str | Path) -> bool:
        """Write the project (atomically) and mark it saved."""
        target = Path(path)
        try:
            held = getattr(self.project, "imported_weights", None)
            if held:
                from app.engine.model_import import save_imported_project

                save_imported_project(self.project, held, target)
                self.project.imported_weights = None  # type: ignore[attr-defined]
            else:
                if self.project.name in ("", "untitled"):
                    self.project.name = target.name.removesuffix(SUFFIX)
                self.project.save(target)
        except OSError as exc:
            self.error("Cannot save the project", f"{target}: {exc.strerror or exc}")
            return False
        self.undo_stack.setClean()
        self._force_dirty = False
        self.recovery.saved()
        self.add_recent(target)
        self._remember_dir(target)
        self._update_title()
        self.statusBar().showMessage(f"Saved {target}", 4000)
        if self.workspace is not None:
            self.workspace.project_saved()
        return True

    # import / export run in the Keras thread -------------------------------------------------
    def ask_unsafe(self, path: Path, reason: str) -> bool:
        """Offer the explicit opt-in for a refused model (replaced in tests)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Model refused in safe mode")
        box.setText(f"“{path.name}” was not opened: it needs to run Python code to load.")
        box.setInformativeText(
            f"{reason}.\n\nA model file like this can run any program on your computer. "
            "Open it only if you made it yourself or fully trust where it came from."
        )
        box.addButton(QMessageBox.StandardButton.Cancel)
        trust = box.addButton("Open Anyway (I Trust This File)", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is trust

    def import_model(self, path: str | Path | None = None, *, unsafe: bool = False, ask_save: bool = True) -> bool:
        """Start importing a model; False when it was refused or cancelled right away.

        The safety check reads the file as data, here, at once; the load itself
        needs Keras and runs in the Keras thread (``importFinished`` tells).
        """
        if path is None:
            if not self.maybe_save():
                return False
            chosen, _ = QFileDialog.getOpenFileName(self, "Import Keras model", self._last_dir(), f"{MODEL_FILTER};;All files (*)")
            if not chosen:
                return False
            path, ask_save = chosen, False
        p = Path(path)
        if ask_save and not self.maybe_save():
            return False
        from app.engine.safety import ModelFileError, UnsafeModelError, inspect_model_file

        if not unsafe:
            try:
                inspect_model_file(p)
            except UnsafeModelError as exc:
                if not self.ask_unsafe(p, exc.reason):
                    self.statusBar().showMessage(f"{p.name} was not opened (refused in safe mode)", 6000)
                    return False
                unsafe = True
            except ModelFileError as exc:
                self.error("Cannot import the model", str(exc))
                return False
        from app.engine.model_import import import_model

        job = self.analysis.run_job(import_model, p, unsafe=unsafe)
        self._jobs[job] = ("import", p)
        self.state_label.setText(f"Importing {p.name}…" if self.analysis.ready else f"Loading Keras to import {p.name}…")
        self.background = True
        self.state_busy.show()
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        return True

    # export: a trained run by default, the design only when chosen (and then said) -----------
    def project_runs(self) -> list[Any]:
        """This project's runs (RunInfo), newest first: its runs folder, or, unsaved, the runs
        this window trained (the shared cache folder holds other projects' runs too)."""
        from app.engine.run_folder import list_runs, read_run

        workspace = self.build_workspace()
        if workspace is None:
            return []
        if self.project.path is not None:
            return list_runs(workspace.runs_folder())
        runs = [r for r in (read_run(p) for p in workspace.unsaved_runs) if r is not None]
        return sorted(runs, key=lambda r: r.name, reverse=True)

    def _design_has_weights(self) -> bool:
        if getattr(self.project, "imported_weights", None):
            return True
        try:
            wp = self.project.weights_path
        except ProjectError:  # a sidecar name the export itself refuses, in words
            return False
        return wp is not None and wp.is_file()

    def open_export_dialog(self, run: str | Path | None = None, fmt: str = "keras") -> Any:
        """File > Export… and the runs list's Export…: the dialog, open (window-modal) and returned."""
        from app.gui.export_dialog import ExportDialog

        if self.export_dialog is not None:
            self.export_dialog.close()
        dialog = ExportDialog(
            self.project_runs(),
            project_name=self.project.name,
            design_has_weights=self._design_has_weights(),
            fmt=fmt,
            run=run,
            start_dir=self._last_dir(),
            parent=self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._export_chosen(dialog))
        dialog.finished.connect(lambda *_: self._export_dialog_closed(dialog))
        self.export_dialog = dialog
        dialog.open()
        return dialog

    def _export_dialog_closed(self, dialog: Any) -> None:
        if self.export_dialog is dialog:
            self.export_dialog = None

    def _export_chosen(self, dialog: Any) -> None:
        choice = dialog.choice()
        self._remember_dir(choice.path)
        self.export_to(choice.path, choice.fmt, source_run=choice.run, design=choice.run is None)

    def export_to(self, path: str | Path, fmt: str = "keras", *, source_run: str | Path | None = None,
                  design: bool = False) -> bool:
        """Export in the Keras thread (``exportFinished`` tells): ``source_run``'s trained model, the
        design when ``design``, else the latest completed run (the design when there is none).
        The status bar names what was exported, and says so when its weights are untrained."""
        from app.gui.export_dialog import SUFFIXES, latest_run, run_title

        target = Path(path)
        suffix = SUFFIXES.get(fmt, "")
        if suffix and not target.name.lower().endswith((suffix, ".h5") if fmt == "keras" else suffix):
            target = target.with_name(target.name + suffix)
        run = None
        if fmt != "python" and not design:
            if source_run is not None:
                from app.engine.run_folder import read_run

                run = read_run(source_run)
                if run is None or not run.has_model:
                    self.error("Cannot export the model", f"{source_run}: not a run folder with a trained model.keras")
                    return False
            else:
                run = latest_run(self.project_runs())
        if run is not None:
            source: Any = run.path
            what = run_title(run)
        else:
            source = self.project.copy()
            source.imported_weights = getattr(self.project, "imported_weights", None)  # type: ignore[attr-defined]
            if fmt == "python":
                what = "the training script"
            elif self._design_has_weights():
                what = "the design with its imported weights"
            else:
                what = "the untrained design (fresh weights: it predicts at random until trained)"
        from app.engine.export import export

        job = self.analysis.run_job(export, source, fmt, target)
        self._jobs[job] = ("export", what)
        self.statusBar().showMessage(f"Exporting {what} to {target.name}…")
        return True

    def export_keras(self, path: str | Path | None = None) -> bool:
        """A ``.keras`` file of the latest completed run (or the design): the dialog without ``path``."""
        if path is None:
            self.open_export_dialog(fmt="keras")
            return True
        return self.export_to(path, "keras")

    def _on_job(self, result: JobResult) -> None:
        kind, path = self._jobs.pop(result.job_id, ("?", None))
        if kind == "import":
            QApplication.restoreOverrideCursor()
            if result.ok:
                self.set_project(result.value, modified=True)
                self.statusBar().showMessage(f"Imported {path} ({len(result.value.graph)} layers); save it to keep it", 6000)
                self.importFinished.emit(True)
            else:
                self.state_label.setText("")
                self.error("Cannot import the model", _one_line(result.error))
                self.importFinished.emit(False)
        elif kind == "export":
            if result.ok:
                self.statusBar().showMessage(f"Exported {path} to {result.value}", 10000)
                self.exportFinished.emit(result.value)
            else:
                self.statusBar().clearMessage()
                self.error("Cannot export the model", _one_line(result.error))
                self.exportFinished.emit(None)

    def error(self, title: str, text: str) -> None:
        """Tell the user something failed (a message box; printed in smoke tests)."""
        if getattr(self, "_smoke", False):
            print(f"error: {text}", file=sys.stderr)
            return
        QMessageBox.warning(self, title, text)

    # -- recent files -------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = settings().value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: Path) -> None:
        p = str(Path(path).resolve())
        items = [p] + [r for r in self.recent_files() if r != p]
        settings().setValue("recentFiles", items[:MAX_RECENT])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = [r for r in self.recent_files() if Path(r).exists()]
        if not items:
            act = self.recent_menu.addAction("No recent files")
            act.setEnabled(False)
            return
        for r in items:
            act = self.recent_menu.addAction(Path(r).name)
            act.setToolTip(r)
            act.triggered.connect(lambda _=False, path=r: self.open_file(path))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear Recent", lambda: settings().setValue("recentFiles", []))

    # -- recovery -----------------------------------------------------------------------------
    def check_recovery(self) -> bool:
        """Offer the newest autosave of a session that crashed; True if one was restored."""
        found = recovery_mod.find_recoverable()
        if not found:
            return False
        item = found[0]
        if not recovery_mod.ask_restore(self, item):
            for r in found:
                r.discard()
            return False
        try:
            project = item.load()
        except ProjectError as exc:
            self.error("Cannot restore the autosave", str(exc))
            item.discard()
            return False
        for r in found:
            r.discard()
        self.set_project(project, modified=True)
        self.statusBar().showMessage("Restored your unsaved work; save it to keep it", 8000)
        return True

    # -- settings and closing -------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(geometry)
        else:
            self._first_geometry()
        state = s.value("window/state")
        if isinstance(state, QByteArray | bytes) and state:
            self.restoreState(state, STATE_VERSION)  # a state from an older dock layout is ignored

    def _first_geometry(self) -> None:
        """A first start: most of the screen, centred, the title bar included (a laptop's
        1280×720 gets a window that fits, not one whose bottom lies below the screen)."""
        screen = QGuiApplication.primaryScreen()
        if screen is None:
            return
        avail = screen.availableGeometry()
        w = min(1440, int(avail.width() * 0.94), avail.width())
        h = min(920, int(avail.height() * 0.94), avail.height() - TITLE_BAR_ALLOWANCE)
        top = avail.y() + TITLE_BAR_ALLOWANCE + max(0, (avail.height() - TITLE_BAR_ALLOWANCE - h) // 2)
        self.setGeometry(avail.x() + (avail.width() - w) // 2, top, w, h)

    def _save_settings(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(STATE_VERSION))
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.workspace is not None and not self.workspace.can_close():
            event.ignore()
            return
        if not self.maybe_save():
            event.ignore()
            return
        self._save_settings()
        self.hide()  # waiting for a Keras import in progress should not look like a hang
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Clean exit: no recovery offer next time; the Keras thread stopped (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.recovery.finish()
        self.project.graph.unsubscribe(self._on_graph_event)
        self.inspector.detach()
        for signal, slot in (
            (self.undo_stack.indexChanged, self._on_edit),
            (self.undo_stack.cleanChanged, self._on_clean_changed),
        ):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self._complete_workspace()  # a half-built one: all of it must stop
        if self.workspace is not None:
            self.workspace.shutdown()
        self.analysis.stop()

    def about(self) -> None:
        from app import __version__

        QMessageBox.about(
            self,
            "About LayerLab",
            f"<h3>LayerLab {__version__}</h3><p>Design, train and use image neural networks visually, on Keras 3.</p>",
        )

    # -- files dropped on the window ---------------------------------------------------------
    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if self.handle_dropped_paths(paths):
            event.acceptProposedAction()

    def handle_dropped_paths(self, paths: list[Path]) -> bool:
        """Images go to the prediction panel; a project or model file is opened."""
        docs = [p for p in paths if p.suffix.lower() in (SUFFIX, ".keras", ".h5", ".hdf5")]
        if docs:
            return bool(self.open_file(docs[0]))
        workspace = self.build_workspace()
        return workspace is not None and workspace.handle_dropped_paths(paths)

    # -- smoke test ------------------------------------------------------------------------
    def grab_png(self, path: str | Path) -> bool:
        return self.grab().save(str(path), "PNG")


def _redo_keys() -> list[QKeySequence]:
    """The platform's Redo keys plus both common ones, Ctrl+Y and Ctrl+Shift+Z, everywhere.

    Qt's standard Redo is Ctrl+Shift+Z alone on Linux/KDE and Ctrl+Y alone on
    Windows; users bring either habit to any platform.
    """
    keys = list(QKeySequence.keyBindings(QKeySequence.StandardKey.Redo))
    for extra in ("Ctrl+Y", "Ctrl+Shift+Z"):
        seq = QKeySequence(extra)
        if seq not in keys:
            keys.append(seq)
    return keys


class DockWidths(QObject):
    """Gives the side docks back the widths the user chose when the window grows again.

    A narrow window shrinks the centre first, then the docks (down to their minimum);
    Qt hands all regained width to the centre, so the docks would stay squeezed. A
    dock resized while the window kept its size was resized by the user: that width
    is the one to return to.
    """

    def __init__(self, window: QMainWindow, widths: dict[QDockWidget, int]) -> None:
        super().__init__(window)
        self.window = window
        self.wanted = dict(widths)
        self._window_size = window.size()
        self._expected: dict[QDockWidget, int] = {}  # widths this object asked for itself
        window.resizeDocks(list(widths), list(widths.values()), Qt.Orientation.Horizontal)
        for dock in widths:
            dock.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt
        if (
            event.type() == QEvent.Type.Resize
            and obj in self.wanted
            and self._expected.pop(obj, None) != obj.width()
            and self.window.isVisible()
            and self.window.size() == self._window_size
            and not obj.isFloating()
            and self._room() > 0  # (at no room, the layout squeezed it: not the user's choice)
        ):
            self.wanted[obj] = obj.width()
        return False

    def _room(self) -> int:
        """How much narrower the centre could still get."""
        centre = self.window.centralWidget()
        if centre is None:
            return 0
        return centre.width() - max(centre.minimumWidth(), centre.minimumSizeHint().width())

    def window_resized(self) -> None:
        """After the window changed size: widen squeezed docks where the centre has room."""
        self._window_size = self.window.size()
        docks = [d for d in self.wanted if d.isVisible() and not d.isFloating() and d.width() < self.wanted[d]]
        room = self._room()
        if not docks or room <= 0:
            return
        need = sum(self.wanted[d] - d.width() for d in docks)
        share = min(1.0, room / need)
        sizes = [d.width() + int((self.wanted[d] - d.width()) * share) for d in docks]
        self._expected = dict(zip(docks, sizes, strict=True))
        self.window.resizeDocks(docks, sizes, Qt.Orientation.Horizontal)


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- entry point ------------------------------------------------------------------------------
def _prepare_file(path: Path, smoke: bool) -> tuple[Project | None, Path | None, bool, int | None]:
    """(project, model to import, unsafe, exit code): what FILE on the command line means."""
    if path.suffix.lower() in MODEL_SUFFIXES:
        from app.engine.safety import ModelFileError, UnsafeModelError, inspect_model_file

        try:
            inspect_model_file(path)
        except UnsafeModelError as exc:
            if smoke:
                print(f"error: {exc}", file=sys.stderr)
                return None, None, False, 2
            return None, path, False, None  # the window asks for the opt-in
        except ModelFileError as exc:
            if smoke:
                print(f"error: {exc}", file=sys.stderr)
                return None, None, False, 2
            QMessageBox.warning(None, "Cannot import the model", str(exc))
            return None, None, False, None
        return None, path, False, None
    try:
        return load_project(path), None, False, None
    except ProjectError as exc:
        if smoke:
            print(f"error: {exc}", file=sys.stderr)
            return None, None, False, 2
        QMessageBox.warning(None, "Cannot open the project", str(exc))
        return None, None, False, None


def _has_display() -> bool:
    """Whether Qt has somewhere to show a window (always, off Linux/BSD)."""
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(args: Any) -> int:
    """``layerlab gui [--smoke-test [--screenshot PNG]] [FILE]``; returns the exit status."""
    from app.engine.keras_loader import quiet_tensorflow

    quiet_tensorflow()
    smoke = bool(getattr(args, "smoke_test", False))
    if QApplication.instance() is None and not _has_display():
        if not smoke:
            print("error: no display to open the LayerLab window on (set DISPLAY, or run with "
                  "QT_QPA_PLATFORM=offscreen)", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a smoke test on a server: render off screen
    app = create_application()
    file = getattr(args, "file", None)
    project: Project | None = None
    model: Path | None = None
    if file:
        project, model, _unsafe, code = _prepare_file(Path(file), smoke)
        if code is not None:
            return code
    window = MainWindow(project, offer_recovery=not smoke, autosave=not smoke)
    if smoke and not getattr(args, "screenshot", None) and model is None:
        window.background = False  # nothing to wait for: report the start-up and leave
    if smoke:
        window.resize(1400, 880)  # the same picture on every machine (an off-screen screen is small)
        window._smoke = True  # type: ignore[attr-defined]
        window.confirm_unsaved = False
    if project is not None and project.path is not None:
        window.add_recent(project.path)
    window.show()
    if model is not None:  # after the first paint: the window comes first, Keras after
        window.firstPainted.connect(lambda: QTimer.singleShot(0, lambda: window.import_model(model, ask_save=False)))
    if smoke:
        return _smoke_test(app, window, getattr(args, "screenshot", None), model is not None)
    code = app.exec()
    return int(code)


def _smoke_test(app: QApplication, window: MainWindow, screenshot: str | None, importing: bool) -> int:
    """Wait until painted and idle; optionally screenshot (after the first analysis); report."""
    state: dict[str, Any] = {"code": 0}

    def finish() -> None:
        if state.get("done"):
            return
        state["done"] = True
        if screenshot:
            QApplication.processEvents()
            if not window.grab_png(screenshot):
                print(f"error: {screenshot}: cannot write the screenshot", file=sys.stderr)
                state["code"] = 2
        window.shutdown()
        app.exit(0)

    def idle() -> None:
        state["startup_s"] = time.perf_counter() - PROCESS_START
        state["keras"] = "keras" in sys.modules
        if importing:
            window.importFinished.connect(lambda ok: (state.__setitem__("code", 0 if ok else 2), wait_analysis()))
        elif screenshot:
            wait_analysis()
        else:
            finish()

    def wait_analysis() -> None:
        if state.get("code"):
            finish()
            return
        if window.last_analysis is not None and not window.analysis.busy:
            QTimer.singleShot(50, finish)
            return
        window.analysisApplied.connect(lambda _a: QTimer.singleShot(50, finish))
        QTimer.singleShot(120_000, finish)  # never hang a CI job

    window.firstPainted.connect(lambda: QTimer.singleShot(0, idle))
    app.exec()
    print(f"startup_s={state.get('startup_s', float('nan')):.3f} keras_imported={'yes' if state.get('keras') else 'no'}")
    sys.stdout.flush()
    return int(state["code"])
