"""The canvas view: turns drops, drags and keys into undo commands.

Every gesture ends in one command on the shared QUndoStack (a drag that moves
ten cards is one ``MoveLayers``); the scene mirrors the graph's events. The
drop logic lives in plain methods (``handle_drop``, ``connect_ports``) that the
event handlers call and tests call directly.
"""

from __future__ import annotations

import json
import math
import weakref
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPen,
    QPolygonF,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QFrame, QGraphicsView, QMenu, QWidget

from app.core.catalog import load_catalog
from app.core.graph import Edge
from app.core.project import Project
from app.gui.canvas.accessible import install_canvas_accessibility
from app.gui.canvas.items import (
    PORT_RADIUS,
    READABLE_ZOOM,
    ConnectionPreview,
    EdgeItem,
    NodeItem,
    PortItem,
    fonts,
)
from app.gui.canvas.layout import (
    NODE_WIDTH,
    X_GAP,
    Y_PITCH,
    free_position,
    layered_layout,
    needs_layout,
)
from app.gui.canvas.scene import CanvasScene
from app.gui.commands import (
    MIME_GRAPH,
    MIME_LAYER,
    AddLayer,
    Connect,
    MoveLayers,
    PasteLayers,
    Relayout,
    RemoveLayers,
    clipboard_payload,
    input_kind,
)

MIN_ZOOM = READABLE_ZOOM  # never so far out that a card's name is unreadable
MAX_ZOOM = 3.0
ZOOM_STEP = 1.2
DOT_SCENE = PORT_RADIUS + 2.5  # a drop this close to a port's dot (scene units) is on the port
DOT_PIXELS = 4.0  # ... or this close on screen, whichever is larger


def layer_defaults(class_name: str) -> dict[str, Any]:
    """Starting parameters for a new layer of ``class_name`` ({} for an unknown one)."""
    try:
        return load_catalog().defaults(class_name, full=False)
    except KeyError:
        return {}


class CanvasView(QGraphicsView):
    """The network editor. ``objectName`` is "canvas" (SPEC.md)."""

    selectionChangedIds = Signal(list)
    nodeActivated = Signal(str)

    def __init__(
        self, project: Project | None, undo_stack: QUndoStack, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        install_canvas_accessibility()
        self.undo_stack = undo_stack
        self.project: Project | None = None
        self._scene = CanvasScene(None, self)
        self.setScene(self._scene)
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # a canvas, not a document: pan with the wheel, middle button or space + drag
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self._last_selection: list[str] = []
        self._press_positions: dict[str, tuple[float, float]] = {}
        self._pan_from: QPoint | None = None
        self._space = False
        self._conn_port: PortItem | None = None
        self._conn_preview: ConnectionPreview | None = None
        self._conn_target: PortItem | None = None
        self._clipboard: dict[str, Any] | None = None
        self._paste_count = 0
        self._needs_initial_view = False
        self._grid_key: tuple[float, int, int] | None = None  # the background's dots, cached
        self._was_empty = True  # whether the empty-canvas hint is on screen
        self._grid = QPolygonF()
        self._scene.selectionChanged.connect(self._emit_selection)
        # through a weak reference: the stack usually outlives the view (and a
        # dying view must not be called back while Python tears it down)
        ref = weakref.ref(self)

        def after_change(*_: Any) -> None:
            view = ref()
            if view is not None and shiboken6.isValid(view):
                view._after_change()

        undo_stack.indexChanged.connect(after_change)
        self.set_project(project)

    # -- document ----------------------------------------------------------------
    def scene(self) -> CanvasScene:  # type: ignore[override]
        return self._scene

    def set_project(self, project: Project | None, *, layout: bool | None = None) -> None:
        """Show ``project``; ``layout`` None lays it out only when its cards would overlap."""
        self.project = project
        if project is not None and (layout or (layout is None and needs_layout(project.graph))):
            for nid, pos in layered_layout(project.graph).items():
                project.graph.move(nid, pos)
        self._scene.set_project(project)
        self._was_empty = project is None or not len(project.graph)
        self.viewport().update()
        self._last_selection = []
        self._paste_count = 0
        self._update_scene_rect()
        self._needs_initial_view = True
        if self.isVisible() and self.viewport().width() > 50:
            self.initial_view()

    @property
    def graph(self) -> Any:
        assert self.project is not None
        return self.project.graph

    def _after_change(self, *_: Any) -> None:
        """After every edit: the scene rect follows the graph; the changed items repaint themselves.

        The whole viewport is repainted only when the empty-canvas hint appears or goes
        (repainting every visible card per edit held the GUI thread for ~100 ms on DenseNet121).
        """
        self._update_scene_rect()
        empty = self.project is None or not len(self.project.graph)
        if empty != self._was_empty:
            self._was_empty = empty
            self.viewport().update()

    def _update_scene_rect(self) -> None:
        rect = self._scene.graph_rect()
        if rect.isNull():
            rect = QRectF(-400, -300, 800, 600)
        scale = max(self.transform().m11(), MIN_ZOOM)
        mx = max(1500.0, self.viewport().width() / scale)
        my = max(1500.0, self.viewport().height() / scale)
        self.setSceneRect(rect.adjusted(-mx, -my, mx, my))

    # -- zoom ----------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, level: float, anchor: QPointF | None = None) -> None:
        level = min(MAX_ZOOM, max(MIN_ZOOM, level))
        factor = level / self.zoom()
        if abs(factor - 1.0) < 1e-9:
            return
        if anchor is None:
            old = self.transformationAnchor()
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
            self.scale(factor, factor)
            self.setTransformationAnchor(old)
        else:
            self.scale(factor, factor)
        self._update_scene_rect()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / ZOOM_STEP)

    def reset_zoom(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        """Show the whole network, never magnified beyond 100 % nor shrunk past readable.

        A network too big for the view at the least readable zoom opens at its top
        (centred when it is narrow enough); the rest is a pan away.
        """
        rect = self._scene.graph_rect()
        vw, vh = self.viewport().width(), self.viewport().height()
        if not self.isVisible() or vw <= 50 or vh <= 50:
            self._needs_initial_view = True  # fitted once the view has its real size
            return
        self._needs_initial_view = False
        if rect.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
            return
        margin = rect.adjusted(-40, -40, 40, 40)
        z = min(vw / margin.width(), vh / margin.height(), 1.0)
        z = max(z, MIN_ZOOM)
        self.resetTransform()
        self.scale(z, z)
        self._update_scene_rect()
        x = rect.center().x() if margin.width() * z <= vw else margin.left() + vw / z / 2
        y = rect.center().y() if margin.height() * z <= vh else margin.top() + vh / z / 2
        self.centerOn(x, y)

    def initial_view(self) -> None:
        """How a newly shown network opens: fitted (see ``fit``)."""
        self.fit()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._needs_initial_view:
            self.initial_view()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self._needs_initial_view and self.isVisible():
            self.initial_view()

    def center_on(self, node_id: str) -> None:
        item = self._scene.node_item(node_id)
        if item is not None:
            self.centerOn(item)

    def select_node(self, node_id: str) -> None:
        """Select just this layer and bring it into view."""
        self._scene.select_ids([node_id])
        item = self._scene.node_item(node_id)
        if item is not None:
            self.ensureVisible(item, 60, 60)

    # -- cards by name (accessibility, tests) --------------------------------------------
    def card_items(self) -> list[NodeItem]:
        """The layer cards in graph order (the canvas's accessible children)."""
        return list(self._scene.nodes.values())

    def card_at(self, scene_pos: QPointF) -> NodeItem | None:
        for it in self._scene.items(scene_pos):
            if isinstance(it, NodeItem):
                return it
        return None

    def card_text(self, item: NodeItem) -> list[Any]:
        """What ``item`` paints at the current zoom (its ``CardText`` lines, name first)."""
        return item.text_lines(self.zoom())

    def card_by_accessible_name(self, name: str) -> NodeItem | None:
        """The card whose accessible name (the layer's name) is ``name``."""
        return next((it for it in self.card_items() if it.accessible_name() == name), None)

    def select_nodes(self, node_ids: list[str]) -> None:
        self._scene.select_ids(node_ids)

    def selected_ids(self) -> list[str]:
        return self._scene.selected_node_ids()

    def _emit_selection(self) -> None:
        ids = self._scene.selected_node_ids()
        if ids != self._last_selection:
            self._last_selection = ids
            self.selectionChangedIds.emit(ids)

    # -- what is under a point -------------------------------------------------------
    def _tolerance(self, pixels: float) -> float:
        return pixels / max(self.zoom(), 0.25)

    def port_near(
        self, scene_pos: QPointF, *, inputs: bool | None = None, exclude: str | None = None
    ) -> PortItem | None:
        r = self._tolerance(14.0)
        best: tuple[float, PortItem] | None = None
        for it in self._scene.items(QRectF(scene_pos.x() - r, scene_pos.y() - r, 2 * r, 2 * r)):
            if not isinstance(it, PortItem) or it.node_id == exclude:
                continue
            if inputs is not None and it.is_input != inputs:
                continue
            d = math.dist((it.scenePos().x(), it.scenePos().y()), (scene_pos.x(), scene_pos.y()))
            if d <= r and (best is None or d < best[0]):
                best = (d, it)
        return best[1] if best else None

    def edge_near(self, scene_pos: QPointF) -> EdgeItem | None:
        """The connection passing within 10 px (on screen) of ``scene_pos``, nearest first."""
        r = self._tolerance(10.0)
        best: tuple[float, EdgeItem] | None = None
        for it in self._scene.items(QRectF(scene_pos.x() - r, scene_pos.y() - r, 2 * r, 2 * r)):
            if not isinstance(it, EdgeItem):
                continue
            for tol in (r / 4, r / 2, r):  # a coarse distance, enough to pick between two
                if it.distance_ok(scene_pos, tol):
                    if best is None or tol < best[0]:
                        best = (tol, it)
                    break
        return best[1] if best else None

    def drop_target(self, scene_pos: QPointF) -> tuple[Any, ...]:
        """("input", id, slot) | ("output", id, port) | ("node", id) | ("edge", Edge) | ("empty",).

        A port's dot wins; then a card; then a connection anywhere along it (a port's
        wider catch zone would otherwise swallow a short connection between two cards);
        then a port near enough to catch a drop beside it.
        """
        self._scene.flush_routes()
        port = self.port_near(scene_pos)
        dot = max(DOT_SCENE, DOT_PIXELS / max(self.zoom(), 1e-3))
        if port is not None and _distance(port.scenePos(), scene_pos) <= dot:
            return _port_target(port)
        card = self.card_at(scene_pos)
        if card is not None:
            return ("node", card.node_id)
        edge = self.edge_near(scene_pos)
        if edge is not None:
            return ("edge", edge.edge)
        if port is not None:
            return _port_target(port)
        return ("empty",)

    def _hot_items(self, target: tuple[Any, ...]) -> list[Any]:
        kind = target[0]
        if kind == "input":
            item = self._scene.node_item(target[1])
            port = item.input_port(target[2]) if item else None
            return [port] if port else []
        if kind == "output":
            item = self._scene.node_item(target[1])
            port = item.output_port(target[2]) if item else None
            return [port] if port else []
        if kind == "edge":
            e = self._scene.edge_item(target[1])
            return [e] if e else []
        if kind == "node":
            item = self._scene.node_item(target[1])
            if item is None:
                return []
            outs = self.graph.outputs_of(target[1])
            hot: list[Any] = [item.output_port(0)] if item.outputs else []
            if len(outs) == 1 and self._scene.edge_item(outs[0]):
                hot.append(self._scene.edge_item(outs[0]))
            return hot
        return []

    # -- edits -------------------------------------------------------------------------
    def _push_add(self, cmd: AddLayer) -> str | None:
        self.undo_stack.push(cmd)
        if cmd.node_id is not None:
            self._scene.flush_routes()
            self.select_node(cmd.node_id)
        return cmd.node_id

    def _free(self, pos: tuple[float, float]) -> tuple[float, float]:
        return free_position(self.graph, (round(pos[0]), round(pos[1])))

    def handle_drop(self, class_name: str, scene_pos: QPointF) -> str | None:
        """Add a layer dropped at ``scene_pos``; returns the new layer's id.

        On an input port it feeds that port (an occupied one gets the new layer
        inserted before it); on an output port it is fed from it; on a card it
        goes after that layer; on a connection it is inserted there; elsewhere
        it is simply added.
        """
        if self.project is None or not class_name:
            return None
        g = self.graph
        params = layer_defaults(class_name)
        feeds = input_kind(class_name) != "none"
        target = self.drop_target(scene_pos)
        kind = target[0]
        if kind == "input":
            dst, slot = target[1], target[2]
            occupant = next((e for e in g.inputs_of(dst) if e.slot == slot), None)
            if occupant is not None and feeds:
                return self._push_add(
                    AddLayer(self.project, class_name, params, _pos(scene_pos), insert_on=occupant)
                )
            item = self._scene.node_item(dst)
            x = g.node(dst).position[0] + (item.input_offset(slot) if item else 0.0)
            pos = self._free((x, g.node(dst).position[1] - Y_PITCH))
            return self._push_add(
                AddLayer(self.project, class_name, params, pos, connect_to=(dst, slot))
            )
        if kind == "output" and feeds:
            src = g.node(target[1])
            shift = NODE_WIDTH + X_GAP if g.outputs_of(src.id) else 0.0
            pos = self._free((src.position[0] + shift, src.position[1] + Y_PITCH))
            return self._push_add(
                AddLayer(self.project, class_name, params, pos, connect_from=src.id)
            )
        if kind == "node" and feeds:
            return self.add_after(target[1], class_name)
        if kind == "edge" and feeds:
            return self._push_add(
                AddLayer(self.project, class_name, params, _pos(scene_pos), insert_on=target[1])
            )
        return self._push_add(
            AddLayer(self.project, class_name, params, self._free(_pos(scene_pos)))
        )

    def add_after(self, node_id: str, class_name: str) -> str | None:
        """Add a layer fed by ``node_id`` (inserted into its only outgoing connection)."""
        if self.project is None:
            return None
        g = self.graph
        params = layer_defaults(class_name)
        node = g.node(node_id)
        x, y = node.position
        if input_kind(class_name) == "none":
            return self._push_add(
                AddLayer(self.project, class_name, params, self._free((x, y - Y_PITCH)))
            )
        outs = g.outputs_of(node_id)
        if len(outs) == 1:
            return self._push_add(
                AddLayer(self.project, class_name, params, (x, y + Y_PITCH), insert_on=outs[0])
            )
        shift = NODE_WIDTH + X_GAP if outs else 0.0
        pos = self._free((x + shift, y + Y_PITCH))
        return self._push_add(AddLayer(self.project, class_name, params, pos, connect_from=node_id))

    def add_after_selection(self, class_name: str) -> str | None:
        """The palette's double-click: after the selected layer, else after the network's end."""
        if self.project is None:
            return None
        g = self.graph
        sel = self.selected_ids()
        anchor: str | None = sel[0] if len(sel) == 1 else None
        if anchor is None and len(g):
            fed = {e.src for e in g.edges}
            ends = [nid for nid in g.topological_order() if nid not in fed]
            if len(ends) == 1:
                anchor = ends[0]
        if anchor is not None:
            nid = self.add_after(anchor, class_name)
        else:
            if len(g):
                lowest = max(n.position[1] for n in g.nodes)
                x = self.mapToScene(self.viewport().rect().center()).x()
                pos = self._free((x, lowest + Y_PITCH))
            else:
                pos = (0.0, 0.0)
            nid = self._push_add(
                AddLayer(self.project, class_name, layer_defaults(class_name), pos)
            )
        if nid is not None and not self._visible(nid):
            self.center_on(nid)
        return nid

    def _visible(self, node_id: str) -> bool:
        item = self._scene.node_item(node_id)
        if item is None:
            return False
        view_rect = self.mapToScene(self.viewport().rect()).boundingRect()
        return view_rect.contains(item.sceneBoundingRect())

    def connect_ports(
        self, src: str, dst: str, slot: int | None = None, src_port: int = 0
    ) -> Edge | None:
        """Connect an output to an input (what a drag from port to port does)."""
        if self.project is None:
            return None
        g = self.graph
        if src == dst or src not in g or dst not in g:
            return None
        kind = input_kind(g.node(dst).class_name)
        if kind == "none":
            return None
        if kind == "one":
            slot = 0
        if slot is not None and Edge(src, dst, slot, src_port) in g.edges:
            return None
        cmd = Connect(self.project, src, dst, slot, src_port)
        self.undo_stack.push(cmd)
        return cmd.edge

    def delete_selection(self) -> bool:
        if self.project is None:
            return False
        ids = self.selected_ids()
        edges = self._scene.selected_edges()
        if not ids and not edges:
            return False
        self.undo_stack.push(RemoveLayers(self.project, ids, edges))
        return True

    def select_all(self) -> None:
        self._scene.select_ids(list(self._scene.nodes))

    def copy_selection(self) -> bool:
        if self.project is None:
            return False
        ids = self.selected_ids()
        if not ids:
            return False
        payload = clipboard_payload(self.graph, ids)
        self._clipboard = payload
        self._paste_count = 0
        mime = QMimeData()
        mime.setData(MIME_GRAPH, json.dumps(payload).encode("utf-8"))
        QApplication.clipboard().setMimeData(mime)
        return True

    def cut_selection(self) -> bool:
        if not self.copy_selection():
            return False
        assert self.project is not None
        cmd = RemoveLayers(self.project, self.selected_ids(), self._scene.selected_edges())
        cmd.setText(cmd.text().replace("Delete", "Cut", 1))
        self.undo_stack.push(cmd)
        return True

    def paste(self) -> list[str]:
        """Paste copied layers, shifted a little more each time; returns their ids."""
        if self.project is None:
            return []
        payload = self._clipboard
        mime = QApplication.clipboard().mimeData()
        if mime is not None and mime.hasFormat(MIME_GRAPH):
            try:
                payload = json.loads(bytes(mime.data(MIME_GRAPH).data()).decode("utf-8"))
            except ValueError:
                pass
        if not payload or not payload.get("nodes"):
            return []
        self._paste_count += 1
        step = 40.0 * self._paste_count
        cmd = PasteLayers(self.project, payload, (step, step))
        self.undo_stack.push(cmd)
        self._scene.select_ids(cmd.node_ids)
        return list(cmd.node_ids)

    def relayout(self) -> bool:
        """Lay the network out again (one undo step); manual moves before it are undone by undo."""
        if self.project is None or not len(self.graph):
            return False
        g = self.graph
        positions = layered_layout(g)
        first = next(iter(positions))
        ox, oy = g.node(first).position
        fx, fy = positions[first]
        positions = {nid: (x - fx + ox, y - fy + oy) for nid, (x, y) in positions.items()}
        cmd = Relayout(self.project, positions)
        if not cmd.moves:
            return False
        self.undo_stack.push(cmd)
        self._scene.flush_routes()
        return True

    # -- mouse ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.project is not None:
            item = self.itemAt(event.position().toPoint())
            if isinstance(item, PortItem):
                self._start_connection(item, self.mapToScene(event.position().toPoint()))
                event.accept()
                return
        super().mousePressEvent(event)
        self._press_positions = {
            it.node_id: (it.pos().x(), it.pos().y())
            for it in self._scene.selectedItems()
            if isinstance(it, NodeItem)
        }

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        if self._conn_port is not None:
            self._drag_connection(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        if self._conn_port is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_connection()
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.commit_moves()

    def commit_moves(self) -> bool:
        """Turn cards moved by hand into one MoveLayers command."""
        if self.project is None:
            return False
        g = self.graph
        moves = {}
        for nid in self._press_positions:
            item = self._scene.node_item(nid)
            if item is None or nid not in g:
                continue
            new = (round(item.pos().x()), round(item.pos().y()))
            old = g.node(nid).position
            if abs(new[0] - old[0]) > 0.5 or abs(new[1] - old[1]) > 0.5:
                moves[nid] = (old, (float(new[0]), float(new[1])))
        self._press_positions = {}
        if not moves:
            return False
        self.undo_stack.push(MoveLayers(self.project, moves))
        return True

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        item = self.itemAt(event.position().toPoint())
        while item is not None and not isinstance(item, NodeItem):
            item = item.parentItem()
        if isinstance(item, NodeItem):
            self.nodeActivated.emit(item.node_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    # connection drag
    def _start_connection(self, port: PortItem, scene_pos: QPointF) -> None:
        self._conn_port = port
        self._conn_preview = ConnectionPreview(self._scene.theme)
        self._scene.addItem(self._conn_preview)
        self._scene.show_extra_ports(True)
        self._drag_connection(scene_pos)

    def _drag_connection(self, scene_pos: QPointF) -> None:
        start = self._conn_port
        assert start is not None and self._conn_preview is not None
        target = self.port_near(scene_pos, inputs=not start.is_input, exclude=start.node_id)
        self._conn_target = target
        end = target.tip() if target is not None else scene_pos
        self._conn_preview.set_points(start.tip(), end, from_output=not start.is_input)
        self._scene.set_hot([target] if target is not None else [])

    def _finish_connection(self) -> None:
        start, target = self._conn_port, self._conn_target
        if self._conn_preview is not None:
            self._scene.removeItem(self._conn_preview)
        self._conn_port = self._conn_preview = self._conn_target = None
        self._scene.set_hot([])
        self._scene.show_extra_ports(False)
        if start is None or target is None:
            return
        if start.is_input:
            self.connect_ports(target.node_id, start.node_id, start.index, target.index)
        else:
            self.connect_ports(start.node_id, target.node_id, target.index, start.index)

    # -- wheel, gestures, keys ----------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y() or event.angleDelta().x()
            self.set_zoom(self.zoom() * math.pow(1.0015, delta), anchor=event.position())
            event.accept()
            return
        super().wheelEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.NativeGesture:
            if event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture:  # type: ignore[attr-defined]
                self.set_zoom(self.zoom() * (1.0 + event.value()), anchor=event.position())  # type: ignore[attr-defined]
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat() and self._conn_port is None:
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            if self.delete_selection():
                event.accept()
                return
        elif event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection()
            event.accept()
            return
        elif event.matches(QKeySequence.StandardKey.Cut):
            self.cut_selection()
            event.accept()
            return
        elif event.matches(QKeySequence.StandardKey.Paste):
            self.paste()
            event.accept()
            return
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_all()
            event.accept()
            return
        elif event.matches(QKeySequence.StandardKey.ZoomIn) or (
            event.modifiers() & Qt.KeyboardModifier.ControlModifier
            and event.key() == Qt.Key.Key_Equal
        ):
            self.zoom_in()
            event.accept()
            return
        elif event.matches(QKeySequence.StandardKey.ZoomOut):
            self.zoom_out()
            event.accept()
            return
        elif event.key() == Qt.Key.Key_Escape:
            self._scene.clearSelection()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def contextMenuEvent(self, event: Any) -> None:
        if self.project is None:
            return
        pos = event.pos()
        item = self.itemAt(pos)
        while item is not None and not isinstance(item, NodeItem | EdgeItem):
            item = item.parentItem()
        if item is not None and not item.isSelected():
            self._scene.clearSelection()
            item.setSelected(True)
        menu = QMenu(self)
        has_sel = bool(self._scene.selectedItems())

        def act(text: str, slot: Any, enabled: bool = True, shortcut: Any = None) -> QAction:
            a = menu.addAction(text)
            a.setEnabled(enabled)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(slot)
            return a

        act("Cut", self.cut_selection, bool(self.selected_ids()), QKeySequence.StandardKey.Cut)
        act("Copy", self.copy_selection, bool(self.selected_ids()), QKeySequence.StandardKey.Copy)
        act(
            "Paste",
            self.paste,
            self._clipboard is not None or _clipboard_has_graph(),
            QKeySequence.StandardKey.Paste,
        )
        act("Delete", self.delete_selection, has_sel, QKeySequence.StandardKey.Delete)
        menu.addSeparator()
        act(
            "Select all",
            self.select_all,
            bool(self._scene.nodes),
            QKeySequence.StandardKey.SelectAll,
        )
        act("Auto layout", self.relayout, bool(self._scene.nodes))
        act("Fit to window", self.fit, bool(self._scene.nodes))
        menu.exec(event.globalPos())

    # -- drag and drop from the palette -----------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.project is not None and event.mimeData().hasFormat(MIME_LAYER):
            self._scene.show_extra_ports(True)
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.project is None or not event.mimeData().hasFormat(MIME_LAYER):
            event.ignore()
            return
        target = self.drop_target(self.mapToScene(event.position().toPoint()))
        self._scene.set_hot(self._hot_items(target))
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._scene.set_hot([])
        self._scene.show_extra_ports(False)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        self._scene.set_hot([])
        self._scene.show_extra_ports(False)
        mime = event.mimeData()
        if self.project is None or not mime.hasFormat(MIME_LAYER):
            event.ignore()
            return
        class_name = bytes(mime.data(MIME_LAYER).data()).decode("utf-8").strip()
        self.handle_drop(class_name, self.mapToScene(event.position().toPoint()))
        self.setFocus()
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    # -- background ---------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        theme = self._scene.theme
        painter.fillRect(rect, QColor(theme.background))
        scale = self.zoom()
        step = 24.0
        while step * scale < 16:
            step *= 4
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        cols = int((rect.right() - left) / step) + 1
        rows = int((rect.bottom() - top) / step) + 1
        if cols * rows > 40000:
            return
        key = (step, cols, rows)
        if self._grid_key != key:  # built once per zoom level and view size, not per paint (~11 ms)
            self._grid_key = key
            self._grid = QPolygonF([QPointF(i * step, j * step) for j in range(rows) for i in range(cols)])
        pen = QPen(QColor(theme.grid), 1.6)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.translate(left, top)
        painter.drawPoints(self._grid)
        painter.translate(-left, -top)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.project is not None and len(self.project.graph):
            return
        theme = self._scene.theme
        painter.save()
        painter.resetTransform()
        vr = QRectF(self.viewport().rect())
        f = fonts()
        painter.setPen(QColor(theme.subtext))
        big = f.name
        painter.setFont(big)
        painter.drawText(
            vr.adjusted(0, -24, 0, -24),
            Qt.AlignmentFlag.AlignCenter,
            "Drag layers here from the palette",
        )
        painter.setFont(f.sub)
        painter.setPen(QColor(theme.hint))
        painter.drawText(
            vr.adjusted(0, 12, 0, 12),
            Qt.AlignmentFlag.AlignCenter,
            "or double-click one to add it · start with an Input layer",
        )
        painter.restore()


def _port_target(port: PortItem) -> tuple[Any, ...]:
    return ("input" if port.is_input else "output", port.node_id, port.index)


def _distance(a: QPointF, b: QPointF) -> float:
    return math.dist((a.x(), a.y()), (b.x(), b.y()))


def _pos(p: QPointF) -> tuple[float, float]:
    return (float(round(p.x())), float(round(p.y())))


def _clipboard_has_graph() -> bool:
    mime = QApplication.clipboard().mimeData()
    return mime is not None and mime.hasFormat(MIME_GRAPH)
