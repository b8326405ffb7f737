"""Import the modules of the workspace tabs in a background thread.

``import pyqtgraph`` alone holds the GUI thread for ~0.6 s here (and two to
three times that while TensorFlow loads in another thread). Importing is
plain Python, safe off the GUI thread as long as no widget is made, so the
window imports the tab modules here first and builds the tabs once
``finished`` arrives. Importing the same module from the GUI thread meanwhile
simply waits for this import (Python's per-module import lock).
"""

from __future__ import annotations

import importlib
import threading

from PySide6.QtCore import QObject, Signal

WORKSPACE_MODULES = (
    "pyqtgraph",
    "PIL.Image",
    "app.engine.compile",
    "app.engine.data_scan",
    "app.engine.data_sources",
    "app.engine.scan_cache",
    "app.engine.train",
    "app.gui.plots",
    "app.gui.data_panel",
    "app.gui.train_panel",
    "app.gui.runs_panel",
    "app.gui.results_panel",
    "app.gui.predict_panel",
    "app.gui.workspace",
)


class ModulePreloader(QObject):
    """Imports ``modules`` in a daemon thread; ``finished`` is queued to the GUI thread."""

    finished = Signal()

    def __init__(self, modules: tuple[str, ...] = WORKSPACE_MODULES, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.modules = modules
        self.failed: dict[str, str] = {}
        self._thread = threading.Thread(target=self._run, name="layerlab-preload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from app.engine.keras_loader import native_load_lock

        with native_load_lock:  # never while TensorFlow's libraries load (see keras_loader)
            for name in self.modules:
                try:
                    importlib.import_module(name)
                except Exception as exc:  # noqa: BLE001 - the GUI thread's own import reports it
                    self.failed[name] = f"{type(exc).__name__}: {exc}"
        try:
            self.finished.emit()
        except RuntimeError:  # the window (and this object) is already gone
            pass
