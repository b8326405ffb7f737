"""What the canvas draws: layer cards, their ports, and the connections.

Items only show the core graph; they never change it. Text is measured and
elided once, when a node's data or analysis changes (and once per zoom step for
zoomed-out cards), so painting stays cheap; cards are cached in device
coordinates. Zoomed out, a card drops its shape line but never its name, which
grows in scene units so it stays readable on screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPalette,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyle, QStyleOptionGraphicsItem, QWidget

from app.core.catalog import CATEGORY_COLOURS
from app.core.graph import INPUT_CLASS, Edge, Node
from app.gui.canvas.layout import NODE_HEIGHT, NODE_WIDTH, PORT_SPACING, slot_offset

if TYPE_CHECKING:
    from app.core.catalog import LayerSpec

LOD_TEXT = 0.42  # below this zoom, connections are drawn thicker
LOD_PORTS = 0.3
NAME_MIN_PX = 9.0  # a card's layer name is never painted smaller than this on screen
SUB_MIN_PX = 8.0  # nor its second line (dropped when it no longer fits)
NAME_PX = 13  # the name's size in scene units on a full card
FULL_DETAIL_ZOOM = 0.75  # from here in, the 10-unit shape line is >= 7.5 px: the whole card
READABLE_ZOOM = 0.45  # the view's least zoom: below it a name this size would be elided
PORT_RADIUS = 4.5
CORNER = 8.0
STRIPE = 5.0

Z_EDGE = 0.0
Z_NODE = 1.0
Z_SELECTED = 2.0
Z_TEMP = 10.0


# -- theme ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Theme:
    background: str
    grid: str
    card: str
    border: str
    hover: str
    accent: str
    text: str
    subtext: str
    footer: str
    divider: str
    edge: str
    port: str
    port_border: str
    error: str
    warning: str
    shadow: str
    hint: str


LIGHT = Theme(
    background="#F3F4F7",
    grid="#CDD2DA",
    card="#FFFFFF",
    border="#D8DDE4",
    hover="#A9B3C1",
    accent="#2F6FEB",
    text="#1E2329",
    subtext="#5C6775",
    footer="#6E7987",
    divider="#ECEFF3",
    edge="#97A1AF",
    port="#FFFFFF",
    port_border="#8D98A7",
    error="#E5484D",
    warning="#F0A020",
    shadow="#101828",
    hint="#8A94A3",
)
DARK = Theme(
    background="#1D1F23",
    grid="#363A41",
    card="#2A2D33",
    border="#3C4048",
    hover="#5D6470",
    accent="#4C8DFF",
    text="#E8EAED",
    subtext="#A7AFBA",
    footer="#8F98A5",
    divider="#363940",
    edge="#6F7886",
    port="#2A2D33",
    port_border="#7E8795",
    error="#F2555A",
    warning="#F5B041",
    shadow="#000000",
    hint="#7D8693",
)


def current_theme() -> Theme:
    """Dark when the application's window colour is dark."""
    app = QGuiApplication.instance()
    if app is None:
        return LIGHT
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return DARK if window.lightness() < 128 else LIGHT


class _Fonts:
    """Fonts in pixel sizes, so text keeps its place on the card at any screen DPI."""

    def __init__(self) -> None:
        base = QGuiApplication.font()
        self.name = QFont(base)
        self.name.setPixelSize(13)
        self.name.setWeight(QFont.Weight.DemiBold)
        self.sub = QFont(base)
        self.sub.setPixelSize(11)
        self.footer = QFont(base)
        self.footer.setPixelSize(10)
        self.badge = QFont(base)
        self.badge.setPixelSize(10)
        self.badge.setWeight(QFont.Weight.Bold)
        self.name_m = QFontMetricsF(self.name)
        self.sub_m = QFontMetricsF(self.sub)
        self.footer_m = QFontMetricsF(self.footer)
        self._sized: dict[tuple[bool, int], tuple[QFont, QFontMetricsF]] = {}

    def sized(self, pixels: int, *, name: bool) -> tuple[QFont, QFontMetricsF]:
        """The name (or subtitle) font at ``pixels`` scene units, for zoomed-out cards."""
        key = (name, pixels)
        if key not in self._sized:
            font = QFont(self.name if name else self.sub)
            font.setPixelSize(pixels)
            self._sized[key] = (font, QFontMetricsF(font))
        return self._sized[key]


_FONTS: _Fonts | None = None


def fonts() -> _Fonts:
    global _FONTS
    if _FONTS is None:
        _FONTS = _Fonts()
    return _FONTS


class CardText(NamedTuple):
    """One piece of text a card paints: ``role`` is name, sub, shape or params."""

    role: str
    text: str
    font: QFont
    rect: QRectF
    align: Qt.AlignmentFlag
    colour: str  # a Theme field


# -- text for a card -----------------------------------------------------------------
def _dims(class_name: str) -> int:
    for d in (1, 2, 3):
        if f"{d}D" in class_name:
            return d
    return 2


def _tuple(value: Any, dims: int = 2) -> str:
    if isinstance(value, list | tuple):
        vals = list(value)
        if vals and all(isinstance(v, list | tuple) for v in vals):
            if all(len(set(v)) == 1 for v in vals):  # symmetric padding pairs
                vals = [v[0] for v in vals]
            else:
                return "×".join("(" + ",".join(str(x) for x in v) + ")" for v in vals)
        return "×".join("?" if v is None else _num(v) for v in vals)
    if value is None:
        return ""
    return "×".join([_num(value)] * dims)


def _num(v: Any) -> str:
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        if abs(v - 1 / 255) < 1e-6:
            return "1/255"
        return f"{v:g}"
    return str(v)


def _activation(value: Any) -> str:
    if isinstance(value, dict):
        cfg = value.get("config")
        if isinstance(cfg, str):
            value = cfg
        elif isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
            value = cfg["name"]
        else:
            value = value.get("class_name")
    if not value or value == "linear":
        return ""
    return str(value)


def _step(value: Any, dims: int) -> str:
    """Strides as ``/2`` (or ``/2×1`` when they differ per axis)."""
    if isinstance(value, list | tuple) and value and len(set(value)) == 1:
        value = value[0]
    return "/" + (_num(value) if not isinstance(value, list | tuple) else _tuple(value, dims))


def _all_ones(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list | tuple):
        return all(v == 1 for v in value)
    return value == 1


def key_params(class_name: str, params: dict[str, Any], spec: LayerSpec | None = None) -> list[str]:
    """The one to three values that say what a layer does, e.g. ``["32", "3×3", "relu"]``."""
    p = params
    d = _dims(class_name)
    out: list[str] = []
    act = _activation(p.get("activation"))
    if class_name == INPUT_CLASS:
        shape = p.get("shape")
        if shape is None and isinstance(p.get("batch_shape"), list):
            shape = p["batch_shape"][1:]
        return [_tuple(shape)] if shape is not None else []
    if "Conv" in class_name and "LSTM" not in class_name:
        if p.get("filters") is not None:
            out.append(_num(p["filters"]))
        if p.get("kernel_size") is not None:
            k = _tuple(p["kernel_size"], d)
            if not _all_ones(p.get("strides")):
                k += " " + _step(p["strides"], d)
            out.append(k)
        if act:
            out.append(act)
        return out
    if class_name in ("Dense", "LSTM", "GRU", "SimpleRNN", "EinsumDense"):
        if p.get("units") is not None:
            out.append(_num(p["units"]))
        if act:
            out.append(act)
        return out
    if "Pooling" in class_name and not class_name.startswith("Global"):
        pool = p.get("pool_size")
        if pool is not None:
            text = _tuple(pool, d)
            strides = p.get("strides")
            if strides is not None and _tuple(strides, d) != _tuple(pool, d):
                text += " " + _step(strides, d)
            out.append(text)
        return out
    if "Dropout" in class_name and p.get("rate") is not None:
        return [f"rate {_num(p['rate'])}"]
    if class_name == "Activation":
        return [act] if act else []
    if class_name == "Reshape" and p.get("target_shape") is not None:
        return ["→ " + _tuple(p["target_shape"])]
    if class_name in ("Concatenate",):
        axis = p.get("axis", -1)
        return [] if axis == -1 else [f"axis {axis}"]
    if class_name == "Rescaling" and p.get("scale") is not None:
        return [f"×{_num(p['scale'])}"]
    if class_name in ("Resizing", "CenterCrop", "RandomCrop") and p.get("height") is not None:
        return [f"{p['height']}×{p.get('width')}"]
    if class_name.startswith("UpSampling") and p.get("size") is not None:
        return [_tuple(p["size"], d)]
    if class_name.startswith(("ZeroPadding", "Cropping")):
        key = "padding" if "Padding" in class_name else "cropping"
        if p.get(key) is None:
            return []
        text = _tuple(p[key], d)
        parts = set(text.split("×"))
        return [
            f"{'pad' if key == 'padding' else 'crop'} {text if len(parts) > 1 else parts.pop()}"
        ]
    if class_name == "Embedding":
        return [f"{p.get('input_dim')}→{p.get('output_dim')}"]
    if class_name == "MultiHeadAttention":
        return [f"{p.get('num_heads')} heads", f"key {p.get('key_dim')}"]
    if class_name.startswith("Random"):
        for key in ("factor", "mode", "height_factor"):
            if p.get(key) is not None:
                v = p[key]
                return [_tuple(v) if isinstance(v, list) else _num(v)]
        return []
    # generic: the required parameters the catalog names, then the activation
    names = [q.name for q in spec.params if q.required] if spec is not None else []
    for name in names[:2]:
        if p.get(name) is not None:
            v = p[name]
            out.append(_tuple(v) if isinstance(v, list) else _num(v))
    if act:
        out.append(act)
    return out


def params_variants(text: str) -> list[str]:
    """Ways to say a parameter count, longest first: ``9,408 params``, ``9.4K params``, ``9.4K``."""
    if not text:
        return []
    out = [text]
    number = text.split()[0]
    if "," in number:
        n = int(number.replace(",", ""))
        number = f"{n / 1e3:.1f}K".replace(".0K", "K")
        out.append(f"{number} params")
    out.append(number)
    return out


def shape_text(shape: Any) -> str:
    if shape is None:
        return ""
    if isinstance(shape, list):
        return ", ".join(shape_text(s) for s in shape)
    dims = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def params_text(count: int | None) -> str:
    """``320 params``, ``18.4K params``, ``1.2M params``; nothing for none or zero."""
    if not count:
        return ""
    if count < 10_000:
        return f"{count:,} params"
    if count < 1_000_000:
        return f"{count / 1e3:.1f}K params".replace(".0K", "K")
    return f"{count / 1e6:.1f}M params".replace(".0M", "M")


# -- ports ---------------------------------------------------------------------------
class PortItem(QGraphicsItem):
    """A connection point: inputs on the card's top edge, the output at its bottom.

    ``extra`` marks the spare input of a merge layer (Add, Concatenate): it is
    shown only while the card is hovered or something is being connected or
    dropped, and connecting to it adds one more input.
    """

    def __init__(
        self, node_item: NodeItem, is_input: bool, index: int, extra: bool = False
    ) -> None:
        super().__init__(node_item)
        self.node_item = node_item
        self.is_input = is_input
        self.index = index  # the slot (inputs) or output number
        self.extra = extra
        self.connected = False
        self.hot = False  # a drop or connection target right now
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(1)

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        return QRectF(-10, -10, 20, 20)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), 10, 10)
        return path

    def set_hot(self, hot: bool) -> None:
        if hot != self.hot:
            self.hot = hot
            self.update()

    def hoverEnterEvent(self, event: Any) -> None:
        self._hover = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:
        self._hover = False
        self.update()
        super().hoverLeaveEvent(event)

    def tip(self) -> QPointF:
        """Where a connection ends (scene coordinates): on the card's edge."""
        return self.scenePos()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LOD_PORTS:
            return
        theme = self.node_item.theme
        if self.extra and not (self.hot or self._hover or self.node_item.show_extra()):
            return
        active = self.hot or self._hover
        if self.connected and not active:
            if self.is_input:
                return  # the arrowhead marks it
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(theme.edge))
            painter.drawEllipse(QPointF(0, 0), 3.0, 3.0)
            return
        r = PORT_RADIUS + (1.5 if active else 0.0)
        if active:
            halo = QColor(theme.accent)
            halo.setAlpha(60)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(halo)
            painter.drawEllipse(QPointF(0, 0), r + 4, r + 4)
        if active:
            painter.setPen(QPen(QColor(theme.accent), 1.5))
            painter.setBrush(QColor(theme.accent))
        elif self.connected:
            painter.setPen(QPen(QColor(theme.port_border), 1.4))
            painter.setBrush(QColor(theme.port_border))
        else:
            pen = QPen(QColor(theme.port_border), 1.4)
            if self.extra:
                pen.setStyle(Qt.PenStyle.DotLine)
            painter.setPen(pen)
            painter.setBrush(QColor(theme.port))
        painter.drawEllipse(QPointF(0, 0), r, r)
        if self.extra and not active:
            painter.setPen(QPen(QColor(theme.port_border), 1.2))
            painter.drawLine(QPointF(-2.2, 0), QPointF(2.2, 0))
            painter.drawLine(QPointF(0, -2.2), QPointF(0, 2.2))


# -- layer cards -----------------------------------------------------------------------
class NodeItem(QGraphicsItem):
    """One layer as a rounded card: stripe in its category colour, name, key values, shape."""

    W = NODE_WIDTH
    H = NODE_HEIGHT

    def __init__(self, node: Node, spec: LayerSpec | None, theme: Theme) -> None:
        super().__init__()
        self.node_id = node.id
        self.theme = theme
        self.spec: LayerSpec | None = None
        self.class_name = ""
        self.name = ""
        self.params: dict[str, Any] = {}
        self.colour = QColor(CATEGORY_COLOURS["other"])
        self.edges: set[EdgeItem] = set()
        self.inputs: list[PortItem] = []
        self.outputs: list[PortItem] = []
        self.n_slots = 0
        self.hover = False
        self.extra_visible = False  # the scene turns spare ports on while connecting
        self.shown_from: tuple[Any, tuple[tuple[str, str], ...]] | None = None  # (LayerInfo, diagnostics) on show
        # analysis
        self.shape_str = ""
        self.params_str = ""
        self.severity: str | None = None
        self.problem = ""
        self._elided: tuple[str, str, str, str] = ("", "", "", "")
        self._compact: dict[tuple[int, int, int], tuple[str, str]] = {}  # zoomed-out text
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(Z_NODE)
        self.setPos(QPointF(*node.position))
        self.set_node(node, spec)

    # -- data -----------------------------------------------------------------
    def set_node(self, node: Node, spec: LayerSpec | None) -> bool:
        """Take the node's class, name and params; returns True when anything changed."""
        if (
            node.class_name == self.class_name
            and node.name == self.name
            and node.params == self.params
            and spec is self.spec
        ):
            return False
        self.spec = spec
        self.class_name = node.class_name
        self.name = node.name
        self.params = dict(node.params)
        category = spec.category if spec is not None else "other"
        self.colour = QColor(CATEGORY_COLOURS.get(category, CATEGORY_COLOURS["other"]))
        self._relayout_text()
        self._update_tooltip()
        self.update()
        return True

    def subtitle(self) -> str:
        parts = [
            self.class_name,
            *[k for k in key_params(self.class_name, self.params, self.spec) if k],
        ]
        return " · ".join(parts)

    def set_info(self, shape: str, params: str, severity: str | None, problem: str) -> bool:
        """Show analysis results; returns True when the card had to change."""
        if (shape, params, severity, problem) == (
            self.shape_str,
            self.params_str,
            self.severity,
            self.problem,
        ):
            return False
        self.shape_str, self.params_str, self.severity, self.problem = (
            shape,
            params,
            severity,
            problem,
        )
        self._relayout_text()
        self._update_tooltip()
        self.update()
        return True

    def _relayout_text(self) -> None:
        f = fonts()
        text_w = self.W - STRIPE - 14 - (24 if self.severity else 10)
        name = f.name_m.elidedText(self.name, Qt.TextElideMode.ElideRight, text_w)
        sub = f.sub_m.elidedText(self.subtitle(), Qt.TextElideMode.ElideRight, self.W - STRIPE - 22)
        avail = self.W - STRIPE - 20
        shape_w = f.footer_m.horizontalAdvance(self.shape_str)
        params = ""
        for cand in params_variants(self.params_str):
            if shape_w + 10 + f.footer_m.horizontalAdvance(cand) <= avail:
                params = cand
                break
        else:
            variants = params_variants(self.params_str)
            params = variants[-1] if variants else ""
        pw = f.footer_m.horizontalAdvance(params) + (10 if params else 0)
        shape = f.footer_m.elidedText(self.shape_str, Qt.TextElideMode.ElideMiddle, avail - pw)
        self._elided = (name, sub, shape, params)
        self._compact.clear()

    def _update_tooltip(self) -> None:
        lines = [f"<b>{self.name}</b> — {self.class_name}"]
        if self.spec is not None and self.spec.summary:
            lines.append(f"<span style='color:gray'>{self.spec.summary}</span>")
        if self.shape_str:
            lines.append(
                f"Output: {self.shape_str}" + (f" · {self.params_str}" if self.params_str else "")
            )
        if self.problem:
            colour = self.theme.error if self.severity == "error" else self.theme.warning
            word = "Error" if self.severity == "error" else "Warning"
            lines.insert(0, f"<b style='color:{colour}'>{word}:</b> {self.problem}")
        self.setToolTip("<br>".join(lines))

    def accessible_name(self) -> str:
        """What a screen reader or a test calls this card: the layer's name (SPEC.md)."""
        return self.name

    def accessible_description(self) -> str:
        """The tooltip's facts as plain text: class, problem, output shape and size."""
        parts = [self.class_name]
        if self.problem:
            parts.append(("Error: " if self.severity == "error" else "Warning: ") + self.problem)
        if self.shape_str:
            parts.append(f"output {self.shape_str}")
        if self.params_str:
            parts.append(self.params_str)
        return ", ".join(parts)

    # -- ports ----------------------------------------------------------------
    def set_ports(self, used_slots: int, used_outputs: int) -> None:
        """Make one port per input slot (plus a spare on merges) and per output."""
        spec = self.spec
        kind = (
            spec.inputs
            if spec is not None
            else ("none" if self.class_name == INPUT_CLASS else "one")
        )
        if kind == "none":
            n_slots, extra = 0, False
        elif kind == "many":
            lo = spec.min_inputs if spec is not None else 2
            hi = spec.max_inputs if spec is not None else None
            n_slots = max(used_slots, lo, 1)
            extra = hi is None or n_slots < hi
        else:
            n_slots, extra = max(used_slots, 1), False
        n_out = max(1, used_outputs)
        want = [(True, i, False) for i in range(n_slots)]
        if extra:
            want.append((True, n_slots, True))
        want += [(False, i, False) for i in range(n_out)]
        have = [(p.is_input, p.index, p.extra) for p in self.inputs + self.outputs]
        self.n_slots = n_slots
        if want != have:
            scene = self.scene()
            for p in self.inputs + self.outputs:
                p.setParentItem(None)
                if scene is not None:
                    scene.removeItem(p)
            self.inputs = [PortItem(self, True, i, ex) for is_in, i, ex in want if is_in]
            self.outputs = [PortItem(self, False, i) for is_in, i, _ in want if not is_in]
        for p in self.inputs:
            p.setPos(self.input_offset(p.index), -self.H / 2)
        for p in self.outputs:
            p.setPos(slot_offset(p.index, n_out), self.H / 2)

    def input_offset(self, slot: int) -> float:
        if slot < self.n_slots:
            return slot_offset(slot, self.n_slots)
        last = slot_offset(self.n_slots - 1, self.n_slots) if self.n_slots else 0.0
        return last + PORT_SPACING * (slot - self.n_slots + 1)

    def input_port(self, slot: int) -> PortItem | None:
        for p in self.inputs:
            if p.index == slot:
                return p
        return None

    def output_port(self, index: int = 0) -> PortItem | None:
        for p in self.outputs:
            if p.index == index:
                return p
        return self.outputs[0] if self.outputs else None

    def input_point(self, slot: int) -> QPointF:
        return self.scenePos() + QPointF(self.input_offset(slot), -self.H / 2)

    def output_point(self, index: int = 0) -> QPointF:
        n_out = max(1, len(self.outputs))
        return self.scenePos() + QPointF(slot_offset(min(index, n_out - 1), n_out), self.H / 2)

    def show_extra(self) -> bool:
        return self.hover or self.extra_visible

    def set_extra_visible(self, on: bool) -> None:
        if on != self.extra_visible:
            self.extra_visible = on
            for p in self.inputs:
                if p.extra:
                    p.update()

    def card_rect(self) -> QRectF:
        return QRectF(-self.W / 2, -self.H / 2, self.W, self.H)

    def scene_card_rect(self) -> QRectF:
        return self.card_rect().translated(self.scenePos())

    # -- QGraphicsItem ----------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self.card_rect().adjusted(-4, -18, 18, 6)  # room for a zoomed-out badge

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.card_rect(), CORNER, CORNER)
        return path

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            scene = self.scene()
            if scene is not None and hasattr(scene, "node_moved_by_hand"):
                scene.node_moved_by_hand(self)
            else:
                for e in self.edges:
                    e.update_path()
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.setZValue(Z_SELECTED if self.isSelected() else Z_NODE)
            for e in self.edges:
                e.update()
        return super().itemChange(change, value)

    def hoverEnterEvent(self, event: Any) -> None:
        self.hover = True
        self.update()
        for p in self.inputs:
            if p.extra:
                p.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:
        self.hover = False
        self.update()
        for p in self.inputs:
            if p.extra:
                p.update()
        super().hoverLeaveEvent(event)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        t = self.theme
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        rect = self.card_rect()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        card = QPainterPath()
        card.addRoundedRect(rect, CORNER, CORNER)
        painter.setPen(Qt.PenStyle.NoPen)
        shadow = QColor(t.shadow)
        for dy, grow, alpha in ((3.0, 1.5, 14), (1.5, 0.5, 22)):
            shadow.setAlpha(alpha)
            painter.setBrush(shadow)
            painter.drawRoundedRect(
                rect.adjusted(-grow, -grow + dy, grow, grow + dy), CORNER + grow, CORNER + grow
            )
        painter.setBrush(QColor(t.card))
        painter.drawPath(card)
        # category stripe
        painter.save()
        painter.setClipPath(card)
        painter.fillRect(QRectF(rect.left(), rect.top(), STRIPE, rect.height()), self.colour)
        painter.restore()
        # border
        if selected:
            pen = QPen(QColor(t.accent), 2.0)
        elif self.severity == "error":
            pen = QPen(QColor(t.error), 1.4)
        elif self.hover:
            pen = QPen(QColor(t.hover), 1.2)
        else:
            pen = QPen(QColor(t.border), 1.0)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), CORNER, CORNER)
        if selected:
            glow = QColor(t.accent)
            glow.setAlpha(45)
            painter.setPen(QPen(glow, 4.0))
            painter.drawRoundedRect(rect.adjusted(-2.0, -2.0, 2.0, 2.0), CORNER + 2, CORNER + 2)
        full = self.full_detail(lod)
        if full:
            painter.setPen(QPen(QColor(t.divider), 1.0))
            y_div = rect.top() + 45.5
            painter.drawLine(QPointF(rect.left() + STRIPE, y_div), QPointF(rect.right(), y_div))
        for line in self.text_lines(lod):
            painter.setFont(line.font)
            painter.setPen(QColor(getattr(t, line.colour)))
            painter.drawText(line.rect, line.align, line.text)
        if self.severity:
            self._paint_badge(painter, rect, lod)

    # -- text at each level of detail ---------------------------------------------
    @staticmethod
    def full_detail(lod: float) -> bool:
        """Whether the whole card (with its shape line) is readable at this zoom."""
        return lod >= FULL_DETAIL_ZOOM - 1e-6

    def text_lines(self, lod: float) -> list[CardText]:
        """What the card writes at zoom ``lod``, the layer's name first (``paint`` draws these).

        A full card has the name, the class with its key values, and the shape line.
        Zoomed out, the shape line goes first; the name (and the class line, while it
        fits) grows in scene units so it stays at least NAME_MIN_PX tall on screen.
        """
        rect = self.card_rect()
        left = rect.left() + STRIPE + 10
        right = rect.right() - 10
        width = right - left
        left_mid = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        if self.full_detail(lod):
            f = fonts()
            name, sub, shape, params = self._elided
            lines = [
                CardText("name", name, f.name, QRectF(left, rect.top() + 7, width, 18), left_mid, "text"),
                CardText("sub", sub, f.sub, QRectF(left, rect.top() + 25, width, 16), left_mid, "subtext"),
            ]
            foot = QRectF(left, rect.top() + 47, width, 19)
            right_mid = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            if shape or params:
                lines.append(CardText("shape", shape, f.footer, foot, left_mid, "footer"))
                lines.append(CardText("params", params, f.footer, foot, right_mid, "footer"))
            elif self.severity == "error":
                lines.append(CardText("shape", "no output shape", f.footer, foot, left_mid, "error"))
            else:
                lines.append(CardText("shape", "…", f.footer, foot, left_mid, "hint"))
            return lines
        lod = max(lod, 0.05)
        name_px = min(max(NAME_PX, math.ceil(NAME_MIN_PX / lod - 1e-6)), int(self.H * 0.62))
        sub_px = max(11, math.ceil(SUB_MIN_PX / lod - 1e-6))
        if self.severity:  # the badge sits on the top-right corner, clear of the name's end
            c, r = self._badge_geometry(rect, lod)
            width = min(right, c.x() - r * 0.6) - left
        key = (name_px, sub_px, round(width))
        texts = self._compact.get(key)
        name_font, name_m = fonts().sized(name_px, name=True)
        sub_font, sub_m = fonts().sized(sub_px, name=False)
        with_sub = name_m.height() + sub_m.height() + 4 <= self.H - 10
        if texts is None:
            texts = (
                name_m.elidedText(self.name, Qt.TextElideMode.ElideRight, width),
                sub_m.elidedText(self.subtitle(), Qt.TextElideMode.ElideRight, right - left),
            )
            self._compact[key] = texts
        if not with_sub:
            box = QRectF(left, rect.top(), width, rect.height())
            return [CardText("name", texts[0], name_font, box, left_mid, "text")]
        top = rect.center().y() - (name_m.height() + sub_m.height() + 4) / 2
        return [
            CardText("name", texts[0], name_font, QRectF(left, top, width, name_m.height()), left_mid, "text"),
            CardText(
                "sub",
                texts[1],
                sub_font,
                QRectF(left, top + name_m.height() + 4, right - left, sub_m.height()),
                left_mid,
                "subtext",
            ),
        ]

    def _badge_geometry(self, rect: QRectF, lod: float) -> tuple[QPointF, float]:
        """Centre and radius of the problem badge: inside a full card, on the corner otherwise."""
        if self.full_detail(lod):
            r = 7.5
            return QPointF(rect.right() - 8 - r, rect.top() + 8 + r), r
        r = 7.5 * min(max(1.0, 0.8 / max(lod, 0.05)), 2.1)  # inside boundingRect's margin
        return QPointF(rect.right() - 2, rect.top() - 2), r

    def _paint_badge(self, painter: QPainter, rect: QRectF, lod: float) -> None:
        t = self.theme
        c, r = self._badge_geometry(rect, lod)
        scale = r / 7.5
        colour = QColor(t.error if self.severity == "error" else t.warning)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        if self.severity == "error":
            painter.drawEllipse(c, r, r)
        else:
            tri = QPolygonF(
                [
                    QPointF(c.x(), c.y() - r * 1.05),
                    QPointF(c.x() + r * 1.1, c.y() + r * 0.85),
                    QPointF(c.x() - r * 1.1, c.y() + r * 0.85),
                ]
            )
            pen = QPen(colour, 2.5 * scale)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            painter.drawPolygon(tri)
        painter.setPen(QColor("#FFFFFF") if self.severity == "error" else QColor("#3A2A00"))
        painter.setFont(fonts().sized(max(10, round(10 * scale)), name=True)[0])
        nudge = (1.0 * scale) if self.severity != "error" else 0.0
        painter.drawText(
            QRectF(c.x() - r, c.y() - r + nudge, 2 * r, 2 * r), Qt.AlignmentFlag.AlignCenter, "!"
        )


# -- connections -------------------------------------------------------------------
LANE_MARGIN = 22.0
LANE_STEP = 12.0


class EdgeItem(QGraphicsItem):
    """A connection: a smooth curve from an output down to an input, with an arrowhead.

    An edge that would run through other cards (a residual or DenseNet skip)
    bends out into a lane beside them, goes down, and bends back in.
    """

    def __init__(self, edge: Edge, src: NodeItem, dst: NodeItem, theme: Theme) -> None:
        super().__init__()
        self.edge = edge
        self.src = src
        self.dst = dst
        self.theme = theme
        self.hover = False
        self.hot = False  # drop target
        self.lane: tuple[float, float, float] | None = None  # (x, y0, y1) while routed beside cards
        self._path = QPainterPath()
        self._arrow = QPolygonF()
        self._bounds = QRectF()
        self._shape: QPainterPath | None = None
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(Z_EDGE)
        src.edges.add(self)
        dst.edges.add(self)

    def detach(self) -> None:
        self.src.edges.discard(self)
        self.dst.edges.discard(self)

    # -- geometry ----------------------------------------------------------------
    def endpoints(self) -> tuple[QPointF, QPointF]:
        return self.src.output_point(self.edge.src_port), self.dst.input_point(self.edge.slot)

    def _obstacles(self, x_lo: float, x_hi: float, y0: float, y1: float) -> list[QRectF]:
        scene = self.scene()
        if scene is None or y1 - y0 < 4:
            return []
        if hasattr(scene, "obstacles"):
            return scene.obstacles(x_lo, x_hi, y0, y1, (self.src, self.dst))
        band = QRectF(x_lo, y0, x_hi - x_lo, y1 - y0)
        out = []
        for it in scene.items(band, Qt.ItemSelectionMode.IntersectsItemBoundingRect):
            if isinstance(it, NodeItem) and it is not self.src and it is not self.dst:
                r = it.scene_card_rect()
                if r.intersects(band):
                    out.append(r)
        return out

    def _lanes_taken(self) -> list[tuple[float, float, float]]:
        scene = self.scene()
        lanes = getattr(scene, "edge_lanes", None)
        if not lanes:
            return []
        return [v for k, v in lanes.items() if k is not self]

    def _pick_lane(self, p0: QPointF, p3: QPointF, blocking: list[QRectF]) -> float:
        y0, y1 = p0.y() + 2, p3.y() - 2
        x_lo = min(r.left() for r in blocking)
        x_hi = max(r.right() for r in blocking)
        taken = [(x, a, b) for x, a, b in self._lanes_taken() if a < y1 and b > y0]

        def search(x: float, direction: float) -> float:
            for _ in range(40):
                strip = self._obstacles(x - LANE_STEP / 2, x + LANE_STEP / 2, y0, y1)
                if strip:
                    edge = (
                        max(r.right() for r in strip)
                        if direction > 0
                        else min(r.left() for r in strip)
                    )
                    x = edge + direction * LANE_MARGIN
                    continue
                if any(abs(x - lx) < LANE_STEP - 1 for lx, _, _ in taken):
                    x += direction * LANE_STEP
                    continue
                break
            return x

        # straight down from the output, or straight down into the input, when that is clear
        for x in sorted({round(p0.x(), 1), round(p3.x(), 1)}, key=lambda v: v != round(p0.x(), 1)):
            clear = not self._obstacles(x - LANE_STEP / 2, x + LANE_STEP / 2, y0, y1)
            if clear and not any(abs(x - lx) < LANE_STEP - 1 for lx, _, _ in taken):
                return x
        right = search(x_hi + LANE_MARGIN, 1.0)
        left = search(x_lo - LANE_MARGIN, -1.0)
        cost_r = abs(right - p0.x()) + abs(right - p3.x())
        cost_l = abs(left - p0.x()) + abs(left - p3.x())
        # prefer the side the input port is on (a merge's left input comes from the left)
        side = p3.x() - self.dst.scenePos().x()
        if side < -1:
            cost_l -= 80
        elif side > 1:
            cost_r -= 80
        return left if cost_l < cost_r else right

    def update_path(self) -> None:
        p0, p3 = self.endpoints()
        path = QPainterPath(p0)
        dy = p3.y() - p0.y()
        self.lane = None
        scene = self.scene()
        lanes = getattr(scene, "edge_lanes", None)
        if dy > 8:
            x_lo, x_hi = min(p0.x(), p3.x()) - 6, max(p0.x(), p3.x()) + 6
            blocking = (
                self._obstacles(x_lo, x_hi, p0.y() + 2, p3.y() - 2) if dy > NODE_HEIGHT else []
            )
            if blocking:
                lane = self._pick_lane(p0, p3, blocking)
                top = min(r.top() for r in blocking)
                bottom = max(r.bottom() for r in blocking)
                r1 = max(12.0, min(top - p0.y() - 2, 70.0))
                r2 = max(12.0, min(p3.y() - bottom - 2, 70.0))
                a = QPointF(lane, p0.y() + r1)
                b = QPointF(lane, p3.y() - r2)
                path.cubicTo(
                    QPointF(p0.x(), p0.y() + r1 * 0.55), QPointF(lane, p0.y() + r1 * 0.45), a
                )
                path.lineTo(b)
                path.cubicTo(
                    QPointF(lane, p3.y() - r2 * 0.45), QPointF(p3.x(), p3.y() - r2 * 0.55), p3
                )
                self.lane = (lane, a.y(), b.y())
            else:
                c = max(dy * 0.5, 20.0)
                path.cubicTo(QPointF(p0.x(), p0.y() + c), QPointF(p3.x(), p3.y() - c), p3)
        else:
            # the input sits above the output (a loop, or a card moved by hand)
            c = 60.0 + min(-dy, 400.0) * 0.35
            path.cubicTo(QPointF(p0.x(), p0.y() + c), QPointF(p3.x(), p3.y() - c), p3)
        if lanes is not None:
            if self.lane is None:
                lanes.pop(self, None)
            else:
                lanes[self] = self.lane
        # arrowhead along the last tangent
        angle = math.radians(path.angleAtPercent(1.0))
        ux, uy = math.cos(angle), -math.sin(angle)
        length, half = 9.0, 4.5
        base = QPointF(p3.x() - ux * length, p3.y() - uy * length)
        self._arrow = QPolygonF(
            [
                p3,
                QPointF(base.x() - uy * half, base.y() + ux * half),
                QPointF(base.x() + uy * half, base.y() - ux * half),
            ]
        )
        self.prepareGeometryChange()
        self._path = path
        self._shape = None
        self._bounds = path.boundingRect().united(self._arrow.boundingRect()).adjusted(-6, -6, 6, 6)
        self.update()

    def path(self) -> QPainterPath:
        return self._path

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10.0)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    def distance_ok(self, point: QPointF, tolerance: float) -> bool:
        stroker = QPainterPathStroker()
        stroker.setWidth(tolerance * 2)
        return stroker.createStroke(self._path).contains(point)

    def set_hot(self, hot: bool) -> None:
        if hot != self.hot:
            self.hot = hot
            self.update()

    def hoverEnterEvent(self, event: Any) -> None:
        self.hover = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:
        self.hover = False
        self.update()
        super().hoverLeaveEvent(event)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        t = self.theme
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        near = self.src.isSelected() or self.dst.isSelected()
        strong = selected or self.hover or self.hot
        colour = QColor(t.accent if (strong or near) else t.edge)
        width = 2.6 if strong else (2.0 if near else 1.6)
        if lod < LOD_TEXT:
            width = max(width, 1.2 / max(lod, 0.05))
        if self.hot or selected:
            glow = QColor(t.accent)
            glow.setAlpha(50)
            painter.setPen(QPen(glow, width + 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self._path)
        pen = QPen(
            colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin
        )
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if lod >= LOD_PORTS:
            painter.setPen(
                QPen(
                    colour,
                    1.0,
                    Qt.PenStyle.SolidLine,
                    Qt.PenCapStyle.RoundCap,
                    Qt.PenJoinStyle.RoundJoin,
                )
            )
            painter.setBrush(QBrush(colour))
            painter.drawPolygon(self._arrow)


class ConnectionPreview(QGraphicsItem):
    """The rubber-band curve while the user drags a new connection."""

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self._path = QPainterPath()
        self._bounds = QRectF()
        self.setZValue(Z_TEMP)

    def set_points(self, start: QPointF, end: QPointF, from_output: bool) -> None:
        a, b = (start, end) if from_output else (end, start)
        c = max(abs(b.y() - a.y()) * 0.5, 40.0)
        path = QPainterPath(a)
        path.cubicTo(QPointF(a.x(), a.y() + c), QPointF(b.x(), b.y() - c), b)
        self.prepareGeometryChange()
        self._path = path
        self._bounds = path.boundingRect().adjusted(-4, -4, 4, 4)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        pen = QPen(QColor(self.theme.accent), 2.0, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
