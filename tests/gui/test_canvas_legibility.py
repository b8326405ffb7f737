"""Cards stay readable at every zoom the canvas allows, and networks open fitted.

The sizes are the canvas area of a 1280x720 and a 1600x1000 main window. The
painted size of a layer name in device pixels is its font's pixel size (scene
units) times the view's scale; the render check looks for the name's ink in
an actual paint of the view.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, QRectF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter, QUndoStack  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.templates import load_template  # noqa: E402
from app.gui.canvas.view import CanvasView  # noqa: E402

# the canvas's size in a 1280x720 and a 1600x1000 main window (measured on screenshots),
# and in a window with the side panels closed
SIZES = {"1280x720": (650, 495), "1600x1000": (885, 740), "1280x720 bare": (860, 520)}
MIN_NAME_PX = 9.0


@pytest.fixture
def opened(qtbot: Any):
    def make(template: str, size: tuple[int, int]) -> CanvasView:
        stack = QUndoStack()
        view = CanvasView(None, stack)
        view._test_stack = stack
        qtbot.addWidget(view)
        view.resize(*size)
        view.show()
        qtbot.waitExposed(view)
        view.set_project(load_template(template))  # what opening a template does
        QApplication.processEvents()
        return view

    return make


def _name_line(view: CanvasView, item: Any) -> Any:
    lines = view.card_text(item)
    assert lines and lines[0].role == "name", "the name is the first thing a card writes"
    return lines[0]


def _visible_cards(view: CanvasView) -> list[Any]:
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    return [it for it in view.card_items() if shown.contains(it.sceneBoundingRect())]


def _render(view: CanvasView) -> QImage:
    image = QImage(view.viewport().size(), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    view.render(painter, QRectF(image.rect()), view.viewport().rect())
    painter.end()
    return image


def _ink(image: QImage, box: QRectF, text_colour: QColor) -> int:
    """Pixels in ``box`` (viewport coordinates) close to the name's colour."""
    count = 0
    r = box.toAlignedRect().intersected(image.rect())
    for y in range(r.top(), r.bottom() + 1, 1):
        for x in range(r.left(), r.right() + 1, 1):
            c = image.pixelColor(x, y)
            if abs(c.lightness() - text_colour.lightness()) < 60:
                count += 1
    return count


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("template", ["mnist-cnn", "resnet-mini"])
def test_names_are_readable_when_a_template_opens_fitted(
    opened: Any, template: str, size: str
) -> None:
    view = opened(template, SIZES[size])
    z = view.zoom()
    cards = _visible_cards(view)
    assert cards, "the network's first cards are on screen"
    for item in view.card_items():
        line = _name_line(view, item)
        assert line.font.pixelSize() * z >= MIN_NAME_PX - 1e-6, (item.name, line.font.pixelSize(), z)
        shown = line.text.rstrip("…")
        assert item.name.startswith(shown) and len(shown) >= min(len(item.name), 8)
    image = _render(view)
    colour = QColor(view.scene().theme.text)
    for item in cards:
        line = _name_line(view, item)
        box = view.mapFromScene(line.rect.translated(item.scenePos())).boundingRect()
        assert _ink(image, QRectF(box), colour) > 20, f"{item.name}'s name is painted"


def test_a_network_that_fits_readably_is_shown_whole(opened: Any) -> None:
    view = opened("mnist-cnn", SIZES["1600x1000"])
    assert len(_visible_cards(view)) == len(view.card_items())
    assert view.zoom() <= 1.0


def test_a_long_network_opens_at_its_top_at_the_least_readable_zoom(opened: Any) -> None:
    from app.gui.canvas.view import MIN_ZOOM

    view = opened("resnet-mini", SIZES["1280x720"])
    assert view.zoom() == pytest.approx(MIN_ZOOM)
    g = view.project.graph
    visible = {it.node_id for it in _visible_cards(view)}
    assert g.find("input").id in visible
    assert g.find("output").id not in visible, "the rest is a pan away"
    view.fit()  # "Show the whole network" gives the same readable view
    assert view.zoom() == pytest.approx(MIN_ZOOM)


def test_zooming_out_stops_where_names_are_still_readable(opened: Any) -> None:
    view = opened("resnet-mini", SIZES["1280x720"])
    for _ in range(30):
        view.zoom_out()
    view.set_zoom(0.01, anchor=QPointF(10, 10))
    z = view.zoom()
    for item in view.card_items():
        assert _name_line(view, item).font.pixelSize() * z >= MIN_NAME_PX - 1e-6


@pytest.mark.parametrize("zoom", [0.45, 0.6, 0.7, 1.0, 2.0])
def test_the_shape_line_goes_first_and_the_name_never(opened: Any, zoom: float) -> None:
    from app.gui.canvas.items import FULL_DETAIL_ZOOM

    view = opened("mnist-cnn", SIZES["1280x720"])
    view.set_zoom(zoom)
    item = view.card_by_accessible_name("conv1")
    roles = [line.role for line in view.card_text(item)]
    assert roles[0] == "name"
    if zoom >= FULL_DETAIL_ZOOM:
        assert "shape" in roles and "sub" in roles
    else:
        assert "shape" not in roles
    for line in view.card_text(item):
        assert line.font.pixelSize() * zoom >= 7.5 - 1e-6, line  # nothing drawn as a smudge
