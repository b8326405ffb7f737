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
