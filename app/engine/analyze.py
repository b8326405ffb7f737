"""The analyzer: what is wrong with a network, said for a beginner, with fixes.

Modeled on MATLAB's ``analyzeNetwork`` and Neural Network Console's checker:
settings that training would refuse (``app.core.validation``, tied to the
setting), layer names Keras or an export would refuse (duplicates, ``/``, ``::``),
structural problems (empty, no input, loose layers, loops), wrong parameters,
merges that cannot work, kernels larger than their input, a classification
head that never flattens, a loss that does not fit the output, a class count
that does not fit the dataset, and networks too large for memory. Shapes and
parameter counts come from Keras itself (``app.engine.shapes``); the rules
here are plain Python over those results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.core.catalog import load_catalog
from app.core.diagnostics import (
    ADD_INPUT,
    ERROR,
    INFO,
    INSERT_BEFORE,
    REMOVE_EDGE,
    REMOVE_NODE,
    RENAME,
    SET_PARAM,
    SET_SETTING,
    SET_TRAINING,
    WARNING,
    Diagnostic,
    Fix,
)
from app.core.graph import INPUT_CLASS, NetworkGraph, Node
from app.core.project import Project
from app.core.validation import check_settings, name_problem, show_name, suggest_name
from app.engine.layers import CALL_KWARGS_KEY
from app.engine.shapes import LayerInfo, Shape, ShapeInference

NOT_TRAINABLE = "per-position-output"  # a note: the network labels positions, not images

CLASSIFICATION_LOSSES = {
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "categorical_focal_crossentropy",
    "binary_focal_crossentropy",
}
NESTED_MODELS = {"Functional", "Sequential", "Model"}
ELEMENTWISE_MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
FALLBACK_ARITY = {
    "Add": (2, None),
    "Multiply": (2, None),
    "Average": (2, None),
    "Maximum": (2, None),
    "Minimum": (2, None),
    "Concatenate": (2, None),
    "Subtract": (2, 2),
    "Dot": (2, 2),
}
# Layers a classification head passes through unchanged in rank.
HEAD_LAYERS = {
    "Dense",
    "Dropout",
    "Activation",
    "Softmax",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "BatchNormalization",
    "LayerNormalization",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
}
PASS_THROUGH = {"Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout2D"}
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "nadam": 2, "adamax": 2, "lion": 1, "rmsprop": 1, "adagrad": 1, "sgd": 1}
LARGE_MEMORY_BYTES = 4 * 1024**3
BYTES_PER_FLOAT = 4


@dataclass(frozen=True)
class MemoryEstimate:
    """Training memory at the project's batch size (float32), in bytes."""

    weights: int = 0
    gradients: int = 0
    optimizer: int = 0
    activations: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations


@dataclass
class Analysis:
    """Everything the CLI prints and the GUI shows on nodes and in the diagnostics panel."""

    layers: dict[str, LayerInfo]
    diagnostics: list[Diagnostic]
    order: list[str]
    total_params: int
    trainable_params: int
    memory: MemoryEstimate = field(default_factory=MemoryEstimate)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def for_node(self, node_id: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.node == node_id]

    def to_json(self, graph: NetworkGraph) -> dict[str, Any]:
        """The ``layerlab check --json`` object of SPEC.md."""
        layers = []
        for nid in self.order:
            node = graph.node(nid)
            info = self.layers.get(nid, LayerInfo())
            out = info.output_shape
            layers.append(
                {
                    "name": node.name,
                    "class_name": node.class_name,
                    "output_shape": [list(s) for s in out] if isinstance(out, list) else (list(out) if out else None),
                    "params": info.params,
                }
            )
        return {
            "ok": self.ok,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "memory_bytes": self.memory.total,
            "layers": layers,
            "errors": [d.to_json() for d in self.errors],
            "warnings": [d.to_json() for d in self.warnings],
        }


def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


class Analyzer:
    """Runs every rule; keeps a shape cache so that re-analysis after an edit is cheap."""

    def __init__(self, *, persistent: bool = True) -> None:
        store = None
        if persistent:
            from app.engine.shape_store import ShapeStore

            store = ShapeStore()
        self.shapes = ShapeInference(store=store)
        self.catalog = load_catalog()

    # -- entry point ------------------------------------------------------
    def analyze(self, project: Project, *, num_classes: int | None = None) -> Analysis:
        graph = project.graph
        diags: list[Diagnostic] = settings_diagnostics(project)
        if len(graph) == 0:
            diags.append(
                Diagnostic(
                    ERROR,
                    "empty",
                    "The network is empty. Drag an Input layer and some layers from the palette, "
                    "or start from a template.",
                )
            )
            return Analysis({}, diags, [], 0, 0)
        cycle = graph.find_cycle()
        if cycle:
            diags.append(self._cycle(graph, cycle))
        infos = self.shapes.infer(graph)
        order = graph.topological_order()
        diags += name_diagnostics(graph)
        diags += self._structure(graph)
        diags += self._params(graph)
        shape_diags, explained = self._shape_rules(graph, infos)
        diags += shape_diags
        for nid in order:
            info = infos.get(nid)
            if info and info.error and nid not in explained:
                n = graph.node(nid)
                diags.append(Diagnostic(ERROR, "keras", f"{n.class_name} '{n.name}': {info.error}", nid, n.name))
        diags += self._loss_rules(project, infos, num_classes)
        total = sum(i.params or 0 for i in infos.values())
        trainable = sum(i.trainable_params or 0 for i in infos.values())
        memory = self._memory(project, infos, total, trainable)
        batch = _batch_size(project)
        if memory.total > LARGE_MEMORY_BYTES:
            diags.append(
                Diagnostic(
                    WARNING,
                    "memory",
                    f"This network is very large: training needs about {fmt_bytes(memory.total)} at batch size "
                    f"{batch} (weights {fmt_bytes(memory.weights)}, optimizer "
                    f"{fmt_bytes(memory.optimizer)}, activations {fmt_bytes(memory.activations)}). "
                    "Use a smaller batch size, fewer filters, or a smaller input.",
                    fixes=(
                        Fix(
                            f"Halve the batch size to {max(1, batch // 2)}",
                            SET_TRAINING,
                            key="batch_size",
                            value=max(1, batch // 2),
                        ),
                    )
                    if batch > 1
                    else (),
                )
            )
        rank = {nid: i for i, nid in enumerate(order)}
        diags.sort(key=lambda d: (d.severity != ERROR, rank.get(d.node or "", -1)))
        return Analysis(infos, diags, order, int(total), int(trainable), memory)

    # -- structure ----------------------------------------------------------
    def _cycle(self, graph: NetworkGraph, cycle: list[str]) -> Diagnostic:
        names = [graph.node(n).name for n in cycle]
        closing = next(e for e in graph.inputs_of(cycle[0]) if e.src == cycle[-1])
        first = graph.node(cycle[0])
        return Diagnostic(
            ERROR,
            "cycle",
            "These layers form a loop: " + " -> ".join([*names, names[0]]) + ". Data must flow one way, "
            "from the input to the output.",
            first.id,
            first.name,
            (Fix(f"Remove the connection {names[-1]} -> {names[0]}", REMOVE_EDGE, edge=closing),),
        )

    def _structure(self, graph: NetworkGraph) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        inputs = graph.input_nodes()
        loose = [n for n in graph if n.class_name != INPUT_CLASS and not graph.inputs_of(n.id)]
        if not inputs:
            first = loose[0] if loose else graph.nodes[0]
            out.append(
                Diagnostic(
                    ERROR,
                    "no-input",
                    "The network has no Input layer, so Keras cannot know the image size. "
                    f"Add an Input before '{first.name}'.",
                    first.id,
                    first.name,
                    (Fix(f"Add an Input (28×28×1) before '{first.name}'", ADD_INPUT, node=first.id,
                         params={"shape": [28, 28, 1]}),),
                )
            )
        else:
            for n in loose:
                out.append(
                    Diagnostic(
                        ERROR,
                        "not-connected",
                        f"'{n.name}' has no input connected. Connect a layer's output to it, or remove it.",
                        n.id,
                        n.name,
                        (Fix(f"Remove '{n.name}'", REMOVE_NODE, node=n.id),),
                    )
                )
        outputs = graph.output_nodes()
        if inputs and not outputs:
            out.append(
                Diagnostic(
                    ERROR,
                    "no-output",
                    "The network has no output: nothing is connected after the Input. "
                    "Add layers ending in the prediction (e.g. Dense with softmax).",
                    inputs[0].id,
                    inputs[0].name,
                )
            )
        for n in inputs:
            if not graph.outputs_of(n.id) and len(inputs) > 1:
                out.append(
                    Diagnostic(
                        WARNING,
                        "unused-input",
                        f"Input '{n.name}' is not connected to anything.",
                        n.id,
                        n.name,
                        (Fix(f"Remove '{n.name}'", REMOVE_NODE, node=n.id),),
                    )
                )
        # Dead ends: several outputs where one is clearly the main one.
        reachable_outputs = [o for o in outputs if self._reaches_input(graph, o.id)]
        if len(reachable_outputs) > 1:
            depth = self._depths(graph)
            # The deepest output is the prediction; on a tie, the one that was there first.
            main = max(reachable_outputs, key=lambda o: depth.get(o.id, 0))
            for o in reachable_outputs:
                if o is main:
                    continue
                out.append(
                    Diagnostic(
                        WARNING,
                        "unused-output",
                        f"The output of '{o.name}' is not used by any later layer, so it becomes an extra "
                        f"output of the network beside '{main.name}'. Connect it, or remove it.",
                        o.id,
                        o.name,
                        (Fix(f"Remove '{o.name}'", REMOVE_NODE, node=o.id),),
                    )
                )
        # Arity: merges need several inputs, ordinary layers exactly one.
        for n in graph:
            if n.class_name == INPUT_CLASS:
                continue
            edges = graph.inputs_of(n.id)
            if not edges:
                continue
            lo, hi = self._arity(n.class_name)
            if len(edges) < lo:
                out.append(
                    Diagnostic(
                        ERROR,
                        "merge-inputs",
                        f"{n.class_name} '{n.name}' combines several inputs and needs at least {lo}, "
                        f"but {len(edges)} {'is' if len(edges) == 1 else 'are'} connected.",
                        n.id,
                        n.name,
                        (Fix(f"Remove '{n.name}'", REMOVE_NODE, node=n.id),) if len(edges) == 1 else (),
                    )
                )
            elif hi is not None and len(edges) > hi:
                extra = edges[hi:]
                what = "one input" if hi == 1 else f"{hi} inputs"
                src = graph.node(extra[0].src).name
                out.append(
                    Diagnostic(
                        ERROR,
                        "too-many-inputs",
                        f"{n.class_name} '{n.name}' takes {what} but {len(edges)} are connected. "
                        "To combine branches, put an Add or Concatenate layer before it.",
                        n.id,
                        n.name,
                        (Fix(f"Remove the connection {src} -> {n.name}", REMOVE_EDGE, edge=extra[0]),),
                    )
                )
        return out

    def _arity(self, class_name: str) -> tuple[int, int | None]:
        spec = self.catalog.get(class_name)
        if spec is not None and getattr(spec, "inputs", "one") == "many":
            lo = getattr(spec, "min_inputs", None) or 2
            return int(lo), getattr(spec, "max_inputs", None)
        if class_name in FALLBACK_ARITY:
            return FALLBACK_ARITY[class_name]
        if class_name in NESTED_MODELS:
            return (1, None)
        return (1, 1)

    @staticmethod
    def _reaches_input(graph: NetworkGraph, node_id: str) -> bool:
        todo, seen = [node_id], {node_id}
        while todo:
            n = graph.node(todo.pop())
            if n.class_name == INPUT_CLASS:
                return True
            for p in graph.predecessors(n.id):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return False

    @staticmethod
    def _depths(graph: NetworkGraph) -> dict[str, int]:
        depth: dict[str, int] = {}
        for nid in graph.topological_order():
            preds = graph.predecessors(nid)
            depth[nid] = 1 + max((depth.get(p, 0) for p in preds), default=-1)
        return depth

    # -- parameters -----------------------------------------------------------
    def _params(self, graph: NetworkGraph) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for n in graph:
            spec = self.catalog.get(n.class_name)
            if spec is None:
                if n.class_name not in NESTED_MODELS:
                    out.append(
                        Diagnostic(
                            ERROR,
                            "unknown-layer",
                            f"'{n.name}' uses an unknown layer type '{n.class_name}': it is not a Keras layer.",
                            n.id,
                            n.name,
                            (Fix(f"Remove '{n.name}'", REMOVE_NODE, node=n.id),),
                        )
                    )
                continue
            defaults = self.catalog.defaults(n.class_name)
            for key, value in n.params.items():
                if key == CALL_KWARGS_KEY:
                    continue  # how an imported layer was called (training=False, ...): not a parameter
                problem = self.catalog.validate(n.class_name, key, value)
                if problem is None:
                    continue
                known = any(p.name == key for p in spec.params)
                if not known:
                    fix = Fix(f"Remove the parameter '{key}'", SET_PARAM, node=n.id, key=key, value=None)
                else:
                    default = defaults.get(key)
                    label = f"Reset {key} to {default!r}" if default is not None else f"Reset {key} to its default"
                    fix = Fix(label, SET_PARAM, node=n.id, key=key, value=default)
                out.append(Diagnostic(ERROR, "bad-param", f"{n.class_name} '{n.name}': {problem}", n.id, n.name, (fix,)))
            if n.class_name == INPUT_CLASS:
                continue
            for p in spec.params:
                if p.required and p.name not in n.params:
                    default = defaults.get(p.name)
                    fixes = (
                        (Fix(f"Set {p.name} to {default!r}", SET_PARAM, node=n.id, key=p.name, value=default),)
                        if default is not None
                        else ()
                    )
                    out.append(
                        Diagnostic(
                            ERROR,
                            "missing-param",
                            f"{n.class_name} '{n.name}' needs a value for '{p.name}'.",
                            n.id,
                            n.name,
                            fixes,
                        )
                    )
        return out

    # -- shapes ---------------------------------------------------------------
    def _shape_rules(self, graph: NetworkGraph, infos: dict[str, LayerInfo]) -> tuple[list[Diagnostic], set[str]]:
        out: list[Diagnostic] = []
        explained: set[str] = set()
        for n in graph:
            edges = graph.inputs_of(n.id)
            shapes = [infos[e.src].shape_for(e.src_port) if e.src in infos else None for e in edges]
            if not shapes or any(s is None for s in shapes):
                continue
            d = None
            if n.class_name in ELEMENTWISE_MERGES and len(shapes) >= 2:
                d = self._elementwise(n, shapes)  # type: ignore[arg-type]
            elif n.class_name == "Concatenate" and len(shapes) >= 2:
                d = self._concat(n, shapes)  # type: ignore[arg-type]
            elif len(shapes) == 1:
                d = self._window(n, shapes[0])  # type: ignore[arg-type]
            if d is not None:
                out.append(d)
                explained.add(n.id)
        return out, explained

    def _elementwise(self, n: Node, shapes: list[Shape]) -> Diagnostic | None:
        ref = shapes[0]
        for s in shapes[1:]:
            if len(s) != len(ref) or any(
                a is not None and b is not None and a != b and 1 not in (a, b) for a, b in zip(s[1:], ref[1:], strict=False)
            ):
                listed = " and ".join(fmt_shape(x) for x in shapes)
                hint = ""
                if len(s) == len(ref) and s[1:-1] == ref[1:-1]:
                    hint = " Their channel counts differ: give the shortcut a 1×1 Conv2D with matching filters."
                elif len(s) == len(ref):
                    hint = " Their sizes differ: use padding='same', or matching strides on both branches."
                return Diagnostic(
                    ERROR,
                    "merge-shapes",
                    f"{n.class_name} '{n.name}' needs inputs of the same shape, but got {listed}.{hint}",
                    n.id,
                    n.name,
                )
        return None

    def _concat(self, n: Node, shapes: list[Shape]) -> Diagnostic | None:
        rank = len(shapes[0])
        axis = n.params.get("axis", -1)
        if not isinstance(axis, int) or isinstance(axis, bool):
            return None
        if any(len(s) != rank for s in shapes):
            return Diagnostic(
                ERROR,
                "concat-shapes",
                f"Concatenate '{n.name}' joins tensors of different ranks: " + ", ".join(fmt_shape(s) for s in shapes) + ".",
                n.id,
                n.name,
            )
        ax = axis % rank
        if ax == 0:
            return Diagnostic(ERROR, "concat-shapes", f"Concatenate '{n.name}' cannot join along the batch axis (axis={axis}).",
                              n.id, n.name, (Fix("Join along the last axis", SET_PARAM, node=n.id, key="axis", value=-1),))
        for i in range(1, rank):
            if i == ax:
                continue
            dims = {s[i] for s in shapes if s[i] is not None}
            if len(dims) > 1:
                return Diagnostic(
                    ERROR,
                    "concat-shapes",
                    f"Concatenate '{n.name}' joins along axis {axis}, so every other dimension must match, "
                    f"but got " + " and ".join(fmt_shape(s) for s in shapes)
                    + ". In a U-Net, use padding='same' so that encoder and decoder sizes agree.",
                    n.id,
                    n.name,
                )
        return None

    @staticmethod
    def _window_family(class_name: str) -> tuple[str, int] | None:
        import re

        m = re.fullmatch(r"(Conv|SeparableConv|DepthwiseConv|MaxPooling|AveragePooling|LocallyConnected)([123])D", class_name)
        if not m:
            return None
        return ("conv" if "Conv" in m.group(1) else "pool"), int(m.group(2))

    def _window(self, n: Node, shape: Shape) -> Diagnostic | None:
        fam = self._window_family(n.class_name)
        if fam is None:
            return None
        kind, dims = fam
        p = n.params
        if p.get("padding", "valid") != "valid":
            return None
        if len(shape) != dims + 2:
            return None
        channels_first = p.get("data_format") == "channels_first"
        spatial = shape[2:] if channels_first else shape[1:-1]
        key = "kernel_size" if kind == "conv" else "pool_size"
        size = p.get(key, 2 if kind == "pool" else None)
        if size is None:
            return None
        sizes = [size] * dims if isinstance(size, int) else list(size)
        dil = p.get("dilation_rate", 1)
        dils = [dil] * dims if isinstance(dil, int) else list(dil)
        if len(sizes) != dims or len(dils) != dims or not all(isinstance(v, int) for v in sizes + dils):
            return None
        eff = [(k - 1) * d + 1 for k, d in zip(sizes, dils, strict=True)]
        if all(s is None or s >= k for s, k in zip(spatial, eff, strict=True)):
            return None
        word = "kernel" if kind == "conv" else "pooling window"
        ks = "×".join(map(str, eff))
        ins = "×".join("?" if s is None else str(s) for s in spatial)
        fixes = [Fix("Use padding='same'", SET_PARAM, node=n.id, key="padding", value="same")]
        fit = [min(k, s) if s is not None else k for k, s in zip(sizes, spatial, strict=True)]
        if kind == "conv" and all(d == 1 for d in dils):
            fixes.append(Fix(f"Shrink {key} to {fit}", SET_PARAM, node=n.id, key=key, value=fit))
        elif kind == "pool":
            fixes.append(Fix(f"Remove '{n.name}'", REMOVE_NODE, node=n.id))
        return Diagnostic(
            ERROR,
            "window-too-large",
            f"{n.class_name} '{n.name}': its {ks} {word} is larger than its {ins} input, so the output would "
            "have no pixels left. The image shrinks at every layer with padding='valid' and every pooling.",
            n.id,
            n.name,
            tuple(fixes),
        )

    # -- head, loss and dataset -------------------------------------------------
    def _final_activation(self, graph: NetworkGraph, node: Node) -> tuple[str | None, Node | None]:
        seen = 0
        while seen < 50:
            seen += 1
            cls = node.class_name
            if cls == "Softmax":
                return "softmax", node
            if cls == "Activation":
                return str(node.params.get("activation", "linear")), node
            spec = self.catalog.get(cls)
            if spec is not None and any(p.name == "activation" for p in spec.params):
                act = node.params.get("activation")
                if act is None:
                    act = self.catalog.defaults(cls).get("activation") or "linear"
                return (act if isinstance(act, str) else None), node
            if cls in PASS_THROUGH:
                preds = graph.predecessors(node.id)
                if len(preds) != 1:
                    return None, None
                node = graph.node(preds[0])
                continue
            return None, None
        return None, None

    def _head_start(self, graph: NetworkGraph, out: Node, infos: dict[str, LayerInfo]) -> Node:
        """The first layer of the head that still sees a spatial (rank > 2) input."""
        best = out
        node = out
        while node.class_name in HEAD_LAYERS:
            preds = graph.inputs_of(node.id)
            if len(preds) != 1:
                break
            src = preds[0]
            shape = infos.get(src.src).shape_for(src.src_port) if src.src in infos else None
            if shape is None or len(shape) <= 2:
                break
            if node.class_name == "Dense":
                best = node
            node = graph.node(src.src)
        return best

    def _loss_rules(self, project: Project, infos: dict[str, LayerInfo], num_classes: int | None) -> list[Diagnostic]:
        graph = project.graph
        loss = project.training.loss
        out: list[Diagnostic] = []
        if not isinstance(loss, str):
            return out  # reported as a settings error
        outputs = [o for o in graph.output_nodes() if self._reaches_input(graph, o.id)]
        if len(outputs) != 1:
            return out
        node = outputs[0]
        info = infos.get(node.id)
        shape = info.shape_for(0) if info else None
        if shape is None:
            return out
        if project.task == "classification" and loss in CLASSIFICATION_LOSSES and len(shape) > 2:
            start = self._head_start(graph, node, infos)
            in_edge = graph.inputs_of(start.id)
            in_shape = infos[in_edge[0].src].shape_for(in_edge[0].src_port) if in_edge else None
            rank = len(in_shape) if in_shape else len(shape)
            fixes = [Fix(f"Insert Flatten before '{start.name}'", INSERT_BEFORE, node=start.id, class_name="Flatten", params={})]
            if rank in (3, 4, 5):
                gap = f"GlobalAveragePooling{rank - 2}D"
                fixes.append(Fix(f"Insert {gap} before '{start.name}'", INSERT_BEFORE, node=start.id, class_name=gap, params={}))
            out.append(
                Diagnostic(
                    ERROR,
                    "head-needs-flatten",
                    f"'{start.name}' gets a {rank}-D input {fmt_shape(in_shape)}, so the network predicts "
                    f"{fmt_shape(shape)}: one answer per position instead of one per image. The loss {loss} "
                    "expects (batch, classes). Insert Flatten (or GlobalAveragePooling2D) before it.",
                    start.id,
                    start.name,
                    tuple(fixes),
                )
            )
            return out
        if project.task != "classification" and len(shape) > 2:
            grid = "×".join(str(d) for d in shape[1:-1])
            out.append(
                Diagnostic(
                    INFO,
                    NOT_TRAINABLE,
                    f"'{node.name}' gives an answer for every position of a {grid} grid ({project.task}). "
                    "Training here takes one label per image, so this network can be designed, checked "
                    "and exported, but not trained in LayerLab yet.",
                    node.id,
                    node.name,
                )
            )
            return out
        if loss not in CLASSIFICATION_LOSSES:
            return out
        units = shape[-1]
        act, act_node = self._final_activation(graph, node)
        holder = act_node or node
        if act == "softmax" and units == 1:
            out.append(
                Diagnostic(
                    ERROR,
                    "softmax-one-unit",
                    f"'{holder.name}' applies softmax to a single unit, which always outputs 1.0: the network "
                    "cannot learn anything. For two classes use 1 unit with sigmoid, or 2 units with softmax.",
                    holder.id,
                    holder.name,
                    (Fix("Use sigmoid instead", SET_PARAM, node=holder.id, key="activation", value="sigmoid"),),
                )
            )
        if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy") and units == 1:
            out.append(
                Diagnostic(
                    ERROR,
                    "loss-output",
                    f"The loss {loss} needs one output per class, but '{node.name}' has 1 unit. For a yes/no "
                    "output use binary_crossentropy.",
                    node.id,
                    node.name,
                    (Fix("Use binary_crossentropy", SET_TRAINING, key="loss", value="binary_crossentropy"),),
                )
            )
        elif loss in ("binary_crossentropy", "binary_focal_crossentropy") and units not in (1, None) and act == "softmax":
            out.append(
                Diagnostic(
                    ERROR,
                    "loss-output",
                    f"Binary cross-entropy scores each of the {units} softmax units as its own yes/no answer; "
                    "for one label per image among several classes use sparse_categorical_crossentropy.",
                    node.id,
                    node.name,
                    (Fix("Use sparse_categorical_crossentropy", SET_TRAINING, key="loss", value="sparse_categorical_crossentropy"),),
                )
            )
        elif act in ("linear", None) and act_node is not None:
            want = "sigmoid" if units == 1 or loss.startswith("binary") else "softmax"
            out.append(
                Diagnostic(
                    WARNING,
                    "logits",
                    f"'{holder.name}' has no {want} activation, but the loss {loss} expects probabilities.",
                    holder.id,
                    holder.name,
                    (Fix(f"Use {want}", SET_PARAM, node=holder.id, key="activation", value=want),),
                )
            )
        if num_classes and project.task == "classification" and units is not None:
            fits = units == num_classes or (units == 1 and num_classes == 2)
            if not fits:
                key = "units" if node.class_name == "Dense" else ("filters" if "filters" in node.params else None)
                fixes = (Fix(f"Set {key} to {num_classes}", SET_PARAM, node=node.id, key=key, value=num_classes),) if key else ()
                out.append(
                    Diagnostic(
                        WARNING,
                        "classes",
                        f"'{node.name}' predicts {units} classes but the dataset has {num_classes}. Training "
                        "adapts the output layer, or set it here.",
                        node.id,
                        node.name,
                        fixes,
                    )
                )
        return out

    # -- memory -------------------------------------------------------------------
    @staticmethod
    def _memory(project: Project, infos: dict[str, LayerInfo], total: int, trainable: int) -> MemoryEstimate:
        batch = _batch_size(project)
        act = 0
        for info in infos.values():
            shapes = info.output_shape if isinstance(info.output_shape, list) else [info.output_shape]
            for s in shapes:
                if s:
                    act += math.prod(d or 1 for d in s[1:])
        opt = project.training.optimizer
        slots = OPTIMIZER_SLOTS.get(opt, 2) if isinstance(opt, str) else 2
        return MemoryEstimate(
            weights=total * BYTES_PER_FLOAT,
            gradients=trainable * BYTES_PER_FLOAT,
            optimizer=trainable * slots * BYTES_PER_FLOAT,
            activations=act * batch * BYTES_PER_FLOAT * 2,
        )


def _batch_size(project: Project) -> int:
    """The batch size for estimates; 1 while the setting itself is wrong (reported as an error)."""
    b = project.training.batch_size
    return b if isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 1_000_000 else 1


def settings_diagnostics(project: Project) -> list[Diagnostic]:
    """Each settings problem as an error tied to its setting, its fix one click away."""
    out = []
    for p in check_settings(project.data, project.training, project.task, name=project.name):
        fixes = (Fix(p.fix, SET_SETTING, key=p.setting, value=p.fix_value),) if p.fix else ()
        out.append(Diagnostic(ERROR, "setting", p.message, fixes=fixes, setting=p.setting))
    return out


def name_diagnostics(graph: NetworkGraph) -> list[Diagnostic]:
    """Names Keras or an export would refuse, and every repeat of a name after its first layer."""
    out: list[Diagnostic] = []
    first: dict[str, Node] = {}
    taken = {n.name for n in graph}
    for n in graph:
        problem = name_problem(n.name)
        shown = show_name(n.name) if isinstance(n.name, str) else repr(n.name)
        if problem is None and n.name in first:
            other = first[n.name]
            problem = f"repeats the name of an earlier {other.class_name} layer; every layer needs a name of its own"
        first.setdefault(n.name, n)
        if problem is None:
            continue
        new = suggest_name(n.name, n.class_name, taken)
        taken.add(new)
        out.append(
            Diagnostic(
                ERROR,
                "layer-name",
                f"{n.class_name} '{shown}' {problem}.",
                n.id,
                shown,
                (Fix(f"Rename to '{new}'", RENAME, node=n.id, value=new),),
            )
        )
    return out


def analyze(project: Project, *, num_classes: int | None = None) -> Analysis:
    """One-off analysis (the CLI); the GUI keeps an ``Analyzer`` for its cache."""
    return Analyzer().analyze(project, num_classes=num_classes)
