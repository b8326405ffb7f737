"""The layer palette: every catalog layer, grouped, searchable, draggable.

"Common" layers come first, then every category of the catalog. Typing in the
search box filters as you type (names, aliases and categories first; the
summaries only when no name matches). A drag carries the private MIME type
``MIME_LAYER`` whose payload is the Keras class name, nothing else; a
double-click (or Enter) emits ``layerActivated`` with the class name. The drag
image is a small chip held below and right of the cursor, so it never hides
the connection or port the layer is about to be dropped on.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QFont,
    QFontMetrics,
    QIcon,
    QKeyEvent,
    QPainter,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.core.catalog import CATEGORY_COLOURS, Catalog, LayerSpec, load_catalog
from app.gui.app import icon
from app.gui.commands import MIME_LAYER

CLASS_ROLE = Qt.ItemDataRole.UserRole + 1
GROUP_TITLES = {
    "core": "Core",
    "convolution": "Convolution",
    "pooling": "Pooling",
    "normalization": "Normalization",
    "regularization": "Regularization",
    "reshaping": "Reshaping",
    "merging": "Merging",
    "recurrent": "Recurrent",
    "attention": "Attention",
    "preprocessing": "Preprocessing",
    "augmentation": "Augmentation",
    "activation": "Activations",
    "other": "Other",
}

DRAG_OFFSET = QPoint(14, 12)  # where the drag chip's corner sits from the cursor tip

_DOTS: dict[str, QIcon] = {}


def category_dot(category: str) -> QIcon:
    """A small rounded square in the category's colour (the canvas uses the same hues)."""
    if category not in _DOTS:
        size = 14
        pm = QPixmap(size * 2, size * 2)
        pm.setDevicePixelRatio(2.0)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(CATEGORY_COLOURS.get(category, CATEGORY_COLOURS["other"])))
        p.drawRoundedRect(3, 3, size - 6, size - 6, 2.5, 2.5)
        p.end()
        _DOTS[category] = QIcon(pm)
    return _DOTS[category]


def tooltip_for(spec: LayerSpec) -> str:
    title = GROUP_TITLES.get(spec.category, spec.category.title())
    summary = spec.summary or "A Keras layer."
    extra = f"<br><i>{spec.note}</i>" if spec.note else ""
    return (
        f"<b>{spec.class_name}</b> <span style='color:#6B7280'>· {title}</span>"
        f"<br>{summary}{extra}<br><span style='color:#6B7280'>Drag onto the canvas, "
        "or double-click to add it after the selected layer.</span>"
    )


class LayerModel(QStandardItemModel):
    """Groups of layers; leaves drag as ``MIME_LAYER`` with the class name."""

    def mimeTypes(self) -> list[str]:
        return [MIME_LAYER]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData | None:
        for index in indexes:
            name = index.data(CLASS_ROLE)
            if name:
                return make_mime(str(name))
        return None

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


def make_mime(class_name: str) -> QMimeData:
    """The drag payload for one layer: ``MIME_LAYER`` -> UTF-8 class name."""
    mime = QMimeData()
    mime.setData(MIME_LAYER, class_name.encode("utf-8"))
    mime.setText(class_name)
    return mime


def drag_pixmap(class_name: str, category: str, ratio: float = 1.0) -> QPixmap:
    """A small translucent chip (category dot and class name) to show while dragging."""
    font = QFont()
    font.setPixelSize(11)
    width = QFontMetrics(font).horizontalAdvance(class_name) + 28
    height = 20
    pm = QPixmap(round(width * ratio), round(height * ratio))
    pm.setDevicePixelRatio(ratio)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setOpacity(0.88)
    p.setPen(QColor("#C9CFD8"))
    p.setBrush(QColor("#FFFFFF"))
    p.drawRoundedRect(QRectF(0.5, 0.5, width - 1, height - 1), 6, 6)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(CATEGORY_COLOURS.get(category, CATEGORY_COLOURS["other"])))
    p.drawRoundedRect(QRectF(7, 6, 8, 8), 2, 2)
    p.setPen(QColor("#1E2329"))
    p.setFont(font)
    p.drawText(QRectF(20, 0, width - 24, height), Qt.AlignmentFlag.AlignVCenter, class_name)
    p.end()
    return pm


class _Tree(QTreeView):
    activatedName = Signal(str)

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog

    def make_drag(self) -> QDrag | None:
        """The drag for the selected layer: its MIME payload and a chip beside the cursor."""
        indexes = self.selectedIndexes() or [self.currentIndex()]
        name = next((i.data(CLASS_ROLE) for i in indexes if i.isValid() and i.data(CLASS_ROLE)), None)
        if not name:
            return None
        spec = self.catalog.get(str(name))
        drag = QDrag(self)
        drag.setMimeData(make_mime(str(name)))
        drag.setPixmap(
            drag_pixmap(str(name), spec.category if spec else "other", self.devicePixelRatioF())
        )
        drag.setHotSpot(-DRAG_OFFSET)  # a hot spot outside the chip puts the chip beside the cursor
        return drag

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        drag = self.make_drag()
        if drag is not None:
            drag.exec(Qt.DropAction.CopyAction)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            name = self.currentIndex().data(CLASS_ROLE)
            if name:
                self.activatedName.emit(str(name))
                return
        super().keyPressEvent(event)


class LayerPalette(QWidget):
    """objectName ``layerPalette``: a search box over a grouped tree of layers."""

    layerActivated = Signal(str)

    def __init__(self, catalog: Catalog | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerPalette")
        self.catalog = catalog or load_catalog()
        self._expanded: dict[str, bool] = {"Common": True}

        self.search = QLineEdit(self)
        self.search.setObjectName("paletteSearch")
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textChanged.connect(self.set_filter)
        self.search.returnPressed.connect(self._activate_first)

        self.model = LayerModel(self)
        self.tree = _Tree(self.catalog, self)
        self.tree.setObjectName("paletteTree")
        self.tree.setModel(self.model)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(14)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(14, 14))
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAnimated(False)
        self.tree.doubleClicked.connect(self._on_double_click)
        self.tree.activatedName.connect(self.layerActivated)
        self.tree.expanded.connect(lambda i: self._remember(i, True))
        self.tree.collapsed.connect(lambda i: self._remember(i, False))

        self.empty = QLabel("No layer matches.", self)
        self.empty.setObjectName("paletteEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.hide()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)
        lay.addWidget(self.search)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.empty)
        self.set_filter("")

    # -- content ------------------------------------------------------------
    def _leaf(self, spec: LayerSpec) -> QStandardItem:
        item = QStandardItem(category_dot(spec.category), spec.class_name)
        item.setData(spec.class_name, CLASS_ROLE)
        item.setToolTip(tooltip_for(spec))
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        return item

    def _group(self, title: str, specs: list[LayerSpec]) -> QStandardItem:
        group = QStandardItem(f"{title}")
        group.setData(title, Qt.ItemDataRole.UserRole + 2)
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = group.font()
        font.setBold(True)
        group.setFont(font)
        group.setForeground(QColor("#4B5563"))
        for spec in specs:
            group.appendRow(self._leaf(spec))
        return group

    def _remember(self, index: QModelIndex, expanded: bool) -> None:
        title = index.data(Qt.ItemDataRole.UserRole + 2)
        if title and not self.search.text().strip():
            self._expanded[str(title)] = expanded

    def _matches(self, text: str) -> list[LayerSpec]:
        """Name, alias and category matches; summary matches only when there are none."""
        hits = self.catalog.search(text)
        words = text.lower().split()
        compact = "".join(words)

        def by_name(spec: LayerSpec) -> bool:
            keys = [spec.class_name.lower(), *(a.lower() for a in spec.aliases)]
            if any(compact in k for k in keys):
                return True
            hay = " ".join([*keys, spec.category])
            return all(w in hay for w in words)

        named = [s for s in hits if by_name(s)]
        return named or hits

    def set_filter(self, text: str) -> None:
        """Show the layers matching ``text`` (all of them, grouped, when empty)."""
        text = text.strip()
        self.model.clear()
        root = self.model.invisibleRootItem()
        if not text:
            groups = [("Common", self.catalog.common())]
            groups += [(GROUP_TITLES.get(c, c.title()), specs) for c, specs in self.catalog.categories()]
            for title, specs in groups:
                if specs:
                    root.appendRow(self._group(title, specs))
            for row in range(self.model.rowCount()):
                idx = self.model.index(row, 0)
                title = str(idx.data(Qt.ItemDataRole.UserRole + 2))
                self.tree.setExpanded(idx, self._expanded.get(title, False))
            self.tree.setRootIsDecorated(True)
            self.empty.hide()
            self.tree.show()
            return
        hits = self._matches(text)
        for spec in hits:
            root.appendRow(self._leaf(spec))
        self.tree.setRootIsDecorated(False)
        self.empty.setVisible(not hits)
        self.tree.setVisible(bool(hits))
        if hits:
            self.tree.setCurrentIndex(self.model.index(0, 0))

    # -- queries for tests and the window ------------------------------------
    def visible_layers(self) -> list[str]:
        """Class names the tree shows now (inside expanded or collapsed groups)."""
        out: list[str] = []

        def walk(parent: QModelIndex) -> None:
            for row in range(self.model.rowCount(parent)):
                idx = self.model.index(row, 0, parent)
                name = idx.data(CLASS_ROLE)
                if name:
                    out.append(str(name))
                walk(idx)

        walk(QModelIndex())
        return out

    def index_of(self, class_name: str) -> QModelIndex:
        match = self.model.match(
            self.model.index(0, 0), CLASS_ROLE, class_name, 1,
            Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive,
        )
        return match[0] if match else QModelIndex()

    def mime_data_for(self, class_name: str) -> QMimeData | None:
        """What dragging ``class_name`` out of the palette carries."""
        index = self.index_of(class_name)
        return self.model.mimeData([index]) if index.isValid() else None

    def _on_double_click(self, index: QModelIndex) -> None:
        name = index.data(CLASS_ROLE)
        if name:
            self.layerActivated.emit(str(name))

    def _activate_first(self) -> None:
        idx = self.tree.currentIndex()
        name = idx.data(CLASS_ROLE) if idx.isValid() else None
        if name:
            self.layerActivated.emit(str(name))

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()
