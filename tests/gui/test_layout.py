"""The automatic canvas layout: pure Python, no Qt."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from app.core.graph import NetworkGraph, sequential
from app.core.templates import load_template, template_names
from app.gui.canvas.layout import (
    NODE_HEIGHT,
    NODE_WIDTH,
    Y_PITCH,
    free_position,
    layered_layout,
    make_room,
    needs_layout,
    overlapping,
)


def densenet_like(blocks: tuple[int, ...] = (6, 12, 24, 16)) -> NetworkGraph:
    """DenseNet121's shape: dense blocks whose every unit concatenates its input back in."""
    g = NetworkGraph()

    def add(class_name: str, *inputs: str) -> str:
        n = g.add_node(class_name, {})
        for slot, src in enumerate(inputs):
            g.connect(src, n.id, slot)
        return n.id

    x = add("InputLayer")
    for c in ("Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"):
        x = add(c, x)
    for i, units in enumerate(blocks):
        for _ in range(units):
            y = x
            for c in (
                "BatchNormalization",
                "ReLU",
                "Conv2D",
                "BatchNormalization",
                "ReLU",
                "Conv2D",
            ):
                y = add(c, y)
            x = add("Concatenate", x, y)
        if i < len(blocks) - 1:
            for c in ("BatchNormalization", "ReLU", "Conv2D", "AveragePooling2D"):
                x = add(c, x)
    x = add("GlobalAveragePooling2D", x)
    add("Dense", x)
    return g


def assert_well_laid_out(g: NetworkGraph, pos: dict[str, tuple[float, float]]) -> None:
    assert set(pos) == {n.id for n in g.nodes}
    for e in g.edges:
        assert pos[e.src][1] < pos[e.dst][1], f"edge {e} does not point down"
    items = sorted(pos.items(), key=lambda kv: (kv[1][1], kv[1][0]))
    for i, (a, pa) in enumerate(items):
        for b, pb in items[i + 1 :]:
            if pb[1] - pa[1] >= NODE_HEIGHT:
                break
            assert abs(pa[0] - pb[0]) >= NODE_WIDTH, f"{a} and {b} overlap"


@pytest.mark.parametrize("name", template_names())
def test_templates_lay_out_downwards_without_overlap(name: str) -> None:
    g = load_template(name).graph
    assert_well_laid_out(g, layered_layout(g))


def test_chain_is_one_straight_column() -> None:
    g = sequential(
        [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}), ("Dense", {"units": 2})]
    )
    pos = layered_layout(g)
    assert [pos[n.id] for n in g.nodes] == [(0.0, 0.0), (0.0, Y_PITCH), (0.0, 2 * Y_PITCH)]


def test_branches_sit_side_by_side_and_merge_below() -> None:
    g = load_template("resnet-mini").graph
    pos = layered_layout(g)
    conv1, proj = g.find("block2_conv1").id, g.find("block2_proj").id
    add = g.find("block2_add").id
    assert pos[conv1][1] == pos[proj][1]
    assert abs(pos[conv1][0] - pos[proj][0]) >= NODE_WIDTH
    assert pos[add][1] > max(pos[conv1][1], pos[proj][1])


def test_densenet_like_graph_is_fast_and_tidy() -> None:
    g = densenet_like()
    assert len(g) >= 420
    # 500 nodes: one more dense block
    big = densenet_like((6, 12, 24, 16, 11))
    assert len(big) >= 500
    start = time.perf_counter()
    pos = layered_layout(big)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"layout of {len(big)} nodes took {elapsed:.2f} s"
    assert_well_laid_out(big, pos)
    # the main chain stays (nearly) straight: few distinct columns
    columns = {round(x / 50) for x, _ in pos.values()}
    assert len(columns) <= 6
    # a skip's lane keeps its concat in line with the chain above it
    xs = [pos[n.id][0] for n in big.nodes if n.class_name == "Concatenate"]
    assert max(xs) - min(xs) < NODE_WIDTH


def test_cycles_and_loose_layers_still_get_a_place() -> None:
    g = sequential(
        [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}), ("Dense", {"units": 2})]
    )
    a, b, c = (n.id for n in g.nodes)
    g.connect(c, b, 1)  # a loop
    loose = g.add_node("Dense", {"units": 1}).id
    pos = layered_layout(g)
    assert set(pos) == {a, b, c, loose}
    assert pos[a][1] < pos[b][1] < pos[c][1]
    assert layered_layout(NetworkGraph()) == {}


def test_needs_layout_and_free_position() -> None:
    g = sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 3})])
    assert not needs_layout(g)
    g.add_node("Dense", {}, position=(10.0, 5.0))
    assert needs_layout(g)
    spot = free_position(g, (0.0, 0.0))
    assert spot != (0.0, 0.0) and not overlapping(g, spot)


def test_make_room_pushes_the_layers_below_down() -> None:
    g = sequential(
        [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}), ("Dense", {"units": 2})]
    )
    a, b, c = (n.id for n in g.nodes)
    g.move(b, (0.0, Y_PITCH))
    g.move(c, (0.0, 2 * Y_PITCH))
    mid = g.insert_between(g.edges[0], "Dropout", {"rate": 0.1}, position=(0.0, Y_PITCH / 2)).id
    moves = make_room(g, mid)
    for nid, p in moves.items():
        g.move(nid, p)
    assert_well_laid_out(g, {n.id: n.position for n in g.nodes})
    assert g.node(mid).position == (0.0, Y_PITCH)
    assert g.node(c).position[1] == 3 * Y_PITCH


def test_layout_module_needs_no_qt(repo_root) -> None:
    code = "import sys, app.gui.canvas.layout; assert 'PySide6' not in sys.modules, 'Qt imported'"
    subprocess.run([sys.executable, "-c", code], cwd=repo_root, check=True)
