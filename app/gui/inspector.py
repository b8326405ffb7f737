"""The inspector: a parameter form generated from the catalog schema.

For the selected layer it shows the class, its summary, its output shape and
parameter count (from the latest analysis), problems the analyzer found on it,
its name (a ``Rename``), and one editor per parameter: numbers and lists as
text fields, bools as check boxes, choices as combo boxes. Advanced
parameters sit in a collapsed section; hidden ones and ``__call_kwargs__`` are
not shown. Every edit is validated as you type with ``catalog.validate``: a
problem appears in red under the field and nothing is changed; a valid value
is pushed as one ``SetParam`` (consecutive edits of one field merge into one
undo step).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.catalog import Catalog, LayerSpec, ParamSpec, load_catalog
from app.core.graph import EVENT_NODE_CHANGED, EVENT_NODE_REMOVED, EVENT_RESET, GraphEvent
from app.core.project import Project
from app.gui.commands import Rename, SetParam
from app.gui.palette import GROUP_TITLES

CALL_KWARGS_KEY = "__call_kwargs__"  # app.engine.layers.CALL_KWARGS_KEY, without importing the engine
TEXT_KINDS = {"int", "float", "str", "tuple", "shape", "axis", "range", "pair"}
CHOICE_KINDS = {"enum", "activation", "initializer", "regularizer", "constraint", "dtype"}
NONE_LABELS = {
    "activation": "none (linear)",
    "regularizer": "none",
    "constraint": "none",
    "initializer": "default",
    "dtype": "default (float32)",
    "enum": "default",
}
_MISSING = object()


# -- text <-> value ------------------------------------------------------------
def format_value(value: Any) -> str:
    """How a parameter value reads in a text field: ``3, 3`` for ``[3, 3]``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") and "e" not in text else text
    if isinstance(value, list | tuple):
        if all(not isinstance(v, list | tuple | dict) for v in value):
            return ", ".join(format_value(v) if v is not None else "None" for v in value)
        return json.dumps(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


class ParseError(ValueError):
    pass


def _literal(text: str) -> Any:
    """``3``, ``0.5``, ``3, 3``, ``(3, 3)``, ``[[1, 1], [2, 2]]``, ``None`` -> Python values."""
    t = text.strip()
    t = t.replace("(", "[").replace(")", "]")
    t = re.sub(r"\bNone\b|\bnull\b", "null", t)
    t = re.sub(r"\bTrue\b", "true", t)
    t = re.sub(r"\bFalse\b", "false", t)
    if "," in t and not t.startswith("["):
        t = f"[{t}]"
    t = re.sub(r",\s*]", "]", t)  # a trailing comma, as in "(3,)"
    try:
        return json.loads(t)
    except ValueError:
        raise ParseError(text) from None


def parse_text(spec: ParamSpec, text: str) -> Any:
    """The value a text field means for ``spec``; ``None`` for an empty field.

    Text that cannot be read is returned as the string itself, so that
    ``catalog.validate`` words the problem ("filters must be a whole number").
    """
    t = text.strip()
    if not t:
        return None
    if spec.kind == "str":
        return text
    try:
        value = _literal(t)
    except ParseError:
        return t
    if spec.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if spec.kind == "shape" and isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if spec.kind == "range" and isinstance(value, list):
        return [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    if spec.kind == "pair" and isinstance(value, list):
        return value
    return value


def placeholder_for(spec: ParamSpec) -> str:
    if spec.required:
        return "required"
    if spec.default is None:
        return "default: none"
    return f"default: {format_value(spec.default)}"


# -- one row -------------------------------------------------------------------
class ParamField(QWidget):
    """An editor for one parameter plus its inline problem text."""

    def __init__(self, spec: ParamSpec, value: Any, on_change: Callable[[ParamField, Any], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._on_change = on_change
        self.setObjectName(f"param_{spec.name}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.editor: QWidget = self._make_editor(value)
        self.editor.setToolTip(spec.description or spec.name)
        lay.addWidget(self.editor)
        self.error = QLabel(self)
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        lay.addWidget(self.error)

    # editors
    def _make_editor(self, value: Any) -> QWidget:
        spec = self.spec
        if spec.kind == "bool":
            box = QCheckBox(self)
            box.setChecked(bool(spec.default if value is None else value))
            box.clicked.connect(lambda checked: self._on_change(self, bool(checked)))
            return box
        if spec.kind in CHOICE_KINDS and (spec.choices or spec.kind != "enum"):
            combo = QComboBox(self)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            self._fill_combo(combo, value)
            combo.activated.connect(lambda i: self._on_change(self, combo.itemData(i)))
            return combo
        if spec.kind in TEXT_KINDS:
            edit = QLineEdit(self)
            edit.setText(format_value(value))
            edit.setPlaceholderText(placeholder_for(spec))
            edit.textEdited.connect(lambda text: self._on_change(self, parse_text(spec, text)))
            return edit
        label = QLabel(format_value(value) or "—", self)  # "object": kept, not editable
        label.setObjectName("readOnlyValue")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _fill_combo(self, combo: QComboBox, value: Any) -> None:
        spec = self.spec
        combo.clear()
        choices = list(spec.choices or ())
        if spec.nullable or spec.default is None:
            label = NONE_LABELS.get(spec.kind, "default")
            combo.addItem(label, None)
        for c in choices:
            combo.addItem(format_value(c), c)
            if c == spec.default and spec.default is not None:  # the default reads bold in the list
                i = combo.count() - 1
                font = combo.font()
                font.setBold(True)
                combo.setItemData(i, font, Qt.ItemDataRole.FontRole)
                combo.setItemData(i, "Keras' default", Qt.ItemDataRole.ToolTipRole)
        if isinstance(value, dict):
            combo.addItem(f"custom: {value.get('class_name', 'object')}", value)
        elif value is not None and value not in choices:
            combo.addItem(format_value(value), value)
        current = spec.default if value is None else value
        self._select(combo, current)

    @staticmethod
    def _select(combo: QComboBox, value: Any) -> None:
        for i in range(combo.count()):
            data = combo.itemData(i)
            if data == value and type(data) is type(value):
                combo.setCurrentIndex(i)
                return
        for i in range(combo.count()):
            if combo.itemData(i) is None:
                combo.setCurrentIndex(i)
                return

    # state
    def show_problem(self, text: str | None) -> None:
        self.error.setText(text or "")
        self.error.setVisible(bool(text))
        self.editor.setProperty("invalid", bool(text))
        self.editor.style().unpolish(self.editor)
        self.editor.style().polish(self.editor)

    def current_value(self) -> Any:
        ed = self.editor
        if isinstance(ed, QCheckBox):
            return ed.isChecked()
        if isinstance(ed, QComboBox):
            return ed.currentData()
        if isinstance(ed, QLineEdit):
            return parse_text(self.spec, ed.text())
        return _MISSING

    def set_value(self, value: Any) -> None:
        """Show ``value`` (after undo/redo or a fix) without emitting an edit."""
        ed = self.editor
        ed.blockSignals(True)
        try:
            if isinstance(ed, QCheckBox):
                ed.setChecked(bool(self.spec.default if value is None else value))
            elif isinstance(ed, QComboBox):
                known = [ed.itemData(i) for i in range(ed.count())]
                if value is not None and value not in known:
                    self._fill_combo(ed, value)
                else:
                    self._select(ed, self.spec.default if value is None else value)
            elif isinstance(ed, QLineEdit):
                if ed.hasFocus() and self.current_value() == value:
                    return  # the user is typing this very value; keep their text and cursor
                ed.setText(format_value(value))
            elif isinstance(ed, QLabel):
                ed.setText(format_value(value) or "—")
        finally:
            ed.blockSignals(False)
        self.show_problem(None)


# -- the panel -----------------------------------------------------------------
class Inspector(QWidget):
    """objectName ``inspector``: the selected layer's parameters."""

    edited = Signal(str, str)  # node id, parameter name: a valid edit was pushed

    def __init__(self, project: Project, undo_stack: QUndoStack, catalog: Catalog | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self.catalog = catalog or load_catalog()
        self.undo_stack = undo_stack
        self.project: Project | None = None
        self.node_id: str | None = None
        self.fields: dict[str, ParamField] = {}
        self._analysis: Any = None
        self._advanced_open = False
        self._selection_count = 0

        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("inspectorScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        self.body: QWidget | None = None
        self.set_project(project)

    # -- wiring ---------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        if self.project is not None:
            self.project.graph.unsubscribe(self._on_graph_event)
        self.project = project
        project.graph.subscribe(self._on_graph_event)
        self._analysis = None
        self.show_node(None)

    def detach(self) -> None:
        """Stop following the project's graph (the window is closing)."""
        if self.project is not None:
            self.project.graph.unsubscribe(self._on_graph_event)

    def set_selection(self, ids: list[str]) -> None:
        self._selection_count = len(ids)
        self.show_node(ids[0] if len(ids) == 1 else None)

    def set_analysis(self, analysis: Any) -> None:
        self._analysis = analysis
        if self.node_id is not None:
            self._update_summary()

    def _on_graph_event(self, event: GraphEvent) -> None:
        if self.node_id is None:
            return
        if event.kind == EVENT_RESET:
            self.show_node(self.node_id if self.node_id in self.project.graph else None)
        elif event.node_id != self.node_id:
            return
        elif event.kind == EVENT_NODE_REMOVED:
            self.show_node(None)
        elif event.kind == EVENT_NODE_CHANGED:
            if event.detail == "class":
                self.show_node(self.node_id)
            else:
                self.refresh_values()

    # -- building -------------------------------------------------------------
    def _new_body(self) -> tuple[QWidget, QVBoxLayout]:
        body = QWidget()
        body.setObjectName("inspectorBody")
        lay = QVBoxLayout(body)
        lay.setContentsMargins(14, 12, 14, 14)
        lay.setSpacing(10)
        old = self.scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self.body = body
        return body, lay

    def show_node(self, node_id: str | None) -> None:
        """Build the form for ``node_id`` (a placeholder text when None)."""
        graph = self.project.graph if self.project else None
        if node_id is not None and (graph is None or node_id not in graph):
            node_id = None
        self.node_id = node_id
        self.fields = {}
        body, lay = self._new_body()
        if node_id is None:
            self._placeholder(lay)
            self.scroll.setWidget(body)
            return
        node = graph.node(node_id)
        spec = self.catalog.get(node.class_name)

        # header: class, category, summary
        title = QLabel(node.class_name, body)
        title.setObjectName("inspectorTitle")
        lay.addWidget(title)
        if spec is not None:
            chip = QLabel(GROUP_TITLES.get(spec.category, spec.category.title()), body)
            chip.setObjectName("categoryChip")
            chip.setStyleSheet(f"background: {spec.colour};")
            chip.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            lay.addWidget(chip)
            summary = QLabel(spec.summary or "", body)
            summary.setObjectName("inspectorSummary")
            summary.setWordWrap(True)
            lay.addWidget(summary)
        self.shape_label = QLabel(body)
        self.shape_label.setObjectName("inspectorShape")
        self.shape_label.setWordWrap(True)
        self.shape_label.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.shape_label)
        self.problems = QLabel(body)
        self.problems.setObjectName("inspectorProblems")
        self.problems.setWordWrap(True)
        self.problems.hide()
        lay.addWidget(self.problems)

        # name
        form = QFormLayout()
        self._style_form(form)
        self.name_edit = QLineEdit(node.name, body)
        self.name_edit.setObjectName("layerName")
        self.name_edit.setToolTip("The layer's name in Keras (unique in the network)")
        self.name_edit.editingFinished.connect(self._rename)
        name_label = self._label("name", "The layer's name in the Keras model")
        name_label.setFixedHeight(max(self.name_edit.sizeHint().height(), 22))
        name_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(name_label, self.name_edit)
        lay.addLayout(form)

        if spec is None:
            note = QLabel(f"{node.class_name} is not in the layer catalog; its parameters are kept as they are.", body)
            note.setWordWrap(True)
            note.setObjectName("inspectorNote")
            lay.addWidget(note)
        else:
            self._param_sections(spec, node.params, body, lay)
        lay.addStretch(1)
        self.scroll.setWidget(body)
        self._update_summary()

    def _placeholder(self, lay: QVBoxLayout) -> None:
        lay.addStretch(1)
        head = QLabel("Nothing selected" if self._selection_count == 0 else f"{self._selection_count} layers selected")
        head.setObjectName("placeholderTitle")
        head.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(head)
        text = QLabel(
            "Select a layer on the canvas to see its output shape and edit its parameters."
            if self._selection_count == 0
            else "Select a single layer to edit its parameters."
        )
        text.setObjectName("placeholderText")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(text)
        lay.addStretch(2)

    @staticmethod
    def _style_form(form: QFormLayout) -> None:
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)

    @staticmethod
    def _label(name: str, tip: str, required: bool = False) -> QLabel:
        label = QLabel(name + (" *" if required else ""))
        label.setObjectName("paramLabel")
        label.setToolTip(tip)
        return label

    def _param_sections(self, spec: LayerSpec, params: dict[str, Any], body: QWidget, lay: QVBoxLayout) -> None:
        shown = [p for p in spec.params if not p.hidden and p.name != CALL_KWARGS_KEY and p.name != "name"]
        basic = [p for p in shown if not p.advanced]
        advanced = [p for p in shown if p.advanced]
        if basic:
            head = QLabel("Parameters", body)
            head.setObjectName("sectionTitle")
            lay.addWidget(head)
            form = QFormLayout()
            self._style_form(form)
            for p in basic:
                self._add_field(form, p, params, body)
            lay.addLayout(form)
        elif not advanced:
            none = QLabel("This layer has no parameters to set.", body)
            none.setObjectName("inspectorNote")
            lay.addWidget(none)
        if advanced:
            toggle = QToolButton(body)
            toggle.setObjectName("advancedToggle")
            toggle.setText(f"Advanced ({len(advanced)})")
            toggle.setCheckable(True)
            toggle.setChecked(self._advanced_open)
            toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            toggle.setArrowType(Qt.ArrowType.DownArrow if self._advanced_open else Qt.ArrowType.RightArrow)
            lay.addWidget(toggle)
            box = QWidget(body)
            box.setObjectName("advancedSection")
            form = QFormLayout(box)
            self._style_form(form)
            built = [False]

            def build() -> None:  # on first opening: most layers' advanced rows are never looked at
                if not built[0]:
                    built[0] = True
                    for p in advanced:
                        self._add_field(form, p, params, box)

            if self._advanced_open:
                build()
            box.setVisible(self._advanced_open)
            lay.addWidget(box)

            def flip(on: bool) -> None:
                self._advanced_open = on
                if on:
                    build()
                    self.refresh_values()
                box.setVisible(on)
                toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

            toggle.toggled.connect(flip)
            self.advanced_toggle = toggle
            self.advanced_box = box

    def _add_field(self, form: QFormLayout, p: ParamSpec, params: dict[str, Any], parent: QWidget) -> None:
        value = params.get(p.name)
        f = ParamField(p, value, self._field_changed, parent)
        self.fields[p.name] = f
        tip = p.description or p.name
        label = self._label(p.name, tip, p.required)
        label.setFixedHeight(max(f.editor.sizeHint().height(), 22))
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(label, f)
        if p.required and value is None:
            f.show_problem(self.catalog.validate(self._class_name(), p.name, None))

    def _class_name(self) -> str:
        return self.project.graph.node(self.node_id).class_name if self.node_id else ""

    # -- editing --------------------------------------------------------------
    def _field_changed(self, field: ParamField, value: Any) -> None:
        if self.node_id is None or self.project is None:
            return
        key = field.spec.name
        problem = self.catalog.validate(self._class_name(), key, value)
        field.show_problem(problem)
        if problem:
            return
        node = self.project.graph.node(self.node_id)
        if node.params.get(key) == value and (value is not None or key not in node.params):
            return
        self.undo_stack.push(SetParam(self.project, self.node_id, key, value))
        self.edited.emit(self.node_id, key)

    def set_field_text(self, key: str, text: str) -> str | None:
        """Type ``text`` into a field as a user would (for tests); returns the problem shown."""
        f = self.fields[key]
        ed = f.editor
        assert isinstance(ed, QLineEdit), f"{key} is not a text field"
        ed.setText(text)
        ed.textEdited.emit(text)
        return f.error.text() or None

    def _rename(self) -> None:
        if self.node_id is None:
            return
        node = self.project.graph.node(self.node_id)
        wanted = self.name_edit.text().strip()
        if not wanted or wanted == node.name:
            self.name_edit.setText(node.name)
            return
        if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", wanted):
            self.name_edit.setText(node.name)
            self.name_edit.setToolTip("Names may use letters, digits and _ . - / only")
            return
        self.undo_stack.push(Rename(self.project, self.node_id, wanted))

    def refresh_values(self) -> None:
        """Show the node's current params (after undo, redo or a fix)."""
        if self.node_id is None:
            return
        node = self.project.graph.node(self.node_id)
        if not self.name_edit.hasFocus():
            self.name_edit.setText(node.name)
        for key, f in self.fields.items():
            f.set_value(node.params.get(key))
            if f.spec.required and node.params.get(key) is None:
                f.show_problem(self.catalog.validate(node.class_name, key, None))

    def _update_summary(self) -> None:
        if self.node_id is None or not hasattr(self, "shape_label"):
            return
        a = self._analysis
        info = a.layers.get(self.node_id) if a is not None else None
        if a is None:
            self.shape_label.setText("<span style='color:#6B7280'>Output shape: computing…</span>")
        elif info is None or info.output_shape is None:
            self.shape_label.setText("<span style='color:#6B7280'>Output shape: unknown (fix the problems above it)</span>")
        else:
            params = "—" if info.params is None else f"{info.params:,}"
            frozen = ""
            if info.params and info.trainable_params is not None and info.trainable_params != info.params:
                frozen = f" <span style='color:#6B7280'>({info.params - info.trainable_params:,} frozen)</span>"
            self.shape_label.setText(
                "<table cellspacing='0' cellpadding='1'>"
                f"<tr><td style='color:#6B7280; padding-right:10px'>Output shape</td><td><b>{_shape_text(info.output_shape)}</b></td></tr>"
                f"<tr><td style='color:#6B7280; padding-right:10px'>Parameters</td><td><b>{params}</b>{frozen}</td></tr>"
                "</table>"
            )
        problems = a.for_node(self.node_id) if a is not None else []
        if problems:
            lines = "<br>".join(f"• {_escape(d.message)}" for d in problems)
            self.problems.setText(lines)
            self.problems.setProperty("severity", "error" if any(d.severity == "error" for d in problems) else "warning")
            self.problems.style().unpolish(self.problems)
            self.problems.style().polish(self.problems)
            self.problems.show()
        else:
            self.problems.hide()


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

