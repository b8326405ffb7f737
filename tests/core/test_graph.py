"""The network graph: edits, events, order, cycles, serialisation."""

from __future__ import annotations

import pytest

from app.core.graph import (
    EVENT_EDGE_ADDED,
    EVENT_EDGE_REMOVED,
    EVENT_NODE_ADDED,
    EVENT_NODE_CHANGED,
    EVENT_NODE_REMOVED,
    GraphError,
    NetworkGraph,
    sequential,
)


def chain() -> NetworkGraph:
    return sequential(
        [
            ("InputLayer", {"shape": [28, 28, 1]}),
            ("Conv2D", {"filters": 8, "kernel_size": [3, 3]}),
            ("Flatten", {}),
            ("Dense", {"units": 10}),
        ]
    )


def test_names_follow_keras_and_stay_unique():
    g = NetworkGraph()
    names = [g.add_node(c).name for c in ("InputLayer", "Conv2D", "Conv2D", "BatchNormalization")]
    assert names == ["input", "conv2d", "conv2d_1", "batch_normalization"]


def test_events_are_emitted_for_every_edit():
    g = NetworkGraph()
    seen = []
    g.subscribe(lambda e: seen.append(e.kind))
    a = g.add_node("InputLayer", {"shape": [4]})
    b = g.add_node("Dense", {"units": 2})
    e = g.connect(a.id, b.id)
    g.set_param(b.id, "units", 3)
    g.disconnect(e)
    g.remove_node(b.id)
    assert seen == [EVENT_NODE_ADDED, EVENT_NODE_ADDED, EVENT_EDGE_ADDED, EVENT_NODE_CHANGED,
                    EVENT_EDGE_REMOVED, EVENT_NODE_REMOVED]


def test_topological_order_is_stable_and_handles_branches():
    g = NetworkGraph()
    i = g.add_node("InputLayer", {"shape": [8, 8, 3]})
    a = g.add_node("Conv2D", {"filters": 4, "kernel_size": 1})
    b = g.add_node("Conv2D", {"filters": 4, "kernel_size": 1})
    add = g.add_node("Add")
    g.connect(add.id, g.add_node("Flatten").id)  # edge points back in insertion order
    g.connect(i.id, a.id)
    g.connect(i.id, b.id)
    g.connect(a.id, add.id, 0)
    g.connect(b.id, add.id, 1)
    order = g.topological_order()
    assert order.index(i.id) < order.index(a.id) < order.index(b.id) < order.index(add.id)
    assert order[-1] == "n5"
    assert [e.slot for e in g.inputs_of(add.id)] == [0, 1]


def test_cycle_detection_finds_the_loop_and_order_leaves_it_out():
    g = chain()
    ids = [n.id for n in g]
    assert g.find_cycle() is None
    g.connect(ids[3], ids[1], 1)
    cycle = g.find_cycle()
    assert cycle is not None and set(cycle) == set(ids[1:])
    assert g.topological_order() == [ids[0]]


def test_insert_between_and_remove_restore_roundtrip():
    g = chain()
    ids = [n.id for n in g]
    edge = g.inputs_of(ids[3])[0]
    mid = g.insert_between(edge, "Dropout", {"rate": 0.5})
    assert g.predecessors(mid.id) == [ids[2]] and g.successors(mid.id) == [ids[3]]
    node, edges = g.remove_node(mid.id)
    assert mid.id not in g and not g.inputs_of(ids[3])
    g.restore_node(node, edges)
    assert g.predecessors(ids[3]) == [mid.id]


def test_connect_picks_next_free_slot_and_ignores_duplicates():
    g = NetworkGraph()
    a, b, c = (g.add_node(x) for x in ("InputLayer", "InputLayer", "Concatenate"))
    assert g.connect(a.id, c.id).slot == 0
    assert g.connect(b.id, c.id).slot == 1
    g.connect(a.id, c.id, 0)
    assert len(g.edges) == 2


def test_unfinished_network_is_held_not_refused():
    g = NetworkGraph()
    g.add_node("Dense")  # no params, no input
    g.add_node("Conv2D", {"filters": "many"})
    assert len(g) == 2 and g.output_nodes() == []


def test_serialisation_roundtrip_and_bad_edges():
    g = chain()
    g.move("n2", (10.0, 20.0))
    again = NetworkGraph.from_dict(g.to_dict())
    assert again.to_dict() == g.to_dict()
    assert again.add_node("Dense").id == "n5"
    with pytest.raises(GraphError):
        NetworkGraph.from_dict({"nodes": [], "edges": [{"src": "a", "dst": "b"}]})


def test_downstream():
    g = chain()
    assert g.downstream(["n3"]) == {"n3", "n4"}


def test_a_10000_layer_chain_is_walked_in_linear_time_without_recursion():
    import sys
    import time

    nodes = [{"id": "n0", "class_name": "InputLayer", "name": "input", "params": {"shape": [8]}}]
    nodes += [{"id": f"n{i}", "class_name": "Dense", "name": f"dense_{i}", "params": {"units": 4}} for i in range(1, 10_001)]
    edges = [{"src": f"n{i}", "dst": f"n{i + 1}"} for i in range(10_000)]
    g = NetworkGraph.from_dict({"nodes": nodes, "edges": edges})  # loading is how a big network arrives
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a recursive walk would need 10,000 frames
    try:
        t0 = time.perf_counter()
        order = g.topological_order()
        assert g.find_cycle() is None
        assert [n.id for n in g.output_nodes()] == [order[-1]]
        assert len(g.downstream([order[0]])) == 10_001
        for nid in order:
            g.inputs_of(nid)
            g.outputs_of(nid)
        again = NetworkGraph.from_dict(g.to_dict())
        elapsed = time.perf_counter() - t0
    finally:
        sys.setrecursionlimit(old)
    assert order == [n.id for n in g.nodes] and len(again.edges) == 10_000
    assert elapsed < 3.0  # scanning every edge per lookup (and per loaded edge) took ~40 s here


def test_edge_lookups_follow_every_kind_of_edit():
    g = chain()
    mid = g.insert_between(g.inputs_of("n3")[0], "Dropout", {"rate": 0.1})
    assert g.predecessors("n3") == [mid.id] and g.successors("n2") == [mid.id]
    node, edges = g.remove_node(mid.id)
    assert g.inputs_of("n3") == [] and g.outputs_of("n2") == []
    g.restore_node(node, edges)
    assert g.predecessors("n3") == [mid.id]
    other = chain()
    g.replace_with(other)
    assert g.predecessors("n3") == ["n2"] and mid.id not in g
    g.clear()
    assert g.edges == [] and g.inputs_of("n3") == []
    g.add_node("InputLayer", node_id="n3")
    assert g.inputs_of("n3") == [] and g.output_nodes() == []
