"""Layer weights as plain arrays, keyed by layer name.

Keyed by name (not position) so that weights survive edits of the graph: a
layer that was not touched gets its weights back, a layer whose shapes changed
starts fresh. Stored as ``.npz`` (``"{layer_name}::{index}"``), read with
``allow_pickle=False``: a weights file can hold numbers only, never code.

A nested model (a sub-model used as one layer) is one entry under its own
layer name: the flat list ``submodel.get_weights()``, which ``set_weights``
takes back. Its inner layer names are never used as keys, so two sub-models
that both contain a ``dense`` layer cannot collide.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.atomic import write_bytes_atomic
from app.engine.safety import ModelFileError, read_npz

SEPARATOR = "::"
Weights = dict[str, list[np.ndarray]]


@dataclass
class WeightReport:
    """What :func:`apply_weights` did, by layer name."""

    applied: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why (shapes changed)
    unused: list[str] = field(default_factory=list)  # names with no layer in the model


def save_weights(path: str | Path, weights: Mapping[str, Sequence[np.ndarray]]) -> Path:
    """Write ``weights`` atomically as an uncompressed ``.npz``."""
    arrays: dict[str, np.ndarray] = {}
    for name, values in weights.items():
        if SEPARATOR in name:
            raise ValueError(f"layer name {name!r} contains {SEPARATOR!r}")
        for i, value in enumerate(values):
            arr = np.asarray(value)
            if arr.dtype == object:
                raise ValueError(f"weights of layer {name!r} are not numeric")
            arrays[f"{name}{SEPARATOR}{i}"] = arr
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_bytes_atomic(path, buf.getvalue())


def load_weights(path: str | Path, what: str = "weights file") -> Weights:
    """Read a file written by :func:`save_weights`; ModelFileError (one line naming it) if it is not one.

    A FIFO, a device or a folder is refused before anything reads from it, and the
    file must be a real ``.npz`` of plain arrays (see :func:`app.engine.safety.read_npz`).
    """
    p = Path(path)
    found: dict[str, dict[int, np.ndarray]] = {}
    for key, value in read_npz(p, what).items():
        m = re.fullmatch(r"(.+)" + re.escape(SEPARATOR) + r"(\d+)", key)
        if not m:
            raise ModelFileError(p, f"{what} is not a LayerLab weights file (unexpected entry {key!r})")
        found.setdefault(m.group(1), {})[int(m.group(2))] = value
    weights: Weights = {}
    for name, by_index in found.items():
        if sorted(by_index) != list(range(len(by_index))):
            raise ModelFileError(p, f"{what} is incomplete (the weights of layer {name!r})")
        weights[name] = [by_index[i] for i in range(len(by_index))]
    return weights


def model_weights(model: Any) -> Weights:
    """Every top-level layer's weights by layer name (nested models flattened under their name)."""
    weights: Weights = {}
    for layer in model.layers:
        values = layer.get_weights()
        if values:
            weights[layer.name] = [np.asarray(v) for v in values]
    return weights


def apply_weights(model: Any, weights: Mapping[str, Sequence[Any]] | None) -> WeightReport:
    """Set each layer's weights by name where every shape matches; report the rest."""
    report = WeightReport()
    if not weights:
        return report
    names = set()
    for layer in model.layers:
        names.add(layer.name)
        if layer.name not in weights:
            continue
        values = [np.asarray(v) for v in weights[layer.name]]
        expected = [tuple(int(d) for d in w.shape) for w in layer.weights]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            if len(expected) != len(got):
                why = f"{len(got)} saved arrays, the layer now has {len(expected)}"
            else:
                diff = next(i for i, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b)
                why = f"weight {diff} was {list(got[diff])}, is now {list(expected[diff])}"
            report.skipped[layer.name] = why
            continue
        layer.set_weights(values)
        report.applied.append(layer.name)
    report.unused = [n for n in weights if n not in names]
    return report
