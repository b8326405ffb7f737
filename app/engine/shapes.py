"""Per-layer output shapes and parameter counts, straight from Keras, fast.

Each layer is built on its own from its input shapes (``build`` +
``compute_output_shape``, or a symbolic call where a layer does not implement
that) inside a ``StatelessScope`` that never initializes the variables, so no
weights are allocated and no whole model is compiled. Results are cached by
(class, parameters, input shapes): after an edit only the layers whose inputs
or parameters changed are built again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.graph import INPUT_CLASS, NetworkGraph, Node
from app.core.validation import name_problem

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class LayerInfo:
    """What Keras says about one layer; ``error`` is Keras' complaint, cleaned up."""

    output_shape: Shape | list[Shape] | None = None
    params: int | None = None
    trainable_params: int | None = None
    error: str | None = None
    blocked: bool = False  # an upstream layer has no shape, so this one has none either

    def shape_for(self, port: int = 0) -> Shape | None:
        out = self.output_shape
        if isinstance(out, list):
            return out[port] if 0 <= port < len(out) else None
        return out if port == 0 else None


def _as_shape(shape: Any) -> Shape | list[Shape]:
    if isinstance(shape, dict):
        shape = list(shape.values())
    if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple):
        return [_as_shape(s) for s in shape]  # type: ignore[misc]
    return tuple(None if d is None else int(d) for d in shape)


def _shape_of_output(out: Any) -> Shape | list[Shape]:
    if isinstance(out, list | tuple) and out and hasattr(out[0], "shape"):
        return [_as_shape(o.shape) for o in out]  # type: ignore[misc]
    if hasattr(out, "shape"):
        return _as_shape(out.shape)
    return _as_shape(out)


def input_shape_of(node: Node) -> Shape:
    """The batch shape an InputLayer node declares (ValueError if it has none)."""
    p = node.params
    if p.get("batch_shape") is not None:
        shape = list(p["batch_shape"])
    elif p.get("shape") is not None:
        shape = [p.get("batch_size"), *list(p["shape"])]
    else:
        raise ValueError("the input has no shape; set its shape, e.g. [28, 28, 1]")
    out: list[int | None] = []
    for d in shape:
        if d is None:
            out.append(None)
        elif isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"input shape {p.get('shape', shape)} must hold whole numbers of at least 1")
        else:
            out.append(int(d))
    if len(out) < 2:
        raise ValueError("the input shape needs at least one dimension")
    return tuple(out)


def _key(node: Node, inputs: Sequence[Shape]) -> str:
    return json.dumps([node.class_name, node.params, [list(s) for s in inputs]], sort_keys=True, default=str)


class ShapeInference:
    """Cached per-layer inference over a graph; one instance per document.

    Two caches: one in memory, and an optional on-disk ``ShapeStore`` shared
    across sessions. Keras is imported only when a layer is in neither.
    """

    def __init__(self, max_cache: int = 20000, store: Any = None) -> None:
        self._cache: dict[str, LayerInfo] = {}
        self._max_cache = max_cache
        self.store = store
        self.layers_built = 0  # how many layers Keras built (cache misses), for tests and benchmarks

    def clear(self) -> None:
        self._cache.clear()

    def infer(self, graph: NetworkGraph) -> dict[str, LayerInfo]:
        order = graph.topological_order()
        infos: dict[str, LayerInfo] = {}
        with contextlib.ExitStack() as stack:
            self._scope: contextlib.ExitStack | None = stack
            self._scoped = False
            for nid in order:
                infos[nid] = self._infer_node(graph, graph.node(nid), infos)
        self._scope = None
        if self.store is not None:
            self.store.flush()
        if len(self._cache) > self._max_cache:
            self._cache.clear()
        return infos

    def _enter_keras(self) -> None:
        """Import Keras and open a scope in which layer variables are never initialized."""
        if self._scoped or self._scope is None:
            return
        from app.engine.keras_loader import load_keras

        load_keras()
        from keras.src.backend.common import global_state
        from keras.src.backend.common.stateless_scope import StatelessScope

        pending = global_state.get_global_attribute("uninitialized_variables") or []
        before = len(pending)

        def forget() -> None:
            left = global_state.get_global_attribute("uninitialized_variables")
            if left is not None and len(left) > before:
                del left[before:]  # analysis layers are thrown away; never initialize them

        self._scope.callback(forget)
        self._scope.enter_context(StatelessScope(initialize_variables=False))
        self._scoped = True

    def _infer_node(self, graph: NetworkGraph, node: Node, infos: dict[str, LayerInfo]) -> LayerInfo:
        if node.class_name == INPUT_CLASS:
            try:
                return LayerInfo(output_shape=input_shape_of(node), params=0, trainable_params=0)
            except ValueError as exc:
                return LayerInfo(error=str(exc))
        edges = graph.inputs_of(node.id)
        if not edges:
            return LayerInfo(blocked=True)
        shapes: list[Shape] = []
        for e in edges:
            info = infos.get(e.src)
            shape = info.shape_for(e.src_port) if info else None
            if shape is None:
                return LayerInfo(blocked=True)
            shapes.append(shape)
        key = _key(node, shapes)
        hit = self._cache.get(key)
        if hit is None and self.store is not None:
            hit = self.store.get(key)
            if hit is not None:
                self._cache[key] = hit
        if hit is not None:
            return hit
        self._enter_keras()
        info = self._compute(node, shapes)
        self._cache[key] = info
        if self.store is not None:
            self.store.put(key, info)
        return info

    def _compute(self, node: Node, shapes: list[Shape]) -> LayerInfo:
        import keras  # loaded by _enter_keras, which always runs first

        from app.engine.layers import (
            LayerConfigError,
            call_kwargs,
            clean_keras_message,
            describe,
            make_layer,
        )

        self.layers_built += 1
        if name_problem(node.name) is not None:  # the analyzer reports the name; the shape does not depend on it
            node = dataclasses.replace(node, name="layer")
        try:
            layer = make_layer(node)
        except LayerConfigError as exc:
            return LayerInfo(error=exc.message.removeprefix(f"{describe(node)}: "))
        except Exception as exc:  # Keras rejects the config in many ways
            return LayerInfo(error=clean_keras_message(exc))
        from app.engine.build import POSITIONAL_INPUTS, call_layer, takes_list

        arg: Any = shapes if takes_list(node, layer, len(shapes)) else shapes[0]
        out: Any = None
        try:
            if node.class_name in POSITIONAL_INPUTS or call_kwargs(node):
                raise NotImplementedError  # only a real call passes these arguments right
            layer.build(arg)
            out = layer.compute_output_shape(arg)
        except Exception:
            layer = make_layer(node)
            try:
                out = call_layer(node, layer, [keras.KerasTensor(s) for s in shapes])
            except Exception as exc:
                return LayerInfo(error=clean_keras_message(exc))
        try:
            output_shape = _shape_of_output(out)
        except (TypeError, ValueError) as exc:
            return LayerInfo(error=clean_keras_message(exc))
        params = sum(math.prod(w.shape) for w in layer.weights)
        trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
        return LayerInfo(output_shape=output_shape, params=int(params), trainable_params=int(trainable))
