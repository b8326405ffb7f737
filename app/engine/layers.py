"""One graph node -> one Keras layer, in Keras safe mode, with readable errors.

Node params are a Keras config dict; the layer is rebuilt the way Keras
reloads a saved model (``deserialize_keras_object`` with ``safe_mode``), so a
project file can never smuggle in code that a ``.keras`` file could not.
Keras is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from app.core.graph import Node

# Non-tensor keyword arguments a layer was called with (``training=False`` on a
# frozen sub-model, ...): kept in the node's params under this key, which is not
# part of the Keras config; the builder passes them to the call.
CALL_KWARGS_KEY = "__call_kwargs__"

# Nested models: the Keras module each class is saved under.
MODEL_CLASSES = {
    "Functional": "keras.src.models.functional",
    "Model": "keras.models",
    "Sequential": "keras",
}

# Layers called with several tensors as positional arguments, not as a list.
POSITIONAL_INPUTS = frozenset({"MultiHeadAttention", "GroupedQueryAttention", "GroupQueryAttention"})
# Layers that always take a list of tensors, even a single one.
LIST_INPUTS = frozenset({"Attention", "AdditiveAttention"})


class BuildError(Exception):
    """The graph cannot become a Keras model; ``node_id`` is the layer to blame (or None)."""

    def __init__(self, node_id: str | None, message: str) -> None:
        self.node_id = node_id
        self.message = message
        super().__init__(message)


class LayerConfigError(BuildError):
    """Keras rejected a node's parameters; ``message`` is one beginner-readable line."""


def layer_config(node: Node) -> dict[str, Any]:
    """The Keras config of ``node``: its params plus its name (lists stay lists)."""
    config = copy.deepcopy(node.params)
    config.pop(CALL_KWARGS_KEY, None)
    config["name"] = node.name
    return config


def call_kwargs(node: Node) -> dict[str, Any]:
    """Extra keyword arguments for calling the layer (see ``CALL_KWARGS_KEY``)."""
    extra = node.params.get(CALL_KWARGS_KEY) or {}
    return dict(extra) if isinstance(extra, dict) else {}


def _graph_execution_cause(text: str) -> str:
    """TensorFlow's "Graph execution error" without its Python stack: the cause and where."""
    if not text.lstrip().startswith("Graph execution error"):
        return text
    node = re.search(r"Detected at node '?([^\s']+?)'? defined at", text)
    lines = [ln.strip() for ln in text.splitlines()]
    cause = [
        ln for ln in lines[1:]
        if ln and not ln.startswith(("File ", "Detected at node", "[[{{node")) and not ln.startswith("[Op:")
    ]  # fmt: skip
    message = " ".join(cause).strip() or "TensorFlow could not run the training step"
    message = re.sub(r"\s*\[\[\{\{node [^}]*\}\}\]\].*$", "", message)
    message = re.sub(r"\s*\[Op:[^\]]*\]\s*(name:.*)?$", "", message)
    where = node.group(1).split("/") if node else []
    where = [w for w in where if w not in ("gradient_tape",)]
    return f"{message} (in {'/'.join(where)})" if where else message


def clean_keras_message(exc: BaseException | str) -> str:
    """Keras' error text reduced to its last real cause, on one line."""
    text = str(exc)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    text = _graph_execution_cause(text)
    # Keras wraps errors repeatedly ("... Exception encountered: <cause>").
    if "Exception encountered:" in text:
        text = text.rsplit("Exception encountered:", 1)[1]
    m = re.search(r"Exception encountered when calling [\w.]+\(\)\.\s*(.*)", text, re.S)
    if m:
        text = m.group(1)
    text = text.split("Arguments received by", 1)[0]
    text = text.split("Full object config:", 1)[0]
    text = text.replace(" with name 'None'", "")
    text = re.sub(r"<class '(?:[\w]+\.)*(\w+)'>", r"\1", text)
    text = " ".join(text.split()).strip()
    m = re.match(r"Unrecognized keyword arguments? passed to \w+: \{(.*)\}$", text)
    if m:
        keys = re.findall(r"'([^']+)':", m.group(1))
        names = ", ".join(f"'{k}'" for k in keys) or m.group(1)
        return f"unexpected parameter {names}"
    m = re.search(r"__init__\(\) got an unexpected keyword argument '([^']+)'", text)
    if m:
        return f"unexpected parameter '{m.group(1)}'"
    m = re.search(r"__init__\(\) missing \d+ required (?:positional|keyword-only) arguments?: (.*)$", text)
    if m:
        names = m.group(1).replace(" and ", ", ")
        return f"missing required parameter{'s' if ',' in names else ''} {names}"
    if len(text) > 400:
        text = text[:397] + "..."
    if not text and isinstance(exc, BaseException):
        return type(exc).__name__
    return text


def describe(node: Node) -> str:
    return f"{node.class_name} '{node.name}'"


def is_known_class(class_name: str) -> bool:
    """Whether ``class_name`` is a Keras layer (or model) class, without instantiating it."""
    import keras

    if class_name in MODEL_CLASSES:
        return True
    cls = getattr(keras.layers, class_name, None)
    return isinstance(cls, type) and issubclass(cls, keras.layers.Layer)


def make_input(node: Node) -> Any:
    """The symbolic input tensor of an InputLayer node (``keras.Input``)."""
    import keras

    params = dict(node.params)
    shape = params.get("shape")
    batch_size = params.get("batch_size")
    if shape is None and params.get("batch_shape") is not None:
        batch_shape = list(params["batch_shape"])
        shape, batch_size = batch_shape[1:], batch_shape[0]
    if shape is None:
        raise LayerConfigError(node.id, f"{describe(node)}: no input shape set (e.g. [28, 28, 1])")
    if isinstance(shape, int):
        shape = [shape]
    if not isinstance(shape, (list, tuple)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape
    ):
        raise LayerConfigError(
            node.id, f"{describe(node)}: shape must be a list of positive whole numbers, got {shape!r}"
        )
    kwargs: dict[str, Any] = {"shape": tuple(shape), "name": node.name}
    for key in ("dtype", "sparse", "ragged", "optional"):
        if params.get(key) not in (None, False):
            kwargs[key] = params[key]
    if batch_size is not None:
        kwargs["batch_size"] = batch_size
    try:
        return keras.Input(**kwargs)
    except (TypeError, ValueError) as exc:
        raise LayerConfigError(node.id, f"{describe(node)}: {clean_keras_message(exc)}") from None


def make_layer(node: Node, *, unsafe: bool = False) -> Any:
    """A new Keras layer for ``node``, deserialized in safe mode.

    Raises LayerConfigError for an unknown class, a config Keras rejects, or a
    config that needs arbitrary code (unless ``unsafe``).
    """
    import keras

    if not is_known_class(node.class_name):
        raise LayerConfigError(node.id, f"{describe(node)}: unknown layer type '{node.class_name}' (not a Keras layer)")
    config = layer_config(node)
    if not unsafe:
        from app.engine.safety import scan_config

        reasons = scan_config(config)
        if node.class_name == "Lambda":
            reasons.insert(0, "a Lambda layer runs arbitrary Python code")
        if reasons:
            raise LayerConfigError(
                node.id, f"{describe(node)}: refused in safe mode: {reasons[0]}"
            )
    payload = {
        "module": MODEL_CLASSES.get(node.class_name, "keras.layers"),
        "class_name": node.class_name,
        "config": config,
        "registered_name": None,
    }
    try:
        layer = keras.saving.deserialize_keras_object(payload, safe_mode=not unsafe)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise LayerConfigError(node.id, f"{describe(node)}: {clean_keras_message(exc)}") from None
    if not isinstance(layer, keras.layers.Layer):
        raise LayerConfigError(node.id, f"{describe(node)}: '{node.class_name}' is not a layer")
    return layer
