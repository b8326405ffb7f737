"""The canvas in the accessibility tree: every card is a child named after its layer.

Cards are QGraphicsItems, not widgets, so Qt's tree would stop at the view. An
accessibility factory gives the canvas an interface whose children are its
cards (name: the layer's name; description: class, problem and shape; rect:
where the card is on screen), so a screen reader can walk the network and a
test can tell which card is which layer (SPEC.md, GUI automation names).

Lifetimes: PySide leaves these interfaces owned by Python while Qt's
accessibility cache keeps raw pointers to them, so this module holds each one
until Qt is told to delete it (a card that left, a view that died, exit).
"""

from __future__ import annotations

import atexit
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QPoint, QRect
from PySide6.QtGui import QAccessible, QAccessibleInterface
from PySide6.QtWidgets import QAccessibleWidget, QGraphicsView

_ALIVE: set[QAccessibleInterface] = set()  # every interface made here, until Qt deletes it
_installed = False


def install_canvas_accessibility() -> None:
    """Register the factory once per process (the canvas calls this)."""
    global _installed
    if not _installed:
        QAccessible.installFactory(_factory)
        atexit.register(_release_all)
        _installed = True


def _factory(key: str, obj: QObject) -> QAccessibleInterface | None:
    if isinstance(obj, QGraphicsView) and hasattr(obj, "card_items"):
        _ALIVE.difference_update([i for i in _ALIVE if not shiboken6.isValid(i)])
        iface = CanvasAccessible(obj)
        _ALIVE.add(iface)
        return iface
    return None


def _release(iface: QAccessibleInterface) -> None:
    """Let Qt delete ``iface`` (dropping it from its cache), then forget it here."""
    _ALIVE.discard(iface)
    if shiboken6.isValid(iface):
        QAccessible.deleteAccessibleInterface(QAccessible.uniqueId(iface))


def _release_all() -> None:
    for iface in list(_ALIVE):
        _release(iface)


def _state(**flags: bool) -> Any:
    state = QAccessible.State()
    for name, on in flags.items():
        setattr(state, name, on)
    return state


class CanvasAccessible(QAccessibleWidget):
    """The canvas: a canvas role whose children are its layer cards, in graph order."""

    def __init__(self, view: QGraphicsView) -> None:
        super().__init__(view, QAccessible.Role.Canvas, "Network canvas")
        self._cards: dict[str, CardAccessible] = {}
        cards = self._cards
        # the view's own interface is deleted by Qt with the view; its cards are ours
        view.destroyed.connect(lambda *_: [_release(c) for c in list(cards.values())])

    def view(self) -> Any:
        return self.object()

    def _ids(self) -> list[str]:
        view = self.view()
        return [item.node_id for item in view.card_items()] if view is not None else []

    def _card(self, node_id: str) -> CardAccessible:
        card = self._cards.get(node_id)
        if card is None or not shiboken6.isValid(card):
            card = CardAccessible(self, node_id)
            _ALIVE.add(card)
            self._cards[node_id] = card
        return card

    def _prune(self, ids: list[str]) -> None:
        keep = set(ids)
        for nid in [n for n in self._cards if n not in keep]:
            _release(self._cards.pop(nid))

    def childCount(self) -> int:
        return len(self._ids())

    def child(self, index: int) -> QAccessibleInterface | None:
        ids = self._ids()
        self._prune(ids)
        return self._card(ids[index]) if 0 <= index < len(ids) else None

    def indexOfChild(self, child: QAccessibleInterface) -> int:
        ids = self._ids()
        nid = getattr(child, "node_id", None)
        return ids.index(nid) if nid in ids else -1

    def childAt(self, x: int, y: int) -> QAccessibleInterface | None:
        view = self.view()
        if view is None:
            return None
        at = view.viewport().mapFromGlobal(QPoint(x, y))
        item = view.card_at(view.mapToScene(at))
        return self._card(item.node_id) if item is not None else None

    def focusChild(self) -> QAccessibleInterface | None:
        view = self.view()
        ids = view.selected_ids() if view is not None else []
        return self._card(ids[0]) if len(ids) == 1 else None


class CardAccessible(QAccessibleInterface):
    """One layer card: named after the layer, selectable and movable like the card."""

    def __init__(self, canvas: CanvasAccessible, node_id: str) -> None:
        super().__init__()
        self.canvas = canvas
        self.node_id = node_id

    def _item(self) -> Any:
        if not shiboken6.isValid(self.canvas) or self.canvas.object() is None:
            return None
        return self.canvas.view().scene().node_item(self.node_id)

    def isValid(self) -> bool:
        return self._item() is not None

    def object(self) -> QObject | None:
        return None

    def window(self) -> Any:
        return self.canvas.window() if shiboken6.isValid(self.canvas) else None

    def parent(self) -> QAccessibleInterface | None:
        return self.canvas if shiboken6.isValid(self.canvas) else None

    def child(self, index: int) -> QAccessibleInterface | None:
        return None

    def childCount(self) -> int:
        return 0

    def indexOfChild(self, child: QAccessibleInterface) -> int:
        return -1

    def childAt(self, x: int, y: int) -> QAccessibleInterface | None:
        return None

    def focusChild(self) -> QAccessibleInterface | None:
        return None

    def relations(self, match: Any = None) -> list[Any]:
        return []

    def text(self, kind: QAccessible.Text) -> str:
        item = self._item()
        if item is None:
            return ""
        if kind == QAccessible.Text.Name:
            return item.accessible_name()
        if kind == QAccessible.Text.Description:
            return item.accessible_description()
        return ""

    def setText(self, kind: QAccessible.Text, text: str) -> None:
        """Names are edited in the inspector (one undo step there), not through here."""

    def rect(self) -> QRect:
        item = self._item()
        if item is None:
            return QRect()
        view = self.canvas.view()
        box = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
        return QRect(view.viewport().mapToGlobal(box.topLeft()), box.size())

    def role(self) -> QAccessible.Role:
        return QAccessible.Role.ListItem

    def state(self) -> Any:
        item = self._item()
        if item is None:
            return _state(invalid=True)
        view = self.canvas.view()
        shown = view.mapToScene(view.viewport().rect()).boundingRect()
        return _state(
            selectable=True,
            selected=item.isSelected(),
            movable=True,
            focusable=True,
            offscreen=not shown.intersects(item.sceneBoundingRect()),
        )
