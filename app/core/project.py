"""The project document: a network graph plus data and training settings.

Saved as versioned JSON (``.layerlab``), never pickle. Older versions are
upgraded by the functions in ``MIGRATIONS``; a newer version than this program
knows is refused with a clear message. Weights of an imported model travel in
a sidecar ``.weights.npz`` next to the project file (plain arrays, no pickle).

Loading refuses what no later step could handle (JSON nested deeper than any
project needs, numbers too long to read, text that cannot be written back
such as lone surrogates and NUL characters) with one ProjectError naming the
file; values that are merely wrong are kept for ``check`` to report.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from app.core.atomic import write_text_atomic
from app.core.graph import GraphError, NetworkGraph
from app.core.settings import DataSettings, SettingsFormatError, TrainSettings

FORMAT = "layerlab-project"
VERSION = 1
SUFFIX = ".layerlab"
WEIGHTS_SUFFIX = ".weights.npz"
MAX_DEPTH = 64  # a project nests about 8 levels; Keras configs a few more


class ProjectError(Exception):
    """A project file that cannot be read; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _v0_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 0 had ``layers`` and ``links`` instead of ``graph``."""
    doc = dict(doc)
    if "graph" not in doc:
        doc["graph"] = {"nodes": doc.pop("layers", []), "edges": doc.pop("links", [])}
    doc["version"] = 1
    return doc


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}


@dataclass
class Project:
    """What the user edits and saves; the GUI, the CLI and the trainer share it."""

    graph: NetworkGraph = field(default_factory=NetworkGraph)
    data: DataSettings = field(default_factory=DataSettings)
    training: TrainSettings = field(default_factory=TrainSettings)
    name: str = "untitled"
    description: str = ""
    task: str = "classification"  # classification | segmentation | regression
    weights_file: str | None = None  # sidecar name, relative to the project file
    path: Path | None = None  # where it was loaded from / saved to

    # -- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "description": self.description,
            "task": self.task,
            "graph": self.graph.to_dict(),
            "data": self.data.to_dict(),
            "training": self.training.to_dict(),
            "weights": self.weights_file,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, doc: Any, source: str | Path = "<project>") -> Project:
        doc = upgrade(doc, source)
        try:
            graph = NetworkGraph.from_dict(doc["graph"])
            data = DataSettings.from_dict(doc.get("data"))
            training = TrainSettings.from_dict(doc.get("training"))
        except SettingsFormatError as exc:
            raise ProjectError(source, str(exc)) from None
        except (GraphError, KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            raise ProjectError(source, f"not a valid LayerLab project ({exc})") from None
        weights = doc.get("weights")
        return cls(
            graph=graph,
            data=data,
            training=training,
            name=str(doc.get("name") or Path(str(source)).stem),
            description=str(doc.get("description") or ""),
            task=str(doc.get("task") or "classification"),
            weights_file=str(weights) if weights else None,
        )

    # -- files ------------------------------------------------------------
    @property
    def weights_path(self) -> Path | None:
        """The sidecar named by ``"weights"``; ProjectError when that name leaves the project's folder.

        Only a relative name below the folder is accepted (no ``..``, no absolute
        path): a shared project must not make LayerLab read files elsewhere.
        """
        if not self.weights_file or self.path is None:
            return None
        name = PurePath(self.weights_file.replace("\\", "/"))
        if not name.parts:
            raise ProjectError(self.path, f"its weights file {self.weights_file!r} is not a file name")
        if name.is_absolute() or name.drive or ".." in name.parts:
            raise ProjectError(
                self.path, f"its weights file {self.weights_file!r} is outside the project's folder "
                "(it must name a file in that folder)"
            )
        return self.path.parent / name

    def save(self, path: str | Path | None = None) -> Path:
        """Write atomically; a Save As carries the weights sidecar along."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no file name to save the project to")
        old_weights = self.weights_path
        if old_weights is not None and old_weights.is_file():
            new_name = target.name.removesuffix(SUFFIX) + WEIGHTS_SUFFIX
            new_weights = target.parent / new_name
            if new_weights.resolve() != old_weights.resolve():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(old_weights, new_weights)
            self.weights_file = new_name
        write_text_atomic(target, self.to_json())
        self.path = target
        return target

    def copy(self) -> Project:
        p = Project.from_dict(self.to_dict())
        p.path = self.path
        return p


def upgrade(doc: Any, source: str | Path = "<project>") -> dict[str, Any]:
    """Check the format header and run migrations up to ``VERSION``."""
    if not isinstance(doc, dict):
        raise ProjectError(source, "not a LayerLab project (expected a JSON object)")
    if doc.get("format") != FORMAT:
        raise ProjectError(source, f"not a LayerLab project (format is {doc.get('format')!r})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ProjectError(source, f"project has an invalid version {version!r}")
    if version > VERSION:
        raise ProjectError(
            source,
            f"project was saved by a newer LayerLab (format version {version}; "
            f"this one reads up to {VERSION}); please upgrade LayerLab",
        )
    while version < VERSION:
        doc = MIGRATIONS[version](doc)
        version = doc["version"]
    if not isinstance(doc.get("graph"), dict):
        raise ProjectError(source, "project has no network graph")
    return doc


def _where(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "the document"


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (\\ud800-\\udfff), which is not text"
    return None


def check_document(doc: Any, source: str | Path = "<project>") -> None:
    """Refuse JSON that nests too deep or holds text that cannot be saved again; iterative."""
    todo: list[tuple[Any, list[str | int]]] = [(doc, [])]
    while todo:
        value, path = todo.pop()
        if len(path) > MAX_DEPTH:
            where = _where(path[:6])
            raise ProjectError(source, f"not a LayerLab project (nested deeper than {MAX_DEPTH} levels at {where}...)")
        if isinstance(value, str):
            if (problem := _text_problem(value)) is not None:
                raise ProjectError(source, f"{_describe_place(doc, path)} {problem}")
        elif isinstance(value, dict):
            for k, v in value.items():
                if (problem := _text_problem(k)) is not None:
                    raise ProjectError(source, f"a key in {_where(path)} {problem}")
                todo.append((v, [*path, k]))
        elif isinstance(value, list):
            todo.extend((v, [*path, i]) for i, v in enumerate(value))


def _describe_place(doc: Any, path: list[str | int]) -> str:
    """``the name of layer 'n3'`` for a node's name, else the JSON path."""
    if len(path) == 4 and path[:2] == ["graph", "nodes"] and isinstance(path[2], int):
        node = doc["graph"]["nodes"][path[2]]
        nid = node.get("id") if isinstance(node, dict) else None
        label = f"layer {nid!r}" if isinstance(nid, str) and _text_problem(nid) is None else f"layer #{path[2] + 1}"
        return f"the {path[3]} of {label}"
    return f"the text at {_where(path)}"


def load_project(path: str | Path) -> Project:
    """Read a project file; every problem becomes a ProjectError naming the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ProjectError(p, "file not found") from None
    except IsADirectoryError:
        raise ProjectError(p, "is a folder, not a project file") from None
    except OSError as exc:
        raise ProjectError(p, f"cannot be read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise ProjectError(p, "file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProjectError(p, "not a LayerLab project (binary data, expected JSON text)") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectError(
            p, f"damaged or truncated project file (invalid JSON at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise ProjectError(p, f"not a LayerLab project (JSON nested deeper than {MAX_DEPTH} levels)") from None
    except ValueError:  # a number with thousands of digits (Python's int limit)
        limit = sys.get_int_max_str_digits()
        raise ProjectError(p, f"not a LayerLab project (it holds a number longer than {limit} digits)") from None
    check_document(doc, p)
    project = Project.from_dict(doc, p)
    project.path = p
    return project
