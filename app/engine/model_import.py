"""``keras.Model`` / ``.keras`` / ``.h5`` -> an editable graph (and its weights).

The model's own functional config is walked as data: one node per layer
(params = the layer's Keras config without ``name``, made JSON-safe), one edge
per tensor passed between layers (``slot`` = its position among the layer's
inputs, ``src_port`` = which output of the source). Rebuilding the graph with
:func:`app.engine.build.build_model` gives back the same layers in the same
order, so the weights (kept by layer name) fit again.

Not representable in the graph, so refused with a clear message for now: a
layer called more than once (a shared layer), a tensor passed by keyword
(``mask=``, ``key=``), an output layer that also feeds other layers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.graph import INPUT_CLASS, NetworkGraph
from app.core.project import SUFFIX, WEIGHTS_SUFFIX, Project, ProjectError
from app.core.settings import TrainSettings
from app.engine.layers import CALL_KWARGS_KEY, POSITIONAL_INPUTS
from app.engine.safety import ModelFileError, load_model_file
from app.engine.weights import Weights, load_weights, model_weights, save_weights

X_SPACING = 220.0
Y_SPACING = 110.0
_TENSOR = "__keras_tensor__"


class ModelImportError(ValueError):
    """A model whose structure the graph cannot express (yet); the message says what."""


@dataclass
class ImportedProject(Project):
    """A Project fresh from a model file, still holding that model's weights in memory."""

    imported_weights: Weights | None = field(default=None, repr=False)


# -- config -> plain JSON params -------------------------------------------
def json_safe(value: Any) -> Any:
    """Tuples -> lists, numpy -> Python, DTypePolicy dicts -> their name; no shared ids."""
    if isinstance(value, dict):
        if (
            value.get("class_name") == "DTypePolicy"
            and value.get("module") in ("keras", "keras.dtype_policies", None)
            and isinstance(value.get("config"), dict)
            and set(value["config"]) == {"name"}
        ):
            return value["config"]["name"]
        return {str(k): json_safe(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _input_params(config: dict[str, Any]) -> dict[str, Any]:
    """Keras' InputLayer config (``batch_shape``) -> the graph's ``{"shape": [...]}``."""
    batch_shape = config.get("batch_shape") or config.get("batch_input_shape")
    if batch_shape is None:
        shape = config.get("shape")
        batch = config.get("batch_size")
    else:
        batch, shape = batch_shape[0], list(batch_shape[1:])
    params: dict[str, Any] = {"shape": json_safe(list(shape or []))}
    dtype = json_safe(config.get("dtype"))
    if dtype not in (None, "float32"):
        params["dtype"] = dtype
    if batch is not None:
        params["batch_size"] = int(batch)
    for key in ("sparse", "ragged", "optional"):
        if config.get(key):
            params[key] = True
    return params


def _layer_params(entry: dict[str, Any]) -> dict[str, Any]:
    config = dict(entry.get("config") or {})
    config.pop("name", None)
    if entry.get("class_name") == INPUT_CLASS:
        return _input_params(config)
    return json_safe(config)


def _history_list(spec: Any) -> list[list[Any]]:
    """``input_layers``/``output_layers``: one ``[name, node, tensor]`` or a list/dict of them."""
    if isinstance(spec, dict):
        spec = list(spec.values())
    if isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], str):
        return [list(spec)]
    return [list(s) for s in spec or []]


def _is_tensor(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("class_name") == _TENSOR


def _contains_tensor(obj: Any) -> bool:
    if _is_tensor(obj):
        return True
    if isinstance(obj, dict):
        return any(_contains_tensor(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_contains_tensor(v) for v in obj)
    return False


def _call_inputs(entry: dict[str, Any]) -> tuple[list[list[Any]], dict[str, Any]]:
    """The ``keras_history`` of each input tensor in slot order, and the non-tensor kwargs."""
    name = entry.get("name") or (entry.get("config") or {}).get("name")
    class_name = entry.get("class_name")
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise ModelImportError(
            f"layer '{name}' is used {len(nodes)} times (a shared layer); "
            "LayerLab cannot edit shared layers yet"
        )
    if not nodes:
        return [], {}
    node = nodes[0]
    if isinstance(node, list):  # pragma: no cover - Keras 2 style, never from get_config() in Keras 3
        raise ModelImportError(f"layer '{name}' has an old-style connection list; re-save the model with Keras 3")
    args = node.get("args") or []
    kwargs = node.get("kwargs") or {}
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        tensors = list(args[0])
        positional = False
    else:
        tensors = list(args)
        positional = len(tensors) > 1
    if not all(_is_tensor(t) for t in tensors):
        raise ModelImportError(f"layer '{name}' is called with something other than tensors; not supported yet")
    if positional and class_name not in POSITIONAL_INPUTS:
        raise ModelImportError(f"layer '{name}' is called with several separate tensors; not supported yet")
    if not positional and len(tensors) > 1 and class_name in POSITIONAL_INPUTS:
        raise ModelImportError(f"layer '{name}' is called with a list of tensors; not supported yet")
    extra: dict[str, Any] = {}
    for key, value in kwargs.items():
        if _contains_tensor(value):
            raise ModelImportError(
                f"layer '{name}' receives a tensor through the keyword '{key}'; not supported yet"
            )
        if value is not None:
            extra[key] = json_safe(value)
    return [list(t["config"]["keras_history"]) for t in tensors], extra


# -- config -> graph ------------------------------------------------------
def _sequential_layers(config: dict[str, Any]) -> list[dict[str, Any]]:
    """A Sequential config as functional-style entries chained one after the other."""
    entries = [dict(e) for e in config.get("layers") or []]
    for e in entries:
        e["name"] = (e.get("config") or {}).get("name") or e.get("name")
    if not entries or entries[0].get("class_name") != INPUT_CLASS:
        shape = config.get("build_input_shape")
        if shape is None:
            raise ModelImportError("this Sequential model has no input shape (it was never built)")
        taken = {e["name"] for e in entries}
        name = "input_layer"
        i = 0
        while name in taken:
            i += 1
            name = f"input_layer_{i}"
        entries.insert(
            0, {"class_name": INPUT_CLASS, "name": name, "config": {"batch_shape": list(shape), "name": name}}
        )
    previous = None
    for e in entries:
        e["inbound_nodes"] = (
            []
            if previous is None
            else [{"args": [{"class_name": _TENSOR, "config": {"keras_history": [previous, 0, 0]}}], "kwargs": {}}]
        )
        previous = e["name"]
    return entries


def config_to_graph(config: dict[str, Any]) -> NetworkGraph:
    """A model config (``model.get_config()``, functional or Sequential) as a graph."""
    if "input_layers" in config:
        entries = [dict(e) for e in config.get("layers") or []]
        input_specs = _history_list(config.get("input_layers"))
        output_specs = _history_list(config.get("output_layers"))
    else:
        entries = _sequential_layers(config)
        input_specs = [[entries[0]["name"], 0, 0]]
        output_specs = [[entries[-1]["name"], 0, 0]] if len(entries) > 1 else []
    by_name: dict[str, dict[str, Any]] = {}
    for e in entries:
        e["name"] = e.get("name") or (e.get("config") or {}).get("name")
        if not e["name"] or e["name"] in by_name:
            raise ModelImportError(f"two layers share the name {e['name']!r}")
        by_name[e["name"]] = e
    for spec in input_specs + output_specs:
        if spec[0] not in by_name:
            raise ModelImportError(f"the model names a layer {spec[0]!r} that it does not contain")
    input_names = list(dict.fromkeys(s[0] for s in input_specs))
    output_names = list(dict.fromkeys(s[0] for s in output_specs))
    for name in input_names:
        if by_name[name].get("class_name") != INPUT_CLASS:
            raise ModelImportError(f"the model input {name!r} is not an Input layer; not supported yet")

    # Graph order decides the rebuilt model's input and output order (see build):
    # inputs first, in the model's order; outputs last, in the model's order.
    middle = [e["name"] for e in entries if e["name"] not in input_names and e["name"] not in output_names]
    order = input_names + middle + output_names
    graph = NetworkGraph()
    ids: dict[str, str] = {}
    histories: dict[str, list[list[Any]]] = {}
    for name in order:
        e = by_name[name]
        params = _layer_params(e)
        histories[name], extra = _call_inputs(e)
        if extra:
            params[CALL_KWARGS_KEY] = extra
        node = graph.add_node(str(e.get("class_name")), params, name=name)
        if node.name != name:  # pragma: no cover - names are unique in a Keras model
            raise ModelImportError(f"layer name {name!r} cannot be kept")
        ids[name] = node.id
    for name in order:
        for slot, (src, node_index, tensor_index) in enumerate(histories[name]):
            if src not in ids:
                raise ModelImportError(f"layer '{name}' is fed by {src!r}, which is not part of the model")
            if node_index != 0:
                raise ModelImportError(f"layer '{src}' is used more than once (a shared layer); not supported yet")
            graph.connect(ids[src], ids[name], slot, int(tensor_index))
    got = [n.name for n in graph.output_nodes()]
    if got != output_names:
        also_fed = [n for n in output_names if n not in got]
        if also_fed:
            raise ModelImportError(
                f"the output layer '{also_fed[0]}' also feeds other layers; "
                "LayerLab cannot express that yet"
            )
        raise ModelImportError(f"layers {', '.join(repr(n) for n in got if n not in output_names)} lead nowhere")
    layout(graph)
    return graph


def layout(graph: NetworkGraph) -> None:
    """Top-to-bottom by depth (longest path from an input), spread sideways within a depth."""
    depth: dict[str, int] = {}
    for nid in graph.topological_order():
        preds = graph.predecessors(nid)
        depth[nid] = 1 + max((depth.get(p, 0) for p in preds), default=-1)
    rows: dict[int, list[str]] = {}
    for node in graph.nodes:
        rows.setdefault(depth.get(node.id, 0), []).append(node.id)
    for d, row in rows.items():
        for i, nid in enumerate(row):
            node = graph.node(nid)
            node.position = ((i - (len(row) - 1) / 2.0) * X_SPACING, d * Y_SPACING)


def model_to_graph(model: Any) -> tuple[NetworkGraph, Weights]:
    """The graph of a live ``keras.Model`` and its weights by layer name."""
    config = model.get_config()
    if not isinstance(config, dict) or "layers" not in config:
        raise ModelImportError(
            f"{type(model).__name__} is a subclassed model (its layers are Python code); only "
            "functional and Sequential models can be imported"
        )
    graph = config_to_graph(copy.deepcopy(config))
    return graph, model_weights(model)


# -- files ----------------------------------------------------------------
def guess_loss(activation: Any, units: int | None) -> str:
    """A training loss that fits the output layer: softmax -> sparse CE, 1 sigmoid -> binary CE."""
    if isinstance(activation, dict):
        activation = activation.get("config") if isinstance(activation.get("config"), str) else None
    if activation == "softmax" and (units or 0) > 1:
        return "sparse_categorical_crossentropy"
    if activation == "sigmoid" and units == 1:
        return "binary_crossentropy"
    return "mean_squared_error"


def _output_activation(graph: NetworkGraph) -> Any:
    outputs = graph.output_nodes()
    if not outputs:
        return None
    node = outputs[0]
    if node.class_name == "Softmax":
        return "softmax"
    return node.params.get("activation")


def _import(path: str | Path, unsafe: bool) -> tuple[ImportedProject, Any]:
    p = Path(path)
    model = load_model_file(p, unsafe=unsafe)
    try:
        graph, weights = model_to_graph(model)
    except ModelImportError as exc:
        raise ModelFileError(p, f"cannot be turned into a project: {exc}") from None
    units = None
    try:
        last = model.outputs[0].shape[-1]
        units = int(last) if last is not None else None
    except (AttributeError, IndexError, TypeError):
        pass
    shown = p.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # undecodable bytes: U+FFFD
    name = shown
    for suffix in (".keras", ".h5", ".hdf5"):
        name = name.removesuffix(suffix)
    project = ImportedProject(
        graph=graph,
        name=name or "model",
        description=f"Imported from {shown}",
        task="classification",
        training=TrainSettings(loss=guess_loss(_output_activation(graph), units)),
        imported_weights=weights,
    )
    return project, model


def import_model(path: str | Path, *, unsafe: bool = False) -> ImportedProject:
    """A project from a ``.keras``/``.h5`` file (loaded in safe mode unless ``unsafe``).

    The model's weights ride along in ``project.imported_weights`` until
    :func:`save_imported_project` writes them to the sidecar. A model the graph
    cannot express raises ModelFileError naming the file and the reason.
    """
    return _import(path, unsafe)[0]


def import_model_with_count(path: str | Path, *, unsafe: bool = False) -> tuple[ImportedProject, int]:
    """:func:`import_model` plus the model's own ``count_params()`` (to cross-check analysis)."""
    project, model = _import(path, unsafe)
    return project, int(model.count_params())


def import_model_file(
    model_path: str | Path, project_path: str | Path, *, unsafe: bool = False
) -> ImportedProject:
    """Import a model file and save it as a project with its weights sidecar."""
    project = import_model(model_path, unsafe=unsafe)
    save_imported_project(project, project.imported_weights, project_path)
    return project


def sidecar_name(project_path: str | Path) -> str:
    """The weights sidecar's file name for a project file (as Project.save names it)."""
    return Path(project_path).name.removesuffix(SUFFIX) + WEIGHTS_SUFFIX


def save_imported_project(project: Project, weights: Weights | None, path: str | Path) -> Path:
    """Write the project and its ``.weights.npz`` sidecar, each atomically (weights first)."""
    target = Path(path)
    if weights is None:
        weights = getattr(project, "imported_weights", None)
    if weights and any(len(v) for v in weights.values()):
        name = sidecar_name(target)
        save_weights(target.parent / name, weights)
        project.weights_file = name
    else:
        project.weights_file = None
    project.path = target  # so that save() does not copy an older sidecar over the new one
    return project.save(target)


def project_weights(project: Project, *, fresh_ok: Callable[[str], Any] | None = None) -> Weights | None:
    """The weights that go with ``project``: held in memory after import, else its sidecar.

    A sidecar the project names but that cannot be used (missing, not a regular
    file, outside the project's folder, not a valid ``.npz``) raises
    ModelFileError or ProjectError in one line naming it: building without it
    would silently give an untrained model. A caller that asked for the design
    only passes ``fresh_ok``: it gets that line ending in "the weights are
    fresh" as a warning, and None.
    """
    held = getattr(project, "imported_weights", None)
    if held:
        return held
    try:
        wp = project.weights_path
        if wp is None:
            return None
        return load_weights(wp, f"weights file of {project.path}")
    except (ModelFileError, ProjectError) as exc:
        if fresh_ok is None:
            raise
        fresh_ok(f"{exc}; the weights are fresh (untrained)")
        return None


def sidecar_problem(project: Project) -> str | None:
    """Why the weights sidecar ``project`` names cannot be used (one line), or None: for ``check``."""
    try:
        project_weights(project)
    except (ModelFileError, ProjectError) as exc:
        return str(exc)
    return None
