"""Keras' answers about layers, kept on disk between sessions.

The shape and parameter count of a layer depend only on its class, its
parameters and its input shapes (for one Keras version), so they are kept in a
per-user cache file. A network analyzed before is analyzed again without
importing Keras at all: ``layerlab check`` answers in a fraction of a second
and the window shows shapes before TensorFlow has loaded. Entries come only
from Keras itself; a new Keras version starts a new file.
"""

from __future__ import annotations

import json
import os
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from app.core.atomic import write_text_atomic
from app.paths import cache_dir

FORMAT = "layerlab-shape-cache"
MAX_ENTRIES = 50_000


def _keras_version() -> str:
    try:
        return metadata.version("keras")
    except metadata.PackageNotFoundError:  # pragma: no cover - keras is a dependency
        return "unknown"


def default_path() -> Path:
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return cache_dir() / f"shapes-keras{_keras_version()}-{backend}.json"


def _encode(info: Any) -> dict[str, Any]:
    out = info.output_shape
    if isinstance(out, list):
        shape: Any = {"many": [list(s) for s in out]}
    else:
        shape = list(out) if out is not None else None
    return {"shape": shape, "params": info.params, "trainable": info.trainable_params, "error": info.error}


def _decode(entry: dict[str, Any]) -> Any:
    from app.engine.shapes import LayerInfo

    shape = entry.get("shape")
    if isinstance(shape, dict):
        out: Any = [tuple(s) for s in shape["many"]]
    else:
        out = tuple(shape) if shape is not None else None
    return LayerInfo(
        output_shape=out, params=entry.get("params"), trainable_params=entry.get("trainable"), error=entry.get("error")
    )


class ShapeStore:
    """A JSON file of ``key -> LayerInfo``; a damaged file is ignored and replaced."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._entries: dict[str, dict[str, Any]] | None = None
        self._dirty = False
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            entries: dict[str, dict[str, Any]] = {}
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                if doc.get("format") == FORMAT and doc.get("keras") == _keras_version():
                    entries = dict(doc.get("entries") or {})
            except (OSError, ValueError, AttributeError):
                entries = {}
            self._entries = entries
        return self._entries

    def get(self, key: str) -> Any | None:
        with self._lock:
            entry = self._load().get(key)
        return _decode(entry) if entry is not None else None

    def put(self, key: str, info: Any) -> None:
        with self._lock:
            entries = self._load()
            entries[key] = _encode(info)
            self._dirty = True

    def flush(self) -> None:
        """Write new entries (atomically); merges with what another process wrote meanwhile."""
        with self._lock:
            if not self._dirty or self._entries is None:
                return
            mine = self._entries
            self._entries = None
            theirs = self._load()
            theirs.update(mine)
            if len(theirs) > MAX_ENTRIES:
                theirs = dict(list(theirs.items())[-MAX_ENTRIES:])
            self._entries = theirs
            doc = {"format": FORMAT, "keras": _keras_version(), "entries": theirs}
            try:
                write_text_atomic(self.path, json.dumps(doc, separators=(",", ":")))
            except OSError:
                return  # a read-only cache only costs speed
            self._dirty = False
