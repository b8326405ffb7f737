"""GUI test setup shared by every file here."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _clear_clipboard_at_exit():
    """Qt's clipboard owns the QMimeData a copy put there; leaving it at interpreter exit
    makes the offscreen platform free it after Python has torn down its wrapper (a crash
    after the last test). Clearing it while Qt is still alive avoids that."""
    yield
    from PySide6.QtWidgets import QApplication

    from app.gui.app import release_clipboard

    app = QApplication.instance()
    if app is not None:
        release_clipboard(app)


@pytest.fixture
def ready_window(qtbot, tmp_path, monkeypatch):
    """The real main window on the embedded default, shown, analyzed and with its tabs built."""
    from app.gui.main_window import MainWindow

    monkeypatch.setenv("LAYERLAB_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setattr(MainWindow, "confirm_unsaved", False)
    w = MainWindow(offer_recovery=False, autosave=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.analysisApplied, timeout=180_000):  # the first one imports Keras
        w.show()
        qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.workspace is not None, timeout=60_000)
    yield w
    w.shutdown()
