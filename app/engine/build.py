"""Graph -> ``keras.Model`` with the functional API (branches, merges, several inputs/outputs).

Nodes are visited in ``graph.topological_order()``; each becomes one Keras
layer named after the node and is called on its inputs ordered by slot. Any
problem that stops the build is a BuildError naming the node, with a message
a beginner can act on, never a Keras traceback. Layer names are held to the
same rule ``check`` reports (``app.core.validation``), so a network ``check``
passes builds, and one it fails is refused here before Keras sees it.

Keras maps a functional model's graph recursively (one Python frame per layer
of depth, ``keras.src.ops.function``), so :func:`recursion_room` gives deep
networks the frames they need while a model is assembled or loaded.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.graph import INPUT_CLASS, NetworkGraph, Node
from app.core.validation import name_problem, show_name, suggest_name
from app.engine.layers import (
    LIST_INPUTS,
    POSITIONAL_INPUTS,
    BuildError,
    LayerConfigError,
    call_kwargs,
    clean_keras_message,
    describe,
    make_input,
    make_layer,
)
from app.engine.weights import WeightReport, apply_weights

log = logging.getLogger(__name__)


@dataclass
class BuildResult:
    model: Any
    weights: WeightReport = field(default_factory=WeightReport)


@contextlib.contextmanager
def recursion_room(layers: int = 20_000) -> Iterator[None]:
    """Let Keras recurse once per layer (``keras.Model(...)``, ``load_model``) for ``layers`` layers.

    Python 3.11 keeps these frames off the C stack, so a higher limit is safe;
    the old limit comes back afterwards unless someone else changed it meanwhile.
    """
    old = sys.getrecursionlimit()
    want = old + 2 * max(0, int(layers))
    sys.setrecursionlimit(want)
    try:
        yield
    finally:
        if sys.getrecursionlimit() == want:
            sys.setrecursionlimit(old)


def check_names(graph: NetworkGraph) -> None:
    """BuildError on the first layer whose name Keras or an export would refuse, or that repeats one."""
    seen: set[str] = set()
    taken = {n.name for n in graph}
    for n in graph:
        problem = name_problem(n.name)
        if problem is None and n.name in seen:
            problem = "has the same name as another layer"
        seen.add(n.name)
        if problem is not None:
            shown = f"{n.class_name} '{show_name(n.name)}'"
            raise BuildError(n.id, f"{shown} {problem}: rename it, e.g. to '{suggest_name(n.name, n.class_name, taken)}'")


def _model_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "model"


def build(
    graph: NetworkGraph,
    *,
    weights: Mapping[str, Sequence[Any]] | None = None,
    name: str = "model",
    unsafe: bool = False,
) -> BuildResult:
    """Build the model and report which saved weights were applied or skipped."""
    import keras

    inputs = graph.input_nodes()
    if not inputs:
        raise BuildError(None, "the network has no Input layer: add one and connect it to the first layer")
    cycle = graph.find_cycle()
    if cycle:
        names = " -> ".join(f"'{graph.node(n).name}'" for n in [*cycle, cycle[0]])
        raise BuildError(cycle[0], f"layers {names} form a loop: remove one of these connections")
    check_names(graph)

    tensors: dict[str, Any] = {}  # node id -> output (tensor, or list of tensors)
    for nid in graph.topological_order():
        node = graph.node(nid)
        edges = graph.inputs_of(nid)
        if node.class_name == INPUT_CLASS:
            if edges:
                raise BuildError(nid, f"{describe(node)} is an input: nothing can be connected into it")
            tensors[nid] = make_input(node)
            continue
        if not edges:
            raise BuildError(nid, f"{describe(node)} has no input: connect a layer to it")
        slots = [e.slot for e in edges]
        if len(set(slots)) != len(slots):
            raise BuildError(nid, f"{describe(node)} has two connections into the same input")
        args = []
        for e in edges:
            out = tensors[e.src]
            src = graph.node(e.src)
            if isinstance(out, (list, tuple)):
                if not 0 <= e.src_port < len(out):
                    raise BuildError(
                        nid, f"{describe(src)} has {len(out)} outputs; output {e.src_port} does not exist"
                    )
                out = out[e.src_port]
            elif e.src_port != 0:
                raise BuildError(nid, f"{describe(src)} has one output; output {e.src_port} does not exist")
            args.append(out)
        layer = make_layer(node, unsafe=unsafe)
        try:
            result = call_layer(node, layer, args)
        except LayerConfigError:
            raise
        except Exception as exc:  # Keras raises ValueError, TypeError, and backend errors
            raise BuildError(nid, f"{describe(node)}: {clean_keras_message(exc)}") from None
        tensors[nid] = result

    outputs: list[Any] = []
    for node in graph.output_nodes():
        out = tensors[node.id]
        outputs.extend(out if isinstance(out, (list, tuple)) else [out])
    if not outputs:
        first = inputs[0]
        raise BuildError(first.id, f"nothing is connected to {describe(first)}: the network has no output")
    ins = [tensors[n.id] for n in inputs]
    try:
        with recursion_room(len(graph)):
            model = keras.Model(
                inputs=ins[0] if len(ins) == 1 else ins,
                outputs=outputs[0] if len(outputs) == 1 else outputs,
                name=_model_name(name),
            )
    except Exception as exc:
        raise BuildError(None, f"the network cannot be assembled: {clean_keras_message(exc)}") from None
    report = apply_weights(model, weights)
    if report.skipped:
        log.info(
            "fresh weights for layers whose shapes changed: %s",
            ", ".join(f"{k} ({v})" for k, v in report.skipped.items()),
        )
    return BuildResult(model=model, weights=report)


def _is_merge(layer: Any) -> bool:
    """Merging layers (Add, Concatenate, ...) take a list even of one tensor."""
    return hasattr(type(layer), "_merge_function")


def takes_list(node: Node, layer: Any, n_inputs: int) -> bool:
    """Whether ``layer`` is called with a list of its inputs (merges, attention)."""
    return n_inputs > 1 or node.class_name in LIST_INPUTS or _is_merge(layer)


def call_layer(node: Node, layer: Any, args: list[Any]) -> Any:
    """Call ``layer`` on its inputs the way Keras expects for its kind."""
    if node.class_name in POSITIONAL_INPUTS:
        return layer(*args, **call_kwargs(node))
    if takes_list(node, layer, len(args)):
        return layer(args, **call_kwargs(node))
    return layer(args[0], **call_kwargs(node))


def build_model(
    graph: NetworkGraph,
    *,
    weights: Mapping[str, Sequence[Any]] | None = None,
    name: str = "model",
    unsafe: bool = False,
) -> Any:
    """The ``keras.Model`` for ``graph``; saved ``weights`` are applied by layer name where shapes match."""
    return build(graph, weights=weights, name=name, unsafe=unsafe).model
