"""The standalone ``train.py``: its template and the code generated into it.

The script imports keras and tensorflow, never ``app``. It builds the network
as plain ``keras.layers.X(...)`` calls (one line per layer, only the
parameters that differ from Keras' defaults), puts the same preprocessing
layers in front that LayerLab's trainer does, reads a folder with
``keras.utils.image_dataset_from_directory`` (same split, seed, image size and
colour mode; classes in sorted folder-name order) and compiles and fits the
way ``app.engine.compile`` and ``app.engine.train`` do.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import json
import keyword
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from app.core.graph import INPUT_CLASS, NetworkGraph, Node
from app.core.project import Project
from app.engine.compile import target_form

INDENT = "    "
MAX_LINE = 100
# Names of the script itself no layer variable may take (with its functions, see _reserved()).
_RESERVED = {"keras", "num_classes", "model", "inputs", "x", "tf", "np", "self", "os", "sys", "json",
             "argparse", "contextlib", "path"}  # fmt: skip
_BUILTINS = set(dir(builtins))
_OBJECT_MODULES = ("keras.initializers", "keras.regularizers", "keras.constraints")


class ScriptError(ValueError):
    """The project cannot be written as a training script; the message says why."""


class Code(str):
    """Python source to insert as it is (not as a string literal)."""


# -- Python literals ----------------------------------------------------------------
# Everything from a project file is data: it reaches the script only through
# literal() (repr-escaped str/int/float/bool/None, lists and dicts of those) or
# doc_text() (escaped text inside the docstring). Identifiers come from a fixed
# vocabulary: Keras classes that exist, argument names from their signatures,
# and variable names made by identifier().
MAX_DEPTH = 32


def literal(value: Any, _depth: int = 0) -> str:
    """``value`` (JSON-like data) as a Python literal; short number lists become tuples."""
    if _depth > MAX_DEPTH:
        raise ScriptError(f"a value is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, Code):
        return str(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f'float("{value}")'
        if len(repr(value)) > 10 and 0 < value < 0.5 and 1 / round(1 / value) == value:
            return f"1 / {round(1 / value)}"  # 1 / 255 rather than 0.00392156862745098
        return repr(float(value))
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, (list, tuple)):
        items = [literal(v, _depth + 1) for v in value]
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value):
            return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
        return "[" + ", ".join(items) + "]"
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise ScriptError(f"cannot write a dictionary key of type {type(k).__name__} as Python")
        pairs = (f"{literal(k, _depth + 1)}: {literal(v, _depth + 1)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise ScriptError(f"cannot write a value of type {type(value).__name__} as Python")


def string_literal(text: str) -> str:
    """``repr(text)``, in double quotes when that needs no escaping (the script's style)."""
    r = repr(str(text))
    if r[0] == "'" and '"' not in text:
        r = '"' + r[1:-1] + '"'
    return r


def doc_text(text: str) -> str:
    """Text for inside the script's docstring: one line, every quote, backslash and control escaped."""
    out = []
    for ch in " ".join(str(text).split()):
        if ch in '\\"':
            out.append("\\" + ch)
        elif not ch.isprintable():
            out.append(f"\\\\u{ord(ch):04x}")  # shown as \uXXXX, never as the character
        else:
            out.append(ch)
    return "".join(out).replace("%(", "% (")  # argparse %-formats a description holding "%(prog)"


def comment_text(text: str) -> str:
    """Our own comment text: one printable line whatever went into it."""
    return "".join(ch if ch.isprintable() else "?" for ch in " ".join(str(text).split()))


@functools.cache
def init_arguments(cls: type) -> frozenset[str]:
    """Keyword names ``cls(...)`` takes: its ``__init__`` and its bases' (Keras passes ``**kwargs`` up)."""
    names: set[str] = set()
    for c in cls.__mro__:
        init = c.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        names |= {p.name for p in params if p.kind in kinds}
    return frozenset(n for n in names - {"self"} if is_safe_keyword(n))


def is_safe_keyword(name: Any) -> bool:
    return isinstance(name, str) and name.isidentifier() and name.isascii() and not keyword.iskeyword(name)


def keras_class(module: Any, name: Any) -> type | None:
    """The class ``module.name`` when it is a real class there (never anything else from a file)."""
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        return None
    cls = getattr(module, name, None)
    return cls if isinstance(cls, type) else None


def keras_object(value: Any) -> Code | None:
    """A serialized initializer/regularizer/constraint -> ``keras.initializers.HeNormal(...)``.

    Only a real class of that module, called with arguments its signature has; None otherwise
    (the value is then written as the plain config dict, which Keras reads as well).
    """
    import keras

    if not isinstance(value, Mapping):
        return None
    module, name, config = value.get("module"), value.get("class_name"), value.get("config")
    if module not in _OBJECT_MODULES or not isinstance(config, Mapping):
        return None
    if value.get("registered_name") not in (None, name):
        return None
    cls = keras_class(getattr(keras, module.split(".")[1]), name)
    if cls is None:
        return None
    args = {k: v for k, v in config.items() if v is not None}
    if not set(args) <= init_arguments(cls):
        return None
    return Code(f"{module}.{cls.__name__}(" + ", ".join(f"{k}={literal(v)}" for k, v in args.items()) + ")")


def call(func: str, args: Sequence[tuple[str | None, Any]], suffix: str = "", indent: int = 1) -> str:
    """``func(a=1, b=2)suffix``, one argument per line when it would be too long."""
    pad = INDENT * indent
    for k, _ in args:
        if k is not None and not is_safe_keyword(k):
            raise ScriptError(f"cannot use {k!r} as an argument name")
    parts = [literal(v) if k is None else f"{k}={literal(v)}" for k, v in args]
    line = f"{pad}{func}({', '.join(parts)}){suffix}"
    if len(line) <= MAX_LINE or not parts:
        return line
    inner = pad + INDENT
    body = "".join(f"{inner}{p},\n" for p in parts)
    return f"{pad}{func}(\n{body}{pad}){suffix}"


# -- layer parameters ----------------------------------------------------------------
def _json_safe(value: Any) -> Any:
    from app.engine.model_import import json_safe

    return json_safe(value)


@functools.cache
def _required_args(cls: type) -> tuple[str, ...]:
    sig = inspect.signature(cls.__init__)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(n for n, p in sig.parameters.items() if n != "self" and p.kind in kinds and p.default is p.empty)


@functools.cache
def _signature_order(cls: type) -> dict[str, int]:
    return {n: i for i, n in enumerate(n for n in inspect.signature(cls.__init__).parameters if n != "self")}


@functools.cache
def _default_config(cls: type, required: str) -> dict[str, Any]:
    """The config of ``cls(**required)`` (JSON text, so that it can key the cache)."""
    try:
        return _json_safe(cls(**json.loads(required)).get_config())
    except Exception:  # noqa: BLE001 - a class that cannot be built bare: keep every parameter
        return {}


def config_arguments(layer: Any) -> list[tuple[str, Any]] | None:
    """The built layer's parameters that differ from a default layer of its class (required ones always).

    Keras' own config of the layer, not the file's params, without its name; None when a key is
    not an argument of the class (the layer is then rebuilt from its config instead).
    """
    cls = type(layer)
    config = _json_safe(layer.get_config())
    config.pop("name", None)
    required = [k for k in _required_args(cls) if k in config]
    try:
        default = _default_config(cls, json.dumps({k: config[k] for k in required}, sort_keys=True))
    except (TypeError, ValueError):
        default = {}
    order = _signature_order(cls)
    keys = sorted(config, key=lambda k: (order.get(k, len(order)), k))
    args = [(k, config[k]) for k in keys if k in required or k not in default or default[k] != config[k]]
    if not {k for k, _ in args} <= init_arguments(cls):
        return None
    return [(k, keras_object(v) or v) for k, v in args]


# -- the network --------------------------------------------------------------------
def identifier(name: str, taken: set[str]) -> str:
    """A variable for a layer: its name as a plain lower-case ASCII identifier, never the name itself.

    Not a keyword, builtin or a name the script uses; ``layer`` (numbered) when nothing is left.
    """
    base = re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")[:40].strip("_") or "layer"
    if base[0].isdigit():
        base = f"layer_{base}"
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in _BUILTINS or base in _reserved():
        base = f"{base}_"
    ident, i = base, 2
    while ident in taken:
        ident, i = f"{base}_{i}", i + 1
    taken.add(ident)
    return ident


@functools.cache
def _reserved() -> frozenset[str]:
    code = TEMPLATE + _CLASS_WEIGHTS_FUNCTION + _ADAPT_FUNCTION
    return frozenset(_RESERVED | set(re.findall(r"^def (\w+)", code, re.M)))


def _input_line(node: Node, var: str) -> str:
    params = node.params
    shape = params.get("shape")
    batch = params.get("batch_size")
    if shape is None and params.get("batch_shape") is not None:
        shape, batch = list(params["batch_shape"])[1:], params["batch_shape"][0]
    args: list[tuple[str | None, Any]] = [("shape", list(shape or []))]
    if params.get("dtype") not in (None, "float32"):
        args.append(("dtype", params["dtype"]))
    if batch is not None:
        args.append(("batch_size", batch))
    args.append(("name", node.name))
    return call("keras.Input", args, indent=1).replace(f"{INDENT}keras.Input(", f"{INDENT}{var} = keras.Input(", 1)


def units_node(graph: NetworkGraph) -> Node | None:
    """The layer whose units are the classes: what LayerLab's trainer adapts to the data."""
    from app.engine.train import adapt_output

    outputs = graph.output_nodes()
    if len(outputs) != 1:
        return None
    probe = graph.copy()
    before = {n.id: dict(n.params) for n in probe}
    if adapt_output(probe, 10_007) is None:  # an odd class count no real layer has
        return None
    changed = [n.id for n in probe if n.params != before[n.id]]
    return graph.node(changed[0]) if changed else None


def preprocessing_configs(project: Project, shape: Sequence[int]) -> list[dict[str, Any]]:
    """The layers LayerLab's trainer puts between the input and the network."""
    from app.engine.data_pipeline import preprocessing_layers

    stats: dict[str, Any] = {}
    if project.data.normalization == "standardize":
        # Placeholders: the script adapts the layer to its own training images.
        stats = {"mean": [0.0] * shape[2], "variance": [1.0] * shape[2]}
    try:
        return list(preprocessing_layers(project.data, tuple(shape), **stats))
    except (TypeError, ValueError) as exc:
        raise ScriptError(f"data settings: {exc}") from None


_PRE_COMMENTS = {
    "RandomFlip": "random flips",
    "RandomRotation": "random rotations",
    "RandomZoom": "random zoom",
    "RandomTranslation": "random shifts",
    "RandomContrast": "random contrast",
    "RandomBrightness": "random brightness",
}


def network_code(project: Project, adapt_units: bool = True) -> tuple[list[str], dict[str, Any]]:
    """The body of ``build_model(num_classes)`` and facts the rest of the script needs."""
    import keras

    from app.engine.build import takes_list
    from app.engine.layers import POSITIONAL_INPUTS, call_kwargs, make_layer

    graph = project.graph
    inputs = graph.input_nodes()
    if len(inputs) != 1:
        raise ScriptError(f"the script reads one image per sample; this network has {len(inputs)} inputs")
    outputs = graph.output_nodes()
    if len(outputs) != 1:
        raise ScriptError(f"the script trains one output; this network has {len(outputs)}")
    if graph.find_cycle():
        raise ScriptError("the network has a loop; fix it before exporting")
    inp = inputs[0]
    shape = inp.params.get("shape") or list(inp.params.get("batch_shape") or [None])[1:]
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) != 3
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
        or shape[2] not in (1, 3, 4)
    ):
        raise ScriptError(
            f"input '{inp.name}' must be a fixed image shape [height, width, 1|3|4] "
            f"to be read from image files (it is {shape!r})"
        )
    units = units_node(graph) if adapt_units else None
    mixed = bool(project.training.mixed_precision)
    taken: set[str] = set()
    var: dict[str, str] = {}
    lines: list[str] = []
    lines.append(f"{INDENT}# The input: images as decoded from the files, pixel values 0..255.")
    lines.append(_input_line(inp, "inputs"))
    var[inp.id] = "inputs"

    pre = preprocessing_configs(project, shape)
    names = {n.name for n in graph}
    pre_names: list[str] = []
    if pre:
        lines.append("")
        lines += _preprocessing_comment(project, pre)
        x = "inputs"
        for cfg in pre:
            class_name = str(cfg.get("class_name"))
            if keras_class(keras.layers, class_name) is None:  # pragma: no cover - our own configs
                raise ScriptError(f"unknown preprocessing layer {class_name!r}")
            params = dict(cfg.get("config") or cfg.get("params") or {})
            if class_name == "Normalization":
                params.pop("mean", None)  # learnt by adapt_normalization() in the script
                params.pop("variance", None)
            name = str(params.pop("name", None) or _snake(class_name))
            base, i = name, 2
            while name in names:
                name, i = f"{base}_{i}", i + 1
            names.add(name)
            pre_names.append(name)
            args = [*params.items(), ("name", name)]
            lines.append(call(f"x = keras.layers.{class_name}", args, suffix=f"({x})"))
            x = "x"
        var[inp.id] = "x"
        taken.add("x")

    lines.append("")
    lines.append(f"{INDENT}# The network, one layer per line.")
    built = _Layers()
    for nid in graph.topological_order():  # a loop, not recursion: any depth of network
        node = graph.node(nid)
        if node.class_name == INPUT_CLASS:
            continue
        edges = graph.inputs_of(nid)
        if not edges:
            raise ScriptError(f"layer '{node.name}' has no input: connect it or remove it")
        layer, plain_args = built.get(node)
        args_in = []
        for e in edges:
            if e.src not in var:
                raise ScriptError(f"layer '{node.name}' takes an input that is not built before it")
            ref = var[e.src]
            if _is_multi_output(graph.node(e.src)):
                ref = f"{ref}[{int(e.src_port)}]"
            args_in.append(ref)
        if node.class_name in POSITIONAL_INPUTS:
            call_args = ", ".join(args_in)
        elif takes_list(node, layer, len(args_in)):
            call_args = "[" + ", ".join(args_in) + "]"
        else:
            call_args = args_in[0]
        extra = call_kwargs(node)
        allowed = call_arguments(layer)
        for k in extra:
            if k not in allowed:
                raise ScriptError(f"layer '{node.name}': {k!r} is not an argument of calling {type(layer).__name__}")
        if extra:
            call_args += ", " + ", ".join(f"{k}={literal(v)}" for k, v in extra.items())
        name = identifier(node.name, taken)
        var[nid] = name
        class_name = layer_class_name(node, layer)
        if class_name and plain_args is not None:
            args: list[tuple[str, Any]] = [*plain_args, ("name", node.name)]
            if units is not None and node.id == units.id:
                key = "units" if any(k == "units" for k, _ in args) else "filters"
                args = [(k, Code("num_classes") if k == key else v) for k, v in args]
            if mixed and node.id == outputs[0].id:
                args = [(k, v) for k, v in args if k != "dtype"]
                args.insert(len(args) - 1, ("dtype", "float32"))
            lines.append(call(f"{name} = keras.layers.{class_name}", args, suffix=f"({call_args})"))
        else:
            layer = make_layer(node)  # the config below carries this node's own name
            config = _json_safe(keras.layers.serialize(layer))
            what = type(layer).__name__
            what = f"A whole {what} model" if isinstance(layer, keras.Model) else f"A {what} layer"
            lines.append(f"{INDENT}# {comment_text(what)}, rebuilt from its Keras config.")
            lines.append(
                call(f"{name} = keras.layers.deserialize", [(None, config)], suffix=f"({call_args})")
            )
    out_var = var[outputs[0].id]
    lines.append("")
    lines.append(call("return keras.Model", [("inputs", Code("inputs")), ("outputs", Code(out_var)),
                                             ("name", model_name(project.name))]))
    facts = {
        "shape": list(shape),
        "units_node": units,
        "designed_units": _units_of(units) if units is not None else None,
        "preprocessing": pre_names,
        "standardize": any(str(c.get("class_name")) == "Normalization" for c in pre),
    }
    return lines, facts


def _preprocessing_comment(project: Project, pre: Sequence[Mapping[str, Any]]) -> list[str]:
    what = [_PRE_COMMENTS[c["class_name"]] for c in pre if c.get("class_name") in _PRE_COMMENTS]
    comment = ""
    if what:
        comment = f"Data augmentation ({', '.join(what)}), active only while training. "
    norm = project.data.normalization
    if norm != "none":
        how = "standardization" if norm == "standardize" else "scaling to 0..1"
        comment += f"{'Then ' if what else ''}{how} of the pixel values. "
    comment += "The same layers LayerLab puts in front of the network."
    comment = comment[0].upper() + comment[1:]
    return [f"{INDENT}# {line}" for line in _wrap(comment, MAX_LINE - len(INDENT) - 2)]


def layer_class_name(node: Node, layer: Any) -> str | None:
    """The ``keras.layers`` name of the built layer's class, or None (a nested model, ...)."""
    import keras

    cls = type(layer)
    for name in (cls.__name__, node.class_name):
        if keras_class(keras.layers, name) is cls:
            return name
    return None


def call_arguments(layer: Any) -> frozenset[str]:
    """Keyword arguments the layer's ``call`` takes besides its inputs (Keras adds ``training``, ``mask``)."""
    return _call_arguments(type(layer))


@functools.cache
def _call_arguments(cls: type) -> frozenset[str]:
    try:
        params = list(inspect.signature(cls.call).parameters.values())
    except (TypeError, ValueError, AttributeError):
        params = []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = {p.name for p in params[2:] if p.kind in kinds}  # after self and the inputs
    return frozenset(n for n in names | {"training", "mask"} if is_safe_keyword(n))


class _Layers:
    """Built layers by class and params: a 10,000-layer chain of a few kinds builds a few layers."""

    def __init__(self) -> None:
        self._built: dict[str, tuple[Any, list[tuple[str, Any]] | None]] = {}

    def get(self, node: Node) -> tuple[Any, list[tuple[str, Any]] | None]:
        """(layer, its arguments without the name, or None: rebuilt from config) for ``node``."""
        from app.engine.layers import CALL_KWARGS_KEY, LayerConfigError, make_layer

        params = {k: v for k, v in node.params.items() if k != CALL_KWARGS_KEY}
        try:
            key: str | None = json.dumps([node.class_name, params], sort_keys=True)
        except (TypeError, ValueError):
            key = None
        if key is not None and key in self._built:
            return self._built[key]
        try:
            layer = make_layer(node)
        except LayerConfigError as exc:
            raise ScriptError(f"layer '{node.name}': {exc.message}") from None
        found = (layer, config_arguments(layer) if layer_class_name(node, layer) else None)
        if key is not None:
            self._built[key] = found
        return found


def model_name(name: str) -> str:
    """The Keras model name LayerLab's builder gives the project (Keras refuses '/')."""
    return re.sub(r"[^\w.-]+", "_", str(name or "")).strip("_") or "model"


def _units_of(node: Node) -> Any:
    return node.params.get("units", node.params.get("filters"))


def _is_multi_output(node: Node) -> bool:
    """Layers whose call returns several tensors (RNNs with return_state)."""
    return bool(node.params.get("return_state"))


def _snake(class_name: str) -> str:
    s = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", s).lower()


# -- compile and fit -------------------------------------------------------------------
def learning_rate_code(project: Project) -> list[str]:
    """The body of ``make_learning_rate(steps_per_epoch, epochs)`` (app.engine.compile)."""
    t = project.training
    s = t.schedule
    p = INDENT
    lr = float(t.learning_rate)
    alpha = 0.0 if lr <= 0 else min(1.0, max(0.0, float(s.min_learning_rate) / lr))
    if s.name in ("constant", "reduce_on_plateau"):
        note = (
            "# A constant rate; ReduceLROnPlateau (in make_callbacks) lowers it when progress stalls."
            if s.name == "reduce_on_plateau"
            else "# A constant learning rate."
        )
        return [f"{p}{note}", f"{p}return LEARNING_RATE"]
    return [f"{p}import keras", "", *_schedule_lines(t, alpha)]


def _schedule_lines(t: Any, alpha: float) -> list[str]:
    s = t.schedule
    p = INDENT
    schedules = "keras.optimizers.schedules"
    if s.name == "step":
        return [
            f"{p}# Step decay: multiply by {float(s.factor)} every {int(s.step_epochs)} epochs.",
            call(
                f"return {schedules}.ExponentialDecay",
                [(None, Code("LEARNING_RATE")), ("decay_steps", Code(f"{max(1, int(s.step_epochs))} * steps_per_epoch")),
                 ("decay_rate", float(s.factor)), ("staircase", True)],
            ),
        ]
    if s.name == "exponential":
        return [
            f"{p}# Exponential decay: multiplied by {float(s.factor)} over each epoch.",
            call(
                f"return {schedules}.ExponentialDecay",
                [(None, Code("LEARNING_RATE")), ("decay_steps", Code("steps_per_epoch")),
                 ("decay_rate", float(s.factor))],
            ),
        ]
    if s.name == "cosine":
        return [
            f"{p}# Cosine decay over the whole run, down to {float(s.min_learning_rate)}.",
            call(
                f"return {schedules}.CosineDecay",
                [(None, Code("LEARNING_RATE")), ("decay_steps", Code("steps_per_epoch * epochs")),
                 ("alpha", alpha)],
            ),
        ]
    if s.name == "warmup_cosine":
        return [
            f"{p}# Linear warm-up for {int(s.warmup_epochs)} epoch(s), then cosine decay.",
            f"{p}total = steps_per_epoch * epochs",
            f"{p}warmup = min({max(0, int(s.warmup_epochs))} * steps_per_epoch, total - 1)",
            f"{p}if warmup == 0:",
            call(f"return {schedules}.CosineDecay", [(None, Code("LEARNING_RATE")), ("decay_steps", Code("total")),
                                                     ("alpha", alpha)], indent=2),
            call(
                f"return {schedules}.CosineDecay",
                [(None, Code("LEARNING_RATE / warmup")), ("decay_steps", Code("total - warmup")), ("alpha", alpha),
                 ("warmup_target", Code("LEARNING_RATE")), ("warmup_steps", Code("warmup"))],
            ),
        ]
    raise ScriptError(f"unknown learning-rate schedule '{s.name}'")


def optimizer_code(project: Project) -> str:
    """``keras.optimizers.X(learning_rate, ...)`` as app.engine.compile.make_optimizer builds it."""
    t = project.training
    name = t.optimizer.lower()
    classes = {
        "adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop",
        "nadam": "Nadam", "adagrad": "Adagrad", "adamax": "Adamax", "lion": "Lion",
    }  # fmt: skip
    if name not in classes:
        raise ScriptError(f"unknown optimizer '{t.optimizer}'")
    args: list[tuple[str | None, Any]] = [(None, Code("learning_rate"))]
    if name == "sgd":
        args += [("momentum", float(t.momentum)), ("nesterov", bool(t.nesterov))]
    if name == "rmsprop":
        args.append(("momentum", float(t.momentum)))
    wd = float(t.weight_decay)
    if wd > 0 or name == "adamw":
        args.append(("weight_decay", wd))
    return call(f"return keras.optimizers.{classes[name]}", args)


# -- assembling -----------------------------------------------------------------------
def _check_setting_types(project: Project) -> None:
    """Every setting the script writes has the type it needs; a ScriptError names the first that does not."""
    t, d, sched = project.training, project.data, project.training.schedule
    numbers = {
        "data.validation_split": d.validation_split, "data.seed": d.seed,
        "training.batch_size": t.batch_size, "training.epochs": t.epochs,
        "training.learning_rate": t.learning_rate, "training.momentum": t.momentum,
        "training.weight_decay": t.weight_decay, "training.early_stopping_patience": t.early_stopping_patience,
        "schedule.step_epochs": sched.step_epochs, "schedule.factor": sched.factor,
        "schedule.warmup_epochs": sched.warmup_epochs, "schedule.patience": sched.patience,
        "schedule.min_learning_rate": sched.min_learning_rate,
    }  # fmt: skip
    for key, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ScriptError(f"setting '{key}' must be a number (it is {value!r})")
    texts = {"training.loss": t.loss, "training.optimizer": t.optimizer, "schedule.name": sched.name,
             "data.normalization": d.normalization, "augmentation.flip": d.augmentation.flip}  # fmt: skip
    if not isinstance(t.metrics, (list, tuple)):
        raise ScriptError(f"setting 'training.metrics' must be a list of metric names (it is {t.metrics!r})")
    texts.update({f"training.metrics[{i}]": m for i, m in enumerate(t.metrics)})
    for key, value in texts.items():
        if not isinstance(value, str):
            raise ScriptError(f"setting '{key}' must be text (it is {value!r})")
    flags = {"training.nesterov": t.nesterov, "training.early_stopping": t.early_stopping,
             "training.class_weights": t.class_weights, "training.mixed_precision": t.mixed_precision}  # fmt: skip
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ScriptError(f"setting '{key}' must be true or false (it is {value!r})")
    aug = d.augmentation
    for key in ("rotation", "zoom", "translation", "contrast", "brightness"):
        value = getattr(aug, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ScriptError(f"setting 'augmentation.{key}' must be a number (it is {value!r})")


def _wrap(text: str, width: int = 76) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    if line:
        lines.append(line)
    return lines


def generate_script(project: Project) -> str:
    """The complete ``train.py`` for ``project`` (a classification network on an image folder)."""
    if project.task not in ("classification", "regression"):
        raise ScriptError(
            f"the script trains on a folder of class subfolders; a {project.task} network "
            "needs masks or targets that such a folder does not have"
        )
    _check_setting_types(project)
    t, d = project.training, project.data
    body, facts = network_code(project)
    h, w, c = facts["shape"]
    color = {1: "grayscale", 3: "rgb", 4: "rgba"}[c]
    # The script's output always has one unit per class found, so only the loss decides.
    label_mode = "int" if target_form(t.loss, None) == "sparse" else "categorical"
    accuracy = "accuracy" in t.metrics
    description = [doc_text(line) for line in _wrap(str(project.description or ""))]

    constants = [
        f"IMAGE_SIZE = ({h}, {w})  # height, width: every image is resized to this",
        f'COLOR_MODE = "{color}"  # {c} channel{"s" if c > 1 else ""} per pixel',
        f"VALIDATION_SPLIT = {literal(float(d.validation_split))}  # fraction of --data held out for validation",
        f"SEED = {int(d.seed)}  # the same seed gives the same split and the same initial weights",
        f'LABEL_MODE = "{label_mode}"  # labels: class numbers in sorted folder-name order',
        f"BATCH_SIZE = {int(t.batch_size)}",
        f"EPOCHS = {int(t.epochs)}",
        f"LEARNING_RATE = {literal(float(t.learning_rate))}",
        f"LOSS = {literal(t.loss)}",
        f"METRICS = {literal(list(t.metrics))}",
        f'MONITOR = "{"accuracy" if accuracy else "loss"}"  # the metric that picks the best epoch',
    ]
    if facts["units_node"] is not None:
        constants.append(f"DESIGNED_CLASSES = {literal(facts['designed_units'])}  # output units in the design")
        constants.append(f"OUTPUT_LAYER = {literal(facts['units_node'].name)}  # its units follow the classes")

    callbacks_extra: list[str] = []
    if t.early_stopping:
        callbacks_extra += [
            f"{INDENT}# Stop when the monitored metric has not improved for a while.",
            call(
                "callbacks.append",
                [(None, Code(f"keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, "
                             f"patience={max(0, int(t.early_stopping_patience))})"))],
            ),
        ]
    if t.schedule.name == "reduce_on_plateau":
        s = t.schedule
        callbacks_extra += [
            f"{INDENT}# Lower the learning rate when the monitored metric stops improving.",
            f"{INDENT}callbacks.append(",
            f"{INDENT * 2}keras.callbacks.ReduceLROnPlateau(",
            f"{INDENT * 3}monitor=monitor,",
            f"{INDENT * 3}factor={float(s.factor)!r},",
            f"{INDENT * 3}patience={max(0, int(s.patience))},",
            f"{INDENT * 3}min_lr={float(s.min_learning_rate)!r},",
            f"{INDENT * 3}mode=mode,",
            f"{INDENT * 2})",
            f"{INDENT})",
        ]

    before_build: list[str] = []
    if t.mixed_precision:
        before_build = [
            f"{INDENT}# Mixed precision: float16 maths, float32 weights (the output stays float32).",
            f'{INDENT}keras.config.set_dtype_policy("mixed_float16")',
        ]
    after_build: list[str] = []
    if facts["standardize"]:
        norm = [n for n in facts["preprocessing"] if n.startswith("normalization")]
        after_build = [
            f"{INDENT * 2}# Standardization learns the pixels' mean and variance from training images.",
            f"{INDENT * 2}adapt_normalization(model, {literal(norm[0] if norm else 'normalization')}, train_ds)",
        ]
    fit_extra = ""
    extra_functions: list[str] = []
    if t.class_weights:
        fit_extra = f"\n{INDENT * 2}class_weight=balanced_class_weights(train_ds, num_classes),"
        extra_functions.append(_CLASS_WEIGHTS_FUNCTION)
    if facts["standardize"]:
        extra_functions.append(_ADAPT_FUNCTION)
    class_check: list[str] = []
    if facts["units_node"] is not None:
        class_check = [
            f"{INDENT}if num_classes != DESIGNED_CLASSES:",
            f"{INDENT * 2}print(",
            f'{INDENT * 3}f"The data has {{num_classes}} classes: the output layer {{OUTPUT_LAYER!r}} gets "',
            f'{INDENT * 3}f"{{num_classes}} units (designed for {{DESIGNED_CLASSES}})."',
            f"{INDENT * 2})",
        ]

    parts = {
        "NAME": doc_text(project.name or "model"),
        "DESCRIPTION": "\n".join(description) + ("\n\n" if description else ""),
        "CONSTANTS": "\n".join(constants),
        "NETWORK": "\n".join(body),
        "LEARNING_RATE": "\n".join(learning_rate_code(project)),
        "OPTIMIZER": optimizer_code(project),
        "CALLBACKS_EXTRA": "\n".join(callbacks_extra) + ("\n" if callbacks_extra else ""),
        "EXTRA_FUNCTIONS": "".join(f"\n\n{f.strip()}\n" for f in extra_functions),
        "CLASS_CHECK": "\n".join(class_check) + ("\n" if class_check else ""),
        "BEFORE_BUILD": "\n".join(before_build) + ("\n" if before_build else ""),
        "AFTER_BUILD": "\n".join(after_build) + ("\n" if after_build else ""),
        "FIT_EXTRA": fit_extra,
    }
    # One pass: a value that happens to hold "@@NAME@@" is never filled in again.
    missing = sorted(set(re.findall(r"@@(\w+)@@", TEMPLATE)) - set(parts))
    if missing:  # pragma: no cover - a template bug
        raise ScriptError(f"template placeholder @@{missing[0]}@@ was not filled")
    text = re.sub(r"@@(\w+)@@", lambda m: parts[m.group(1)], TEMPLATE)
    try:
        ast.parse(text)
    except (SyntaxError, ValueError) as exc:  # pragma: no cover - a generator bug, never written out
        raise ScriptError(f"internal error: the generated script does not parse ({exc})") from None
    return text


_CLASS_WEIGHTS_FUNCTION = '''
def balanced_class_weights(dataset, num_classes):
    """Weights n / (classes * count): rare classes count as much as common ones."""
    import numpy as np

    counts = np.zeros(num_classes, dtype=np.int64)
    for _, labels in dataset:
        labels = np.asarray(labels)
        if labels.ndim > 1 and labels.shape[-1] > 1:  # one-hot labels
            labels = labels.argmax(axis=-1)
        counts += np.bincount(labels.reshape(-1).astype(np.int64), minlength=num_classes)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return {i: float(w) for i, w in enumerate(weights)}
'''

_ADAPT_FUNCTION = '''
def adapt_normalization(model, layer_name, dataset, max_images=10_000):
    """Let a Normalization layer learn each channel's mean and variance from training images."""
    import keras
    import numpy as np

    layer = model.get_layer(layer_name)
    before = keras.Model(model.inputs, layer.input)  # the layers in front of it
    sample, seen = [], 0
    for images, _ in dataset:
        sample.append(np.asarray(before.predict_on_batch(images)))
        seen += len(sample[-1])
        if seen >= max_images:
            break
    layer.adapt(np.concatenate(sample)[:max_images])
'''


# -- the template ---------------------------------------------------------------------
# @@NAME@@ marks what generate_script() fills in; everything else is the script as is.
TEMPLATE = '''\
#!/usr/bin/env python3
"""Train the network "@@NAME@@", exported from LayerLab.

@@DESCRIPTION@@A standalone script: it needs Keras 3 and TensorFlow (which reads the images),
not LayerLab. It builds the same network, reads a folder of images the same
way (one subfolder per class, classes in sorted folder-name order) and trains
it with the same settings:

    python train.py --data DIR --epochs N --out OUTDIR

OUTDIR receives model.keras (the best epoch by the validation metric),
classes.json and history.csv; `layerlab predict OUTDIR IMAGE` reads them.

Scale-out (the global batch stays --batch-size, split across the replicas):

    --distribute mirrored            tf.distribute.MirroredStrategy over all local
                                     GPUs (all logical CPU devices if there is none)
    --distribute jax-data-parallel   keras.distribution.DataParallel over all devices
                                     (JAX backend); on several hosts add
                                     --coordinator-address HOST:PORT
                                     --num-processes N --process-id I
    --logical-cpus N                 split the CPU into N devices, to try either one
                                     on a machine without accelerators
"""

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

# -- Settings exported from LayerLab (edit freely) -------------------------------------
@@CONSTANTS@@


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\\n\\n")[0])
    parser.add_argument("--data", required=True, help="image folder, one subfolder per class")
    parser.add_argument("--validation-data", help="separate validation folder (default: a split)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--out", required=True, help="folder for the model and its history")
    parser.add_argument(
        "--distribute",
        choices=("none", "mirrored", "jax-data-parallel"),
        default="none",
        help="train on several devices (see the top of this file)",
    )
    parser.add_argument("--coordinator-address", help="JAX multi-host: HOST:PORT of process 0")
    parser.add_argument("--num-processes", type=int, help="JAX multi-host: how many processes")
    parser.add_argument("--process-id", type=int, help="JAX multi-host: this process, 0..N-1")
    parser.add_argument("--logical-cpus", type=int, default=0, help="split the CPU into N devices")
    return parser.parse_args(argv)


def choose_backend(args):
    """Pick the Keras backend and the devices; this must run before Keras is imported."""
    if args.distribute == "jax-data-parallel":
        os.environ["KERAS_BACKEND"] = "jax"
    elif args.distribute == "mirrored":
        os.environ["KERAS_BACKEND"] = "tensorflow"
    if args.logical_cpus > 1:
        if os.environ.get("KERAS_BACKEND") == "jax":
            flag = f"--xla_force_host_platform_device_count={args.logical_cpus}"
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
        else:
            import tensorflow as tf

            cpu = tf.config.list_physical_devices("CPU")[0]
            logical = [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
            tf.config.set_logical_device_configuration(cpu, logical)


def distribution_scope(args):
    """Set up --distribute; model building and compiling run inside the returned context."""
    import keras

    if args.distribute == "mirrored":
        import tensorflow as tf

        # One replica per local GPU, or per (logical) CPU device when there is no GPU.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
        print(f"Distribution: MirroredStrategy, {strategy.num_replicas_in_sync} replicas")
        return strategy.scope()
    if args.distribute == "jax-data-parallel":
        if keras.backend.backend() != "jax":
            sys.exit("--distribute jax-data-parallel needs the JAX backend (pip install jax)")
        if args.coordinator_address:
            # Several hosts: every process runs this script with its own --process-id.
            keras.distribution.initialize(
                job_addresses=args.coordinator_address,
                num_processes=args.num_processes,
                process_id=args.process_id,
            )
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        print(f"Distribution: DataParallel, {len(devices)} replicas")
    return contextlib.nullcontext()


def whole_batches(dataset, batch_size):
    """Full batches only: with several processes, Keras splits every batch among them,
    and a partial last batch gives them different numbers of steps (they would hang)."""
    import tensorflow as tf

    n = len(dataset.file_paths) // batch_size
    if n == 0:
        sys.exit(f"fewer images than --batch-size {batch_size}: nothing to share among processes")
    whole = dataset.rebatch(batch_size, drop_remainder=True)
    return whole.apply(tf.data.experimental.assert_cardinality(n))


def load_datasets(data_dir, validation_dir, batch_size, whole=False):
    """Read the image folders the way LayerLab does (same split, seed, size and colours).

    ``whole``: drop each set's partial last batch (for a run over several processes).
    """
    import keras
    import tensorflow as tf

    options = {
        "image_size": IMAGE_SIZE,
        "color_mode": COLOR_MODE,
        "label_mode": LABEL_MODE,
        "batch_size": batch_size,
        "seed": SEED,
    }
    read = keras.utils.image_dataset_from_directory
    if validation_dir:
        train_ds = read(data_dir, shuffle=True, **options)
        val_ds = read(validation_dir, class_names=train_ds.class_names, shuffle=False, **options)
    elif VALIDATION_SPLIT > 0:
        split = {"validation_split": VALIDATION_SPLIT, "subset": "both"}
        train_ds, val_ds = read(data_dir, **split, **options)
    else:
        train_ds, val_ds = read(data_dir, **options), None
    class_names = list(train_ds.class_names)
    if whole:
        train_ds = whole_batches(train_ds, batch_size)
        val_ds = whole_batches(val_ds, batch_size) if val_ds is not None else None
    train_ds = train_ds.prefetch(tf.data.AUTOTUNE)
    if val_ds is not None:
        val_ds = val_ds.prefetch(tf.data.AUTOTUNE)
    return train_ds, val_ds, class_names


def build_model(num_classes):
    """The network as designed in LayerLab, in Keras' functional API."""
    import keras

@@NETWORK@@


def make_learning_rate(steps_per_epoch, epochs):
    """The learning rate, or a schedule that changes it at every step."""
@@LEARNING_RATE@@


def make_optimizer(learning_rate):
    import keras

@@OPTIMIZER@@


def make_callbacks(out_dir, monitor, mode):
    """Keep the best epoch as model.keras and log every epoch to history.csv."""
    import keras

    callbacks = [
        keras.callbacks.ModelCheckpoint(
            str(out_dir / "model.keras"), monitor=monitor, mode=mode, save_best_only=True
        ),
        keras.callbacks.CSVLogger(str(out_dir / "history.csv")),
    ]
@@CALLBACKS_EXTRA@@    return callbacks
@@EXTRA_FUNCTIONS@@

def main(argv=None):
    args = parse_args(argv)
    choose_backend(args)
    import keras

    scope = distribution_scope(args)
    keras.utils.set_random_seed(SEED)

    several_processes = bool(args.coordinator_address)
    train_ds, val_ds, class_names = load_datasets(
        args.data, args.validation_data, args.batch_size, whole=several_processes
    )
    num_classes = len(class_names)
@@CLASS_CHECK@@    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "classes.json").write_text(json.dumps(class_names, indent=2) + "\\n")

    steps_per_epoch = max(1, int(train_ds.cardinality()))
@@BEFORE_BUILD@@    with scope:
        model = build_model(num_classes)
@@AFTER_BUILD@@        model.compile(
            optimizer=make_optimizer(make_learning_rate(steps_per_epoch, args.epochs)),
            loss=LOSS,
            metrics=METRICS,
        )
    model.summary()

    monitor = ("val_" if val_ds is not None else "") + MONITOR
    mode = "max" if MONITOR == "accuracy" else "min"
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=args.epochs,
        callbacks=make_callbacks(out_dir, monitor, mode),@@FIT_EXTRA@@
    )
    print(f"Best model (by {monitor}): {out_dir / 'model.keras'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
