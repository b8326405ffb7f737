"""Each canvas card is an accessible child of the canvas, named after its layer (SPEC.md)."""

from __future__ import annotations

import gc
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtGui import QAccessible, QUndoStack  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.templates import load_template  # noqa: E402
from app.gui.canvas.view import CanvasView  # noqa: E402
from app.gui.commands import RemoveLayers, Rename  # noqa: E402

NAME = QAccessible.Text.Name


@pytest.fixture
def view(qtbot: Any) -> CanvasView:
    stack = QUndoStack()
    view = CanvasView(load_template("mnist-cnn"), stack)
    view._test_stack = stack
    qtbot.addWidget(view)
    view.resize(900, 1000)
    view.show()
    qtbot.waitExposed(view)
    view.set_zoom(1.0)
    view.center_on(view.project.graph.find("conv1").id)
    QApplication.processEvents()
    return view


def _children(iface: Any) -> list[Any]:
    return [iface.child(i) for i in range(iface.childCount())]


def test_the_canvas_lists_its_cards_by_layer_name(view: CanvasView) -> None:
    iface = QAccessible.queryAccessibleInterface(view)
    assert iface is not None and iface.role() == QAccessible.Role.Canvas
    names = [c.text(NAME) for c in _children(iface)]
    assert names == [n.name for n in view.project.graph.nodes]
    conv1 = next(c for c in _children(iface) if c.text(NAME) == "conv1")
    assert conv1.parent() is iface and iface.indexOfChild(conv1) == names.index("conv1")
    assert "Conv2D" in conv1.text(QAccessible.Text.Description)
    assert conv1.role() == QAccessible.Role.ListItem


def test_a_card_interface_is_where_the_card_is_on_screen(view: CanvasView) -> None:
    iface = QAccessible.queryAccessibleInterface(view)
    item = view.card_by_accessible_name("conv1")
    assert item is not None and item.node_id == view.project.graph.find("conv1").id
    centre = view.viewport().mapToGlobal(view.mapFromScene(item.scenePos()))
    conv1 = iface.childAt(centre.x(), centre.y())
    assert conv1 is not None and conv1.text(NAME) == "conv1"
    assert conv1.rect().contains(centre)
    assert not conv1.state().selected
    view.select_node(item.node_id)
    assert conv1.state().selected and iface.focusChild().text(NAME) == "conv1"


def test_names_follow_edits_and_the_tooltip_stays(view: CanvasView) -> None:
    project = view.project
    g = project.graph
    conv1 = g.find("conv1").id
    view.undo_stack.push(Rename(project, conv1, "features"))
    item = view.card_by_accessible_name("features")
    assert item is not None and item.node_id == conv1
    assert view.card_by_accessible_name("conv1") is None
    assert "features" in item.toolTip()
    iface = QAccessible.queryAccessibleInterface(view)
    assert "features" in [c.text(NAME) for c in _children(iface)]
    view.undo_stack.push(RemoveLayers(project, [g.find("pool1").id], []))
    assert iface.childCount() == len(g) == 8
    assert "pool1" not in [c.text(NAME) for c in _children(iface)]


def test_interfaces_outlive_garbage_collection_and_views(qtbot: Any) -> None:
    for _ in range(3):
        stack = QUndoStack()
        view = CanvasView(load_template("lenet5"), stack)
        qtbot.addWidget(view)
        iface = QAccessible.queryAccessibleInterface(view)
        first = iface.child(0)
        QAccessible.uniqueId(first)  # what a screen reader's bridge does: Qt's cache holds it
        del first, iface
        gc.collect()
        again = QAccessible.queryAccessibleInterface(view)
        assert again.child(0).text(NAME) == view.project.graph.nodes[0].name
        view.close()
        view.deleteLater()
        QApplication.processEvents()
        gc.collect()


def test_a_process_that_used_them_exits_cleanly(repo_root: Any) -> None:
    code = (
        "import gc\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from PySide6.QtGui import QAccessible, QUndoStack\n"
        "from app.core.templates import load_template\n"
        "from app.gui.canvas.view import CanvasView\n"
        "app = QApplication([])\n"
        "views = []\n"
        "for name in ('mnist-cnn', 'resnet-mini'):\n"
        "    v = CanvasView(load_template(name), QUndoStack())\n"
        "    i = QAccessible.queryAccessibleInterface(v)\n"
        "    ids = [QAccessible.uniqueId(i.child(k)) for k in range(i.childCount())]\n"
        "    views.append(v)\n"
        "views[0].deleteLater(); app.processEvents(); gc.collect()\n"
        "print('ok', len(ids))\n"
    )
    env = {"QT_QPA_PLATFORM": "offscreen"}
    import os

    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo_root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok 22"
