"""The canvas scene: a mirror of one project's network graph.

It subscribes to the graph's change events and keeps one NodeItem per layer
and one EdgeItem per connection; it never edits the graph (the view turns
gestures into undo commands, the commands edit the graph, the events come
back here). A ``reset`` (undo to a snapshot, a fix) is applied as a diff, so
items that did not change are kept, with their selection.
"""

from __future__ import annotations

import bisect
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import shiboken6
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene

from app.core.catalog import load_catalog
from app.core.graph import (
    EVENT_EDGE_ADDED,
    EVENT_EDGE_REMOVED,
    EVENT_NODE_ADDED,
    EVENT_NODE_CHANGED,
    EVENT_NODE_MOVED,
    EVENT_NODE_REMOVED,
    EVENT_RESET,
    Edge,
    GraphEvent,
    NetworkGraph,
    Node,
)
from app.core.project import Project
from app.gui.canvas.items import (
    EdgeItem,
    NodeItem,
    PortItem,
    Theme,
    current_theme,
    params_text,
    shape_text,
)

ERROR = "error"
WARNING = "warning"
EDGE_MARGIN = 80.0  # room beside the cards for edges drawn in side lanes


def _weak_listener(scene: CanvasScene, graph: NetworkGraph) -> Callable[[GraphEvent], None]:
    """A graph subscriber that does not keep the scene alive and leaves once it is gone."""
    ref = weakref.ref(scene)

    def listen(ev: GraphEvent) -> None:
        target = ref()
        if target is None or not shiboken6.isValid(target):
            graph.unsubscribe(listen)
            return
        target._on_event(ev)

    return listen


class CanvasScene(QGraphicsScene):
    """Items for ``project``'s graph; ``set_analysis`` shows shapes, counts and problems."""

    def __init__(self, project: Project | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.theme: Theme = current_theme()
        self.setBackgroundBrush(QColor(self.theme.background))
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.project: Project | None = None
        self.analysis: Any = None
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self.edge_lanes: dict[EdgeItem, tuple[float, float, float]] = {}
        self.defer_routes = False
        self._dirty: set[EdgeItem] = set()
        self._flush_pending = False
        self._flush_timer = QTimer(self)  # a child: it dies with the scene
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self.flush_routes)
        self._hot: list[Any] = []
        self._extra_on = False
        self._by_node: dict[str, list[Any]] = {}
        self._catalog = load_catalog()
        self._index: list[tuple[float, float, NodeItem]] | None = None
        self._index_y: list[float] = []
        self._near_count = 0
        self._listener: Callable[[GraphEvent], None] | None = None
        if project is not None:
            self.set_project(project)

    # -- document ----------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        if self.project is not None and self._listener is not None:
            self.project.graph.unsubscribe(self._listener)
            self._listener = None
        self.project = project
        self.analysis = None
        self._remove_all()
        if project is not None:
            self._listener = _weak_listener(self, project.graph)
            project.graph.subscribe(self._listener)
            self._populate()

    def close(self) -> None:
        """Stop mirroring (call before dropping the scene)."""
        self.set_project(None)

    def _remove_all(self) -> None:
        self._index = None
        self._dirty.clear()
        self.edge_lanes.clear()
        self._hot.clear()
        self.clear()
        self.nodes.clear()
        self.edges.clear()

    def _spec(self, class_name: str) -> Any:
        return self._catalog.get(class_name)

    def _populate(self) -> None:
        assert self.project is not None
        g = self.project.graph
        used_in: dict[str, int] = {}
        used_out: dict[str, int] = {}
        for e in g.edges:
            used_in[e.dst] = max(used_in.get(e.dst, 0), e.slot + 1)
            used_out[e.src] = max(used_out.get(e.src, 0), e.src_port + 1)
        for node in g.nodes:
            item = NodeItem(node, self._spec(node.class_name), self.theme)
            item.set_ports(used_in.get(node.id, 0), used_out.get(node.id, 0))
            self.addItem(item)
            self.nodes[node.id] = item
        for e in g.edges:
            self._add_edge_item(e, route=False)
        self._mark_connected(self.nodes.values())
        self._dirty.update(self.edges.values())
        self.flush_routes()

    # -- events ------------------------------------------------------------------
    def _on_event(self, ev: GraphEvent) -> None:
        self.defer_routes = True
        try:
            handler = {
                EVENT_NODE_ADDED: self._node_added,
                EVENT_NODE_REMOVED: self._node_removed,
                EVENT_NODE_CHANGED: self._node_changed,
                EVENT_NODE_MOVED: self._node_moved,
                EVENT_EDGE_ADDED: self._edge_added,
                EVENT_EDGE_REMOVED: self._edge_removed,
                EVENT_RESET: self._reset,
            }.get(ev.kind)
            if handler is not None:
                handler(ev)
        finally:
            self.defer_routes = False
        self._schedule_flush()

    def _node(self, node_id: str | None) -> Node | None:
        assert self.project is not None
        if node_id is None or node_id not in self.project.graph:
            return None
        return self.project.graph.node(node_id)

    def _add_node_item(self, node: Node) -> NodeItem:
        item = NodeItem(node, self._spec(node.class_name), self.theme)
        item.set_ports(0, 0)
        self.addItem(item)
        self.nodes[node.id] = item
        self._index = None
        item.set_extra_visible(self._extra_on)
        self._apply_info(item)
        return item

    def _node_added(self, ev: GraphEvent) -> None:
        node = self._node(ev.node_id)
        if node is not None and node.id not in self.nodes:
            item = self._add_node_item(node)
            self._refresh_ports(item)
            self._mark_near(item)

    def _node_removed(self, ev: GraphEvent) -> None:
        item = self.nodes.pop(ev.node_id or "", None)
        if item is None:
            return
        for e in list(item.edges):
            self._remove_edge_item(e.edge)
        self._mark_near(item)
        self._index = None
        self.removeItem(item)

    def _node_changed(self, ev: GraphEvent) -> None:
        node = self._node(ev.node_id)
        item = self.nodes.get(ev.node_id or "")
        if node is None or item is None:
            return
        old_class = item.class_name
        item.set_node(node, self._spec(node.class_name))
        if node.class_name != old_class:
            self._refresh_ports(item)

    def _node_moved(self, ev: GraphEvent) -> None:
        node = self._node(ev.node_id)
        item = self.nodes.get(ev.node_id or "")
        if node is None or item is None:
            return
        x, y = node.position
        if item.pos().x() != x or item.pos().y() != y:
            self._mark_near(item)  # where it was
            item.setPos(x, y)
        self._dirty.update(item.edges)
        self._mark_near(item)

    def _add_edge_item(self, e: Edge, route: bool = True) -> EdgeItem | None:
        src, dst = self.nodes.get(e.src), self.nodes.get(e.dst)
        if src is None or dst is None or e in self.edges:
            return None
        item = EdgeItem(e, src, dst, self.theme)
        self.addItem(item)
        self.edges[e] = item
        if route:
            item.update_path()
        return item

    def _remove_edge_item(self, e: Edge) -> None:
        item = self.edges.pop(e, None)
        if item is None:
            return
        item.detach()
        self.edge_lanes.pop(item, None)
        self._dirty.discard(item)
        if item in self._hot:
            self._hot.remove(item)
        self.removeItem(item)

    def _edge_added(self, ev: GraphEvent) -> None:
        assert ev.edge is not None
        item = self._add_edge_item(ev.edge)
        if item is None:
            return
        self._refresh_ports(item.src)
        self._refresh_ports(item.dst)
        self._dirty.add(item)

    def _edge_removed(self, ev: GraphEvent) -> None:
        assert ev.edge is not None
        item = self.edges.get(ev.edge)
        if item is None:
            return
        src, dst = item.src, item.dst
        self._remove_edge_item(ev.edge)
        for n in (src, dst):
            if n.node_id in self.nodes:
                self._refresh_ports(n)

    def _reset(self, ev: GraphEvent) -> None:
        assert self.project is not None
        g = self.project.graph
        wanted = {n.id: n for n in g.nodes}
        for nid in [n for n in self.nodes if n not in wanted]:
            self._node_removed(GraphEvent(EVENT_NODE_REMOVED, node_id=nid))
        edges = set(g.edges)
        for e in [e for e in self.edges if e not in edges]:
            self._remove_edge_item(e)
        changed: list[NodeItem] = []
        for node in g.nodes:
            item = self.nodes.get(node.id)
            if item is None:
                item = self._add_node_item(node)
                changed.append(item)
                continue
            old_class = item.class_name
            if item.set_node(node, self._spec(node.class_name)) and old_class != node.class_name:
                changed.append(item)
            x, y = node.position
            if item.pos().x() != x or item.pos().y() != y:
                item.setPos(x, y)
                changed.append(item)
        for e in g.edges:
            new = self._add_edge_item(e)
            if new is not None:
                self._dirty.add(new)
        used_in: dict[str, int] = {}
        used_out: dict[str, int] = {}
        for e in g.edges:
            used_in[e.dst] = max(used_in.get(e.dst, 0), e.slot + 1)
            used_out[e.src] = max(used_out.get(e.src, 0), e.src_port + 1)
        for nid, item in self.nodes.items():
            before = item.n_slots, len(item.outputs)
            item.set_ports(used_in.get(nid, 0), used_out.get(nid, 0))
            if (item.n_slots, len(item.outputs)) != before:
                changed.append(item)
        self._mark_connected(self.nodes.values())
        for item in changed:
            self._dirty.update(item.edges)
            self._mark_near(item)

    # -- ports and routes --------------------------------------------------------------
    def _refresh_ports(self, item: NodeItem) -> None:
        assert self.project is not None
        g = self.project.graph
        ins = g.inputs_of(item.node_id)
        outs = g.outputs_of(item.node_id)
        before = (item.n_slots, len(item.inputs), len(item.outputs))
        item.set_ports(
            max((e.slot for e in ins), default=-1) + 1,
            max((e.src_port for e in outs), default=-1) + 1,
        )
        item.set_extra_visible(self._extra_on)
        self._mark_connected([item])
        if (item.n_slots, len(item.inputs), len(item.outputs)) != before:
            self._dirty.update(item.edges)

    def _mark_connected(self, items: Iterable[NodeItem]) -> None:
        items = list(items)
        want = {it.node_id for it in items}
        slots: dict[str, set[int]] = {nid: set() for nid in want}
        outs: dict[str, set[int]] = {nid: set() for nid in want}
        for e in self.edges:
            if e.dst in want:
                slots[e.dst].add(e.slot)
            if e.src in want:
                outs[e.src].add(e.src_port)
        for it in items:
            for p in it.inputs:
                c = p.index in slots[it.node_id]
                if c != p.connected:
                    p.connected = c
                    p.update()
            for p in it.outputs:
                c = p.index in outs[it.node_id]
                if c != p.connected:
                    p.connected = c
                    p.update()

    def _mark_near(self, item: NodeItem) -> None:
        """Edges that pass by a card that appeared, moved or left may need a new route."""
        self._index = None
        self._near_count += 1
        if self._near_count > 40:  # a big change (layout, undo): route everything once
            self._dirty.update(self.edges.values())
            return
        rect = item.scene_card_rect().adjusted(-30, -10, 30, 10)
        for e in self.edges.values():
            if e._bounds.intersects(rect):
                self._dirty.add(e)

    def obstacles(
        self, x_lo: float, x_hi: float, y0: float, y1: float, exclude: Iterable[NodeItem] = ()
    ) -> list[QRectF]:
        """Card rectangles overlapping a band (a plain sorted index: no Qt calls per item)."""
        if self._index is None:
            entries = sorted(
                ((it.pos().y(), it.pos().x(), it) for it in self.nodes.values()), key=lambda t: t[0]
            )
            self._index = entries
            self._index_y = [t[0] for t in entries]
        hw, hh = NodeItem.W / 2, NodeItem.H / 2
        lo = bisect.bisect_left(self._index_y, y0 - hh)
        hi = bisect.bisect_right(self._index_y, y1 + hh)
        skip = set(exclude)
        out = []
        for y, x, it in self._index[lo:hi]:
            if it in skip:
                continue
            if x + hw > x_lo and x - hw < x_hi and y + hh > y0 and y - hh < y1:
                out.append(QRectF(x - hw, y - hh, 2 * hw, 2 * hh))
        return out

    def node_moved_by_hand(self, item: NodeItem) -> None:
        """Called by a card while it is dragged: its connections follow at once."""
        self._index = None
        if self.defer_routes:
            self._dirty.update(item.edges)
        else:
            for e in item.edges:
                e.update_path()

    def _schedule_flush(self) -> None:
        if self._dirty and not self._flush_pending:
            self._flush_pending = True
            self._flush_timer.start()

    def flush_routes(self) -> None:
        """Route every connection whose ends or surroundings changed (normally on the next tick)."""
        self._flush_pending = False
        self._near_count = 0
        if not self._dirty:
            return
        dirty = sorted(
            self._dirty, key=lambda e: (e.dst.pos().y() - e.src.pos().y(), e.src.pos().y())
        )
        self._dirty.clear()
        for e in dirty:
            if e.scene() is self:
                self.edge_lanes.pop(e, None)
        for e in dirty:
            if e.scene() is self:
                e.update_path()

    # -- analysis ----------------------------------------------------------------------
    def set_analysis(self, analysis: Any) -> int:
        """Show an ``Analysis`` on the cards; only cards whose text changes repaint.

        Returns how many cards changed.
        """
        self.analysis = analysis
        by_node: dict[str, list[Any]] = {}
        if analysis is not None:
            for d in analysis.diagnostics:
                if d.node is not None:
                    by_node.setdefault(d.node, []).append(d)
        self._by_node = by_node
        return sum(1 for item in self.nodes.values() if self._apply_info(item))

    def _apply_info(self, item: NodeItem) -> bool:
        analysis = self.analysis
        if analysis is None:
            item.shown_from = None
            return item.set_info("", "", None, "")
        info = analysis.layers.get(item.node_id)
        diags = self._by_node.get(item.node_id, [])
        # The analyzer hands back the very same LayerInfo for a layer it did not have to
        # re-infer: with the same diagnostics, the card is already right (DenseNet121:
        # ~60 of 429 cards change per edit; formatting all of them cost ~18 ms).
        seen = (info, tuple((d.severity, d.message) for d in diags))
        shown = item.shown_from
        if shown is not None and shown[0] is info and shown[1] == seen[1]:
            return False
        item.shown_from = seen
        errors = [d for d in diags if d.severity == ERROR]
        warnings = [d for d in diags if d.severity == WARNING]
        if errors:
            severity, problem = ERROR, errors[0].message
        elif info is not None and info.error:
            severity, problem = ERROR, info.error
        elif warnings:
            severity, problem = WARNING, warnings[0].message
        else:
            severity, problem = None, ""
        extra = len(errors) + len(warnings) - 1
        if problem and extra > 0:
            problem += f" (and {extra} more)"
        shape = shape_text(info.output_shape) if info is not None else ""
        count = (
            params_text(info.params) if info is not None and info.output_shape is not None else ""
        )
        return item.set_info(shape, count, severity, problem)

    # -- feedback while dragging ----------------------------------------------------------
    def set_hot(self, items: Iterable[PortItem | EdgeItem]) -> None:
        """Highlight the drop or connection targets (and nothing else)."""
        items = list(items)
        for old in self._hot:
            if old not in items:
                old.set_hot(False)
        for it in items:
            it.set_hot(True)
        self._hot = items

    def show_extra_ports(self, on: bool) -> None:
        """Show the spare input of merge layers (while connecting or dropping)."""
        self._extra_on = on
        for item in self.nodes.values():
            item.set_extra_visible(on)

    # -- queries ---------------------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem | None:
        return self.nodes.get(node_id)

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        return self.edges.get(edge)

    def selected_node_ids(self) -> list[str]:
        order = {nid: i for i, nid in enumerate(self.nodes)}
        ids = [it.node_id for it in self.selectedItems() if isinstance(it, NodeItem)]
        return sorted(ids, key=lambda n: order.get(n, 0))

    def selected_edges(self) -> list[Edge]:
        return [it.edge for it in self.selectedItems() if isinstance(it, EdgeItem)]

    def graph_rect(self) -> QRectF:
        """The cards' extent, from the graph's positions (edges run between and beside them).

        Plain arithmetic: asking Qt (``itemsBoundingRect``) calls back into Python for
        every card, port and edge, ~10 ms for DenseNet121 on each edit.
        """
        if self.project is None or not self.nodes:
            return QRectF()
        xs, ys = [], []
        for node in self.project.graph.nodes:
            x, y = node.position or (0.0, 0.0)
            xs.append(x)
            ys.append(y)
        w, h = NodeItem.W / 2 + EDGE_MARGIN, NodeItem.H / 2 + EDGE_MARGIN
        return QRectF(min(xs) - w, min(ys) - h, max(xs) - min(xs) + 2 * w, max(ys) - min(ys) + 2 * h)

    def select_ids(self, ids: Iterable[str]) -> None:
        want = set(ids)
        self.blockSignals(True)
        try:
            for it in self.selectedItems():
                if not (isinstance(it, NodeItem) and it.node_id in want):
                    it.setSelected(False)
            for nid in want:
                item = self.nodes.get(nid)
                if item is not None:
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()
