"""Automatic top-to-bottom layout of a network graph, and card geometry.

Pure Python (no Qt), so it is fast to test and can run anywhere. The layout is
a compact Sugiyama scheme:

1. layers by longest path from the inputs (sources with no inputs of their own
   are pulled down to just above the layer they feed);
2. every edge that spans several layers gets one thin virtual node per layer
   it crosses, so long skips (ResNet, DenseNet, U-Net) reserve a lane of their
   own instead of running through the layers they jump over;
3. the order inside each layer comes from alternating barycentre sweeps
   (port-aware: an edge into a merge's left input pulls left), keeping the
   order with the fewest crossings;
4. x positions come from alternating sweeps that put each node at the
   weighted mean of its neighbours, solved exactly per layer under the
   minimum-spacing constraint (weighted isotonic regression, pool adjacent
   violators), with real layers heavier than lanes so chains stay straight.

Positions are card centres, in scene units.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.graph import Edge, NetworkGraph

Pos = tuple[float, float]

NODE_WIDTH = 200.0
NODE_HEIGHT = 68.0
X_GAP = 44.0  # between two cards side by side
Y_PITCH = 112.0  # from one layer's centre to the next
LANE_WIDTH = 24.0  # the room a long edge takes while passing a layer
PORT_SPACING = 30.0  # between two input ports of a merge layer


# -- ports ------------------------------------------------------------------------
def slot_offset(slot: int, count: int) -> float:
    """Horizontal offset from the card centre of input ``slot`` out of ``count``."""
    if count <= 1:
        return 0.0
    spacing = min(PORT_SPACING, (NODE_WIDTH - 40.0) / (count - 1))
    return (slot - (count - 1) / 2.0) * spacing


def input_slot_count(graph: NetworkGraph, node_id: str) -> int:
    """How many input slots are in use on ``node_id`` (highest slot + 1)."""
    slots = [e.slot for e in graph.inputs_of(node_id)]
    return max(slots) + 1 if slots else 0


# -- the layered layout ----------------------------------------------------------------
def _pav(targets: list[float], weights: list[float]) -> list[float]:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    vals: list[float] = []
    wts: list[float] = []
    cnts: list[int] = []
    for t, w in zip(targets, weights, strict=True):
        vals.append(t)
        wts.append(w)
        cnts.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            w2 = wts[-2] + wts[-1]
            v2 = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / w2
            c2 = cnts[-2] + cnts[-1]
            del vals[-1], wts[-1], cnts[-1]
            vals[-1], wts[-1], cnts[-1] = v2, w2, c2
    out: list[float] = []
    for v, c in zip(vals, cnts, strict=True):
        out.extend([v] * c)
    return out


def _crossings(pairs: list[tuple[int, int]]) -> int:
    """Crossings between two adjacent layers: inversions of the lower ends."""
    pairs.sort()
    lower = [b for _, b in pairs]
    if len(lower) < 2:
        return 0
    # Fenwick tree over lower positions
    size = max(lower) + 2
    tree = [0] * (size + 1)
    total = 0
    for i, b in enumerate(lower):
        # count previous entries with lower end > b
        j = b + 1
        le = 0
        while j > 0:
            le += tree[j]
            j -= j & -j
        total += i - le
        j = b + 1
        while j <= size:
            tree[j] += 1
            j += j & -j
    return total


def layered_layout(
    graph: NetworkGraph,
    *,
    node_width: float = NODE_WIDTH,
    x_gap: float = X_GAP,
    y_pitch: float = Y_PITCH,
    sweeps: int = 6,
) -> dict[str, Pos]:
    """Card centres for every node: inputs at the top, every edge pointing down."""
    node_ids = [n.id for n in graph.nodes]
    if not node_ids:
        return {}
    topo = graph.topological_order()
    in_topo = set(topo)
    order = topo + [nid for nid in node_ids if nid not in in_topo]  # cycles last
    rank = {nid: i for i, nid in enumerate(order)}
    # forward edges only (a cycle's closing edge is drawn but does not shape the layout)
    edges = sorted(
        (e for e in graph.edges if rank[e.src] < rank[e.dst]),
        key=lambda e: (rank[e.src], rank[e.dst], e.slot),
    )
    preds: dict[str, list[str]] = {nid: [] for nid in order}
    succs: dict[str, list[str]] = {nid: [] for nid in order}
    for e in edges:
        preds[e.dst].append(e.src)
        succs[e.src].append(e.dst)
    slots = {nid: 0 for nid in order}
    for e in edges:
        slots[e.dst] = max(slots[e.dst], e.slot + 1)

    # 1. layers
    layer: dict[str, int] = {}
    for nid in order:
        layer[nid] = 1 + max((layer[p] for p in preds[nid]), default=-1)
    for nid in reversed(order):
        if not preds[nid] and succs[nid]:
            layer[nid] = min(layer[s] for s in succs[nid]) - 1

    # 2. virtual nodes: indices 0..n-1 are real, the rest are lanes
    n_real = len(order)
    vlayer: list[int] = [layer[nid] for nid in order]
    vwidth: list[float] = [node_width] * n_real
    ups: list[list[tuple[int, float]]] = [[] for _ in range(n_real)]  # (neighbour, offset at self)
    downs: list[list[tuple[int, float]]] = [[] for _ in range(n_real)]  # (neighbour, offset at it)
    vkey: list[float] = [float(rank[nid]) for nid in order]
    for e in edges:
        a = rank[e.src]
        b = rank[e.dst]
        off_b = slot_offset(e.slot, slots[e.dst])
        prev = a
        for lay in range(vlayer[a] + 1, vlayer[b]):
            d = len(vlayer)
            vlayer.append(lay)
            vwidth.append(LANE_WIDTH)
            ups.append([])
            downs.append([])
            vkey.append(a + 0.5)
            ups[d].append((prev, 0.0))
            downs[prev].append((d, 0.0))
            prev = d
        ups[b].append((prev, off_b))
        downs[prev].append((b, off_b))
    n_all = len(vlayer)
    is_real = [i < n_real for i in range(n_all)]
    n_layers = max(vlayer) + 1
    layers: list[list[int]] = [[] for _ in range(n_layers)]
    for v in sorted(range(n_all), key=lambda v: (vkey[v], v)):
        layers[vlayer[v]].append(v)

    # 3. order within layers
    pos = [0] * n_all

    def index_positions() -> None:
        for row in layers:
            for i, v in enumerate(row):
                pos[v] = i

    def count_crossings() -> int:
        total = 0
        for row in layers[:-1]:
            pairs = [(pos[v], pos[w]) for v in row for w, _ in downs[v]]
            total += _crossings(pairs)
        return total

    index_positions()
    unit = node_width + x_gap
    best = [list(r) for r in layers]
    best_cross = count_crossings()
    for it in range(sweeps):
        down = it % 2 == 0
        rng = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        for li in rng:
            row = layers[li]
            keys: dict[int, tuple[float, int, int]] = {}
            for v in row:
                if down:
                    nb = [pos[u] for u, _ in ups[v]]
                else:
                    nb = [pos[w] + off / unit for w, off in downs[v]]
                k = sum(nb) / len(nb) if nb else float(pos[v])
                keys[v] = (k, 0 if is_real[v] else 1, pos[v])
            row.sort(key=keys.__getitem__)
            for i, v in enumerate(row):
                pos[v] = i
        c = count_crossings()
        if c < best_cross:
            best_cross = c
            best = [list(r) for r in layers]
        if best_cross == 0:
            break
    layers = best
    index_positions()

    # 4. x coordinates
    x = [0.0] * n_all
    for row in layers:
        cur = 0.0
        for i, v in enumerate(row):
            if i:
                cur += (vwidth[row[i - 1]] + vwidth[v]) / 2.0 + x_gap
            x[v] = cur
        shift = cur / 2.0
        for v in row:
            x[v] -= shift
    node_weight = [1000.0 if r else 1.0 for r in is_real]

    def place(row: list[int], desired: list[float]) -> None:
        offs = [0.0]
        for i in range(1, len(row)):
            a, b = row[i - 1], row[i]
            gap = x_gap if (is_real[a] or is_real[b]) else x_gap / 3.0
            offs.append(offs[-1] + (vwidth[a] + vwidth[b]) / 2.0 + gap)
        fit = _pav(
            [d - o for d, o in zip(desired, offs, strict=True)], [node_weight[v] for v in row]
        )
        for v, f, o in zip(row, fit, offs, strict=True):
            x[v] = f + o

    def sweep(down: bool) -> None:
        rng = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        for li in rng:
            row = layers[li]
            desired = []
            for v in row:
                nbs = [u for u, _ in ups[v]] if down else [w for w, _ in downs[v]]
                real = [u for u in nbs if is_real[u]]
                use = real or nbs  # a lane's pull only counts where no layer pulls
                desired.append(sum(x[u] for u in use) / len(use) if use else x[v])
            place(row, desired)

    for _ in range(3):
        sweep(True)
        sweep(False)
    sweep(True)

    anchor = x[0]
    return {
        nid: (float(round(x[i] - anchor)), float(vlayer[i] * y_pitch))
        for i, nid in enumerate(order)
    }


# -- placing one new card -----------------------------------------------------------
def _overlaps(a: Pos, b: Pos, margin: float = 8.0) -> bool:
    return abs(a[0] - b[0]) < NODE_WIDTH + margin and abs(a[1] - b[1]) < NODE_HEIGHT + margin


def overlapping(graph: NetworkGraph, pos: Pos, ignore: Iterable[str] = ()) -> list[str]:
    """Ids of the cards a card centred at ``pos`` would overlap."""
    skip = set(ignore)
    return [n.id for n in graph.nodes if n.id not in skip and _overlaps(pos, n.position)]


def free_position(graph: NetworkGraph, pos: Pos, ignore: Iterable[str] = ()) -> Pos:
    """``pos``, or the nearest spot beside or below it where a card fits."""
    skip = set(ignore)
    others = [n.position for n in graph.nodes if n.id not in skip]
    if not any(_overlaps(pos, p) for p in others):
        return pos
    step_x = NODE_WIDTH + X_GAP
    for ring in range(1, 12):
        for dx, dy in (
            (ring * step_x, 0.0),
            (-ring * step_x, 0.0),
            (0.0, ring * Y_PITCH),
            (ring * step_x, ring * Y_PITCH),
            (-ring * step_x, ring * Y_PITCH),
        ):
            cand = (pos[0] + dx, pos[1] + dy)
            if not any(_overlaps(cand, p) for p in others):
                return cand
    return (pos[0] + step_x * 12, pos[1])


def make_room(graph: NetworkGraph, node_id: str) -> dict[str, Pos]:
    """Moves that give a freshly inserted node a place between its input and output.

    The node goes one layer below its (first) input, above its (first) output;
    if that spot is taken, the output and everything downstream of it move
    down by one layer. Returns ``{id: new position}`` (the node itself included
    when it moves); empty when the node already sits free.
    """
    ins = graph.inputs_of(node_id)
    outs = graph.outputs_of(node_id)
    here = graph.node(node_id).position
    if not overlapping(graph, here, ignore=[node_id]):
        return {}
    moves: dict[str, Pos] = {}
    if ins:
        src = graph.node(ins[0].src).position
        if outs:
            dst = graph.node(outs[0].dst)
            count = input_slot_count(graph, dst.id)
            target = (dst.position[0] + slot_offset(outs[0].slot, count), src[1] + Y_PITCH)
        else:
            target = (src[0], src[1] + Y_PITCH)
    elif outs:
        dst = graph.node(outs[0].dst).position
        target = (dst[0], dst[1] - Y_PITCH)
    else:
        target = free_position(graph, here, ignore=[node_id])
        return {node_id: target} if target != here else {}
    if target != here:
        moves[node_id] = target
    if outs and overlapping(graph, target, ignore=[node_id]):
        below = graph.downstream(e.dst for e in outs) - {node_id}
        first = min(graph.node(e.dst).position[1] for e in outs)
        shift = target[1] + Y_PITCH - first
        if shift > 0:
            for nid in below:
                px, py = graph.node(nid).position
                moves[nid] = (px, py + shift)
    return moves


def needs_layout(graph: NetworkGraph) -> bool:
    """True when cards would overlap as placed (an import, a file without positions)."""
    nodes = sorted(graph.nodes, key=lambda n: (n.position[1], n.position[0]))
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            if b.position[1] - a.position[1] >= NODE_HEIGHT:
                break
            if abs(a.position[0] - b.position[0]) < NODE_WIDTH:
                return True
    return False


def edge_points_down(graph: NetworkGraph, positions: dict[str, Pos], edge: Edge) -> bool:
    return positions[edge.src][1] < positions[edge.dst][1]
