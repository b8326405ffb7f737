"""Diagnostics and their one-click fixes, as plain data.

The analyzer (in the engine) produces them; the CLI prints them; the GUI shows
them on the layer and applies a fix as one undo step through ``apply_fix``,
which only edits the core project, never Keras.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from app.core.graph import INPUT_CLASS, Edge, NetworkGraph
from app.core.project import Project
from app.core.validation import replace_setting

ERROR = "error"
WARNING = "warning"
INFO = "info"

# Fix actions
INSERT_BEFORE = "insert_before"  # new layer between node and its input (slot 0)
INSERT_AFTER = "insert_after"  # new layer between node and everything it feeds
ADD_INPUT = "add_input"  # a new InputLayer feeding node
REMOVE_NODE = "remove_node"  # remove node, bridging its single input to its outputs
REMOVE_EDGE = "remove_edge"
SET_PARAM = "set_param"  # value None removes the key (back to Keras' default)
SET_TRAINING = "set_training"  # change a training setting (loss, ...)
SET_SETTING = "set_setting"  # key: a dotted setting path ("training.schedule.factor", "data.validation_split", "task")
RENAME = "rename"  # value: the layer's new name


@dataclass(frozen=True)
class Fix:
    """A machine-applicable correction; ``label`` is what the Fix button says."""

    label: str
    action: str
    node: str | None = None
    class_name: str | None = None
    params: dict[str, Any] | None = None
    key: str | None = None
    value: Any = None
    edge: Edge | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"label": self.label, "action": self.action}
        for k in ("node", "class_name", "params", "key", "value"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        if self.edge is not None:
            d["edge"] = self.edge.to_dict()
        return d


@dataclass(frozen=True)
class Diagnostic:
    """One problem, tied to a layer (``node`` id; None for the whole network) or to a ``setting``."""

    severity: str
    code: str
    message: str
    node: str | None = None
    layer: str | None = None  # the layer's name, for people and JSON
    fixes: tuple[Fix, ...] = field(default_factory=tuple)
    setting: str | None = None  # a dotted setting path, as in ``app.core.validation``

    @property
    def fix(self) -> Fix | None:
        return self.fixes[0] if self.fixes else None

    def to_json(self) -> dict[str, Any]:
        """The SPEC's ``{"layer", "message", "fix"}``, the ``setting``, plus machine detail."""
        return {
            "layer": self.layer,
            "setting": self.setting,
            "message": self.message,
            "fix": self.fix.label if self.fix else None,
            "code": self.code,
            "severity": self.severity,
            "fixes": [f.to_dict() for f in self.fixes],
        }


def set_setting(project: Project, path: str, value: Any) -> None:
    """Set the setting at dotted ``path`` (``training.…``, ``data.…``, ``task``, ``name``)."""
    head, _, rest = path.partition(".")
    if head == "training" and rest:
        project.training = replace_setting(project.training, rest, value)
    elif head == "data" and rest:
        project.data = replace_setting(project.data, rest, value)
    elif path in ("task", "name"):
        setattr(project, path, value)
    else:
        raise ValueError(f"unknown setting {path!r}")


def _new_position(graph: NetworkGraph, anchor: str, dy: float) -> tuple[float, float]:
    x, y = graph.node(anchor).position
    return (x, y + dy)


def apply_fix(project: Project, fix: Fix) -> str | None:
    """Apply ``fix`` to ``project``; returns the id of a layer it created, if any."""
    g = project.graph
    if fix.action == INSERT_BEFORE:
        assert fix.node and fix.class_name
        ins = g.inputs_of(fix.node)
        pos = _new_position(g, fix.node, -55.0)
        if ins:
            return g.insert_between(ins[0], fix.class_name, fix.params, position=pos).id
        new = g.add_node(fix.class_name, fix.params, position=pos)
        g.connect(new.id, fix.node, 0)
        return new.id
    if fix.action == INSERT_AFTER:
        assert fix.node and fix.class_name
        outs = g.outputs_of(fix.node)
        new = g.add_node(fix.class_name, fix.params, position=_new_position(g, fix.node, 55.0))
        for e in outs:
            g.disconnect(e)
            g.connect(new.id, e.dst, e.slot)
        g.connect(fix.node, new.id, 0)
        return new.id
    if fix.action == ADD_INPUT:
        assert fix.node
        new = g.add_node(
            INPUT_CLASS, fix.params or {"shape": [28, 28, 1]}, position=_new_position(g, fix.node, -110.0)
        )
        g.connect(new.id, fix.node, 0)
        return new.id
    if fix.action == REMOVE_NODE:
        assert fix.node
        ins = g.inputs_of(fix.node)
        outs = g.outputs_of(fix.node)
        g.remove_node(fix.node)
        if len(ins) == 1:
            for e in outs:
                g.connect(ins[0].src, e.dst, e.slot, ins[0].src_port)
        return None
    if fix.action == REMOVE_EDGE:
        assert fix.edge is not None
        g.disconnect(fix.edge)
        return None
    if fix.action == SET_PARAM:
        assert fix.node and fix.key
        g.set_param(fix.node, fix.key, fix.value)
        return None
    if fix.action == SET_TRAINING:
        assert fix.key
        project.training = dataclasses.replace(project.training, **{fix.key: fix.value})
        return None
    if fix.action == SET_SETTING:
        assert fix.key
        set_setting(project, fix.key, fix.value)
        return None
    if fix.action == RENAME:
        assert fix.node and isinstance(fix.value, str)
        g.rename(fix.node, fix.value)
        return None
    raise ValueError(f"unknown fix action {fix.action!r}")
