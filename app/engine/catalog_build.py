"""Generate the layer catalog from Keras' own layer classes.

Every public class in ``keras.layers`` becomes an entry: its category comes
from the module it lives in, its parameters from ``__init__``'s signature and
defaults, its descriptions and enum choices from its docstring. Hand-written
tables cover only what Keras cannot tell (which strings ``padding`` accepts
when the docstring is silent, which layers take a list of inputs, ranges).

The result is a plain JSON file so that ``app.core.catalog`` (and the palette)
can use it before keras has been imported. Run
``python -m app.engine.catalog_build`` after upgrading Keras.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from app.core import catalog as core_catalog
from app.core.atomic import write_text_atomic
from app.paths import cache_dir, resources_dir

# -- what is left out, and why ------------------------------------------------
# Checked by name first; the rules in _skip_reason() catch the same kinds of
# class in a newer Keras.
SKIP_REASONS: dict[str, str] = {
    "Layer": "the abstract base class of all layers",
    "Lambda": "runs arbitrary Python code, which safe mode refuses",
    "TFSMLayer": "wraps a SavedModel from disk; it cannot be designed or saved portably",
    "Wrapper": "an abstract wrapper that needs a nested layer",
    "Bidirectional": "wraps a nested recurrent layer (a Python object)",
    "TimeDistributed": "wraps a nested layer (a Python object)",
    "SpectralNormalization": "wraps a nested layer (a Python object)",
    "RNN": "needs a cell object; use LSTM, GRU or SimpleRNN",
    "StackedRNNCells": "needs a list of cell objects",
    "GRUCell": "only usable inside an RNN layer; use GRU",
    "LSTMCell": "only usable inside an RNN layer; use LSTM",
    "SimpleRNNCell": "only usable inside an RNN layer; use SimpleRNN",
    "Pipeline": "needs a list of layer objects",
    "JaxLayer": "wraps JAX functions (backend-specific code)",
    "FlaxLayer": "wraps a Flax module (backend-specific code)",
    "TorchModuleWrapper": "wraps a PyTorch module (backend-specific code)",
    "InputSpec": "not a layer (describes a layer's expected input)",
}
_OBJECT_ARGS = {"layer", "layers", "cell", "cells", "module", "function", "call_fn", "filepath"}

# -- categories ---------------------------------------------------------------
_PACKAGE_CATEGORY = {
    "activations": "activation",
    "attention": "attention",
    "convolutional": "convolution",
    "core": "core",
    "merging": "merging",
    "normalization": "normalization",
    "pooling": "pooling",
    "preprocessing": "preprocessing",
    "regularization": "regularization",
    "reshaping": "reshaping",
    "rnn": "recurrent",
}

# -- how many inputs a layer takes (Keras cannot tell from the signature) ------
# (min, max or None for unbounded, how they are passed: "list" or "positional")
_MANY_INPUTS: dict[str, tuple[int, int | None, str]] = {
    "Subtract": (2, 2, "list"),
    "Dot": (2, 2, "list"),
    "Attention": (2, 3, "list"),
    "AdditiveAttention": (2, 3, "list"),
    "HashedCrossing": (2, None, "list"),
}
_MERGE_DEFAULT = (2, None, "list")

# -- parameter kinds by name --------------------------------------------------
_TUPLE_NAMES = {
    "kernel_size",
    "strides",
    "pool_size",
    "dilation_rate",
    "size",
    "cropping",
    "output_padding",
    "output_size",
    "tile_grid_size",
}
_AXIS_NAMES = {"axis", "axes", "shared_axes", "attention_axes"}
_SHAPE_NAMES = {"shape", "batch_shape", "target_shape", "dims", "noise_shape", "output_shape"}
_ACTIVATION_NAMES = {"activation", "recurrent_activation"}
_DTYPE_NAMES = {"dtype", "reverse_dtype"}
# Parameters whose None default hides a plain type the docstring may not state.
_NAME_KINDS = {
    "seed": "int",
    "value_dim": "int",
    "sliding_window": "int",
    "lora_rank": "int",
    "lora_alpha": "float",
    "max_value": "float",
    "batch_size": "int",
    "num_tokens": "int",
    "num_bins": "int",
    "max_tokens": "int",
    "output_sequence_length": "int",
    "sequence_length": "int",
    "frame_step": "int",
    "fft_length": "int",
    "max_freq": "float",
    "logit_soft_cap": "float",
    "gptq_unpacked_column_size": "int",
    "flash_attention": "bool",
    "sparse": "bool",
    "ragged": "bool",
    "fill_value": "float",
    "bias_axes": "str",
    "equation": "str",
}
# Hand-written enums, used where the docstring lists no choices.
_HAND_ENUMS: dict[str, list[Any]] = {
    "padding": ["valid", "same"],
    "data_format": ["channels_last", "channels_first"],
    "interpolation": [
        "bilinear",
        "nearest",
        "bicubic",
        "area",
        "lanczos3",
        "lanczos5",
        "gaussian",
        "mitchellcubic",
    ],
    "fill_mode": ["reflect", "wrap", "constant", "nearest"],
    "merge_mode": ["sum", "mul", "concat", "ave"],
    "use_cudnn": ["auto", True, False],
}
# Starting at 1: counts and sizes.
_POSITIVE = {
    "filters",
    "units",
    "kernel_size",
    "strides",
    "pool_size",
    "dilation_rate",
    "size",
    "output_size",
    "tile_grid_size",
    "num_heads",
    "key_dim",
    "value_dim",
    "head_dim",
    "num_query_heads",
    "num_key_value_heads",
    "input_dim",
    "output_dim",
    "groups",
    "depth_multiplier",
    "n",
    "height",
    "width",
    "num_bins",
    "num_tokens",
    "max_number",
    "batch_size",
    "power_iterations",
    "lora_rank",
    "sliding_window",
    "num_ops",
    "num_chains",
    "bins",
    "frame_length",
    "frame_step",
    "fft_length",
    "sequence_stride",
    "num_mel_bins",
    "sampling_rate",
}
_NON_NEGATIVE = {"cropping", "output_padding", "stddev", "l1", "l2", "num_oov_indices"}
_RATES = {"rate", "dropout", "recurrent_dropout"}  # a fraction in [0, 1)
_UNIT_INTERVAL = {"momentum", "renorm_momentum"}
_POSITIVE_FLOAT = {"epsilon"}
_ADVANCED_NAMES = {
    "seed",
    "trainable",
    "lora_rank",
    "lora_alpha",
    "gptq_unpacked_column_size",
    "flash_attention",
    "use_cudnn",
    "unroll",
    "stateful",
    "go_backwards",
    "renorm",
    "renorm_momentum",
    "synchronized",
    "batch_size",
    "batch_shape",
    "sparse",
    "ragged",
    "optional",
    "reverse_dtype",
    "sliding_window",
}
_ADVANCED_KINDS = {"initializer", "regularizer", "constraint", "object", "dtype"}
_BASE_KWARGS = {
    "trainable": {
        "name": "trainable",
        "kind": "bool",
        "default": True,
        "description": "Whether the layer's weights are updated during training.",
    },
    "dtype": {
        "name": "dtype",
        "kind": "dtype",
        "default": None,
        "nullable": True,
        "description": "The dtype policy of the layer (None uses the global policy).",
    },
}
# Descriptions Keras does not carry (InputLayer has no docstring of its own).
_SUMMARIES = {
    "InputLayer": "The network's input: the shape of one sample, without the batch size.",
}


# -- docstrings -----------------------------------------------------------------
def _plain(text: str) -> str:
    text = text.replace("`", "").replace("**", "")
    return re.sub(r"\s+", " ", text).strip()


_ABBREVIATIONS = ("a.k.a.", "e.g.", "i.e.", "et al.", "etc.", "vs.", "approx.")


def _sentences(text: str) -> list[str]:
    text = re.sub(r"\.\.(?!\.)", ".", _plain(text))
    out: list[str] = []
    start = 0
    for m in re.finditer(r"[.!?]\s+(?=[A-Z(\"'])", text):
        before = text[start : m.start() + 1].lower()
        if before.endswith(_ABBREVIATIONS):
            continue
        out.append(text[start : m.start() + 1])
        start = m.end()
    out.append(text[start:])
    return [s for s in out if s]


def _first_sentences(text: str, at_least: int = 0, most: int = 1) -> str:
    """The first sentence, and more (up to ``most``) while shorter than ``at_least``."""
    parts = _sentences(text) or [""]
    out = parts[0]
    for part in parts[1:most]:
        if len(out) >= at_least:
            break
        out = f"{out} {part}"
    return out


def _summary(doc: str | None) -> str:
    if not doc:
        return ""
    first_para = inspect.cleandoc(doc).split("\n\n", 1)[0]
    return _first_sentences(first_para)


def _args_section(doc: str | None) -> dict[str, str]:
    """``name -> text`` from a Google-style ``Args:`` section."""
    if not doc:
        return {}
    lines = inspect.cleandoc(doc).splitlines()
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        if lines[i].strip() not in ("Args:", "Arguments:"):
            i += 1
            continue
        head_indent = len(lines[i]) - len(lines[i].lstrip())
        i += 1
        entry_indent: int | None = None
        current: str | None = None
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            indent = len(line) - len(line.lstrip())
            if not stripped:
                i += 1
                continue
            if indent <= head_indent:
                break
            if entry_indent is None:
                entry_indent = indent
            m = re.match(r"(\*{0,2}\w+)\s*(?:\([^)]*\))?:\s*(.*)", stripped)
            if m and indent <= entry_indent + 1:
                current = m.group(1)
                out.setdefault(current, m.group(2))
            elif current is not None and out.get(current) is not None:
                out[current] += "\n" + stripped
            i += 1
    return out


def _class_args(cls: type) -> dict[str, str]:
    """Documented args of ``cls`` and, for those it leaves out, of its bases."""
    docs: dict[str, str] = {}
    for klass in cls.__mro__:
        for key, text in _args_section(klass.__dict__.get("__doc__")).items():
            docs.setdefault(key, text)
    return docs


_LITERAL = re.compile(r"(?:`\"|\"`)([A-Za-z0-9_]+)(?:\"`|`\")")
_BRACED = re.compile(r"`[{\[]([^`]*)[}\]]`")


def _doc_choices(text: str) -> list[str]:
    """Quoted string literals a docstring offers (```"valid"```, ```{"a", "b"}```)."""
    found: list[str] = []
    for m in _BRACED.finditer(text):
        found += re.findall(r"\"([A-Za-z0-9_]+)\"", m.group(1))
    found += _LITERAL.findall(text)
    seen: list[str] = []
    for value in found:
        if value not in seen:
            seen.append(value)
    return seen


# -- parameters -----------------------------------------------------------------
def _json_safe(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"not JSON-safe: {value!r}")


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _dims(class_name: str) -> int | None:
    m = re.search(r"([123])D(?:Transpose)?$", class_name)
    return int(m.group(1)) if m else None


def _doc_type(text: str) -> str | None:
    """The plain type a parameter's text starts with, if it says."""
    head = _plain(text).lower()[:60]
    head = re.sub(r"^((a|an|the|optional|positive|non-negative)\s+)+", "", head)
    if re.match(r"(python\s+)?(int|integer)\b", head):
        return "int"
    if re.match(r"(float|number)\b(?! of)", head):
        return "float"
    if re.match(r"(bool|boolean)\b", head):
        return "bool"
    if re.match(r"(str|string)\b", head):
        return "str"
    return None


_RANGE_TEXT = re.compile(
    r"\b(float|number)s?\b[^.]{0,30}\b(tuple|list)\b|\b(tuple|list)\b[^.]{0,30}\bfloats?\b"
)


def _doc_is_range(text: str) -> bool:
    """The text offers a number or a (lower, upper) pair: "a float or a tuple of two floats"."""
    return bool(_RANGE_TEXT.search(_plain(text).lower()[:120]))


def _param(
    class_name: str, p: inspect.Parameter, docs: dict[str, str], shared: dict[str, list[Any]]
) -> dict[str, Any]:
    """One parameter's schema entry, from its default, its name and its docstring text."""
    name = p.name
    text = docs.get(name, "")
    required = p.default is inspect.Parameter.empty
    default = None if required else p.default
    spec: dict[str, Any] = {"name": name}
    extra: dict[str, Any] = {}
    nullable = default is None and not required
    dims = _dims(class_name)

    if isinstance(default, tuple | list) and not all(
        isinstance(v, int | float | tuple) for v in default
    ):
        kind = "object"
    elif name in _ACTIVATION_NAMES:
        kind = "activation"
        nullable = True
    elif name.endswith("_initializer"):
        kind = "initializer"
    elif name.endswith("_regularizer"):
        kind = "regularizer"
        nullable = True
    elif name.endswith("_constraint"):
        kind = "constraint"
        nullable = True
    elif name in _DTYPE_NAMES:
        kind = "dtype"
        nullable = True
    elif name in _TUPLE_NAMES or (name == "padding" and re.match(r"(ZeroPadding|Cropping)", class_name)):
        if isinstance(default, tuple) or dims or re.search(r"tuple|list", text.lower()):
            kind = "tuple"
            length = dims or (len(default) if isinstance(default, tuple) else None)
            m = re.search(r"(?:tuple|list)\S* of (\d|two|three)\b", text.lower())
            if length is None and m:
                length = {"two": 2, "three": 3}.get(m.group(1)) or int(m.group(1))
            if name in ("cropping", "padding") and dims == 1:
                length = 2  # (start, end)
            elif name in ("cropping", "padding") and dims:
                extra["pairs"] = True
            extra["length"] = length
        else:
            kind = "int"
    elif name in _AXIS_NAMES:
        kind = "axis"
        nullable = nullable or bool(re.search(r"\bnone\b", text.lower()))
    elif name in _SHAPE_NAMES:
        kind = "shape"
    elif isinstance(default, bool):
        kind = "bool"
    elif isinstance(default, tuple) and len(default) == 2:
        kind = "pair"
    elif name.endswith("factor") and (
        isinstance(default, float) or default is None or required
    ) and _doc_type(text) != "int":
        kind = "range" if re.search(r"tuple|list|pair", text.lower()) else "float"
    elif (isinstance(default, float) or default is None) and _doc_is_range(text):
        kind = "range"
    elif isinstance(default, int):
        kind = "int"
    elif isinstance(default, float):
        kind = "float"
    elif isinstance(default, str) or name in _HAND_ENUMS:
        kind = "str"
    elif name in _NAME_KINDS:
        kind = _NAME_KINDS[name]
    elif name in _POSITIVE:
        kind = "int"
    else:
        kind = _doc_type(text) or "object"

    # Enums: the docstring's literals, else a hand-written list.
    if kind == "str" or name in _HAND_ENUMS:
        choices: list[Any] = list(_doc_choices(text))
        if name == "padding" and kind != "tuple":
            choices = [c for c in choices if c in ("valid", "same", "causal", "full")]
        only = len(choices) == 1 and "only" in text.lower()
        if name in _HAND_ENUMS and len(choices) < 2 and not only:
            choices = list(_HAND_ENUMS[name])
        if isinstance(default, str) and default not in choices and choices:
            choices.insert(0, default)
        if kind != "tuple" and (len(choices) >= 2 or only):
            kind = "enum"
            extra["choices"] = choices
            if re.search(r"`none`|\bor none\b", text.lower()) or name == "data_format":
                nullable = True

    if kind in ("initializer", "activation", "regularizer", "constraint", "dtype"):
        table = shared[kind]
        if isinstance(default, str) and default not in table:
            extra["choices"] = [*table, default]

    # Ranges: hand-written names, or the docstring says "between 0 and 1".
    if kind in ("int", "tuple") and name in _POSITIVE:
        extra["minimum"] = 1
    elif kind in ("int", "tuple", "float") and (
        name in _NON_NEGATIVE or (name == "padding" and kind == "tuple")
    ):
        extra["minimum"] = 0
    m = re.search(r"(?:float|integer|int)\s*>=\s*(-?\d+(?:\.\d+)?)", text.lower())
    if m and kind in ("int", "float") and "minimum" not in extra:
        extra["minimum"] = _number(m.group(1))
    if kind in ("float", "range"):
        between = re.search(
            r"between (-?\d+(?:\.\d+)?) and (-?\d+(?:\.\d+)?)\b", _first_sentences(text, most=2)
        )
        if name in _RATES:
            extra.update(minimum=0, maximum=1, exclusive_maximum=True)
        elif name in _UNIT_INTERVAL:
            extra.update(minimum=0, maximum=1)
        elif between:
            extra.update(minimum=_number(between.group(1)), maximum=_number(between.group(2)))
        elif name in _POSITIVE_FLOAT:
            extra.update(minimum=0, exclusive_minimum=True)
    if kind == "int" and name == "factor" and re.search(r"between 1-8", text):
        extra.update(minimum=1, maximum=8)

    spec["kind"] = kind
    spec["required"] = required
    if not required:
        spec["default"] = _json_safe(default)
    if nullable:
        spec["nullable"] = True
    for key in ("choices", "length", "pairs", "minimum", "maximum", "exclusive_minimum", "exclusive_maximum"):
        if extra.get(key) is not None:
            spec[key] = extra[key]
    spec["description"] = _first_sentences(text, at_least=40, most=2) if text else ""
    if kind in _ADVANCED_KINDS or name in _ADVANCED_NAMES:
        spec["advanced"] = True
    return spec


# -- layers ---------------------------------------------------------------------
def _skip_reason(cls: type, layer_base: type) -> str | None:
    name = cls.__name__
    if name in SKIP_REASONS:
        return SKIP_REASONS[name]
    if not issubclass(cls, layer_base):
        return "not a layer"
    module = cls.__module__
    if not module.startswith("keras.src.layers."):
        return f"not a designable layer (defined in {module})"
    if name.endswith(("Cell", "Cells")):
        return "only usable inside an RNN layer"
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return "its constructor cannot be inspected"
    for p in sig.parameters.values():
        if p.name in _OBJECT_ARGS and p.default is inspect.Parameter.empty:
            return f"needs a Python object ({p.name})"
    return None


def _category(cls: type) -> str:
    parts = cls.__module__.split(".")
    package = parts[3] if len(parts) > 3 else ""
    category = _PACKAGE_CATEGORY.get(package, "other")
    if category == "preprocessing" and "image_preprocessing" in parts:
        params = inspect.signature(cls.__init__).parameters
        if cls.__name__.startswith("Random") or "seed" in params:
            category = "augmentation"
    return category


def _inputs(class_name: str, category: str, cls: type) -> dict[str, Any]:
    if class_name == "InputLayer":
        return {"inputs": "none", "min_inputs": 0, "max_inputs": 0}
    spec = _MANY_INPUTS.get(class_name)
    if spec is None and category == "merging":
        spec = _MERGE_DEFAULT
    if spec is None and category == "attention":
        # query, value[, key] as separate arguments of call()
        call = inspect.signature(cls.call).parameters
        tensors = [n for n in ("query", "value", "key") if n in call]
        needed = [n for n in tensors if call[n].default is inspect.Parameter.empty]
        spec = (len(needed), len(tensors), "positional")
    if spec is None:
        return {"inputs": "one", "min_inputs": 1, "max_inputs": 1}
    lo, hi, how = spec
    return {"inputs": "many", "min_inputs": lo, "max_inputs": hi, "input_call": how}


# Stand-ins for required parameters, only to construct a layer and read its config.
_PROBE_VALUES = {"int": 2, "float": 0.5, "range": 0.1, "tuple": 2, "shape": [2], "axis": -1, "activation": "relu"}


def _is_plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _construct(cls: type, kwargs: dict[str, Any]) -> tuple[Any, str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return cls(**kwargs), None
        except Exception as exc:  # Keras raises ValueError, TypeError, KeyError...
            return None, _plain(str(exc)) or type(exc).__name__


def _probe(
    cls: type, class_name: str, params: list[dict[str, Any]], docs: dict[str, str], shared: dict[str, list[Any]]
) -> str | None:
    """Construct the layer to learn what its signature hides; in place on ``params``.

    - a None default that the constructor refuses ("num_tokens must be set") is
      marked required;
    - config keys accepted through ``**kwargs`` (``zero_output_for_mask``) are
      added, so a config from a saved model validates.

    Returns Keras' own message when the layer cannot be constructed from its
    defaults and starting values for a reason no single parameter explains.
    """
    start = core_catalog.STARTING_VALUES.get(class_name, {})
    for _ in range(3):
        kwargs = {p["name"]: p.get("default") for p in params if not p["required"]}
        known = True
        for p in params:
            if p["required"]:
                if p["name"] in start:
                    kwargs[p["name"]] = start[p["name"]]
                elif p["kind"] in _PROBE_VALUES:
                    kwargs[p["name"]] = _PROBE_VALUES[p["kind"]]
                    known = False
                else:
                    return None
        layer, error = _construct(cls, kwargs)
        if layer is not None:
            break
        named = [
            p
            for p in params
            if not p["required"] and p.get("default") is None and re.search(rf"\b{p['name']}\b", error or "")
        ]
        if len(named) != 1:
            return error if known else None
        named[0]["required"] = True
        named[0].pop("default", None)
        named[0].pop("nullable", None)
    else:
        return None
    config = layer.get_config()
    for p in params:
        # a 1D layer that keeps a plain int in its config takes no tuple
        if p["kind"] == "tuple" and p.get("length") == 1 and _is_plain_int(config.get(p["name"])):
            p["kind"] = "int"
            p.pop("length")
        value = config.get(p["name"])
        # an int the layer stores as a tuple also takes one
        if p["kind"] == "int" and isinstance(value, tuple) and value and all(map(_is_plain_int, value)):
            p["kind"] = "tuple"
            p["length"] = len(value)
        # a float the layer stores as (lower, upper) also takes a range
        if p["kind"] == "float" and isinstance(value, tuple | list) and len(value) == 2:
            p["kind"] = "range"
            p.pop("exclusive_minimum", None)
    present = {p["name"] for p in params}
    for key, value in sorted(config.items()):
        if key in present or key == "name":
            continue
        try:
            default = _json_safe(value)
        except TypeError:
            default = None
        if isinstance(default, list):
            default = tuple(default)  # as a signature default would be
        fake = inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default)
        spec = _param(class_name, fake, docs, shared)
        spec.update(advanced=True, hidden=True)
        params.append(spec)
    return None


def _shared_choices(keras: Any) -> dict[str, list[Any]]:
    """Names Keras itself resolves: activations, initializers, regularizers, ..."""
    from keras.src.backend.common import dtypes

    def resolvable(module: Any) -> list[str]:
        names = []
        for n in sorted(dir(module)):
            if n.startswith("_") or n != n.lower() or n in ("get", "serialize", "deserialize"):
                continue
            try:
                module.get(n)
            except Exception:
                continue
            names.append(n)
        return names

    activations = []
    for n in resolvable(keras.activations):
        fn = getattr(keras.activations, n)
        needed = [
            p for p in inspect.signature(fn).parameters.values() if p.default is inspect.Parameter.empty
        ]
        if inspect.isfunction(fn) and len(needed) == 1:
            activations.append(n)
    floats = [d for d in dtypes.FLOAT_TYPES if not d.startswith("float8")]
    floats = sorted(floats, key=lambda d: (d != "float32", d))
    mixed = [f"mixed_{d}" for d in ("float16", "bfloat16") if d in floats]
    return {
        "activation": activations,
        "initializer": resolvable(keras.initializers),
        "regularizer": resolvable(keras.regularizers),
        "constraint": resolvable(keras.constraints),
        "dtype": floats + mixed + list(dtypes.INT_TYPES) + ["bool", "string"],
    }


def keras_version() -> str:
    try:
        return importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        import keras

        return keras.__version__


def build_catalog() -> dict[str, Any]:
    """The catalog document for the installed Keras (imports keras)."""
    import keras

    layer_base = keras.layers.Layer
    by_class: dict[type, list[str]] = {}
    for attr in sorted(dir(keras.layers)):
        obj = getattr(keras.layers, attr)
        if inspect.isclass(obj):
            by_class.setdefault(obj, []).append(attr)

    choices = _shared_choices(keras)
    common = list(core_catalog.COMMON_LAYERS)
    layers: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for cls, exported in by_class.items():
        # One name per class: the canonical __name__ when it is exported.
        name = cls.__name__ if cls.__name__ in exported else exported[0]
        aliases = sorted({*exported, cls.__name__} - {name})
        reason = _skip_reason(cls, layer_base)
        if reason:
            skipped.append({"class_name": name, "reason": reason})
            continue
        docs = _class_args(cls)
        if cls is keras.layers.InputLayer:  # documented on keras.Input only
            input_docs = _args_section(keras.Input.__doc__)
            input_docs.setdefault("input_tensor", input_docs.get("tensor", ""))
            docs = {**docs, **input_docs}
        sig = inspect.signature(cls.__init__)
        params = []
        has_kwargs = False
        for p in list(sig.parameters.values())[1:]:
            if p.kind is p.VAR_KEYWORD:
                has_kwargs = True
                continue
            if p.kind is p.VAR_POSITIONAL or p.name == "name":
                continue
            params.append(_param(name, p, docs, choices))
        if name == "InputLayer":
            for spec in params:
                if spec["name"] == "shape":
                    spec.update(required=True)
                    spec.pop("default", None)
                    spec.pop("nullable", None)
        elif has_kwargs:
            present = {s["name"] for s in params}
            for key, base in _BASE_KWARGS.items():
                if key not in present:
                    params.append({**base, "required": False, "advanced": True})
        note = _probe(cls, name, params, docs, choices) if name != "InputLayer" else None
        category = _category(cls)
        entry = {
            "class_name": name,
            "category": category,
            "summary": _SUMMARIES.get(name) or _summary(cls.__doc__),
            "common": name in common,
            **_inputs(name, category, cls),
            "aliases": aliases,
            "params": params,
        }
        if note:
            entry["note"] = note
        layers.append(entry)

    order = {c: i for i, c in enumerate(core_catalog.CATEGORY_ORDER)}
    layers.sort(key=lambda e: (order.get(e["category"], len(order)), e["class_name"]))
    skipped.sort(key=lambda e: e["class_name"])
    return {
        "format": core_catalog.FORMAT,
        "version": core_catalog.FORMAT_VERSION,
        "keras_version": keras_version(),
        "choices": choices,
        "layers": layers,
        "skipped": skipped,
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def write_catalog(path: str | Path | None = None) -> Path:
    """Build the catalog and write it atomically (default: the shipped file)."""
    target = Path(path) if path else resources_dir() / core_catalog.CATALOG_FILE
    write_text_atomic(target, dumps(build_catalog()))
    target.chmod(0o644)  # a shipped resource; the temporary file was private
    return target


def ensure_current(path: str | Path | None = None) -> Path:
    """The catalog for the installed Keras: the shipped one, or a regenerated cache.

    Called once keras is loaded, so that layers of a newer Keras appear; the
    core loader picks up the cached file on its next (cleared) load.
    """
    shipped = Path(path) if path else resources_dir() / core_catalog.CATALOG_FILE
    version = keras_version()
    if core_catalog.read_header_version(shipped) == version:
        return shipped
    cached = cache_dir() / core_catalog.cached_name(version)
    if core_catalog.read_header_version(cached) != version:
        write_catalog(cached)
        core_catalog.load_catalog.cache_clear()
    return cached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.engine.catalog_build",
        description="Regenerate the layer catalog from the installed Keras.",
    )
    parser.add_argument("-o", "--output", help="where to write (default: the shipped resources file)")
    args = parser.parse_args(argv)
    target = write_catalog(args.output)
    doc = json.loads(target.read_text(encoding="utf-8"))
    print(f"wrote {len(doc['layers'])} layers (Keras {doc['keras_version']}) to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
