"""The run folder: every file name in it, and reading runs back (for the CLI and the GUI alike).

Plain file work - no Keras, no Qt - so listing runs or opening one is instant.
``app.engine.train`` writes the folder; everything else reads it through here.

The run folder (SPEC.md)::

    model.keras         best weights by the validation metric, preprocessing inside; only
                        weights that are finite after an epoch whose validation loss is finite
                        (a run with no such epoch writes none, and says so)
    history.csv         one row per completed epoch
    metrics.json        the evaluate object for the validation split + epochs_completed, stopped_reason
    classes.json        the class names, in label order (a JSON list)
    predictions.csv     every validation image's prediction by model.keras, in dataset order:
                        index,path,label,label_index,predicted,predicted_index,confidence,p0..p{K-1}
                        (path absolute, empty for data without files; probabilities in classes.json order)
    misclassified.json  the validation samples the best model gets wrong (for the gallery)
    project.layerlab    the project as trained (settings after overrides, adapted output layer)
    checkpoint/         what --resume continues from (model.keras architecture, weights-NNNN.npz, state.json)
    tensorboard/        TensorBoard logs (per-epoch scalars, train/ and validation/)
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "ARCH_FILE",
    "CHECKPOINT_DIR",
    "CLASSES_FILE",
    "HISTORY_COLUMNS",
    "HISTORY_FILE",
    "METRICS_FILE",
    "MISCLASSIFIED_FILE",
    "MODEL_FILE",
    "PREDICTIONS_FILE",
    "PREDICTION_COLUMNS",
    "PROJECT_FILE",
    "STATE_FILE",
    "TENSORBOARD_DIR",
    "PredictionsError",
    "RunInfo",
    "confidence",
    "diff_runs",
    "finished",
    "list_runs",
    "read_history",
    "read_json",
    "read_predictions",
    "read_run",
    "show_value",
]

MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CLASSES_FILE = "classes.json"
MISCLASSIFIED_FILE = "misclassified.json"
PREDICTIONS_FILE = "predictions.csv"
PROJECT_FILE = "project.layerlab"
CHECKPOINT_DIR = "checkpoint"
TENSORBOARD_DIR = "tensorboard"
STATE_FILE = "state.json"  # in CHECKPOINT_DIR
ARCH_FILE = "model.keras"  # in CHECKPOINT_DIR: the architecture, saved before training

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
PREDICTION_COLUMNS = ("index", "path", "label", "label_index", "predicted", "predicted_index", "confidence")


def read_json(path: Path) -> Any:
    """The JSON document in ``path``; None when it is missing or not JSON (a run still being written)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# -- runs ----------------------------------------------------------------------------------
@dataclass
class RunInfo:
    path: Path
    date: datetime | None = None
    optimizer: str = ""
    learning_rate: float | None = None
    epochs: int | None = None
    epochs_completed: int | None = None
    batch_size: int | None = None
    loss: str = ""
    best_val_accuracy: float | None = None
    stopped_reason: str = ""
    has_model: bool = False
    project: dict[str, Any] = field(default_factory=dict)
    resumable: bool = False  # a checkpoint short of the planned epochs, and not ended on purpose

    @property
    def name(self) -> str:
        return self.path.name


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """history.csv as rows of floats (empty cells left out); [] when there is none."""
    path = Path(run_dir) / HISTORY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for r in csv.DictReader(text.splitlines()):
        row = {k: _num(v) for k, v in r.items() if k and _num(v) is not None}
        if "epoch" in row:
            row["epoch"] = int(row["epoch"])
            rows.append(row)
    return rows


def _date(run_dir: Path) -> datetime | None:
    try:
        return datetime.strptime(run_dir.name[:15], "%Y%m%d-%H%M%S")
    except ValueError:
        try:
            return datetime.fromtimestamp(run_dir.stat().st_mtime)
        except OSError:
            return None


def read_run(run_dir: str | Path) -> RunInfo | None:
    """What the runs list shows about one run folder; None for a folder that is no run."""
    d = Path(run_dir)
    project = read_json(d / PROJECT_FILE)
    metrics = read_json(d / METRICS_FILE)
    if not isinstance(project, dict) and not isinstance(metrics, dict):
        return None
    project = project if isinstance(project, dict) else {}
    metrics = metrics if isinstance(metrics, dict) else {}
    training = project.get("training") or {}
    history = read_history(d)
    vals = [r["val_accuracy"] for r in history if "val_accuracy" in r]
    best = max(vals) if vals else _num(metrics.get("accuracy"))
    state = read_json(d / CHECKPOINT_DIR / STATE_FILE)
    done, planned = (_num(state.get("epoch")), _num(state.get("epochs"))) if isinstance(state, dict) else (None, None)
    resumable = (
        done is not None
        and planned is not None
        and done < planned
        and str(metrics.get("stopped_reason") or "") not in ("completed", "early_stopping")
    )
    return RunInfo(
        path=d,
        date=_date(d),
        optimizer=str(training.get("optimizer") or ""),
        learning_rate=_num(training.get("learning_rate")),
        epochs=int(training["epochs"]) if _num(training.get("epochs")) is not None else None,
        epochs_completed=int(metrics["epochs_completed"]) if _num(metrics.get("epochs_completed")) is not None else len(history) or None,
        batch_size=int(training["batch_size"]) if _num(training.get("batch_size")) is not None else None,
        loss=str(training.get("loss") or ""),
        best_val_accuracy=best,
        stopped_reason=str(metrics.get("stopped_reason") or ("running or interrupted" if not metrics else "")),
        has_model=(d / MODEL_FILE).is_file(),
        project=project,
        resumable=resumable,
    )


def finished(run: RunInfo) -> bool:
    """A run that ended with a trained model: model.keras and its metrics.json (what Export takes)."""
    return run.has_model and (run.path / METRICS_FILE).is_file()


def list_runs(folder: str | Path) -> list[RunInfo]:
    """The runs in ``folder``, newest first."""
    base = Path(folder)
    if not base.is_dir():
        return []
    runs = [r for r in (read_run(p) for p in base.iterdir() if p.is_dir()) if r is not None]
    runs.sort(key=lambda r: (r.date or datetime.min, r.name), reverse=True)
    return runs


# -- diff ----------------------------------------------------------------------------------
def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k in sorted(value):
            _flat(f"{prefix}.{k}" if prefix else str(k), value[k], out)
    else:
        out[prefix] = value


def show_value(v: Any) -> str:
    """A setting or parameter as the compare view and the runs list show it (– for none)."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(show_value(x) for x in v) + ")" if v else "()"
    return str(v)


def diff_runs(a_dir: str | Path, b_dir: str | Path) -> dict[str, Any]:
    """``{"settings": [(key, a, b, changed)], "layers": [(name, status, a_desc, b_desc, details)]}``.

    status: "same", "changed", "added" (only in B), "removed" (only in A). Layers
    are matched by name, then by position for renamed layers of the same class.
    """
    pa = read_json(Path(a_dir) / PROJECT_FILE) or {}
    pb = read_json(Path(b_dir) / PROJECT_FILE) or {}
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flat("training", pa.get("training") or {}, fa)
    _flat("data", pa.get("data") or {}, fa)
    _flat("training", pb.get("training") or {}, fb)
    _flat("data", pb.get("data") or {}, fb)
    settings = []
    for k in sorted(set(fa) | set(fb), key=lambda k: (not k.startswith("training"), k)):
        a, b = fa.get(k), fb.get(k)
        settings.append((k, show_value(a), show_value(b), a != b))

    na = [n for n in (pa.get("graph") or {}).get("nodes", [])]
    nb = [n for n in (pb.get("graph") or {}).get("nodes", [])]
    by_b = {n.get("name"): n for n in nb}
    used: set[str] = set()
    layers = []
    for n in na:
        m = by_b.get(n.get("name"))
        if m is None or m.get("name") in used:
            layers.append((n.get("name"), "removed", _desc(n), "", ""))
            continue
        used.add(m.get("name"))
        details = _param_diff(n, m)
        status = "changed" if details else "same"
        layers.append((n.get("name"), status, _desc(n), _desc(m), details))
    for m in nb:
        if m.get("name") not in used:
            layers.append((m.get("name"), "added", "", _desc(m), ""))
    return {"settings": settings, "layers": layers}


def _desc(node: dict[str, Any]) -> str:
    p = node.get("params") or {}
    keys = ("units", "filters", "kernel_size", "pool_size", "rate", "activation", "shape")
    bits = [f"{k}={show_value(p[k])}" for k in keys if k in p]
    return f"{node.get('class_name')}" + (f" ({', '.join(bits)})" if bits else "")


def _param_diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    out = []
    if a.get("class_name") != b.get("class_name"):
        out.append(f"class {a.get('class_name')} → {b.get('class_name')}")
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flat("", a.get("params") or {}, fa)
    _flat("", b.get("params") or {}, fb)
    for k in sorted(set(fa) | set(fb)):
        if fa.get(k) != fb.get(k):
            out.append(f"{k}: {show_value(fa.get(k))} → {show_value(fb.get(k))}")
    return "; ".join(out)


# -- the run's per-image predictions ------------------------------------------------------
class PredictionsError(ValueError):
    """A predictions.csv that cannot be read; the message names the file and the problem."""


def confidence(item: dict[str, Any]) -> float:
    """The predicted class's probability (predictions.csv has it; misclassified.json items derive it)."""
    conf = item.get("confidence")
    if isinstance(conf, (int, float)) and math.isfinite(conf):
        return float(conf)
    probs = item.get("probabilities") or []
    pi = int(item.get("predicted_index", -1))
    p = probs[pi] if 0 <= pi < len(probs) else None
    return float(p) if isinstance(p, (int, float)) and math.isfinite(p) else 0.0


def read_predictions(run: Path) -> list[dict[str, Any]] | None:
    """Every validation image's prediction from ``predictions.csv``; None when the run has none.

    Columns (fixed): index, path, label, label_index, predicted, predicted_index,
    confidence, p0 ... p{K-1}. Raises PredictionsError for a file that is not that.
    """
    path = run / PREDICTIONS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PredictionsError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    missing = [c for c in PREDICTION_COLUMNS if c not in fields]
    if missing:
        raise PredictionsError(f"{path}: missing column{'s' * (len(missing) > 1)} {', '.join(missing)}")
    prob_cols = sorted((f for f in fields if f[:1] == "p" and f[1:].isdigit()), key=lambda f: int(f[1:]))
    items = []
    for line, row in enumerate(reader, start=2):
        try:
            item: dict[str, Any] = {
                "index": int(row["index"]),
                "label": row["label"],
                "label_index": int(row["label_index"]),
                "predicted": row["predicted"],
                "predicted_index": int(row["predicted_index"]),
                "confidence": float(row["confidence"]),
                "probabilities": [float(row[c]) if row[c] not in ("", None) else None for c in prob_cols],
            }
        except (TypeError, ValueError):
            raise PredictionsError(f"{path}: line {line} is not a prediction row") from None
        where = row.get("path") or ""
        item["path"] = (where if Path(where).is_absolute() else str(run / where)) if where else None
        items.append(item)
    return items
