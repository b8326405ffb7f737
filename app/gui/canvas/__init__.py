"""The network canvas: a QGraphicsScene mirroring the graph, and the view that edits it.

``CanvasView(project, undo_stack)`` is the widget; ``CanvasScene`` mirrors the
graph; ``layout.layered_layout`` is the automatic layout. The Qt modules are
imported lazily, so ``app.gui.commands`` (which uses the layout helpers) and
the pure layout tests do not pull in more than they need.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CanvasScene", "CanvasView", "layered_layout"]


def __getattr__(name: str) -> Any:
    if name == "CanvasView":
        from app.gui.canvas.view import CanvasView

        return CanvasView
    if name == "CanvasScene":
        from app.gui.canvas.scene import CanvasScene

        return CanvasScene
    if name == "layered_layout":
        from app.gui.canvas.layout import layered_layout

        return layered_layout
    raise AttributeError(name)
