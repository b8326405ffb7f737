"""The canvas: drops, connections, deletes, moves, copy/paste, layout, undo/redo.

Drops are sent as real QDropEvents carrying the palette's MIME data (Qt's own
drag loop cannot be driven from a test), and also through ``handle_drop``,
the plain method the event handler calls.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import (  # noqa: E402
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QMouseEvent,
    QUndoStack,
)
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.diagnostics import ERROR, INSERT_BEFORE, WARNING, Diagnostic, Fix  # noqa: E402
from app.core.graph import Edge, sequential  # noqa: E402
from app.core.project import Project  # noqa: E402
from app.core.templates import load_template  # noqa: E402
from app.gui.canvas.items import EdgeItem, NodeItem  # noqa: E402
from app.gui.canvas.layout import NODE_HEIGHT, NODE_WIDTH  # noqa: E402
from app.gui.canvas.view import CanvasView  # noqa: E402
from app.gui.commands import (  # noqa: E402
    MIME_LAYER,
    AddLayer,
    ApplyFix,
    Disconnect,
    MoveLayers,
    Rename,
    SetParam,
    SetParams,
)


# -- helpers --------------------------------------------------------------------------
@pytest.fixture
def make_view(qtbot: Any):
    def make(project: Project) -> CanvasView:
        stack = QUndoStack()
        view = CanvasView(project, stack)
        view._test_stack = stack  # keep the stack alive with the view
        qtbot.addWidget(view)
        view.resize(900, 1000)
        view.show()
        qtbot.waitExposed(view)
        view.set_zoom(1.0)
        if len(project.graph):
            view.center_on(project.graph.nodes[0].id)
        QApplication.processEvents()
        return view

    return make


@pytest.fixture
def mnist(make_view: Any) -> tuple[CanvasView, Project]:
    project = load_template("mnist-cnn")
    return make_view(project), project


def mirrored(view: CanvasView) -> bool:
    """The scene has exactly one item per node and per edge of the graph."""
    scene = view.scene()
    scene.flush_routes()
    g = view.project.graph
    nodes = [it for it in scene.items() if isinstance(it, NodeItem)]
    edges = [it for it in scene.items() if isinstance(it, EdgeItem)]
    return (
        {it.node_id for it in nodes} == {n.id for n in g.nodes}
        and len(nodes) == len(g)
        and {it.edge for it in edges} == set(g.edges)
        and len(edges) == len(g.edges)
    )


def no_overlaps(project: Project) -> bool:
    nodes = project.graph.nodes
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            if (
                abs(a.position[0] - b.position[0]) < NODE_WIDTH
                and abs(a.position[1] - b.position[1]) < NODE_HEIGHT
            ):
                return False
    return True


def send_drop(view: CanvasView, class_name: str, scene_pos: QPointF) -> QDropEvent:
    """What Qt delivers when a palette item is dragged over the canvas and released."""
    mime = QMimeData()
    mime.setData(MIME_LAYER, class_name.encode("utf-8"))
    at = QPointF(view.mapFromScene(scene_pos))
    vp = view.viewport()
    enter = QDragEnterEvent(
        at.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(
        at.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(vp, move)
    assert move.isAccepted()
    drop = QDropEvent(
        at,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(vp, drop)
    assert drop.isAccepted()
    return drop


def mouse(
    view: CanvasView,
    kind: QEvent.Type,
    scene_pos: QPointF,
    buttons: Qt.MouseButton = Qt.MouseButton.LeftButton,
) -> None:
    at = QPointF(view.mapFromScene(scene_pos))
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    held = buttons if kind != QEvent.Type.MouseButtonRelease else Qt.MouseButton.NoButton
    global_at = QPointF(view.viewport().mapToGlobal(at.toPoint()))
    ev = QMouseEvent(kind, at, global_at, button, held, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), ev)


def check_undo_redo(view: CanvasView, before: dict, after: dict) -> None:
    stack = view.undo_stack
    g = view.project.graph
    stack.undo()
    assert g.to_dict() == before
    assert mirrored(view)
    stack.redo()
    assert g.to_dict() == after
    assert mirrored(view)


def edge_named(project: Project, src: str, dst: str) -> Edge:
    g = project.graph
    s, d = g.find(src).id, g.find(dst).id
    return next(e for e in g.edges if e.src == s and e.dst == d)


def names_chain(project: Project) -> list[tuple[str, str]]:
    g = project.graph
    return [(g.node(e.src).name, g.node(e.dst).name) for e in g.edges]


# -- basics ----------------------------------------------------------------------------
def test_view_is_named_canvas_and_mirrors_the_graph(mnist: Any) -> None:
    view, project = mnist
    assert view.objectName() == "canvas"
    assert mirrored(view)
    assert len(view.scene().nodes) == 9 and len(view.scene().edges) == 8


def test_gui_modules_do_not_import_keras(repo_root: Any) -> None:
    code = (
        "import sys; import app.gui.commands, app.gui.canvas.view, app.gui.canvas.scene; "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo_root, check=True)


# -- drops -----------------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["event", "method"])
def test_drop_on_empty_space_adds_a_layer(mnist: Any, via: str) -> None:
    view, project = mnist
    g = project.graph
    before = g.to_dict()
    where = QPointF(g.find("conv2").position[0] + 600, g.find("conv2").position[1])
    if via == "event":
        send_drop(view, "Dense", where)
        nid = g.nodes[-1].id
    else:
        nid = view.handle_drop("Dense", where)
    node = g.node(nid)
    assert node.class_name == "Dense" and node.params == {"units": 64}
    assert node.position == (where.x(), where.y())
    assert not g.inputs_of(nid) and not g.outputs_of(nid)
    assert view.selected_ids() == [nid]
    assert mirrored(view)
    assert view.undo_stack.count() == 1 and view.undo_stack.text(0) == "Add Dense"
    check_undo_redo(view, before, g.to_dict())
    assert g.node(nid).name == node.name  # redo recreates the same layer


@pytest.mark.parametrize("via", ["event", "method"])
def test_drop_on_an_edge_inserts_the_layer_there(mnist: Any, via: str) -> None:
    view, project = mnist
    g = project.graph
    before = g.to_dict()
    edge = edge_named(project, "conv1", "pool1")
    mid = view.scene().edge_item(edge).path().pointAtPercent(0.5)
    assert view.drop_target(mid) == ("edge", edge)
    if via == "event":
        send_drop(view, "BatchNormalization", mid)
    else:
        view.handle_drop("BatchNormalization", mid)
    bn = next(n for n in g.nodes if n.class_name == "BatchNormalization")
    chain = names_chain(project)
    assert ("conv1", bn.name) in chain and (bn.name, "pool1") in chain
    assert ("conv1", "pool1") not in chain
    assert no_overlaps(project), "the layers below should have moved down to make room"
    assert all(g.node(e.src).position[1] < g.node(e.dst).position[1] for e in g.edges)
    assert mirrored(view)
    check_undo_redo(view, before, g.to_dict())


@pytest.mark.parametrize("via", ["event", "method"])
def test_drop_on_an_input_port_connects_into_it(make_view: Any, via: str) -> None:
    g = sequential(
        [("InputLayer", {"shape": [8, 8, 1]}), ("Conv2D", {"filters": 4, "kernel_size": 3})]
    )
    loose = g.add_node("Dense", {"units": 10}, position=(500.0, 400.0))
    project = Project(graph=g)
    view = make_view(project)
    before = g.to_dict()
    port = view.scene().node_item(loose.id).input_port(0)
    assert view.drop_target(port.scenePos()) == ("input", loose.id, 0)
    if via == "event":
        send_drop(view, "Flatten", port.scenePos())
    else:
        view.handle_drop("Flatten", port.scenePos())
    flat = next(n for n in g.nodes if n.class_name == "Flatten")
    assert g.inputs_of(loose.id) == [Edge(flat.id, loose.id, 0)]
    assert flat.position[1] < loose.position[1]
    assert no_overlaps(project)
    assert mirrored(view)
    check_undo_redo(view, before, g.to_dict())


def test_drop_on_a_merge_layers_spare_port_adds_an_input(make_view: Any) -> None:
    project = load_template("resnet-mini")
    view = make_view(project)
    g = project.graph
    add = g.find("block1_add").id
    item = view.scene().node_item(add)
    spare = next(p for p in item.inputs if p.extra)
    assert spare.index == 2
    nid = view.handle_drop("Conv2D", spare.scenePos())
    assert Edge(nid, add, 2) in g.edges
    assert mirrored(view)


def test_drop_on_an_occupied_input_port_inserts_before_it(mnist: Any) -> None:
    view, project = mnist
    g = project.graph
    pool1 = g.find("pool1").id
    port = view.scene().node_item(pool1).input_port(0)
    nid = view.handle_drop("Dropout", port.scenePos())
    name = g.node(nid).name
    assert {("conv1", name), (name, "pool1")} <= set(names_chain(project))
    assert ("conv1", "pool1") not in names_chain(project)


def test_drop_on_a_card_goes_after_it(mnist: Any) -> None:
    view, project = mnist
    g = project.graph
    dense1 = g.find("dense1")
    nid = view.handle_drop("BatchNormalization", QPointF(*dense1.position))
    name = g.node(nid).name
    assert ("dense1", name) in names_chain(project) and (name, "dropout") in names_chain(project)


def test_ignores_other_drags(mnist: Any) -> None:
    view, _ = mnist
    mime = QMimeData()
    mime.setText("Dense")
    ev = QDragEnterEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(view.viewport(), ev)
    assert not ev.isAccepted()


def test_palette_double_click_adds_after_the_selection(mnist: Any) -> None:
    view, project = mnist
    g = project.graph
    view.select_node(g.find("output").id)
    nid = view.add_after_selection("Softmax")
    assert g.inputs_of(nid)[0].src == g.find("output").id
    view.scene().clearSelection()
    nid2 = view.add_after_selection("Dropout")  # nothing selected: after the network's end
    assert g.inputs_of(nid2)[0].src == nid


# -- delete, connect, move -----------------------------------------------------------------
def test_delete_key_removes_the_selection_and_keeps_the_chain(mnist: Any, qtbot: Any) -> None:
    view, project = mnist
    g = project.graph
    before = g.to_dict()
    view.select_node(g.find("pool1").id)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert g.find("pool1") is None
    assert ("conv1", "conv2") in names_chain(project)
    assert view.undo_stack.text(0) == "Delete pool1"
    assert mirrored(view)
    kept = view.scene().node_item(g.find("conv1").id)
    check_undo_redo(view, before, g.to_dict())
    assert view.scene().node_item(g.find("conv1").id) is kept  # undo is a diff, not a rebuild


def test_delete_several_layers_and_a_connection(mnist: Any) -> None:
    view, project = mnist
    g = project.graph
    before = g.to_dict()
    view.select_nodes([g.find("dense1").id, g.find("dropout").id])
    view.scene().edge_item(edge_named(project, "conv1", "pool1")).setSelected(True)
    assert view.delete_selection()
    assert len(g) == 7 and ("conv1", "pool1") not in names_chain(project)
    assert view.undo_stack.text(0) == "Delete 2 layers and 1 connection"
    check_undo_redo(view, before, g.to_dict())


def test_connect_two_ports(make_view: Any) -> None:
    g = sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 8})])
    loose = g.add_node("Dense", {"units": 2}, position=(0.0, 300.0))
    project = Project(graph=g)
    view = make_view(project)
    before = g.to_dict()
    src = g.nodes[1].id
    edge = view.connect_ports(src, loose.id)
    assert edge == Edge(src, loose.id, 0)
    assert mirrored(view)
    assert view.scene().node_item(loose.id).input_port(0).connected
    check_undo_redo(view, before, g.to_dict())
    # an input takes one connection: connecting another output takes it over
    first = g.nodes[0].id
    view.connect_ports(first, loose.id)
    assert g.inputs_of(loose.id) == [Edge(first, loose.id, 0)]
    assert view.connect_ports(loose.id, loose.id) is None
    assert view.connect_ports(src, first) is None  # an InputLayer takes no input


def test_connect_by_dragging_from_an_output_to_an_input(make_view: Any) -> None:
    g = sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 8})])
    loose = g.add_node("Dense", {"units": 2}, position=(0.0, 300.0))
    project = Project(graph=g)
    view = make_view(project)
    src = view.scene().node_item(g.nodes[1].id).output_port(0)
    dst = view.scene().node_item(loose.id).input_port(0)
    mouse(view, QEvent.Type.MouseButtonPress, src.scenePos())
    mid = (src.scenePos() + dst.scenePos()) / 2
    mouse(view, QEvent.Type.MouseMove, mid)
    assert view._conn_preview is not None
    mouse(view, QEvent.Type.MouseMove, dst.scenePos() + QPointF(3, 2))
    assert dst.hot
    mouse(view, QEvent.Type.MouseButtonRelease, dst.scenePos() + QPointF(3, 2))
    assert Edge(g.nodes[1].id, loose.id, 0) in g.edges
    assert view.undo_stack.count() == 1
    assert mirrored(view)


def test_dragging_cards_is_one_undo_step(mnist: Any) -> None:
    view, project = mnist
    g = project.graph
    ids = [g.find("conv1").id, g.find("pool1").id]
    view.select_nodes(ids)
    before = g.to_dict()
    start = QPointF(*g.node(ids[0]).position)
    mouse(view, QEvent.Type.MouseButtonPress, start)
    for step in range(1, 6):
        mouse(view, QEvent.Type.MouseMove, start + QPointF(30 * step, 10 * step))
    mouse(view, QEvent.Type.MouseButtonRelease, start + QPointF(150, 50))
    assert view.undo_stack.count() == 1
    assert view.undo_stack.text(0) == "Move 2 layers"
    assert g.node(ids[0]).position == (
        before["nodes"][1]["position"][0] + 150,
        before["nodes"][1]["position"][1] + 50,
    )
    edge = view.scene().edge_item(edge_named(project, "input", "conv1"))
    assert edge.path().pointAtPercent(1.0) == view.scene().node_item(ids[0]).input_point(0)
    check_undo_redo(view, before, g.to_dict())


# -- copy / paste, layout, analysis --------------------------------------------------------------
def test_copy_paste_with_keys(mnist: Any, qtbot: Any) -> None:
    view, project = mnist
    g = project.graph
    view.select_nodes([g.find("conv2").id, g.find("pool2").id])
    view.setFocus()
    before = g.to_dict()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(g) == 11
    new = [n for n in g.nodes if n.name.endswith("_copy")]
    assert sorted(n.name for n in new) == ["conv2_copy", "pool2_copy"]
    assert ("conv2_copy", "pool2_copy") in names_chain(project)
    assert g.find("conv2_copy").params == g.find("conv2").params
    assert g.find("conv2_copy").position[0] == g.find("conv2").position[0] + 40
    assert sorted(view.selected_ids()) == sorted(n.id for n in new)
    assert mirrored(view)
    check_undo_redo(view, before, g.to_dict())
    view.paste()
    assert {"conv2_copy_2", "pool2_copy_2"} <= {n.name for n in g.nodes}


def test_select_all_and_cut(mnist: Any) -> None:
    view, project = mnist
    view.select_all()
    assert len(view.selected_ids()) == 9
    assert view.cut_selection()
    assert len(project.graph) == 0 and view.undo_stack.text(0) == "Cut 9 layers"
    assert view.paste() and len(project.graph) == 9


def test_relayout_is_layered_and_one_undo_step(mnist: Any) -> None:
    view, project = mnist
    g = project.graph
    scrambled = {
        n.id: (n.position, ((i * 137) % 500 - 250.0, (i * 71) % 300 * 1.0))
        for i, n in enumerate(g.nodes)
    }
    view.undo_stack.push(MoveLayers(project, scrambled))
    before = g.to_dict()
    assert view.relayout()
    assert view.undo_stack.text(view.undo_stack.count() - 1) == "Auto layout"
    assert all(g.node(e.src).position[1] < g.node(e.dst).position[1] for e in g.edges)
    assert no_overlaps(project)
    check_undo_redo(view, before, g.to_dict())


def test_set_analysis_updates_only_changed_cards(mnist: Any) -> None:
    from app.engine.analyze import Analysis
    from app.engine.shapes import LayerInfo

    view, project = mnist
    g = project.graph
    conv1, dense1 = g.find("conv1").id, g.find("dense1").id
    layers = {n.id: LayerInfo(output_shape=(None, 4), params=0) for n in g.nodes}
    layers[conv1] = LayerInfo(output_shape=(None, 26, 26, 32), params=320)
    warn = Diagnostic(WARNING, "big", "dense1 has many parameters", node=dense1, layer="dense1")
    analysis = Analysis(
        layers=layers,
        diagnostics=[warn],
        order=list(layers),
        total_params=320,
        trainable_params=320,
    )
    assert view.scene().set_analysis(analysis) == 9
    card = view.scene().node_item(conv1)
    assert card.shape_str == "(None, 26, 26, 32)" and card.params_str == "320 params"
    assert view.scene().node_item(dense1).severity == WARNING
    assert "dense1 has many parameters" in view.scene().node_item(dense1).toolTip()
    assert view.scene().set_analysis(analysis) == 0  # nothing changed, nothing repaints
    err = Diagnostic(ERROR, "shape", "kernel larger than input", node=conv1, layer="conv1")
    analysis2 = Analysis(
        layers=layers, diagnostics=[err], order=list(layers), total_params=320, trainable_params=320
    )
    assert view.scene().set_analysis(analysis2) == 2
    assert card.severity == ERROR and "kernel larger than input" in card.toolTip()
    view.grab()  # paints with badges without trouble
    # a new LayerInfo (the layer was re-inferred) is looked at even when the diagnostics are the same
    layers3 = dict(layers)
    layers3[conv1] = LayerInfo(output_shape=(None, 24, 24, 32), params=320)
    analysis3 = Analysis(
        layers=layers3, diagnostics=[err], order=list(layers), total_params=320, trainable_params=320
    )
    assert view.scene().set_analysis(analysis3) == 1 and card.shape_str == "(None, 24, 24, 32)"


def test_graph_rect_holds_every_card(mnist: Any) -> None:
    view, project = mnist
    scene = view.scene()
    rect = scene.graph_rect()
    assert all(rect.contains(item.sceneBoundingRect()) for item in scene.nodes.values())
    far = project.graph.nodes[-1].id
    x, y = project.graph.node(far).position
    project.graph.move(far, (x + 5000, y + 3000))
    assert scene.graph_rect().contains(scene.node_item(far).sceneBoundingRect())


def test_subtitles_name_the_key_parameters(mnist: Any) -> None:
    view, project = mnist
    card = view.scene().node_item(project.graph.find("conv1").id)
    assert card.subtitle() == "Conv2D · 32 · 3×3 · relu"
    assert (
        view.scene().node_item(project.graph.find("input").id).subtitle() == "InputLayer · 28×28×1"
    )


# -- the other commands ----------------------------------------------------------------------------
def test_param_edits_merge_and_undo(mnist: Any) -> None:
    view, project = mnist
    g = project.graph
    conv1 = g.find("conv1").id
    before = g.to_dict()
    stack = view.undo_stack
    stack.push(SetParam(project, conv1, "filters", 6))
    stack.push(SetParam(project, conv1, "filters", 64))
    assert stack.count() == 1 and stack.text(0) == "Set filters = 64 on conv1"
    assert view.scene().node_item(conv1).subtitle().startswith("Conv2D · 64")
    check_undo_redo(view, before, g.to_dict())
    stack.push(SetParams(project, conv1, {"filters": 8, "kernel_size": [5, 5]}))
    stack.push(Rename(project, conv1, "features"))
    assert view.scene().node_item(conv1).name == "features"
    check_undo_redo(view, _undo_peek(view), g.to_dict())


def _undo_peek(view: CanvasView) -> dict:
    """The graph as it was before the last command (undo, copy, redo)."""
    view.undo_stack.undo()
    d = view.project.graph.to_dict()
    view.undo_stack.redo()
    return d


def test_add_and_disconnect_commands_restore_exactly(mnist: Any) -> None:
    view, project = mnist
    g = project.graph
    before = g.to_dict()
    e = edge_named(project, "pool1", "conv2")
    view.undo_stack.push(Disconnect(project, e))
    assert e not in g.edges and mirrored(view)
    check_undo_redo(view, before, g.to_dict())
    before = g.to_dict()
    cmd = AddLayer(project, "Dense", {"units": 3}, (900.0, 0.0), connect_from=g.find("output").id)
    view.undo_stack.push(cmd)
    assert g.inputs_of(cmd.node_id)[0].src == g.find("output").id
    check_undo_redo(view, before, g.to_dict())


def test_apply_fix_is_one_step_and_makes_room(make_view: Any) -> None:
    project = load_template("mnist-cnn")
    g = project.graph
    g.remove_node(g.find("flatten").id)
    g.connect(g.find("pool2").id, g.find("dense1").id, 0)
    view = make_view(project)
    before = g.to_dict()
    fix = Fix(
        "Insert Flatten before 'dense1'",
        INSERT_BEFORE,
        node=g.find("dense1").id,
        class_name="Flatten",
        params={},
    )
    cmd = ApplyFix(project, fix)
    view.undo_stack.push(cmd)
    assert view.undo_stack.text(0) == "Fix: Insert Flatten before 'dense1'"
    flat = g.node(cmd.created)
    assert ("pool2", flat.name) in names_chain(project) and (flat.name, "dense1") in names_chain(
        project
    )
    assert no_overlaps(project)
    check_undo_redo(view, before, g.to_dict())
    assert g.node(cmd.created).class_name == "Flatten"  # same id after redo


# -- view ---------------------------------------------------------------------------------------------
def test_zoom_fit_select_and_signals(mnist: Any, qtbot: Any) -> None:
    view, project = mnist
    z = view.zoom()
    view.zoom_in()
    assert view.zoom() > z
    view.zoom_out()
    view.zoom_out()
    assert view.zoom() < z
    view.fit()
    assert view.zoom() <= 1.0
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.scene().node_item(project.graph.nodes[-1].id).sceneBoundingRect())
    target = project.graph.find("dense1").id
    with qtbot.waitSignal(view.selectionChangedIds) as sig:
        view.select_node(target)
    assert sig.args == [[target]]
    with qtbot.waitSignal(view.nodeActivated) as sig:
        qtbot.mouseDClick(
            view.viewport(),
            Qt.MouseButton.LeftButton,
            pos=view.mapFromScene(QPointF(*project.graph.node(target).position)),
        )
    assert sig.args == [target]


def test_set_project_switches_documents(mnist: Any) -> None:
    view, _ = mnist
    other = load_template("resnet-mini")
    view.set_project(other)
    assert mirrored(view) and len(view.scene().nodes) == len(other.graph)
    view.set_project(Project())
    assert not view.scene().nodes
    view.grab()  # the empty canvas shows its hint
