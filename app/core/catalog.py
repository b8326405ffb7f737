"""The layer catalog: every designable Keras layer and its parameter schema.

The catalog is generated from Keras' own classes by ``app.engine.catalog_build``
and shipped as JSON, so the palette and inspector can show it before keras has
loaded (which takes seconds). This module never imports keras: it learns the
installed version from package metadata only, to prefer a catalog regenerated
for a newer Keras when one is cached.
"""

from __future__ import annotations

import copy
import difflib
import importlib.metadata
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from app.paths import cache_dir, resources_dir

FORMAT = "layerlab-catalog"
FORMAT_VERSION = 1
CATALOG_FILE = "layer_catalog.json"

CATEGORY_ORDER: tuple[str, ...] = (
    "core",
    "convolution",
    "pooling",
    "normalization",
    "regularization",
    "reshaping",
    "merging",
    "recurrent",
    "attention",
    "preprocessing",
    "augmentation",
    "activation",
    "other",  # modules a newer Keras adds that we do not know yet
)

# Muted, distinct hues for canvas nodes (readable with dark or light text).
CATEGORY_COLOURS: dict[str, str] = {
    "core": "#5B8DEF",
    "convolution": "#E07A5F",
    "pooling": "#F2A65A",
    "normalization": "#81B29A",
    "regularization": "#B58DB6",
    "reshaping": "#5FB3C8",
    "merging": "#E3C35A",
    "recurrent": "#7D8CC4",
    "attention": "#D46A92",
    "preprocessing": "#9AAE6B",
    "augmentation": "#4FAF9C",
    "activation": "#C9A27E",
    "other": "#9AA0A6",
}

# Shown first in the palette, in this order.
COMMON_LAYERS: tuple[str, ...] = (
    "InputLayer",
    "Dense",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "Flatten",
    "Dropout",
    "BatchNormalization",
    "Activation",
    "ReLU",
    "Add",
    "Concatenate",
    "Conv2DTranspose",
    "UpSampling2D",
    "SeparableConv2D",
    "DepthwiseConv2D",
    "Rescaling",
    "Reshape",
    "LayerNormalization",
    "Embedding",
    "LSTM",
    "GlobalMaxPooling2D",
    "ZeroPadding2D",
    "RandomFlip",
    "RandomRotation",
)


def _conv(filters: int | None, dims: int) -> dict[str, Any]:
    kernel = 3 if dims == 1 else [3] * dims
    return {"kernel_size": kernel} if filters is None else {"filters": filters, "kernel_size": kernel}


# Starting values for required parameters of well-known layers, so a freshly
# dropped layer works; anything else required is left for the analyzer to flag.
STARTING_VALUES: dict[str, dict[str, Any]] = {
    "InputLayer": {"shape": [28, 28, 1]},
    "Dense": {"units": 64},
    **{f"Conv{d}D": _conv(32, d) for d in (1, 2, 3)},
    **{f"Conv{d}DTranspose": _conv(32, d) for d in (1, 2, 3)},
    **{f"SeparableConv{d}D": _conv(32, d) for d in (1, 2)},
    **{f"DepthwiseConv{d}D": _conv(None, d) for d in (1, 2)},
    **{f"ConvLSTM{d}D": _conv(32, d) for d in (1, 2, 3)},
    "AveragePooling1D": {"pool_size": 2},
    "AveragePooling2D": {"pool_size": [2, 2]},
    "AveragePooling3D": {"pool_size": [2, 2, 2]},
    "Dropout": {"rate": 0.5},
    "SpatialDropout1D": {"rate": 0.2},
    "SpatialDropout2D": {"rate": 0.2},
    "SpatialDropout3D": {"rate": 0.2},
    "GaussianDropout": {"rate": 0.2},
    "AlphaDropout": {"rate": 0.1},
    "GaussianNoise": {"stddev": 0.1},
    "Reshape": {"target_shape": [-1]},
    "Permute": {"dims": [2, 1]},
    "RepeatVector": {"n": 2},
    "Activation": {"activation": "relu"},
    "Embedding": {"input_dim": 1000, "output_dim": 64},
    "LSTM": {"units": 64},
    "GRU": {"units": 64},
    "SimpleRNN": {"units": 64},
    "Dot": {"axes": -1},
    "MultiHeadAttention": {"num_heads": 2, "key_dim": 16},
    "Rescaling": {"scale": 1 / 255},
    "Resizing": {"height": 64, "width": 64},
    "CenterCrop": {"height": 64, "width": 64},
    "RandomCrop": {"height": 64, "width": 64},
    "RandomRotation": {"factor": 0.1},
    "RandomZoom": {"height_factor": 0.1},
    "RandomTranslation": {"height_factor": 0.1, "width_factor": 0.1},
    "RandomContrast": {"factor": 0.2},
    "RandomBrightness": {"factor": 0.2},
}

# Kinds whose choices are shared by all parameters (kept once in the file).
SHARED_CHOICE_KINDS = ("activation", "initializer", "regularizer", "constraint", "dtype")


class CatalogError(RuntimeError):
    """The catalog file is missing or unreadable."""


@dataclass(frozen=True)
class ParamSpec:
    """One constructor argument: what the inspector renders and validates.

    ``kind`` is one of: int, float, bool, str, enum, tuple (an int or a list of
    ``length`` ints; with ``pairs`` also a list of [before, after] pairs), shape
    (list of ints), axis (int or list), range (a number or [lower, upper]),
    pair (exactly two numbers), activation, initializer, regularizer,
    constraint, dtype (names in ``choices``), object (kept, not editable).

    ``advanced`` ones belong in a collapsed section of the inspector.
    ``hidden`` ones are not in the constructor's signature: Keras' ``get_config``
    writes them and ``**kwargs`` accepts them, so they validate in an imported
    config but are not offered for a new layer.
    """

    name: str
    kind: str
    default: Any = None
    required: bool = False
    nullable: bool = False
    choices: tuple[Any, ...] | None = None
    length: int | None = None
    pairs: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    description: str = ""
    advanced: bool = False
    hidden: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any], shared: dict[str, list[Any]] | None = None) -> ParamSpec:
        choices = data.get("choices")
        if choices is None and shared and data["kind"] in SHARED_CHOICE_KINDS:
            choices = shared.get(data["kind"])
        return cls(
            name=data["name"],
            kind=data["kind"],
            default=data.get("default"),
            required=bool(data.get("required", False)),
            nullable=bool(data.get("nullable", False)),
            choices=tuple(choices) if choices is not None else None,
            length=data.get("length"),
            pairs=bool(data.get("pairs", False)),
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            exclusive_minimum=bool(data.get("exclusive_minimum", False)),
            exclusive_maximum=bool(data.get("exclusive_maximum", False)),
            description=data.get("description", ""),
            advanced=bool(data.get("advanced", False)),
            hidden=bool(data.get("hidden", False)),
        )

    @property
    def editable(self) -> bool:
        return self.kind != "object"


@dataclass(frozen=True)
class LayerSpec:
    """One layer class: where it sits in the palette and what it accepts.

    ``inputs`` is "none" (InputLayer), "one" or "many"; a "many" layer takes between ``min_inputs``
    and ``max_inputs`` (None: no limit) tensors, passed as one list
    (``input_call`` "list", e.g. Add) or as separate arguments ("positional",
    e.g. MultiHeadAttention's query, value, key). ``note`` is Keras' own
    message when defaults alone do not make a working layer ("You need to set
    either num_bins or bin_boundaries.").
    """

    class_name: str
    category: str
    summary: str
    params: tuple[ParamSpec, ...]
    common: bool = False
    inputs: str = "one"
    min_inputs: int = 1
    max_inputs: int | None = 1
    input_call: str = "tensor"
    aliases: tuple[str, ...] = ()
    note: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any], shared: dict[str, list[Any]] | None = None) -> LayerSpec:
        return cls(
            class_name=data["class_name"],
            category=data.get("category", "other"),
            summary=data.get("summary", ""),
            params=tuple(ParamSpec.from_dict(p, shared) for p in data.get("params", [])),
            common=bool(data.get("common", False)),
            inputs=data.get("inputs", "one"),
            min_inputs=int(data.get("min_inputs", 1)),
            max_inputs=data.get("max_inputs", 1),
            input_call=data.get("input_call", "tensor"),
            aliases=tuple(data.get("aliases", ())),
            note=data.get("note", ""),
        )

    def param(self, name: str) -> ParamSpec | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def required(self) -> list[str]:
        return [p.name for p in self.params if p.required]

    @property
    def colour(self) -> str:
        return CATEGORY_COLOURS.get(self.category, CATEGORY_COLOURS["other"])


# -- validation -----------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt(x: Any) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if x is True or x is False:
        return "true" if x else "false"
    return str(x)


def _range_text(p: ParamSpec) -> str:
    lo, hi = p.minimum, p.maximum
    if lo is not None and hi is not None:
        text = f"between {_fmt(lo)} and {_fmt(hi)}"
        if p.exclusive_maximum:
            text += f" (less than {_fmt(hi)})"
        return text
    if lo is not None:
        return f"greater than {_fmt(lo)}" if p.exclusive_minimum else f"at least {_fmt(lo)}"
    if hi is not None:
        return f"less than {_fmt(hi)}" if p.exclusive_maximum else f"at most {_fmt(hi)}"
    return ""


def _qualify(rng: str) -> str:
    """``at least 1`` reads as ``of at least 1`` after "a whole number"."""
    return f"of {rng}" if rng.startswith("at ") else rng


def _in_range(p: ParamSpec, v: float) -> bool:
    if p.minimum is not None and (v <= p.minimum if p.exclusive_minimum else v < p.minimum):
        return False
    if p.maximum is not None and (v >= p.maximum if p.exclusive_maximum else v > p.maximum):
        return False
    return True


_EXAMPLES = {
    "activation": ("relu", "sigmoid", "softmax", "tanh"),
    "initializer": ("glorot_uniform", "he_normal", "zeros"),
    "regularizer": ("l1", "l2"),
    "dtype": ("float32", "mixed_float16"),
}


def _not_a_choice(p: ParamSpec, value: Any) -> str:
    """``padding must be one of: valid, same``; long lists suggest the nearest names."""
    names = [_fmt(c) for c in p.choices or ()]
    if len(names) <= 12:
        return f"{p.name} must be one of: {', '.join(names)}"
    what = p.kind if p.kind in _EXAMPLES or p.kind == "constraint" else "allowed"
    text = f"{p.name} must be one of the {len(names)} Keras {what} names"
    close = difflib.get_close_matches(str(value), names, n=3, cutoff=0.6)
    if close:
        return f"{text}; did you mean {' or '.join(close)}?"
    examples = [n for n in _EXAMPLES.get(p.kind, ()) if n in names] or names[:4]
    return f"{text}, e.g. {', '.join(examples)}"


def _check(p: ParamSpec, value: Any) -> str | None:
    name, kind = p.name, p.kind
    rng = _range_text(p)
    if kind == "int":
        if not _is_int(value) or not _in_range(p, value):
            return f"{name} must be a whole number" + (f" {_qualify(rng)}" if rng else "")
    elif kind == "float":
        if not _is_number(value):
            return f"{name} must be a number" + (f" {_qualify(rng)}" if rng else "")
        if not _in_range(p, value):
            return f"{name} must be {rng}"
    elif kind == "bool":
        if not isinstance(value, bool):
            return f"{name} must be true or false"
    elif kind == "str":
        if not isinstance(value, str):
            return f"{name} must be text"
    elif kind == "enum":
        if not any(value == c and type(value) is type(c) for c in p.choices or ()):
            return _not_a_choice(p, value)
    elif kind in ("activation", "initializer", "regularizer", "constraint", "dtype"):
        if isinstance(value, dict) and "class_name" in value:
            return None  # a serialized Keras object, e.g. from an imported model
        if not isinstance(value, str) or (p.choices and value not in p.choices):
            return _not_a_choice(p, value)
    elif kind == "tuple":
        return _check_tuple(p, value)
    elif kind == "shape":
        return _check_shape(p, value)
    elif kind == "axis":
        if not (_is_int(value) or (isinstance(value, list) and value and all(_is_int(v) for v in value))):
            return f"{name} must be an integer or a list of integers (axis numbers, -1 is the last)"
    elif kind == "range":
        ok = _is_number(value) or (
            isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)
        )
        if not ok:
            return f"{name} must be a number or a list of 2 numbers [lower, upper]"
        values = value if isinstance(value, list) else [value]
        if not all(_in_range(p, v) for v in values):
            return f"{name} values must be {rng}"
        if isinstance(value, list) and value[0] > value[1]:
            return f"{name}: the lower bound must not be above the upper bound"
    elif kind == "pair":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            return f"{name} must be a list of 2 numbers, e.g. [0, 255]"
    return None


def _check_tuple(p: ParamSpec, value: Any) -> str | None:
    n = p.length
    what = f"a list of {n} integers" if n else "a list of integers"
    if p.pairs and n:
        what += f", or a list of {n} [before, after] pairs"
    problem = f"{p.name} must be an integer or {what}"
    if _is_int(value):
        flat = [value]
    elif isinstance(value, list) and (n is None or len(value) == n) and value:
        if all(_is_int(v) for v in value):
            flat = list(value)
        elif p.pairs and all(
            isinstance(v, list) and len(v) == 2 and all(_is_int(x) for x in v) for v in value
        ):
            flat = [x for v in value for x in v]
        else:
            return problem
    else:
        return problem
    if not all(_in_range(p, v) for v in flat):
        return f"{p.name} values must be {_range_text(p)}"
    return None


def _check_shape(p: ParamSpec, value: Any) -> str | None:
    reshape = p.name == "target_shape"
    example = "[-1]" if reshape else "[28, 28, 1]"
    if _is_int(value) and p.name == "output_shape":
        value = [value]
    if not isinstance(value, list) or not all(v is None or _is_int(v) for v in value):
        return f"{p.name} must be a list of whole numbers, e.g. {example}"
    if reshape:
        if None in value or sum(1 for v in value if v == -1) > 1:
            return f"{p.name} may contain -1 (\"whatever is left\") once, and no empty sizes"
        bad = [v for v in value if v != -1 and v < 1]
    else:
        bad = [v for v in value if v is not None and v < 1]
    if bad:
        return f"{p.name} sizes must be at least 1"
    return None


# -- the catalog ----------------------------------------------------------------
class Catalog:
    """All layers of one catalog file, with lookups for the palette and inspector."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.keras_version: str = doc.get("keras_version", "")
        shared = doc.get("choices") or {}
        self.choices: dict[str, tuple[Any, ...]] = {k: tuple(v) for k, v in shared.items()}
        self.layers: list[LayerSpec] = [LayerSpec.from_dict(d, shared) for d in doc.get("layers", [])]
        self.skipped: dict[str, str] = {s["class_name"]: s["reason"] for s in doc.get("skipped", [])}
        self._by_name: dict[str, LayerSpec] = {}
        for spec in self.layers:
            for alias in spec.aliases:
                self._by_name.setdefault(alias, spec)
        for spec in self.layers:
            self._by_name[spec.class_name] = spec
        self._order = {spec.class_name: i for i, spec in enumerate(self.layers)}

    @classmethod
    def from_path(cls, path: str | Path) -> Catalog:
        doc = _read_doc(Path(path))
        if doc is None:
            raise CatalogError(
                f"{path}: the layer catalog is missing or unreadable; "
                "regenerate it with `python -m app.engine.catalog_build`"
            )
        return cls(doc)

    def __contains__(self, class_name: object) -> bool:
        return class_name in self._by_name

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def get(self, class_name: str) -> LayerSpec | None:
        """The spec for a class name or one of its Keras aliases (``MaxPool2D``)."""
        return self._by_name.get(class_name)

    def categories(self) -> list[tuple[str, list[LayerSpec]]]:
        """Non-empty categories in palette order, each with its layers by name."""
        groups: dict[str, list[LayerSpec]] = {}
        for spec in self.layers:
            groups.setdefault(spec.category, []).append(spec)
        known = [c for c in CATEGORY_ORDER if c in groups]
        extra = [c for c in groups if c not in CATEGORY_ORDER]
        return [(c, sorted(groups[c], key=lambda s: s.class_name)) for c in known + extra]

    def common(self) -> list[LayerSpec]:
        """The curated starter set, in :data:`COMMON_LAYERS` order."""
        return [self._by_name[n] for n in COMMON_LAYERS if n in self._by_name]

    def search(self, text: str) -> list[LayerSpec]:
        """Layers matching every word of ``text``; class-name prefix matches first."""
        words = text.lower().split()
        if not words:
            return list(self.layers)
        compact = "".join(words)
        common_rank = {n: i for i, n in enumerate(COMMON_LAYERS)}
        hits: list[tuple[tuple[int, int, int], LayerSpec]] = []
        for spec in self.layers:
            name = spec.class_name.lower()
            aliases = [a.lower() for a in spec.aliases]
            hay = " ".join([name, *aliases, spec.category, spec.summary.lower()])
            if not all(w in hay for w in words) and compact not in name:
                continue
            if name.startswith(compact):
                rank = 0
            elif compact in name:
                rank = 1
            elif any(a.startswith(compact) or compact in a for a in aliases):
                rank = 2
            elif compact in spec.category or words[0] in spec.category:
                rank = 3
            else:
                rank = 4
            key = (rank, common_rank.get(spec.class_name, len(common_rank)), self._order[spec.class_name])
            hits.append((key, spec))
        return [spec for _, spec in sorted(hits, key=lambda h: h[0])]

    def defaults(self, class_name: str, full: bool = True) -> dict[str, Any]:
        """JSON-safe params for a new layer of ``class_name``.

        ``full`` gives every parameter its default (like Keras' ``get_config``,
        which some ``from_config`` rely on); otherwise only the starting values
        of required ones.
        Required parameters without a known starting value are left out.
        """
        spec = self.get(class_name)
        if spec is None:
            raise KeyError(f"unknown layer type {class_name!r}")
        start = STARTING_VALUES.get(spec.class_name, {})
        out: dict[str, Any] = {}
        for p in spec.params:
            if p.name in start:
                out[p.name] = copy.deepcopy(start[p.name])
            elif full and not p.required and not p.hidden:
                out[p.name] = copy.deepcopy(p.default)
        return out

    def validate(self, class_name: str, key: str, value: Any) -> str | None:
        """A beginner-readable problem with ``key=value`` for this layer, or None."""
        spec = self.get(class_name)
        if spec is None:
            return f"unknown layer type {class_name!r}"
        p = spec.param(key)
        if p is None:
            return f"{spec.class_name} has no parameter {key!r}"
        if value is None:
            if p.required and not p.nullable:
                return f"{key} needs a value"
            return None
        return _check(p, value)


# -- loading --------------------------------------------------------------------
def cached_name(keras_version: str) -> str:
    """The file name of a catalog regenerated for another Keras version."""
    return f"layer_catalog-{keras_version}.json"


def installed_keras_version() -> str | None:
    """The installed Keras version, from package metadata (no import)."""
    try:
        return importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return None


def _read_doc(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != FORMAT_VERSION:
        return None
    return doc


def read_header_version(path: str | Path) -> str | None:
    """The Keras version a catalog file was built for (None: missing, unreadable, old format)."""
    doc = _read_doc(Path(path))
    return doc.get("keras_version") if doc else None


@cache
def load_catalog(path: str | None = None) -> Catalog:
    """The catalog for the installed Keras.

    Without ``path``: the shipped file, unless it was built for another Keras
    version and a regenerated one is cached for the installed version.
    """
    if path is not None:
        return Catalog.from_path(path)
    shipped = resources_dir() / CATALOG_FILE
    doc = _read_doc(shipped)
    installed = installed_keras_version()
    if installed and (doc is None or doc.get("keras_version") != installed):
        cached = _read_doc(cache_dir() / cached_name(installed))
        if cached is not None and cached.get("keras_version") == installed:
            doc = cached
    if doc is None:
        raise CatalogError(
            f"{shipped}: the layer catalog is missing or unreadable; "
            "regenerate it with `python -m app.engine.catalog_build`"
        )
    return Catalog(doc)
