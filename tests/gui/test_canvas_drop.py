"""A drop anywhere along a connection inserts the layer into it (issue 10, item 4).

Qt's drag loop cannot be driven by QTest mouse moves (pytest-qt #260), so these
tests send the QDragEnterEvent / QDragMoveEvent / QDropEvent that Qt would
deliver to the canvas's viewport, at points computed along a real connection,
and check both the highlight during the move and the graph after the drop.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QUndoStack  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.project import Project  # noqa: E402
from app.core.templates import load_template  # noqa: E402
from app.gui.canvas.items import EdgeItem, PortItem  # noqa: E402
from app.gui.canvas.view import CanvasView  # noqa: E402
from app.gui.commands import MIME_LAYER  # noqa: E402
from app.gui.palette import LayerPalette, make_mime  # noqa: E402

# the canvas of a 1280x720 window (the fit is the least readable zoom), and zoomed in
ZOOMS = ["fit", 1.0]


@pytest.fixture
def fitted(qtbot: Any):
    def make(zoom: Any) -> tuple[CanvasView, Project]:
        project = load_template("mnist-cnn")
        stack = QUndoStack()
        view = CanvasView(project, stack)
        view._test_stack = stack
        qtbot.addWidget(view)
        view.resize(860, 520)
        view.show()
        qtbot.waitExposed(view)
        if zoom != "fit":
            view.set_zoom(zoom)
        view.center_on(project.graph.find("conv1").id)
        QApplication.processEvents()
        return view, project

    return make


def _drag_over(view: CanvasView, class_name: str, scene_pos: QPointF) -> tuple[Any, QPoint]:
    mime = make_mime(class_name)
    at = view.mapFromScene(scene_pos)
    vp = view.viewport()
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(at, *args)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(at, *args)
    QApplication.sendEvent(vp, move)
    assert move.isAccepted()
    return mime, at


def _drop(view: CanvasView, mime: Any, at: QPoint) -> None:
    drop = QDropEvent(
        QPointF(at),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(view.viewport(), drop)
    assert drop.isAccepted()


def _hot(view: CanvasView) -> list[Any]:
    return [it for it in view.scene().items() if isinstance(it, EdgeItem | PortItem) and it.hot]


def _added(project: Project, before: set[str]) -> Any:
    (nid,) = {n.id for n in project.graph.nodes} - before
    return project.graph.node(nid)


def _chain(project: Project) -> set[tuple[str, str]]:
    g = project.graph
    return {(g.node(e.src).name, g.node(e.dst).name) for e in g.edges}


@pytest.mark.parametrize("zoom", ZOOMS)
@pytest.mark.parametrize("along", [0.25, 0.5, 0.75])
def test_a_drop_anywhere_along_a_connection_inserts(fitted: Any, zoom: Any, along: float) -> None:
    view, project = fitted(zoom)
    g = project.graph
    conv1, pool1 = g.find("conv1").id, g.find("pool1").id
    edge = next(e for e in g.edges if e.src == conv1 and e.dst == pool1)
    item = view.scene().edge_item(edge)
    point = item.path().pointAtPercent(along)
    before = {n.id for n in g.nodes}
    mime, at = _drag_over(view, "Dropout", point)
    assert _hot(view) == [item], "the connection that will receive the drop is highlighted"
    _drop(view, mime, at)
    assert _hot(view) == []
    new = _added(project, before)
    assert {("conv1", new.name), (new.name, "pool1")} <= _chain(project)
    assert ("conv1", "pool1") not in _chain(project)
    assert len(g.outputs_of(conv1)) == 1, "no side branch"
    assert view.undo_stack.count() == 1


@pytest.mark.parametrize("zoom", ZOOMS)
def test_the_method_agrees_with_the_events(fitted: Any, zoom: Any) -> None:
    view, project = fitted(zoom)
    g = project.graph
    edge = next(e for e in g.edges if g.node(e.src).name == "pool1")
    point = view.scene().edge_item(edge).path().pointAtPercent(0.3)
    assert view.drop_target(point) == ("edge", edge)
    nid = view.handle_drop("BatchNormalization", point)
    name = g.node(nid).name
    assert {("pool1", name), (name, "conv2")} <= _chain(project)


@pytest.mark.parametrize("zoom", ZOOMS)
def test_right_on_the_output_dot_branches_from_it(fitted: Any, zoom: Any) -> None:
    view, project = fitted(zoom)
    g = project.graph
    conv1 = g.find("conv1").id
    port = view.scene().node_item(conv1).output_port(0)
    mime, at = _drag_over(view, "Conv2D", port.scenePos())
    assert _hot(view) == [port]
    _drop(view, mime, at)
    assert len(g.outputs_of(conv1)) == 2, "dropped on the dot itself: a new branch"
    assert ("conv1", "pool1") in _chain(project)


@pytest.mark.parametrize("zoom", ZOOMS)
def test_right_on_an_occupied_input_dot_inserts_before_it(fitted: Any, zoom: Any) -> None:
    view, project = fitted(zoom)
    g = project.graph
    pool1 = g.find("pool1").id
    port = view.scene().node_item(pool1).input_port(0)
    before = {n.id for n in g.nodes}
    mime, at = _drag_over(view, "Dropout", port.scenePos())
    assert _hot(view) == [port]
    _drop(view, mime, at)
    new = _added(project, before)
    assert {("conv1", new.name), (new.name, "pool1")} <= _chain(project)


def test_a_free_port_still_catches_a_drop_beside_it(fitted: Any) -> None:
    view, project = fitted("fit")
    g = project.graph
    out = g.find("output").id
    port = view.scene().node_item(out).output_port(0)
    beside = port.scenePos() + QPointF(0, 12 / view.zoom())  # 12 px below the free output
    assert view.drop_target(beside) == ("output", out, 0)


def test_the_drag_image_sits_beside_the_cursor_and_is_small(qtbot: Any) -> None:
    from app.gui.palette import DRAG_OFFSET

    palette = LayerPalette()
    qtbot.addWidget(palette)
    tree = palette.tree
    tree.setCurrentIndex(palette.index_of("Conv2D"))
    drag = tree.make_drag()
    assert drag is not None
    assert bytes(drag.mimeData().data(MIME_LAYER).data()) == b"Conv2D"
    pm = drag.pixmap()
    size = pm.deviceIndependentSize()
    assert size.height() <= 24 and size.width() <= 140
    hot = drag.hotSpot()
    assert hot == -DRAG_OFFSET
    assert hot.x() < 0 and hot.y() < 0, "the cursor tip is outside the image: it hides nothing"
