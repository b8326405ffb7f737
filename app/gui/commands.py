"""Undoable edits: each QUndoCommand changes only the core project.

The canvas, inspector and diagnostics panel push these onto the window's
QUndoStack; the graph emits change events and every view mirrors them, so no
command touches a widget. ``redo`` after ``undo`` recreates exactly the same
layers (same ids and names), so later commands on the stack stay valid.
Commands whose plain inverse would reorder the graph (deleting, disconnecting,
inserting, fixes) undo by restoring a snapshot with ``graph.replace_with``, so
an undo gives back the very same document (``graph.to_dict()`` compares equal).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand, QUndoStack

from app.core.catalog import load_catalog
from app.core.diagnostics import Fix, apply_fix
from app.core.graph import Edge, NetworkGraph
from app.core.project import Project
from app.gui.canvas.layout import make_room

__all__ = [
    "MIME_GRAPH",
    "MIME_LAYER",
    "AddLayer",
    "ApplyFix",
    "Connect",
    "Disconnect",
    "MoveLayers",
    "PasteLayers",
    "QUndoCommand",
    "QUndoStack",
    "Relayout",
    "RemoveLayers",
    "Rename",
    "SetParam",
    "SetParams",
    "clipboard_payload",
    "input_kind",
]

MIME_LAYER = "application/x-layerlab-layer"  # palette drag: the UTF-8 Keras class name
MIME_GRAPH = "application/x-layerlab-graph"  # copied layers: JSON from clipboard_payload
CLIPBOARD_FORMAT = "layerlab-graph"

Pos = tuple[float, float]


def _name(project: Project, node_id: str) -> str:
    try:
        return project.graph.node(node_id).name
    except ValueError:
        return node_id


def _short(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 24 else text[:21] + "…"


def input_kind(class_name: str) -> str:
    """ "none", "one" or "many" (unknown layers take one input per slot they are given)."""
    spec = load_catalog().get(class_name)
    if spec is None:
        return "none" if class_name == "InputLayer" else "many"
    return spec.inputs


def _occupant(graph: NetworkGraph, dst: str, slot: int) -> Edge | None:
    for e in graph.inputs_of(dst):
        if e.slot == slot:
            return e
    return None


class _GraphCommand(QUndoCommand):
    """Base: keeps the project and, when the edit needs one, a snapshot to undo to."""

    def __init__(self, project: Project, text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(text, parent)
        self.project = project
        self._before: dict[str, Any] | None = None

    @property
    def graph(self) -> NetworkGraph:
        return self.project.graph

    def _snapshot(self) -> None:
        self._before = self.graph.to_dict()

    def _restore(self) -> None:
        assert self._before is not None
        self.graph.replace_with(NetworkGraph.from_dict(self._before))


class AddLayer(_GraphCommand):
    """Add one layer; optionally fed from ``connect_from``, feeding ``connect_to``
    (``(node id, slot)``; slot None: the next free one), or splitting ``insert_on``.

    An inserted layer gets a place between its neighbours; the layers below move
    down when there is no room. ``node_id`` is the new layer's id after ``redo``.
    """

    def __init__(
        self,
        project: Project,
        class_name: str,
        params: dict[str, Any] | None = None,
        position: Pos = (0.0, 0.0),
        *,
        connect_from: str | None = None,
        connect_to: tuple[str, int | None] | None = None,
        insert_on: Edge | None = None,
        name: str | None = None,
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(project, f"Add {class_name}", parent)
        self.class_name = class_name
        self.params = copy.deepcopy(params or {})
        self.position = (float(position[0]), float(position[1]))
        self.connect_from = connect_from
        self.connect_to = connect_to
        self.insert_on = insert_on
        self.node_id: str | None = None
        self.node_name = name
        self._moves: dict[str, Pos] | None = None
        self._needs_snapshot = insert_on is not None
        if connect_to is not None and connect_to[1] is not None:
            if _occupant(project.graph, connect_to[0], connect_to[1]) is not None:
                self._needs_snapshot = True

    def redo(self) -> None:
        g = self.graph
        if self._needs_snapshot and self._before is None:
            self._snapshot()
        kw: dict[str, Any] = {
            "name": self.node_name,
            "position": self.position,
            "node_id": self.node_id,
        }
        if self.insert_on is not None:
            node = g.insert_between(self.insert_on, self.class_name, self.params, **kw)
        else:
            node = g.add_node(self.class_name, self.params, **kw)
        self.node_id, self.node_name = node.id, node.name
        if self.connect_from is not None:
            g.connect(self.connect_from, node.id, 0)
        if self.connect_to is not None:
            dst, slot = self.connect_to
            if slot is not None:
                old = _occupant(g, dst, slot)
                if old is not None:
                    g.disconnect(old)
            g.connect(node.id, dst, slot)
        if self._moves is None:
            self._moves = make_room(g, node.id) if self.insert_on is not None else {}
        for nid, pos in self._moves.items():
            g.move(nid, pos)

    def undo(self) -> None:
        if self._before is not None:
            self._restore()
        elif self.node_id is not None:
            self.graph.remove_node(self.node_id)


class RemoveLayers(_GraphCommand):
    """Delete layers (and any extra ``edges``); undo puts everything back.

    With ``bridge`` (the default) a deleted layer that sat in a chain leaves the
    chain connected: its single input now feeds what it fed, as when a fix
    removes a layer.
    """

    def __init__(
        self,
        project: Project,
        node_ids: Iterable[str],
        edges: Iterable[Edge] = (),
        *,
        bridge: bool = True,
        parent: QUndoCommand | None = None,
    ) -> None:
        ids = [n for n in dict.fromkeys(node_ids) if n in project.graph]
        self.node_ids = ids
        self.edges = [e for e in edges if e.src not in ids and e.dst not in ids]
        self.bridge = bridge
        if len(ids) == 1 and not self.edges:
            text = f"Delete {_name(project, ids[0])}"
        elif ids:
            text = f"Delete {len(ids)} layers"
            if self.edges:
                text += f" and {len(self.edges)} connection{'s' if len(self.edges) > 1 else ''}"
        else:
            n = len(self.edges)
            text = "Delete connection" if n == 1 else f"Delete {n} connections"
        super().__init__(project, text, parent)

    def _bridges(self) -> list[Edge]:
        g = self.graph
        gone = set(self.node_ids)
        out: list[Edge] = []
        for nid in self.node_ids:
            for e in g.outputs_of(nid):
                if e.dst in gone:
                    continue
                u, port, seen = nid, e.src_port, set()
                while u in gone and u not in seen:
                    seen.add(u)
                    ins = g.inputs_of(u)
                    if len(ins) != 1:
                        break
                    u, port = ins[0].src, ins[0].src_port
                if u not in gone:
                    out.append(Edge(u, e.dst, e.slot, port))
        return out

    def redo(self) -> None:
        g = self.graph
        if self._before is None:
            self._snapshot()
        for e in self.edges:
            g.disconnect(e)
        bridges = self._bridges() if self.bridge else []
        for nid in self.node_ids:
            g.remove_node(nid)
        for b in bridges:
            if _occupant(g, b.dst, b.slot) is None and b.src != b.dst:
                g.connect(b.src, b.dst, b.slot, b.src_port)

    def undo(self) -> None:
        self._restore()


class Connect(_GraphCommand):
    """Feed ``src`` into input ``slot`` of ``dst``; an occupied slot is taken over.

    ``slot`` None means the next free input of a merge layer, or the only input
    of a one-input layer. ``edge`` is the new connection after ``redo``.
    """

    def __init__(
        self,
        project: Project,
        src: str,
        dst: str,
        slot: int | None = None,
        src_port: int = 0,
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(project, f"Connect {_name(project, src)} → {_name(project, dst)}", parent)
        self.src, self.dst, self.slot, self.src_port = src, dst, slot, src_port
        self.edge: Edge | None = None
        self._replaced = False

    def redo(self) -> None:
        g = self.graph
        slot = self.slot
        if slot is None and input_kind(g.node(self.dst).class_name) != "many":
            slot = 0
        if slot is not None:
            if Edge(self.src, self.dst, slot, self.src_port) in g.edges:
                self.setObsolete(True)
                return
            old = _occupant(g, self.dst, slot)
            if old is not None:
                if self._before is None:
                    self._snapshot()
                self._replaced = True
                g.disconnect(old)
        self.edge = g.connect(self.src, self.dst, slot, self.src_port)

    def undo(self) -> None:
        if self._replaced:
            self._restore()
        elif self.edge is not None:
            self.graph.disconnect(self.edge)


class Disconnect(_GraphCommand):
    def __init__(self, project: Project, edge: Edge, parent: QUndoCommand | None = None) -> None:
        super().__init__(
            project, f"Disconnect {_name(project, edge.src)} → {_name(project, edge.dst)}", parent
        )
        self.edge = edge

    def redo(self) -> None:
        if self._before is None:
            self._snapshot()
        self.graph.disconnect(self.edge)

    def undo(self) -> None:
        self._restore()


class SetParam(_GraphCommand):
    """Set one parameter (None: back to Keras' default); typing in one field merges."""

    ID = 0x5E7A

    def __init__(
        self,
        project: Project,
        node_id: str,
        key: str,
        value: Any,
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(project, "", parent)
        self.node_id, self.key, self.value = node_id, key, copy.deepcopy(value)
        self._old = copy.deepcopy(project.graph.node(node_id).params)
        self._set_text()

    def _set_text(self) -> None:
        self.setText(
            f"Set {self.key} = {_short(self.value)} on {_name(self.project, self.node_id)}"
        )

    def id(self) -> int:
        return self.ID

    def redo(self) -> None:
        self.graph.set_param(self.node_id, self.key, self.value)

    def undo(self) -> None:
        self.graph.set_params(self.node_id, self._old)

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetParam) or (other.node_id, other.key) != (
            self.node_id,
            self.key,
        ):
            return False
        self.value = copy.deepcopy(other.value)
        self._set_text()
        if self.graph.node(self.node_id).params == self._old:
            self.setObsolete(True)
        return True


class SetParams(_GraphCommand):
    """Replace all of a layer's parameters at once."""

    def __init__(
        self,
        project: Project,
        node_id: str,
        params: dict[str, Any],
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(project, f"Edit {_name(project, node_id)}", parent)
        self.node_id = node_id
        self.params = copy.deepcopy(params)
        self._old = copy.deepcopy(project.graph.node(node_id).params)

    def redo(self) -> None:
        self.graph.set_params(self.node_id, self.params)

    def undo(self) -> None:
        self.graph.set_params(self.node_id, self._old)


class Rename(_GraphCommand):
    def __init__(
        self, project: Project, node_id: str, name: str, parent: QUndoCommand | None = None
    ) -> None:
        old = _name(project, node_id)
        super().__init__(project, f"Rename {old} to {name}", parent)
        self.node_id, self.name, self._old = node_id, name, old

    def redo(self) -> None:
        self.graph.rename(self.node_id, self.name)
        self.name = self.graph.node(self.node_id).name  # made unique

    def undo(self) -> None:
        self.graph.rename(self.node_id, self._old)


class MoveLayers(_GraphCommand):
    """Move layers: ``{id: (old position, new position)}`` (one drag = one undo step)."""

    def __init__(
        self,
        project: Project,
        moves: Mapping[str, tuple[Pos, Pos]],
        parent: QUndoCommand | None = None,
    ) -> None:
        self.moves = {
            nid: ((float(a[0]), float(a[1])), (float(b[0]), float(b[1])))
            for nid, (a, b) in moves.items()
        }
        ids = list(self.moves)
        text = f"Move {_name(project, ids[0])}" if len(ids) == 1 else f"Move {len(ids)} layers"
        super().__init__(project, text, parent)

    def _apply(self, which: int) -> None:
        g = self.graph
        for nid, pair in self.moves.items():
            if nid in g:
                g.move(nid, pair[which])

    def redo(self) -> None:
        self._apply(1)

    def undo(self) -> None:
        self._apply(0)


class Relayout(MoveLayers):
    """Apply an automatic layout: ``{id: new position}``."""

    def __init__(
        self, project: Project, positions: Mapping[str, Pos], parent: QUndoCommand | None = None
    ) -> None:
        g = project.graph
        moves = {
            nid: (g.node(nid).position, (float(p[0]), float(p[1])))
            for nid, p in positions.items()
            if nid in g and tuple(g.node(nid).position) != (float(p[0]), float(p[1]))
        }
        super().__init__(project, moves, parent)
        self.setText("Auto layout")


def clipboard_payload(graph: NetworkGraph, node_ids: Iterable[str]) -> dict[str, Any]:
    """The chosen layers and the connections among them, as plain JSON data."""
    ids = [n.id for n in graph.nodes if n.id in set(node_ids)]
    chosen = set(ids)
    return {
        "format": CLIPBOARD_FORMAT,
        "nodes": [graph.node(n).to_dict() for n in ids],
        "edges": [e.to_dict() for e in graph.edges if e.src in chosen and e.dst in chosen],
    }


def _paste_name(taken: set[str], name: str) -> str:
    if name not in taken:
        return name
    base = re.sub(r"_copy(_\d+)?$", "", name)
    cand = f"{base}_copy"
    i = 2
    while cand in taken:
        cand = f"{base}_copy_{i}"
        i += 1
    return cand


class PasteLayers(_GraphCommand):
    """Add copies of clipboard layers (new ids, names made unique), shifted by ``offset``.

    ``node_ids`` are the new layers' ids after ``redo``.
    """

    def __init__(
        self,
        project: Project,
        clipboard: Mapping[str, Any],
        offset: Pos = (40.0, 40.0),
        parent: QUndoCommand | None = None,
    ) -> None:
        self.nodes = [dict(n) for n in clipboard.get("nodes", [])]
        self.edges = [Edge.from_dict(e) for e in clipboard.get("edges", [])]
        n = len(self.nodes)
        text = f"Paste {self.nodes[0].get('name', 'layer')}" if n == 1 else f"Paste {n} layers"
        super().__init__(project, text, parent)
        self.offset = (float(offset[0]), float(offset[1]))
        self.node_ids: list[str] = []
        self._created: list[tuple[str, str]] | None = None

    def redo(self) -> None:
        g = self.graph
        first = self._created is None
        created: list[tuple[str, str]] = []
        mapping: dict[str, str] = {}
        taken = {n.name for n in g.nodes}
        for i, nd in enumerate(self.nodes):
            if first:
                nid = g.new_id()
                name = _paste_name(taken, str(nd.get("name") or nd["class_name"]))
            else:
                assert self._created is not None
                nid, name = self._created[i]
            pos = nd.get("position") or (0.0, 0.0)
            node = g.add_node(
                str(nd["class_name"]),
                nd.get("params") or {},
                name=name,
                node_id=nid,
                position=(float(pos[0]) + self.offset[0], float(pos[1]) + self.offset[1]),
            )
            taken.add(node.name)
            mapping[str(nd["id"])] = node.id
            created.append((node.id, node.name))
        for e in self.edges:
            if e.src in mapping and e.dst in mapping:
                g.connect(mapping[e.src], mapping[e.dst], e.slot, e.src_port)
        self._created = created
        self.node_ids = [nid for nid, _ in created]

    def undo(self) -> None:
        for nid in reversed(self.node_ids):
            if nid in self.graph:
                self.graph.remove_node(nid)


_SETTINGS_FIELDS = ("training", "data", "task", "name")


def _settings_of(project: Project) -> tuple[Any, ...]:
    """What a fix may change besides the graph (the settings are frozen dataclasses)."""
    return tuple(getattr(project, f) for f in _SETTINGS_FIELDS)


def _set_settings(project: Project, values: tuple[Any, ...]) -> None:
    for f, v in zip(_SETTINGS_FIELDS, values, strict=True):
        setattr(project, f, v)


class ApplyFix(_GraphCommand):
    """A diagnostic's one-click fix as one undo step (it may also change a training setting).

    ``created`` is the id of a layer the fix added, if any. Views of training
    settings should refresh on the undo stack's ``indexChanged``: settings
    changes have no graph event.
    """

    def __init__(self, project: Project, fix: Fix, parent: QUndoCommand | None = None) -> None:
        super().__init__(project, f"Fix: {fix.label}", parent)
        self.fix = fix
        self.created: str | None = None
        self._settings_before = _settings_of(project)
        self._after: dict[str, Any] | None = None
        self._settings_after = self._settings_before

    def redo(self) -> None:
        g = self.graph
        if self._after is None:
            self._snapshot()
            self._settings_before = _settings_of(self.project)
            self.created = apply_fix(self.project, self.fix)
            if self.created is not None and self.created in g:
                for nid, pos in make_room(g, self.created).items():
                    g.move(nid, pos)
            self._after = g.to_dict()
            self._settings_after = _settings_of(self.project)
        else:
            g.replace_with(NetworkGraph.from_dict(self._after))
            _set_settings(self.project, self._settings_after)

    def undo(self) -> None:
        self._restore()
        _set_settings(self.project, self._settings_before)
