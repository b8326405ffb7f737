"""The diagnostics panel: the analyzer's errors and warnings, each with its fix.

One row per problem: a severity icon, the layer, the message (wrapped), and a
``Fix`` button (objectName ``fixButton``) labelled with the suggested fix;
further fixes sit in the button's menu. Clicking a row emits ``nodeRequested``
with the layer's id (the window selects and centres it); a Fix button emits
``fixRequested`` with the Fix (the window pushes it as one undo step).

The panel shrinks to its one summary line when there is nothing to list, and
when the window says so (outside the Design tab), so it does not take room
from the other tabs; ``collapsedChanged`` tells the window to resize its dock.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.diagnostics import ERROR, WARNING, Diagnostic, Fix
from app.gui.app import icon

SEVERITY_ORDER = {ERROR: 0, WARNING: 1}


class DiagnosticRow(QFrame):
    """One problem; a click anywhere but the button asks for its layer."""

    clicked = Signal(object)  # Diagnostic
    fixClicked = Signal(object)  # Fix

    def __init__(self, diag: Diagnostic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.diagnostic = diag
        self.setObjectName("diagnosticRow")
        self.setProperty("severity", diag.severity)
        self.setProperty("selected", False)
        self.setCursor(Qt.CursorShape.PointingHandCursor if diag.node else Qt.CursorShape.ArrowCursor)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 7, 10, 7)
        lay.setSpacing(10)

        ic = QLabel(self)
        ic.setObjectName("severityIcon")
        name = {"error": "error", "warning": "warning"}.get(diag.severity, "info")
        ic.setPixmap(icon(name).pixmap(QSize(18, 18)))
        ic.setToolTip(diag.severity.capitalize())
        ic.setAlignment(Qt.AlignmentFlag.AlignTop)
        ic.setFixedWidth(20)
        lay.addWidget(ic, 0, Qt.AlignmentFlag.AlignTop)

        text = QVBoxLayout()
        text.setSpacing(1)
        layer = QLabel(diag.layer or "Network", self)
        layer.setObjectName("diagnosticLayer")
        text.addWidget(layer)
        msg = QLabel(diag.message, self)
        msg.setObjectName("diagnosticMessage")
        msg.setWordWrap(True)
        msg.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        text.addWidget(msg)
        lay.addLayout(text, 1)

        self.fix_button: QPushButton | None = None
        if diag.fixes:
            fix = diag.fixes[0]
            btn = QPushButton(fix.label, self)
            btn.setObjectName("fixButton")
            btn.setIcon(icon("fix"))
            btn.setCursor(Qt.CursorShape.PointingHandCursor)
            btn.setToolTip(f"{fix.label} (one undo step)")
            btn.clicked.connect(lambda: self.fixClicked.emit(fix))
            lay.addWidget(btn, 0, Qt.AlignmentFlag.AlignVCenter)
            self.fix_button = btn
            if len(diag.fixes) > 1:
                more = QToolButton(self)
                more.setObjectName("moreFixes")
                more.setText("More")
                more.setToolTip("Other ways to fix it")
                more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
                menu = QMenu(more)
                for other in diag.fixes[1:]:
                    act = QAction(other.label, menu)
                    act.triggered.connect(lambda _=False, f=other: self.fixClicked.emit(f))
                    menu.addAction(act)
                more.setMenu(menu)
                lay.addWidget(more, 0, Qt.AlignmentFlag.AlignVCenter)

    def set_selected(self, on: bool) -> None:
        self.setProperty("selected", on)
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.diagnostic)
            event.accept()
            return
        super().mousePressEvent(event)


class DiagnosticsPanel(QWidget):
    """objectName ``diagnostics``."""

    nodeRequested = Signal(str)
    fixRequested = Signal(object)  # Fix
    collapsedChanged = Signal(bool)
    expandRequested = Signal()  # the summary's "show" link (outside the Design tab)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("diagnostics")
        self.rows: list[DiagnosticRow] = []
        self.diagnostics: list[Diagnostic] = []
        self._held = False  # collapsed by the window, whatever there is to list
        self._collapsed = False
        self._summary = ""

        self.header = QLabel(self)
        self.header.setObjectName("diagnosticsHeader")
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.linkActivated.connect(lambda _link: self.expandRequested.emit())
        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("diagnosticsScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setMinimumHeight(44)  # one row: the window's minimum height stays small
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(4)
        lay.addWidget(self.header)
        lay.addWidget(self.scroll, 1)
        self.set_loading()

    # -- content ----------------------------------------------------------------
    def _body(self) -> QVBoxLayout:
        body = QWidget()
        body.setObjectName("diagnosticsBody")
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        old = self.scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self.scroll.setWidget(body)
        return lay

    def set_loading(self, text: str = "Checking the network…") -> None:
        self.rows = []
        self.diagnostics = []
        self._set_header(f"<span style='color:#6B7280'>{text}</span>")
        lay = self._body()
        lay.addStretch(1)
        self._update_collapsed()

    def set_analysis(self, analysis: Any) -> None:
        """Show ``analysis.diagnostics``: errors first, then warnings, then notes."""
        diags = sorted(analysis.diagnostics, key=lambda d: SEVERITY_ORDER.get(d.severity, 2))
        self.diagnostics = diags
        ne = sum(1 for d in diags if d.severity == ERROR)
        nw = sum(1 for d in diags if d.severity == WARNING)
        if not diags:
            self._set_header(
                "<span style='color:#2E9E6B; font-weight:600'>✓ No problems found</span>"
                "<span style='color:#6B7280'> — the network builds and fits its loss.</span>"
            )
        else:
            parts = []
            if ne:
                parts.append(f"<span style='color:#D64545; font-weight:600'>{ne} error{'s' * (ne != 1)}</span>")
            if nw:
                parts.append(f"<span style='color:#B7791F; font-weight:600'>{nw} warning{'s' * (nw != 1)}</span>")
            rest = len(diags) - ne - nw
            if rest:
                parts.append(f"{rest} note{'s' * (rest != 1)}")
            hint = " — click one to show its layer" if any(d.node for d in diags) else ""
            self._set_header(", ".join(parts) + f"<span style='color:#6B7280'>{hint}</span>")
        lay = self._body()
        self.rows = []
        if not diags:
            calm = QLabel("Errors and warnings about the network appear here, each with its layer and, "
                          "where there is one, a one-click fix.")
            calm.setObjectName("diagnosticsEmpty")
            calm.setWordWrap(True)
            calm.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lay.addStretch(1)
            lay.addWidget(calm)
        for d in diags:
            row = DiagnosticRow(d)
            row.clicked.connect(self._row_clicked)
            row.fixClicked.connect(self.fixRequested)
            lay.addWidget(row)
            self.rows.append(row)
        lay.addStretch(1)
        self._update_collapsed()

    def set_failed(self, message: str) -> None:
        self.diagnostics = []
        self._set_header(f"<span style='color:#D64545'>The analysis failed: {message}</span>")
        self._update_collapsed()

    # -- collapsing to the summary line --------------------------------------------
    def hold_collapsed(self, on: bool) -> None:
        """Keep the panel at its summary line (the window does this outside the Design tab)."""
        self._held = bool(on)
        self._update_collapsed()

    def is_collapsed(self) -> bool:
        return self._collapsed

    def _set_header(self, html: str) -> None:
        self._summary = html
        self._paint_header()

    def _paint_header(self) -> None:
        link = " <a href='show' style='color:#3B6FE0'>Show</a>" if self._collapsed and self.diagnostics else ""
        self.header.setText(self._summary + link)

    def _update_collapsed(self) -> None:
        collapsed = self._held or not self.diagnostics
        self.scroll.setVisible(not collapsed)
        if collapsed:
            margins = self.layout().contentsMargins()
            self.setMaximumHeight(self.header.sizeHint().height() + margins.top() + margins.bottom())
        else:
            self.setMaximumHeight(16777215)
        changed = collapsed != self._collapsed
        self._collapsed = collapsed
        self._paint_header()
        if changed:
            self.collapsedChanged.emit(collapsed)

    def _row_clicked(self, diag: Diagnostic) -> None:
        for row in self.rows:
            row.set_selected(row.diagnostic is diag)
        if diag.node:
            self.nodeRequested.emit(diag.node)

    # -- queries (tests) ------------------------------------------------------------
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def row_for(self, code: str) -> DiagnosticRow | None:
        for row in self.rows:
            if row.diagnostic.code == code:
                return row
        return None


# -- a wrong setting, shown on its widget (Train and Data panels) ------------------------------
PROBLEM_PROPERTY = "settingProblem"
PROBLEM_STYLE = """
*[settingProblem="true"] { border: 2px solid #D64545; border-radius: 4px; background: #FFF5F4; }
QLabel#settingProblemText { color: #8C1D18; }
"""


def mark_widget(widget: QWidget, message: str | None) -> None:
    """Red border and the problem in the tooltip (``message``), or back to normal (None).

    The widget's own tooltip is kept in a property and comes back when the problem goes.
    """
    plain = widget.property("plainToolTip")
    if plain is None:
        plain = widget.toolTip()
        widget.setProperty("plainToolTip", plain)
    widget.setProperty(PROBLEM_PROPERTY, bool(message))
    widget.setToolTip(f"<b>{_esc(message)}</b><br>{_esc(plain)}" if message else plain)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class SettingProblemLine(QWidget):
    """One short message line under a setting's widget, with a one-click fix where there is one.

    ``show_problem(None)`` hides it. ``fixClicked`` carries the SettingProblem.
    """

    fixClicked = Signal(object)  # SettingProblem

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingProblemLine")
        self.problem: Any = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 2)
        lay.setSpacing(3)
        self.text = QLabel(self)
        self.text.setObjectName("settingProblemText")
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.text)
        self.fix_button = QPushButton(self)
        self.fix_button.setObjectName("settingFixButton")
        self.fix_button.setIcon(icon("fix"))
        self.fix_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.fix_button.clicked.connect(lambda: self.problem is not None and self.fixClicked.emit(self.problem))
        lay.addWidget(self.fix_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.setVisible(False)

    def show_problem(self, problem: Any) -> None:
        self.problem = problem
        if problem is None:
            self.setVisible(False)
            return
        self.text.setText(f"⚠ {_esc(problem.message)}")
        fixable = problem.fix_value is not None and bool(problem.fix)
        self.fix_button.setVisible(fixable)
        if fixable:
            self.fix_button.setText(problem.fix)
            self.fix_button.setToolTip(f"{problem.fix} (the other settings stay as they are)")
        self.setVisible(True)


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["DiagnosticRow", "DiagnosticsPanel", "Fix", "SettingProblemLine", "mark_widget"]
