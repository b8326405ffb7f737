"""The network graph: what the user draws, independent of Qt and Keras.

A node is one Keras layer (its class name and its Keras config dict); an edge
feeds one node's output into an input slot of another. The graph accepts
unfinished networks (loose layers, missing parameters, even cycles): the
analyzer reports what is wrong instead of the graph refusing it. Views
subscribe to change events and mirror the graph; nothing else writes to them.
"""

from __future__ import annotations

import copy
import heapq
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

INPUT_CLASS = "InputLayer"


@dataclass
class Node:
    """One layer: ``params`` is a Keras config dict (without ``name``)."""

    id: str
    class_name: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "class_name": self.class_name,
            "name": self.name,
            "params": copy.deepcopy(self.params),
            "position": [float(self.position[0]), float(self.position[1])],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        pos = data.get("position") or (0.0, 0.0)
        name = data.get("name")  # kept as written, even empty: the analyzer reports a bad name
        return cls(
            id=str(data["id"]),
            class_name=str(data["class_name"]),
            name=str(data["id"]) if name is None else str(name),
            params=dict(data.get("params") or {}),
            position=(float(pos[0]), float(pos[1])),
        )


@dataclass(frozen=True)
class Edge:
    """``src``'s output number ``src_port`` feeds input ``slot`` of ``dst``."""

    src: str
    dst: str
    slot: int = 0
    src_port: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "slot": self.slot, "src_port": self.src_port}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edge:
        return cls(
            src=str(data["src"]),
            dst=str(data["dst"]),
            slot=int(data.get("slot", 0)),
            src_port=int(data.get("src_port", 0)),
        )


@dataclass(frozen=True)
class GraphEvent:
    """A change notification: ``kind`` is one of the ``EVENT_*`` names."""

    kind: str
    node_id: str | None = None
    edge: Edge | None = None
    detail: Any = None


EVENT_NODE_ADDED = "node_added"
EVENT_NODE_REMOVED = "node_removed"
EVENT_NODE_CHANGED = "node_changed"  # params, class or name
EVENT_NODE_MOVED = "node_moved"
EVENT_EDGE_ADDED = "edge_added"
EVENT_EDGE_REMOVED = "edge_removed"
EVENT_RESET = "reset"


class GraphError(ValueError):
    """An edit that cannot be expressed at all (unknown node, duplicate id)."""


def snake_name(class_name: str) -> str:
    """Keras' own naming rule (``Conv2D`` -> ``conv2d``), ``input`` for inputs."""
    s = re.sub(r"\W+", "", class_name)
    s = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", s)
    s = re.sub("([a-z])([A-Z])", r"\1_\2", s).lower()
    return "input" if s == "input_layer" else s


class _Adjacency:
    """Edges by endpoint, so that a node's inputs are a lookup, not a scan of every edge."""

    def __init__(self, edges: list[Edge]) -> None:
        self.source = edges  # the list this indexes; a new list (assigned wholesale) means rebuild
        self.ins: dict[str, list[Edge]] = {}
        self.outs: dict[str, list[Edge]] = {}
        self.members: set[Edge] = set()
        for e in edges:
            self.add(e)

    def add(self, e: Edge) -> None:
        self.ins.setdefault(e.dst, []).append(e)
        self.outs.setdefault(e.src, []).append(e)
        self.members.add(e)

    def discard(self, e: Edge) -> None:
        self.ins[e.dst].remove(e)
        self.outs[e.src].remove(e)
        self.members.discard(e)


class NetworkGraph:
    """Nodes in insertion order, edges, and subscribers to change events.

    Every walk (order, cycles, reachability) is iterative, so a 10,000-layer
    chain costs no recursion and linear time.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._edges: list[Edge] = []
        self._index: _Adjacency | None = None
        self._listeners: list[Callable[[GraphEvent], None]] = []
        self._counter = 0
        self.revision = 0

    def _adj(self) -> _Adjacency:
        if self._index is None or self._index.source is not self._edges:
            self._index = _Adjacency(self._edges)
        return self._index

    def _add_edge(self, e: Edge) -> None:
        index = self._adj()
        self._edges.append(e)
        index.add(e)

    def _remove_edge(self, e: Edge) -> None:
        index = self._adj()
        self._edges.remove(e)
        index.discard(e)

    # -- events ---------------------------------------------------------
    def subscribe(self, listener: Callable[[GraphEvent], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[GraphEvent], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: GraphEvent) -> None:
        self.revision += 1
        for listener in list(self._listeners):
            listener(event)

    # -- queries --------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes.values())

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes.values()))

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphError(f"no layer with id {node_id!r}") from None

    def find(self, name: str) -> Node | None:
        """The node whose layer name is ``name``."""
        for n in self._nodes.values():
            if n.name == name:
                return n
        return None

    def inputs_of(self, node_id: str) -> list[Edge]:
        """Edges into ``node_id``, ordered by slot."""
        return sorted(self._adj().ins.get(node_id, ()), key=lambda e: e.slot)

    def outputs_of(self, node_id: str) -> list[Edge]:
        return list(self._adj().outs.get(node_id, ()))

    def predecessors(self, node_id: str) -> list[str]:
        return [e.src for e in self.inputs_of(node_id)]

    def successors(self, node_id: str) -> list[str]:
        seen: list[str] = []
        for e in self.outputs_of(node_id):
            if e.dst not in seen:
                seen.append(e.dst)
        return seen

    def input_nodes(self) -> list[Node]:
        return [n for n in self._nodes.values() if n.class_name == INPUT_CLASS]

    def output_nodes(self) -> list[Node]:
        """Non-input nodes that feed nothing: the network's outputs."""
        adj = self._adj()
        return [
            n
            for n in self._nodes.values()
            if not adj.outs.get(n.id) and n.class_name != INPUT_CLASS and adj.ins.get(n.id)
        ]

    def find_cycle(self) -> list[str] | None:
        """Node ids of one directed cycle, or None."""
        colour: dict[str, int] = dict.fromkeys(self._nodes, 0)
        succ: dict[str, list[str]] = {nid: [] for nid in self._nodes}
        for e in self._edges:
            succ[e.src].append(e.dst)
        for start in self._nodes:
            if colour[start]:
                continue
            stack: list[tuple[str, Iterator[str]]] = [(start, iter(succ[start]))]
            path = [start]
            colour[start] = 1
            while stack:
                nid, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    colour[nid] = 2
                    stack.pop()
                    path.pop()
                elif colour[nxt] == 1:
                    return path[path.index(nxt) :]
                elif colour[nxt] == 0:
                    colour[nxt] = 1
                    stack.append((nxt, iter(succ[nxt])))
                    path.append(nxt)
        return None

    def topological_order(self) -> list[str]:
        """Node ids so that every edge points forward; ties keep insertion order.

        Nodes on a cycle (and everything after them) are left out; use
        :meth:`find_cycle` to report them.
        """
        index = {nid: i for i, nid in enumerate(self._nodes)}
        indeg = dict.fromkeys(self._nodes, 0)
        succ: dict[str, list[str]] = {nid: [] for nid in self._nodes}
        for e in self._edges:
            indeg[e.dst] += 1
            succ[e.src].append(e.dst)
        heap = [(index[n], n) for n, d in indeg.items() if d == 0]
        heapq.heapify(heap)
        order: list[str] = []
        while heap:
            _, nid = heapq.heappop(heap)
            order.append(nid)
            for d in succ[nid]:
                indeg[d] -= 1
                if indeg[d] == 0:
                    heapq.heappush(heap, (index[d], d))
        return order

    def downstream(self, node_ids: Iterable[str]) -> set[str]:
        """The given nodes and everything reachable from them."""
        todo = [n for n in node_ids if n in self._nodes]
        seen = set(todo)
        while todo:
            for s in self.successors(todo.pop()):
                if s not in seen:
                    seen.add(s)
                    todo.append(s)
        return seen

    # -- naming ---------------------------------------------------------
    def new_id(self) -> str:
        while True:
            self._counter += 1
            nid = f"n{self._counter}"
            if nid not in self._nodes:
                return nid

    def unique_name(self, class_name: str, wanted: str | None = None) -> str:
        taken = {n.name for n in self._nodes.values()}
        if wanted and wanted not in taken:
            return wanted
        base = snake_name(class_name)
        if base not in taken:
            return base
        i = 1
        while f"{base}_{i}" in taken:
            i += 1
        return f"{base}_{i}"

    # -- edits ----------------------------------------------------------
    def add_node(
        self,
        class_name: str,
        params: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        position: tuple[float, float] = (0.0, 0.0),
        node_id: str | None = None,
    ) -> Node:
        nid = node_id or self.new_id()
        if nid in self._nodes:
            raise GraphError(f"a layer with id {nid!r} already exists")
        node = Node(
            id=nid,
            class_name=class_name,
            name=self.unique_name(class_name, name),
            params=copy.deepcopy(params or {}),
            position=(float(position[0]), float(position[1])),
        )
        self._nodes[nid] = node
        self._emit(GraphEvent(EVENT_NODE_ADDED, node_id=nid))
        return node

    def restore_node(self, node: Node, edges: Iterable[Edge] = ()) -> None:
        """Put back a removed node with its edges (for undo)."""
        if node.id in self._nodes:
            raise GraphError(f"a layer with id {node.id!r} already exists")
        self._nodes[node.id] = copy.deepcopy(node)
        self._emit(GraphEvent(EVENT_NODE_ADDED, node_id=node.id))
        for e in edges:
            self.connect(e.src, e.dst, e.slot, e.src_port)

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its edges; returns both so the edit can be undone."""
        node = self.node(node_id)
        touching = [e for e in self._edges if node_id in (e.src, e.dst)]
        for e in touching:
            self.disconnect(e)
        del self._nodes[node_id]
        self._emit(GraphEvent(EVENT_NODE_REMOVED, node_id=node_id, detail=node))
        return node, touching

    def set_params(self, node_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Replace a node's params; returns the old ones."""
        node = self.node(node_id)
        old = node.params
        node.params = copy.deepcopy(params)
        self._emit(GraphEvent(EVENT_NODE_CHANGED, node_id=node_id, detail="params"))
        return old

    def set_param(self, node_id: str, key: str, value: Any) -> Any:
        """Set one parameter (``None`` removes it, falling back to the default)."""
        node = self.node(node_id)
        params = dict(node.params)
        old = params.get(key)
        if value is None:
            params.pop(key, None)
        else:
            params[key] = copy.deepcopy(value)
        self.set_params(node_id, params)
        return old

    def set_class(self, node_id: str, class_name: str, params: dict[str, Any] | None = None) -> None:
        node = self.node(node_id)
        node.class_name = class_name
        if params is not None:
            node.params = copy.deepcopy(params)
        self._emit(GraphEvent(EVENT_NODE_CHANGED, node_id=node_id, detail="class"))

    def rename(self, node_id: str, name: str) -> str:
        node = self.node(node_id)
        old = node.name
        if name != old:
            node.name = self.unique_name(node.class_name, name)
            self._emit(GraphEvent(EVENT_NODE_CHANGED, node_id=node_id, detail="name"))
        return old

    def move(self, node_id: str, position: tuple[float, float]) -> None:
        node = self.node(node_id)
        node.position = (float(position[0]), float(position[1]))
        self._emit(GraphEvent(EVENT_NODE_MOVED, node_id=node_id))

    def connect(self, src: str, dst: str, slot: int | None = None, src_port: int = 0) -> Edge:
        """Feed ``src`` into ``dst``; ``slot`` None means the next free input."""
        self.node(src)
        self.node(dst)
        used = {e.slot for e in self.inputs_of(dst)}
        if slot is None:
            slot = 0
            while slot in used:
                slot += 1
        edge = Edge(src, dst, int(slot), int(src_port))
        if edge in self._adj().members:
            return edge
        self._add_edge(edge)
        self._emit(GraphEvent(EVENT_EDGE_ADDED, edge=edge))
        return edge

    def disconnect(self, edge: Edge) -> None:
        if edge in self._adj().members:
            self._remove_edge(edge)
            self._emit(GraphEvent(EVENT_EDGE_REMOVED, edge=edge))

    def insert_between(
        self, edge: Edge, class_name: str, params: dict[str, Any] | None = None, **kw: Any
    ) -> Node:
        """Split ``edge`` with a new node (the drop-on-edge gesture)."""
        if edge not in self._adj().members:
            raise GraphError("that connection does not exist")
        mid = self.add_node(class_name, params, **kw)
        self.disconnect(edge)
        self.connect(edge.src, mid.id, 0, edge.src_port)
        self.connect(mid.id, edge.dst, edge.slot)
        return mid

    def clear(self) -> None:
        self._nodes.clear()
        self._edges = []
        self._emit(GraphEvent(EVENT_RESET))

    # -- (de)serialisation -----------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [n.to_dict() for n in self._nodes.values()],
            "edges": [e.to_dict() for e in self._edges],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkGraph:
        g = cls()
        for nd in data.get("nodes", []):
            node = Node.from_dict(nd)
            if node.id in g._nodes:
                raise GraphError(f"duplicate layer id {node.id!r}")
            g._nodes[node.id] = node
        for ed in data.get("edges", []):
            e = Edge.from_dict(ed)
            if e.src not in g._nodes or e.dst not in g._nodes:
                raise GraphError(f"connection {e.src!r} -> {e.dst!r} names a missing layer")
            if e not in g._adj().members:
                g._add_edge(e)
        ids = [int(n.id[1:]) for n in g._nodes.values() if re.fullmatch(r"n\d+", n.id)]
        g._counter = max(ids, default=0)
        return g

    def copy(self) -> NetworkGraph:
        return NetworkGraph.from_dict(self.to_dict())

    def replace_with(self, other: NetworkGraph) -> None:
        """Take ``other``'s content in place (subscribers stay)."""
        self._nodes = {n.id: copy.deepcopy(n) for n in other.nodes}
        self._edges = list(other.edges)
        self._counter = max(self._counter, other._counter)
        self._emit(GraphEvent(EVENT_RESET))


def sequential(layers: Iterable[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]]) -> NetworkGraph:
    """A chain of layers, each ``(class_name, params[, name])``; handy for templates and tests."""
    g = NetworkGraph()
    prev: Node | None = None
    for i, spec in enumerate(layers):
        class_name, params = spec[0], spec[1]
        name = spec[2] if len(spec) > 2 else None
        node = g.add_node(class_name, params, name=name, position=(0.0, 90.0 * i))
        if prev is not None:
            g.connect(prev.id, node.id)
        prev = node
    return g
