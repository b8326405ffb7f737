"""One training run: a plain function, a control object and an event sink.

``run()`` is called the same way by ``layerlab train`` (main thread) and by the
GUI's worker (a QThread): everything Keras does for a run - build, fit, save,
evaluate - happens on the calling thread (the TensorFlow backend is not thread
safe, and Keras keeps its dtype policy per thread). Events are plain data.

The run folder's files and their names: ``app.engine.run_folder`` (SPEC.md).

Speed: nothing per batch beyond what Keras already does (Keras hands callbacks
its logs as Python floats on the TensorFlow backend, so checking the loss for
NaN is free); batch events are throttled by time; the per-epoch checkpoint is
numpy arrays written by a background thread, so the training thread never
waits on the disk. ``model.keras`` is written at the end (and, on long runs, on
improvement at most every ``BEST_SAVE_INTERVAL_S``); the best weights ride in
the checkpoint meanwhile.

Checkpoint: ``checkpoint/model.keras`` is the architecture, saved once before
training; ``weights-NNNN.npz`` holds every model variable (weights, batch-norm
statistics, seed-generator states) and every optimizer variable (iterations,
moments, learning rate) after epoch NNNN; ``state.json`` names the current and
the best weights files and carries the history. Each file is replaced
atomically and ``state.json`` is written last, so a run killed at any moment
(SIGKILL included) resumes from its last completed epoch. An epoch whose
weights are not finite is never checkpointed. ``--resume`` trusts nothing in
``state.json``: every field it reads is type-checked and every file it names
must lie inside the run folder (no ``..``, absolute path or link out).

A new run goes into a new or empty folder only, never over the user's files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import queue
import re
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from app.core.atomic import atomic_open, write_text_atomic
from app.core.graph import NetworkGraph
from app.core.project import Project, load_project
from app.core.settings import OPTIMIZERS, DataSettings, TrainSettings
from app.core.validation import settings_error
from app.engine import events as ev
from app.engine.control import RunControl
from app.engine.run_folder import (
    ARCH_FILE,
    CHECKPOINT_DIR,
    CLASSES_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    METRICS_FILE,
    MISCLASSIFIED_FILE,
    MODEL_FILE,
    PREDICTIONS_FILE,
    PROJECT_FILE,
    STATE_FILE,
    TENSORBOARD_DIR,
)

log = logging.getLogger(__name__)

STATE_FORMAT = "layerlab-checkpoint"
STATE_VERSION = 1

EVENT_INTERVAL_S = 0.05  # at most ~20 batch events a second
BEST_SAVE_INTERVAL_S = 30.0
MISCLASSIFIED_LIMIT = 1000

COMPLETED = "completed"
EARLY_STOPPING = "early_stopping"
STOPPED_BY_USER = "stopped_by_user"


class TrainError(Exception):
    """The run cannot start (settings, data, folder); one line naming what and why."""


class RunFolderError(TrainError):
    """The run folder cannot be created or written."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class RunResult:
    run_dir: Path
    stopped_reason: str
    epochs_completed: int
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None  # the epoch model.keras holds; None when it holds none
    messages: list[str] = field(default_factory=list)
    model_written: bool = True  # False: no model.keras from this run (see problems)
    problems: list[str] = field(default_factory=list)  # what could not be written, and why

    @property
    def failed(self) -> bool:
        return self.stopped_reason.startswith(("nan_loss", "error"))


@dataclass
class DataBundle:
    """The datasets a run needs: batched (image 0..255, int label) ``tf.data`` datasets."""

    train: Any
    validation: Any | None
    class_names: list[str]
    train_count: int | None = None
    validation_count: int | None = None
    class_counts: list[int] | None = None  # training samples per class
    validation_paths: list[str] | None = None
    source: str = ""


# -- small helpers --------------------------------------------------------------------
def _first_attr(obj: Any, names: Sequence[str], default: Any = None) -> Any:
    for n in names:
        if isinstance(obj, Mapping) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            value = getattr(obj, n)
            if value is not None:
                return value
    return default


def as_bundle(data: Any, source: str = "") -> DataBundle:
    """A DataBundle from the data pipeline's ``Datasets`` (or anything shaped like it)."""
    if isinstance(data, DataBundle):
        return data
    train = _first_attr(data, ("train", "train_ds", "training"))
    if train is None:
        raise TrainError("the data has no training dataset")
    names = [str(c) for c in _first_attr(data, ("class_names", "classes"), [])]
    if not names:
        raise TrainError("the data has no class names")
    counts = _first_attr(data, ("class_counts", "train_class_counts"))
    if isinstance(counts, Mapping):
        counts = [int(counts.get(n, counts.get(i, 0))) for i, n in enumerate(names)]
    paths = _first_attr(data, ("validation_paths", "validation_files", "val_paths"))
    if paths is not None:  # the pipeline keeps (path, label) pairs
        paths = [p[0] if isinstance(p, (tuple, list)) else p for p in paths] or None
    return DataBundle(
        train=train,
        validation=_first_attr(data, ("validation", "val", "validation_ds", "val_ds")),
        class_names=names,
        train_count=_first_attr(data, ("train_count", "num_train", "n_train")),
        validation_count=_first_attr(data, ("validation_count", "val_count", "num_validation", "n_validation")),
        class_counts=[int(c) for c in counts] if counts is not None else None,
        validation_paths=[str(p) for p in paths] if paths is not None else None,
        source=str(_first_attr(data, ("source", "root"), source) or source),
    )


def _clean(exc: BaseException) -> str:
    from app.engine.layers import clean_keras_message

    return clean_keras_message(exc) or type(exc).__name__


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null, numpy numbers plain ones: metrics.json stays valid JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(_json_safe(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def _save_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez`` into a temporary sibling, fsync, rename: no memory copy of the whole file."""
    with atomic_open(path) as fh:
        np.savez(fh, **arrays)


def history_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """SPEC's columns first, any further metric after them; a missing value is an empty cell."""
    extra = sorted({k for r in rows for k in r} - set(HISTORY_COLUMNS) - {"seconds"})
    columns = [*HISTORY_COLUMNS, *extra]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else r[c] for c in columns])
    return buf.getvalue()


class _Emitter:
    """Calls the sink; a sink that raises is logged, never allowed to kill the run."""

    def __init__(self, sink: Callable[[ev.Event], None] | None) -> None:
        self.sink = sink
        self.errors = 0
        self.started = False

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.started = True
        if self.sink is None:
            return
        try:
            self.sink(event)
        except Exception:  # noqa: BLE001
            self.errors += 1
            if self.errors == 1:
                log.exception("the event sink raised on %s; training goes on", event.kind)


class _Writer:
    """One background thread doing the run's file writes, in order (pure numpy and I/O)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="layerlab-run-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                if self.error is None:
                    job()
            except BaseException as exc:  # noqa: BLE001 - reported by check()
                self.error = exc
            finally:
                self._queue.task_done()

    def submit(self, job: Callable[[], None]) -> None:
        self.check()
        self._queue.put(job)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def flush(self) -> None:
        self._queue.join()
        self.check()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)


# -- run folder -----------------------------------------------------------------------
def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or "run"


def default_run_dir(project: Project, *, now: datetime | None = None) -> Path:
    """``<project folder>/runs/<timestamp>-<name>``; ``runs/`` in the cwd for an unsaved project."""
    base = project.path.parent / "runs" if project.path is not None else Path("runs")
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = base / f"{stamp}-{_slug(project.name)}"
    i = 2
    while target.exists():
        target = base / f"{stamp}-{_slug(project.name)}-{i}"
        i += 1
    return target


def _prepare_folder(path: Path) -> None:
    """Create the folder and write a probe file: an unwritable place fails before any training."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / CHECKPOINT_DIR).mkdir(exist_ok=True)
        probe = path / ".layerlab-write-test"
        with open(probe, "wb") as fh:
            fh.write(b"layerlab" * 128)
            fh.flush()
            os.fsync(fh.fileno())
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            reason = f"cannot be created as a folder ({reason})"
        raise RunFolderError(path, f"run folder is not writable: {reason}") from None


def _check_new_folder(path: Path) -> None:
    """A new run goes into a new or empty folder: never over a run, nor over the user's own files."""
    if (path / CHECKPOINT_DIR / STATE_FILE).exists():
        raise RunFolderError(path, "already holds a training run: continue it with --resume, or choose another folder")
    try:
        used = path.is_dir() and any(path.iterdir())
    except OSError:
        return  # unreadable: _prepare_folder names the problem
    if used:
        raise RunFolderError(path, "is not empty and holds no run to continue: choose a new or empty folder")


def _check_space(path: Path, model: Any) -> None:
    """Roughly ten copies of the weights go to disk (model, checkpoints, optimizer state)."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return
    need = int(model.count_params()) * 4 * 10 + (8 << 20)
    if free < need:
        raise RunFolderError(
            path, f"not enough free space: {free >> 20} MB free, the run needs about {need >> 20} MB"
        )


# -- state ----------------------------------------------------------------------------
def read_state(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's state.json; RunFolderError when there is nothing to resume."""
    path = Path(run_dir) / CHECKPOINT_DIR / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(run_dir, "no checkpoint to resume from (checkpoint/state.json is missing)") from None
    except (OSError, ValueError) as exc:
        raise RunFolderError(path, f"checkpoint state cannot be read ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise RunFolderError(path, "not a LayerLab checkpoint")
    if not _is_int(state.get("version", 0)) or int(state.get("version", 0)) > STATE_VERSION:
        raise RunFolderError(path, "checkpoint written by a newer LayerLab")
    _check_state(state, Path(run_dir), path)
    return state


def _is_int(value: Any, low: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and (low is None or value >= low)


def _check_state(state: dict[str, Any], run_dir: Path, path: Path) -> None:
    """Every field a resume reads has its type, and every file it names lies inside the run folder.

    A hand-edited or hostile state.json must not make ``--resume`` read (or
    later delete) files elsewhere, nor crash on a wrong type half-way through.
    """

    def bad(what: str) -> RunFolderError:
        return RunFolderError(path, f"malformed checkpoint: {what}")

    if not _is_int(state.get("epoch"), 0):
        raise bad(f"'epoch' must be a non-negative integer (it is {state.get('epoch')!r})")
    for key in ("epochs", "schedule_epochs", "steps_per_epoch"):
        if state.get(key) is not None and not _is_int(state[key], 0):
            raise bad(f"'{key}' must be a non-negative integer (it is {state[key]!r})")
    if not _is_int(state.get("seed", 0)):
        raise bad(f"'seed' must be an integer (it is {state.get('seed')!r})")
    shape = state.get("image_shape")
    if not isinstance(shape, list) or not shape or not all(_is_int(d, 1) for d in shape):
        raise bad(f"'image_shape' must be a list of positive integers (it is {shape!r})")
    names = state.get("class_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad("'class_names' must be a list of names")
    if state.get("training") is not None and not isinstance(state["training"], dict):
        raise bad("'training' must be an object")
    history = state.get("history")
    if history is not None and not (
        isinstance(history, list) and all(isinstance(r, dict) and _is_int(r.get("epoch", 0)) for r in history)
    ):
        raise bad("'history' must be a list of epoch rows")
    _inside_run(state.get("weights"), "'weights'", run_dir, bad)
    best = state.get("best")
    if best is not None:
        if not isinstance(best, dict) or not _is_int(best.get("epoch"), 0) or best["epoch"] > state["epoch"]:
            raise bad("'best' must name an epoch no later than the checkpoint's")
        value = best.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad(f"'best' must hold a finite value (it holds {value!r})")
        _inside_run(best.get("file"), "'best.file'", run_dir, bad)
    _inside_run(ARCH_FILE, ARCH_FILE, run_dir, bad)


def _inside_run(name: Any, what: str, run_dir: Path, bad: Callable[[str], RunFolderError]) -> Path:
    """``checkpoint/<name>``, refused unless it is a plain relative name that stays in the run folder."""
    from pathlib import PurePosixPath, PureWindowsPath

    if not isinstance(name, str) or not name.strip():
        raise bad(f"{what} must name a file in checkpoint/ (it is {name!r})")
    if (
        PurePosixPath(name).is_absolute()
        or PureWindowsPath(name).is_absolute()
        or PureWindowsPath(name).drive
        or ".." in PurePosixPath(name.replace("\\", "/")).parts
    ):
        raise bad(f"{what} {name!r} points outside the run folder")
    target = run_dir / CHECKPOINT_DIR / name
    try:
        inside = target.resolve().is_relative_to(run_dir.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise bad(f"{what} {name!r} links outside the run folder")
    return target


def _load_arrays(path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as z:
            model = [z[k] for k in sorted(k for k in z.files if k.startswith("model/"))]
            opt = [z[k] for k in sorted(k for k in z.files if k.startswith("optimizer/"))]
    except FileNotFoundError:
        raise RunFolderError(path, "checkpoint weights file is missing") from None
    except Exception as exc:  # noqa: BLE001 - truncated (BadZipFile, EOFError), not an npz, pickled
        raise RunFolderError(path, f"checkpoint weights cannot be read ({_clean(exc)})") from None
    if not model:
        raise RunFolderError(path, "checkpoint weights file holds no model weights")
    return model, opt


def _assign(variables: Sequence[Any], arrays: Sequence[np.ndarray], what: str, path: Path) -> None:
    if len(variables) != len(arrays):
        raise RunFolderError(path, f"checkpoint holds {len(arrays)} {what} variables, the model has {len(variables)}")
    for v, a in zip(variables, arrays, strict=True):
        if tuple(v.shape) != tuple(a.shape):
            raise RunFolderError(path, f"checkpoint {what} variable {v.path} has shape {a.shape}, expected {tuple(v.shape)}")
    for v, a in zip(variables, arrays, strict=True):
        v.assign(a)


# -- settings -------------------------------------------------------------------------
def apply_overrides(settings: TrainSettings, overrides: Mapping[str, Any] | None) -> TrainSettings:
    """Command-line style overrides (epochs, batch_size, learning_rate, optimizer, ...); None is no change."""
    if not overrides:
        return settings
    known = {f.name for f in fields(TrainSettings)}
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TrainError(f"unknown training setting(s): {', '.join(unknown)}")
    if "epochs" in changes and int(changes["epochs"]) < 1:
        raise TrainError(f"epochs must be at least 1, got {changes['epochs']}")
    if "batch_size" in changes and int(changes["batch_size"]) < 1:
        raise TrainError(f"batch size must be at least 1, got {changes['batch_size']}")
    if "learning_rate" in changes and not float(changes["learning_rate"]) > 0:
        raise TrainError(f"learning rate must be a positive number, got {changes['learning_rate']}")
    if "optimizer" in changes:
        changes["optimizer"] = str(changes["optimizer"]).lower()
        if changes["optimizer"] not in OPTIMIZERS:
            raise TrainError(f"unknown optimizer '{changes['optimizer']}' (choose one of: {', '.join(OPTIMIZERS)})")
    return replace(settings, **changes)


def _monitor(settings: TrainSettings, has_validation: bool) -> tuple[str, str]:
    acc = "accuracy" in settings.metrics
    name = ("val_" if has_validation else "") + ("accuracy" if acc else "loss")
    return name, "max" if acc else "min"


# -- the network ----------------------------------------------------------------------
_UNITS = {
    "Dense": "units",
    "EinsumDense": None,
    "Conv1D": "filters",
    "Conv2D": "filters",
    "Conv3D": "filters",
    "Conv1DTranspose": "filters",
    "Conv2DTranspose": "filters",
    "Conv3DTranspose": "filters",
    "SeparableConv2D": "filters",
}
_PASS_THROUGH = {
    "Softmax", "Activation", "ReLU", "Dropout", "Flatten", "Reshape", "ActivityRegularization",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout2D", "Identity",
}  # fmt: skip


def adapt_output(graph: NetworkGraph, num_classes: int, loss: str = "") -> str | None:
    """Give the output layer one unit per class; the line to show the user, or None if nothing changed."""
    outputs = graph.output_nodes()
    if len(outputs) != 1 or num_classes < 1:
        return None
    node = outputs[0]
    while node.class_name not in _UNITS:
        preds = graph.predecessors(node.id)
        if node.class_name not in _PASS_THROUGH or len(preds) != 1:
            return None
        node = graph.node(preds[0])
    key = _UNITS[node.class_name]
    units = node.params.get(key) if key else None
    if not isinstance(units, int) or isinstance(units, bool) or units == num_classes:
        return None
    if units == 1 and num_classes == 2 and "binary" in loss:
        return None
    graph.set_param(node.id, key, num_classes)
    return (
        f"output layer '{node.name}' adapted from {units} to {num_classes} units "
        f"to match the dataset's {num_classes} classes"
    )


def _check_classifier(model: Any) -> None:
    """Training labels whole images: the network must give one vector of class scores per image."""
    shapes = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]
    if len(shapes) == 1 and len(shapes[0]) == 2:
        return
    if len(shapes) == 1:
        grid = "x".join(str(d) for d in shapes[0][1:-1])
        what = f"an output for every position of a {grid} grid (a segmentation network)"
    else:
        what = f"{len(shapes)} outputs"
    raise TrainError(
        f"this network gives {what}; training here takes one label per image, so the network must "
        "end in one vector of class scores, e.g. GlobalAveragePooling2D or Flatten then Dense"
    )


def image_shape(graph: NetworkGraph) -> tuple[int, ...]:
    inputs = graph.input_nodes()
    if len(inputs) != 1:
        raise TrainError(f"training needs a network with one image input (this one has {len(inputs)})")
    shape = inputs[0].params.get("shape")
    if shape is None and inputs[0].params.get("batch_shape"):
        shape = list(inputs[0].params["batch_shape"])[1:]
    if not isinstance(shape, (list, tuple)) or not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise TrainError(
            f"input '{inputs[0].name}' needs a fixed image shape such as [28, 28, 1] to train (it has {shape!r})"
        )
    return tuple(int(d) for d in shape)


def preprocessing_configs(data: DataSettings, shape: tuple[int, ...], train: Any) -> list[dict[str, Any]]:
    """The data pipeline's layers for the model's front; standardizing learns its mean from ``train``."""
    from app.engine.data_pipeline import adapt_normalization, preprocessing_layers

    mean = variance = None
    if data.normalization == "standardize":
        mean, variance = adapt_normalization(train)
    try:
        return list(preprocessing_layers(data, shape, mean=mean, variance=variance))
    except ValueError as exc:
        raise TrainError(str(exc)) from None


def insert_preprocessing(graph: NetworkGraph, configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Put the preprocessing layers between the input and its layers; their node names."""
    if not configs:
        return []
    inp = graph.input_nodes()[0]
    after = graph.outputs_of(inp.id)
    prev = inp.id
    names = []
    for cfg in configs:
        class_name = str(cfg.get("class_name"))
        params = dict(cfg.get("config") or cfg.get("params") or {})
        name = params.pop("name", None) or cfg.get("name")
        node = graph.add_node(class_name, params, name=name)
        graph.connect(prev, node.id, 0)
        prev = node.id
        names.append(node.name)
    for e in after:
        graph.disconnect(e)
        graph.connect(prev, e.dst, e.slot, 0)
    return names


# -- the per-batch / per-epoch work ----------------------------------------------------
class _Runtime:
    """State of one fit, driven by a thin Keras callback (see :func:`_callback`)."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)
        self.model: Any = None
        self.epoch = 0
        self.batch = 0
        self.halt: tuple[str, int, int] | None = None  # ("nan" | "user", epoch, batch)
        self.lr = 0.0
        self.paused_total = 0.0
        self.last_emit = -math.inf
        self.last_samples = 0
        self.last_paused = 0.0
        self.last_best_save = time.perf_counter()
        self.epoch_t0 = 0.0
        self.epoch_paused0 = 0.0

    # Keras hooks
    def epoch_begin(self, epoch: int) -> None:
        self.epoch = epoch + 1
        self.batch = 0
        self.lr = _current_lr(self.model)
        self.epoch_t0 = time.perf_counter()
        self.epoch_paused0 = self.paused_total
        self.last_emit = -math.inf
        self.last_samples = 0
        self.last_t = self.epoch_t0
        self.last_paused = self.paused_total

    def train_batch_end(self, batch: int, logs: dict[str, Any] | None) -> None:
        b = batch + 1
        self.batch = b
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self._halt("nan", b)
            return
        control = self.control
        if control.paused:
            self._pause(b)
        if control.stopped:
            self._halt("user", b)
            return
        now = time.perf_counter()
        if now - self.last_emit >= self.interval:
            samples = b * self.batch_size if not self.train_count else min(b * self.batch_size, self.train_count)
            dt = now - self.last_t - (self.paused_total - self.last_paused)
            rate = (samples - self.last_samples) / dt if dt > 0 else 0.0
            self.emit(
                ev.BatchEnd(
                    epoch=self.epoch,
                    batch=b,
                    steps=self.steps,
                    loss=float(loss) if loss is not None else math.nan,
                    metrics={k: v for k, v in logs.items() if k != "loss"},
                    learning_rate=_current_lr(self.model) if self.lr_varies else self.lr,
                    samples_per_s=rate,
                )
            )
            self.last_emit, self.last_t, self.last_samples, self.last_paused = now, now, samples, self.paused_total

    def test_begin(self) -> None:
        if self.halt is not None:
            self.model.stop_evaluating = True  # no full validation pass for an epoch that is abandoned

    def test_batch_end(self) -> None:
        if self.halt is None and self.control.stopped:
            self._halt("user", self.batch)
        if self.halt is not None:
            self.model.stop_evaluating = True

    def epoch_end(self, epoch: int, logs: dict[str, Any] | None) -> None:
        self.writer.check()
        if self.halt is not None:
            return  # an epoch cut short is not recorded: the checkpoint stays at the last whole one
        model_arrays = [np.asarray(v.numpy()) for v in self.model.variables]
        if not _all_finite(model_arrays):
            # The last update made the weights NaN/inf (the loss it was computed from was still
            # finite): this epoch is no result to keep, nor a checkpoint to resume from.
            self._halt("nan", self.batch)
            return
        logs = dict(logs or {})
        seconds = time.perf_counter() - self.epoch_t0 - (self.paused_total - self.epoch_paused0)
        row: dict[str, Any] = {"epoch": self.epoch, **logs, "learning_rate": self.lr}
        self.history.append({**row, "seconds": round(seconds, 3)})
        value = logs.get(self.monitor)
        loss = logs.get("val_loss" if self.monitor.startswith("val_") else "loss")
        improved = _finite_number(value) and _finite_number(loss) and (
            self.best_value is None
            or (value > self.best_value if self.mode == "max" else value < self.best_value)
        )
        opt_arrays = [np.asarray(v.numpy()) for v in self.model.optimizer.variables]
        if improved:
            self.best_value, self.best_epoch, self.best_arrays = float(value), self.epoch, model_arrays
        self.epochs_completed = self.epoch
        self.writer.submit(self._checkpoint_job(model_arrays, opt_arrays))
        now = time.perf_counter()
        if improved and now - self.last_best_save >= BEST_SAVE_INTERVAL_S:
            from app.engine.export_keras import save_model_atomic

            save_model_atomic(self.model, self.run_dir / MODEL_FILE)
            self.last_best_save = now
        self.tensorboard.write(self.epoch, row)
        self.emit(ev.EpochEnd(epoch=self.epoch, logs=row, seconds=seconds))

    # helpers
    def _halt(self, why: str, batch: int) -> None:
        self.halt = (why, self.epoch, batch)
        self.model.stop_training = True
        self.model.stop_evaluating = True

    def _pause(self, batch: int) -> None:
        self.emit(ev.Paused(epoch=self.epoch, batch=batch))
        t0 = time.perf_counter()
        while self.control.paused and not self.control.stopped:
            self.control.wait_if_paused(0.25)
        self.paused_total += time.perf_counter() - t0
        if not self.control.stopped:
            self.emit(ev.Resumed(epoch=self.epoch, batch=batch))

    def state(self, weights_file: str) -> dict[str, Any]:
        best = None
        if self.best_epoch is not None:
            best = {
                "epoch": self.best_epoch,
                "value": self.best_value,
                "monitor": self.monitor,
                "file": f"weights-{self.best_epoch:04d}.npz",
            }
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "epoch": self.epochs_completed,
            "epochs": self.epochs,
            "schedule_epochs": self.schedule_epochs,
            "steps_per_epoch": self.steps,
            "weights": weights_file,
            "best": best,
            "monitor": self.monitor,
            "seed": self.seed,
            "source": self.source,
            "class_names": list(self.class_names),
            "image_shape": list(self.image_shape),
            "training": self.settings.to_dict(),
            "history": list(self.history),
        }

    def _checkpoint_job(self, model_arrays: list[np.ndarray], opt_arrays: list[np.ndarray]) -> Callable[[], None]:
        name = f"weights-{self.epochs_completed:04d}.npz"
        state = _json_safe(self.state(name))
        ckpt = self.run_dir / CHECKPOINT_DIR
        rows = [{k: v for k, v in r.items() if k != "seconds"} for r in state["history"]]

        def job() -> None:
            arrays = {f"model/{i:05d}": a for i, a in enumerate(model_arrays)}
            arrays.update({f"optimizer/{i:05d}": a for i, a in enumerate(opt_arrays)})
            _save_npz_atomic(ckpt / name, arrays)
            _write_json(ckpt / STATE_FILE, state)  # the commit point
            write_text_atomic(self.run_dir / HISTORY_FILE, history_csv(rows))
            keep = {name, (state["best"] or {}).get("file")}
            for f in ckpt.glob("weights-*.npz"):
                if f.name not in keep:
                    try:
                        f.unlink()
                    except OSError:
                        pass

        return job


class TensorBoardLog:
    """Per-epoch scalars as TensorBoard event files (``train/``, ``validation/``, Keras' tag names).

    Written with TensorFlow's own ``tf.summary.write``, so the logs appear even
    where the ``tensorboard`` package (which Keras' callback needs) is not
    installed. Best effort: a failure here is logged and never stops a run.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._writers: dict[str, Any] = {}
        self._failed = False

    def _writer(self, split: str) -> Any:
        import tensorflow as tf

        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(str(self.log_dir / split))
        return self._writers[split]

    def write(self, epoch: int, logs: Mapping[str, Any]) -> None:
        if self._failed:
            return
        try:
            import tensorflow as tf
            from tensorflow.core.framework import summary_pb2

            meta = summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
                data_class=summary_pb2.DATA_CLASS_SCALAR,
            )
            for key, value in logs.items():
                if key == "epoch" or not isinstance(value, (int, float)) or not math.isfinite(value):
                    continue
                split = "validation" if key.startswith("val_") else "train"
                writer = self._writer(split)
                with writer.as_default():
                    tf.summary.write(f"epoch_{key.removeprefix('val_')}", tf.constant(float(value)), step=epoch, metadata=meta)
            for writer in self._writers.values():
                writer.flush()
        except Exception:  # noqa: BLE001
            self._failed = True
            log.warning("TensorBoard logs could not be written to %s", self.log_dir, exc_info=True)

    def close(self) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass
        self._writers.clear()


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)


def _all_finite(arrays: Sequence[np.ndarray]) -> bool:
    """Every floating-point array free of NaN and infinity (integer state, e.g. seeds, always is)."""
    return all(np.isfinite(a).all() for a in arrays if a.dtype.kind in "fc")


def _current_lr(model: Any) -> float:
    try:
        lr = model.optimizer.learning_rate
        return float(lr.numpy() if hasattr(lr, "numpy") else lr)
    except Exception:  # noqa: BLE001 - an optimizer without a readable rate
        return math.nan


def _callback(rt: _Runtime) -> Any:
    import keras

    class LayerLabRunCallback(keras.callbacks.Callback):
        """Stop/pause/NaN checks at batch end, throttled events, per-epoch checkpoint."""

        def set_model(self, model: Any) -> None:
            super().set_model(model)
            rt.model = model

        def on_epoch_begin(self, epoch, logs=None):
            rt.epoch_begin(epoch)

        def on_train_batch_end(self, batch, logs=None):
            rt.train_batch_end(batch, logs)

        def on_test_begin(self, logs=None):
            rt.test_begin()

        def on_test_batch_end(self, batch, logs=None):
            rt.test_batch_end()

        def on_epoch_end(self, epoch, logs=None):
            rt.epoch_end(epoch, logs)

    return LayerLabRunCallback()


# -- data -----------------------------------------------------------------------------
def _load_data(source: str, shape: tuple[int, ...], data: DataSettings, batch_size: int) -> DataBundle:
    if not source:
        raise TrainError("no dataset: choose an image folder or a sample (e.g. sample:digits)")
    from app.engine.data_pipeline import make_datasets

    try:
        datasets = make_datasets(
            source,
            image_shape=shape,
            batch_size=int(batch_size),
            validation_split=float(data.validation_split),
            seed=int(data.seed),
            cache_budget_mb=int(data.cache_budget_mb),
            validation_source=data.validation_source or None,
        )
    except TrainError:
        raise
    except Exception as exc:  # noqa: BLE001 - the pipeline's own errors are one line already
        message = str(exc) or type(exc).__name__
        raise TrainError(message if source in message else f"{source}: {message}") from exc
    return as_bundle(datasets, source)


def _steps_per_epoch(bundle: DataBundle, batch_size: int) -> int:
    try:
        n = int(bundle.train.cardinality())
    except Exception:  # noqa: BLE001 - not a tf.data dataset
        n = -1
    if n > 0:
        return n
    if bundle.train_count:
        return max(1, math.ceil(int(bundle.train_count) / max(1, batch_size)))
    raise TrainError("the training data has an unknown length; give the number of training images")


def _label_counts(bundle: DataBundle) -> list[int]:
    if bundle.class_counts is not None:
        return bundle.class_counts
    counts = np.zeros(len(bundle.class_names), np.int64)
    for _, y in bundle.train:
        y = np.asarray(y).reshape(-1)
        counts += np.bincount(y.astype(np.int64), minlength=len(counts))[: len(counts)]
    return [int(c) for c in counts]


def _count(ds: Any, known: int | None) -> int:
    if known is not None:
        return int(known)
    if ds is None:
        return 0
    total = 0
    for _, y in ds:
        total += int(np.asarray(y).shape[0])
    return total


def _as_targets(ds: Any, form: str, n: int) -> Any:
    """The labels of ``ds`` as :func:`~app.engine.compile.target_form` says the loss needs them."""
    if form == "sparse":
        return ds
    import tensorflow as tf

    def one_hot(x: Any, y: Any) -> tuple[Any, Any]:
        return x, tf.one_hot(tf.cast(y, tf.int32), n)

    def column(x: Any, y: Any) -> tuple[Any, Any]:
        return x, tf.reshape(tf.cast(y, tf.float32), (-1, 1))

    fn = one_hot if form == "one_hot" else column
    return ds.map(tf.autograph.experimental.do_not_convert(fn), num_parallel_calls=tf.data.AUTOTUNE)


# -- the run --------------------------------------------------------------------------
def run(
    project: Project,
    *,
    data: Any = None,
    events: Callable[[ev.Event], None] | None = None,
    control: RunControl | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    event_interval: float = EVENT_INTERVAL_S,
) -> RunResult:
    """Train ``project`` and write its run folder; returns how it ended.

    ``data``: a source string (folder, ``sample:NAME``), a ready ``Datasets`` /
    DataBundle, or None for the project's own source. ``resume``: a run folder
    to continue from its last completed epoch (``out_dir`` is then ignored; of
    the overrides only ``epochs`` applies). Problems found before training
    starts raise (TrainError, RunFolderError, BuildError, CompileError; only
    ``Info`` events may have gone out) and remove a run folder this call
    created; once ``RunStarted`` is out, every outcome - NaN, an error, a stop -
    returns a RunResult after writing what it can, and ends with ``Finished`` or
    ``Failed``.
    """
    emit = _Emitter(events)
    control = control or RunControl()
    messages: list[str] = []

    def info(message: str) -> None:
        messages.append(message)
        emit(ev.Info(message))

    state: dict[str, Any] | None = None
    if resume is not None:
        run_dir = Path(resume)
        state = read_state(run_dir)
        snap_path = run_dir / PROJECT_FILE
        if snap_path.is_file():
            project = load_project(snap_path)
        settings = TrainSettings.from_dict(state.get("training"))
        extra = {k: v for k, v in (overrides or {}).items() if v is not None and k != "epochs"}
        if extra:
            info(f"resuming keeps the run's own settings; ignored: {', '.join(sorted(extra))}")
        epochs = int((overrides or {}).get("epochs") or state.get("epochs") or settings.epochs)
        settings = replace(settings, epochs=max(epochs, 1))
        source = data if isinstance(data, str) else str(state.get("source") or project.data.source)
        shape = tuple(int(d) for d in state["image_shape"])
    else:
        settings = apply_overrides(project.training, overrides)
        if (refusal := settings_error(project, settings)) is not None:
            raise TrainError(refusal)  # checked by the one schema (app.core.validation), as check reports it
        run_dir = Path(out_dir) if out_dir is not None else default_run_dir(project)
        _check_new_folder(run_dir)
        source = data if isinstance(data, str) else project.data.source
        shape = image_shape(project.graph)
    created = not run_dir.exists()
    _prepare_folder(run_dir)
    try:
        return _train(
            project, data, settings, state, run_dir, source, shape, emit, info, messages, control, event_interval
        )
    except BaseException:
        if created and not emit.started:  # nothing trained: leave no empty run folder behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _train(
    project: Project,
    data: Any,
    settings: TrainSettings,
    state: dict[str, Any] | None,
    run_dir: Path,
    source: Any,
    shape: tuple[int, ...],
    emit: _Emitter,
    info: Callable[[str], None],
    messages: list[str],
    control: RunControl,
    event_interval: float,
) -> RunResult:
    """The part of :func:`run` after the folder is ready: data, model, fit, run folder."""
    import keras

    from app.engine.build import build_model
    from app.engine.compile import class_weights as balanced_weights
    from app.engine.compile import compile_model, dtype_policy, schedule_callbacks, target_form
    from app.engine.tf_gradients import release_all_reduce_gradients

    keras.utils.clear_session()
    release_all_reduce_gradients()  # what still pinned the earlier runs' train steps
    # A pipeline dataset has no known length (it drops undecodable files); Keras says so after
    # the first epoch and then counts the batches itself - nothing for the user to do.
    warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
    if data is None or isinstance(data, str):
        bundle = _load_data(source, shape, project.data, settings.batch_size)
    else:
        bundle = as_bundle(data, source if isinstance(source, str) else "")
    source_name = bundle.source or (source if isinstance(source, str) else "")
    names = list(bundle.class_names)
    if len(names) < 2:
        raise TrainError(
            f"{source_name or 'the dataset'}: has only one class ({', '.join(names) or 'none'}); "
            "classification needs at least two classes"
        )
    seed = int(state["seed"]) if state else int(project.data.seed)
    initial_epoch = int(state["epoch"]) if state else 0
    keras.utils.set_random_seed(seed + initial_epoch)
    if state and list(state.get("class_names") or []) != names:
        raise TrainError(
            f"{source_name}: the classes differ from the run being resumed "
            f"({', '.join(names)} vs {', '.join(state.get('class_names') or [])})"
        )
    steps = _steps_per_epoch(bundle, settings.batch_size)
    schedule_epochs = int(state.get("schedule_epochs") or settings.epochs) if state else settings.epochs
    monitor, mode = _monitor(settings, bundle.validation is not None)
    train_ds, val_ds = bundle.train, bundle.validation
    ckpt = run_dir / CHECKPOINT_DIR

    with dtype_policy(settings.mixed_precision):
        if state is None:
            graph = project.graph.copy()
            adapted = adapt_output(graph, len(names), settings.loss)
            snapshot = project.copy()
            snapshot.graph = graph.copy()
            snapshot.training = settings
            snapshot.data = replace(project.data, source=source_name)
            train_graph = graph.copy()
            insert_preprocessing(train_graph, preprocessing_configs(project.data, shape, bundle.train))
            if settings.mixed_precision:
                for node in train_graph.output_nodes():
                    node.params.setdefault("dtype", "float32")  # softmax and loss in full precision
            from app.engine.model_import import project_weights

            model = build_model(train_graph, weights=project_weights(project), name=project.name)
            _check_classifier(model)
            if adapted:
                info(adapted)
            _check_space(run_dir, model)
            from app.engine.export_keras import save_model_atomic

            try:
                save_model_atomic(model, ckpt / ARCH_FILE)
                snapshot.save(run_dir / PROJECT_FILE)
            except OSError as exc:
                raise RunFolderError(run_dir, f"cannot write the run folder ({exc.strerror or exc})") from None
            compile_model(model, settings, steps, schedule_epochs)
            model.optimizer.build(model.trainable_variables)
            history: list[dict[str, Any]] = []
            best = (None, None, None)
        else:
            try:
                model = keras.saving.load_model(ckpt / ARCH_FILE, compile=False, safe_mode=True)
            except Exception as exc:  # noqa: BLE001
                raise RunFolderError(ckpt / ARCH_FILE, f"checkpoint model cannot be loaded ({_clean(exc)})") from None
            compile_model(model, settings, int(state.get("steps_per_epoch") or steps), schedule_epochs)
            model.optimizer.build(model.trainable_variables)
            weights_path = ckpt / str(state["weights"])
            model_arrays, opt_arrays = _load_arrays(weights_path)
            _assign(model.variables, model_arrays, "model", weights_path)
            _assign(model.optimizer.variables, opt_arrays, "optimizer", weights_path)
            history = [r for r in state.get("history") or [] if int(r.get("epoch", 0)) <= initial_epoch]
            b = state.get("best") or None
            if b and b.get("file"):
                best_arrays = model_arrays if b["file"] == state["weights"] else _load_arrays(ckpt / b["file"])[0]
                best = (float(b["value"]), int(b["epoch"]), best_arrays)
            else:
                best = (None, None, None)
            info(f"resuming {run_dir} after epoch {initial_epoch} (optimizer step {int(model.optimizer.iterations)})")

        train_ds, val_ds = (
            _as_targets(ds, target_form(settings.loss, model.output_shape[-1]), len(names)) if ds is not None else None
            for ds in (train_ds, val_ds)
        )
        weights = None
        if settings.class_weights:
            weights = balanced_weights(_label_counts(bundle))
        try:
            _write_json(run_dir / CLASSES_FILE, names)
        except OSError as exc:
            raise RunFolderError(run_dir / CLASSES_FILE, exc.strerror or str(exc)) from None
        writer = _Writer()
        train_count = bundle.train_count
        rt = _Runtime(
            control=control,
            emit=emit,
            interval=float(event_interval),
            steps=steps,
            batch_size=int(settings.batch_size),
            train_count=int(train_count) if train_count else None,
            lr_varies=settings.schedule.name not in ("constant", "reduce_on_plateau"),
            writer=writer,
            run_dir=run_dir,
            history=history,
            monitor=monitor,
            mode=mode,
            best_value=best[0],
            best_epoch=best[1],
            best_arrays=best[2],
            epochs_completed=initial_epoch,
            epochs=int(settings.epochs),
            schedule_epochs=schedule_epochs,
            seed=seed,
            source=source_name,
            class_names=names,
            image_shape=shape,
            settings=settings,
            tensorboard=TensorBoardLog(run_dir / TENSORBOARD_DIR),
        )
        cbs: list[Any] = [_callback(rt)]
        early = None
        if settings.early_stopping and settings.epochs > initial_epoch:
            early = keras.callbacks.EarlyStopping(
                monitor=monitor, mode=mode, patience=max(0, int(settings.early_stopping_patience))
            )
            cbs.append(early)
        cbs += schedule_callbacks(settings, monitor)

        emit(
            ev.RunStarted(
                run_dir=str(run_dir),
                epochs=int(settings.epochs),
                initial_epoch=initial_epoch,
                steps_per_epoch=steps,
                batch_size=int(settings.batch_size),
                train_samples=int(train_count) if train_count else steps * int(settings.batch_size),
                validation_samples=_count(val_ds, bundle.validation_count) if val_ds is not None else 0,
                class_names=tuple(names),
                monitor=monitor,
                resumed=state is not None,
            )
        )
        error: str | None = None
        try:
            model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=int(settings.epochs),
                initial_epoch=initial_epoch,
                shuffle=False,  # a tf.data dataset shuffles itself
                callbacks=cbs,
                class_weight=weights,
                verbose=0,
            )
        except Exception as exc:  # noqa: BLE001 - any failure mid-run ends it with its reason
            log.debug("training failed", exc_info=True)
            error = f"error: {_clean(exc)}"
        try:
            writer.flush()
        except Exception as exc:  # noqa: BLE001 - a full disk while checkpointing
            error = error or f"error: cannot write the run folder ({_clean(exc)})"
        finally:
            writer.close()
            rt.tensorboard.close()

        reason, fail_epoch, fail_batch = _reason(rt, error, early, settings.epochs)
        result = _finish(
            model,
            rt,
            reason,
            bundle=bundle,
            val_ds=val_ds,
            train_ds=train_ds,
            loss=settings.loss,
        )
    result.messages = messages
    failed = result.failed
    if failed:
        emit(ev.Failed(reason=result.stopped_reason, epoch=fail_epoch, batch=fail_batch, run_dir=str(run_dir)))
    else:
        if result.stopped_reason in (STOPPED_BY_USER, EARLY_STOPPING):
            emit(ev.Stopped(reason=result.stopped_reason))
        emit(ev.Finished(run_dir=str(run_dir), metrics=result.metrics))
    return result  # the next run's clear_session() frees this one's graph; no cost at exit here


def _reason(rt: _Runtime, error: str | None, early: Any, epochs: int) -> tuple[str, int | None, int | None]:
    if rt.halt is not None and rt.halt[0] == "nan":
        _, e, b = rt.halt
        return f"nan_loss: epoch {e} batch {b}", e, b
    if error:
        return error, rt.epoch or None, rt.batch or None
    if rt.halt is not None:
        return STOPPED_BY_USER, rt.halt[1], rt.halt[2]
    if early is not None and getattr(early, "stopped_epoch", 0) > 0 and rt.epochs_completed < epochs:
        return EARLY_STOPPING, None, None
    return COMPLETED, None, None


def _finish(
    model: Any,
    rt: _Runtime,
    reason: str,
    *,
    bundle: DataBundle,
    val_ds: Any,
    train_ds: Any,
    loss: str,
) -> RunResult:
    """Best weights into model.keras, then metrics.json, predictions.csv, misclassified.json, history.csv.

    Only weights worth keeping are written (see :func:`_final_weights`); with
    none, nothing is evaluated either, and metrics.json and the result say why.
    """
    from app.engine.evaluate import (
        evaluation_from_predictions,
        misclassified_from_predictions,
        predict_dataset,
        predictions_csv,
    )
    from app.engine.export_keras import save_model_atomic

    run_dir: Path = rt.run_dir
    failed = reason.startswith(("nan_loss", "error"))
    final, best_epoch = _final_weights(model, rt, failed)
    problems: list[str] = []
    written = False
    if final is None:
        which = "validation loss" if rt.monitor.startswith("val_") else "loss"
        problems.append(f"model.keras not written: no epoch ended with finite weights and a finite {which}")
    else:
        try:
            for v, a in zip(model.variables, final, strict=True):
                v.assign(a)
            save_model_atomic(model, run_dir / MODEL_FILE)
            written = True
        except Exception as exc:  # noqa: BLE001 - a full disk, a folder in the way
            problems.append(f"model.keras not written: {_clean(exc)}")
    split, ds = ("validation", val_ds) if val_ds is not None else ("train", train_ds)
    metrics: dict[str, Any] = {}
    if written:
        try:
            labels, probs = predict_dataset(model, ds)
            metrics = evaluation_from_predictions(labels, probs, bundle.class_names, loss=loss)
            paths = bundle.validation_paths if split == "validation" else None
            write_text_atomic(run_dir / PREDICTIONS_FILE, predictions_csv(labels, probs, bundle.class_names, paths=paths))
            wrong = misclassified_from_predictions(labels, probs, bundle.class_names, paths=paths)
            _write_json(
                run_dir / MISCLASSIFIED_FILE,
                {"split": split, "total": len(wrong), "items": wrong[:MISCLASSIFIED_LIMIT]},
            )
        except Exception as exc:  # noqa: BLE001
            problems.append(f"evaluation failed: {_clean(exc)}")
    if problems and not failed:
        reason = f"error: {problems[0]}"
    if not written:
        best_epoch = None  # say only what is on disk
    metrics.update(
        {
            "epochs_completed": rt.epochs_completed,
            "stopped_reason": reason,
            "split": split,
            "monitor": rt.monitor,
            "best_epoch": best_epoch,
        }
    )
    if problems:
        metrics["problems"] = problems
    rows = [{k: v for k, v in r.items() if k != "seconds"} for r in rt.history]
    try:
        write_text_atomic(run_dir / HISTORY_FILE, history_csv(rows))
        _write_json(run_dir / METRICS_FILE, metrics)
    except OSError as exc:
        reason = metrics["stopped_reason"] = f"error: cannot write the run folder ({exc.strerror or exc})"
        problems.append(f"metrics.json not written: {exc.strerror or exc}")
    return RunResult(
        run_dir=run_dir,
        stopped_reason=reason,
        epochs_completed=rt.epochs_completed,
        metrics=_json_safe(metrics),
        history=list(rt.history),
        best_epoch=best_epoch,
        model_written=written,
        problems=problems,
    )


def _final_weights(model: Any, rt: _Runtime, failed: bool) -> tuple[list[np.ndarray] | None, int | None]:
    """(the weights model.keras gets, their epoch); (None, None) when no weights are worth keeping.

    The best epoch's weights when there is one (finite weights, finite loss).
    Without one, a run that did not fail keeps its current weights only where
    no epoch's loss went bad and they are finite (e.g. stopped inside epoch 1).
    """
    if rt.best_arrays is not None:
        return rt.best_arrays, rt.best_epoch
    if failed:
        return None, None
    key = "val_loss" if rt.monitor.startswith("val_") else "loss"
    if any(key in r and not _finite_number(r[key]) for r in rt.history):
        return None, None
    current = [np.asarray(v.numpy()) for v in model.variables]
    return (current, None) if _all_finite(current) else (None, None)


__all__ = [
    "DataBundle",
    "RunFolderError",
    "RunResult",
    "TrainError",
    "adapt_output",
    "apply_overrides",
    "as_bundle",
    "default_run_dir",
    "read_state",
    "run",
]
