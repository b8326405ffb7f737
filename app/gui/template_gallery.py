"""The New dialog: a gallery of the built-in templates as cards.

Each card shows the template's name, task, input shape, what it can do today
(read from the template: its task and its dataset), a short description and
the layers it starts with; one click selects, a double-click (or Create)
accepts. ``TemplateGallery.choose(parent)`` returns the chosen template's
name, ``EMPTY`` for an empty network, or None when cancelled.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.project import Project
from app.core.templates import TemplateInfo, list_templates, load_template

EMPTY = "__empty__"
TASK_TITLES = {"classification": "Classification", "segmentation": "Segmentation", "regression": "Regression"}
# The tasks LayerLab trains today (the engine refuses a per-pixel output: see
# train.py's output-layer check); a template of another task is design-only.
TRAINABLE_TASKS = ("classification",)


def _shape(shape: tuple[int, ...] | None) -> str:
    return "×".join(str(d) for d in shape) if shape else "any"


def _short(text: str, limit: int = 170) -> str:
    """The first sentences of ``text`` that fit in ``limit`` characters."""
    if len(text) <= limit:
        return text
    out = ""
    for sentence in text.split(". "):
        candidate = f"{out}{sentence}. " if out or sentence else out
        if len(candidate) > limit:
            break
        out = candidate
    return out.strip() or text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def ability(project: Project) -> tuple[str, bool]:
    """What a project can do today, in words, and whether that includes training."""
    if project.task in TRAINABLE_TASKS:
        data = project.data.source
        where = f"on {data}" if data else "on an image folder you choose"
        return f"Trains now {where}; then predict and export.", True
    title = TASK_TITLES.get(project.task, project.task.title())
    return f"{title}: design, check and export; training comes later.", False


def _flow(project: Project) -> tuple[str, int]:
    """``Conv2D → MaxPooling2D → …`` and the layer count of a template."""
    g = project.graph
    names = [g.node(n).class_name for n in g.topological_order() if g.node(n).class_name != "InputLayer"]
    short = []
    for n in names:
        if not short or short[-1] != n:
            short.append(n)
    text = " → ".join(short[:6]) + (" → …" if len(short) > 6 else "")
    return text, len(g)


class TemplateCard(QFrame):
    clicked = Signal(str)
    activated = Signal(str)

    def __init__(self, key: str, title: str, meta: str, description: str, flow: str,
                 can: tuple[str, bool] = ("", True), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("templateCard")
        self.setProperty("selected", False)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(250)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.setSpacing(6)
        t = QLabel(title, self)
        t.setObjectName("cardTitle")
        lay.addWidget(t)
        m = QLabel(meta, self)
        m.setObjectName("cardMeta")
        m.setWordWrap(True)
        lay.addWidget(m)
        text, trains = can
        if text:
            a = QLabel(text, self)
            a.setObjectName("cardAbility")
            a.setProperty("trains", trains)
            a.setWordWrap(True)
            a.setStyleSheet("color:#2E7D4F;" if trains else "color:#9A5B00;")
            lay.addWidget(a)
        d = QLabel(_short(description), self)
        if d.text() != description:
            d.setToolTip(description)
        d.setObjectName("cardDescription")
        d.setWordWrap(True)
        d.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        d.setMinimumHeight(64)
        lay.addWidget(d, 1)
        if flow:
            f = QLabel(flow, self)
            f.setObjectName("cardFlow")
            f.setWordWrap(True)
            lay.addWidget(f)

    def set_selected(self, on: bool) -> None:
        self.setProperty("selected", on)
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit(self.key)
        self.setFocus()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.activated.emit(self.key)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.activated.emit(self.key)
            return
        super().keyPressEvent(event)


class TemplateGallery(QDialog):
    def __init__(self, parent: QWidget | None = None, templates: list[TemplateInfo] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templateGallery")
        self.setWindowTitle("New network")
        self.resize(1000, 720)
        self.templates = templates if templates is not None else list_templates()
        self.cards: dict[str, TemplateCard] = {}
        self.selected: str | None = None

        head = QLabel("Start a new network", self)
        head.setObjectName("dialogTitle")
        sub = QLabel("Pick a template to start from; you can edit every layer. "
                     "Each card says what the network can do today.", self)
        sub.setObjectName("dialogSubtitle")
        sub.setWordWrap(True)

        grid_host = QWidget()
        grid_host.setObjectName("galleryGrid")
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(2, 2, 2, 2)
        grid.setSpacing(12)
        cols = 3
        entries: list[tuple[str, str, str, str, str, tuple[str, bool]]] = []
        for t in self.templates:
            try:
                project = load_template(t.name)
            except Exception:  # noqa: BLE001 - a broken template still gets a card
                flow, count, can = "", 0, ("", False)
            else:
                (flow, count), can = _flow(project), ability(project)
            meta = f"{TASK_TITLES.get(t.task, t.task.title())}  ·  input {_shape(t.input_shape)}  ·  {count} layers"
            entries.append((t.name, t.name, meta, t.description, flow, can))
        entries.append((EMPTY, "Empty network", "Any task  ·  input 28×28×1  ·  1 layer",
                        "Just an Input layer: drag layers from the palette to build your own network.", "",
                        ("Add layers, then train once it ends in a classifier.", False)))
        for i, (key, title, meta, desc, flow, can) in enumerate(entries):
            card = TemplateCard(key, title, meta, desc, flow, can, grid_host)
            card.clicked.connect(self.select)
            card.activated.connect(self._activate)
            grid.addWidget(card, i // cols, i % cols)
            self.cards[key] = card
        grid.setRowStretch(len(entries) // cols + 1, 1)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(grid_host)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create")
        for b in self.buttons.buttons():
            b.setIcon(QIcon())
        self.create_button.setObjectName("primaryButton")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(22, 18, 22, 16)
        lay.setSpacing(8)
        lay.addWidget(head)
        lay.addWidget(sub)
        lay.addSpacing(6)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.buttons)
        first = self.templates[0].name if self.templates else EMPTY
        self.select(first)

    def select(self, key: str) -> None:
        self.selected = key
        for k, card in self.cards.items():
            card.set_selected(k == key)
        self.create_button.setEnabled(True)

    def _activate(self, key: str) -> None:
        self.select(key)
        self.accept()

    def chosen(self) -> str | None:
        return self.selected if self.result() == QDialog.DialogCode.Accepted else None

    @classmethod
    def choose(cls, parent: QWidget | None = None) -> str | None:
        dialog = cls(parent)
        dialog.exec()
        return dialog.chosen()
