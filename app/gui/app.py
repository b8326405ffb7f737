"""The QApplication: name and organization (for QSettings), look, icons.

Fusion style with a light palette and one accent colour, plus the style sheet
in ``resources/style.qss``. Nothing here imports Keras.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from app import __version__
from app.paths import resources_dir

APP_NAME = "LayerLab"
ORG_NAME = "LayerLab"
ORG_DOMAIN = "layerlab.app"

ACCENT = "#3B6FE0"
ACCENT_DARK = "#2F5BBE"
WINDOW_BG = "#F4F6F9"
SURFACE = "#FFFFFF"
TEXT = "#1F2430"
MUTED = "#6B7280"
BORDER = "#DCE1E8"
ERROR = "#D64545"
WARNING = "#C98A1B"
OK = "#2E9E6B"

# Settings go to this INI file when set (tests, portable installs); else Qt's default place.
SETTINGS_ENV = "LAYERLAB_SETTINGS"


def icons_dir() -> Path:
    return resources_dir() / "icons"


@cache
def icon(name: str) -> QIcon:
    """An icon drawn in ``resources/icons/NAME.svg`` (empty icon when missing)."""
    path = icons_dir() / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def settings() -> QSettings:
    """The user's settings: window geometry, recent files, last folder."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(ORG_NAME, APP_NAME)


def light_palette() -> QPalette:
    pal = QPalette()
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    colours = {
        role.Window: WINDOW_BG,
        role.WindowText: TEXT,
        role.Base: SURFACE,
        role.AlternateBase: "#F7F8FA",
        role.ToolTipBase: "#FFFFFF",
        role.ToolTipText: TEXT,
        role.PlaceholderText: "#9AA1AD",
        role.Text: TEXT,
        role.Button: "#FFFFFF",
        role.ButtonText: TEXT,
        role.BrightText: "#FFFFFF",
        role.Light: "#FFFFFF",
        role.Midlight: "#EEF1F5",
        role.Mid: "#C9D0DA",
        role.Dark: "#A0A8B5",
        role.Shadow: "#7A8290",
        role.Highlight: ACCENT,
        role.HighlightedText: "#FFFFFF",
        role.Link: ACCENT,
        role.LinkVisited: ACCENT_DARK,
    }
    for r, c in colours.items():
        pal.setColor(r, QColor(c))
    for r in (role.Text, role.WindowText, role.ButtonText):
        pal.setColor(group.Disabled, r, QColor("#A3AAB6"))
    pal.setColor(group.Disabled, role.Base, QColor("#F2F4F7"))
    pal.setColor(group.Inactive, role.Highlight, QColor("#C9D7F6"))
    pal.setColor(group.Inactive, role.HighlightedText, QColor(TEXT))
    return pal


def style_sheet() -> str:
    path = resources_dir() / "style.qss"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    # url(icons/x.svg) in the sheet is relative to the resources folder.
    return text.replace("url(icons/", f"url({icons_dir().as_posix()}/")


def apply_look(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(light_palette())
    app.setStyleSheet(style_sheet())
    app.setWindowIcon(icon("layerlab"))


_QUIET_QT = ("propagateSizeHints",)  # the off-screen platform's harmless complaint, on every window


def _qt_messages(kind: QtMsgType, context: object, message: str) -> None:
    if kind == QtMsgType.QtWarningMsg and any(q in message for q in _QUIET_QT):
        return
    sys.stderr.write(f"{message}\n")


def create_application(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, set up for LayerLab (re-used when it already exists)."""
    # The analysis thread runs Python (Keras) code: hand the GIL back to the
    # GUI thread every 1 ms instead of 5 ms, so that painting and typing never
    # wait long behind it (halves the longest GUI stalls measured here).
    sys.setswitchinterval(0.0001)
    existing = QApplication.instance()
    if existing is not None:
        assert isinstance(existing, QApplication)
        _identify(existing)
        apply_look(existing)
        return existing
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    qInstallMessageHandler(_qt_messages)
    app = QApplication(list(argv if argv is not None else sys.argv[:1]))
    _identify(app)
    apply_look(app)
    app.aboutToQuit.connect(lambda: release_clipboard(app))
    return app


def release_clipboard(app: QApplication) -> None:
    """Drop copied layers from the clipboard while Qt is still alive.

    The clipboard owns the QMimeData of a copy; left there at exit, Qt frees it
    after Python has torn down its wrapper, and the process crashes on its way out.
    """
    from app.gui.commands import MIME_GRAPH

    board = app.clipboard()
    mime = board.mimeData()
    if mime is not None and mime.hasFormat(MIME_GRAPH):
        board.clear()
        app.processEvents()


def _identify(app: QApplication) -> None:
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setOrganizationDomain(ORG_DOMAIN)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("layerlab")
