"""A project, run folder or model file -> keras, python, savedmodel, tflite or onnx.

Every format goes through Keras' own exporters (``model.save``,
``model.export(format="tf_saved_model" | "litert" | "onnx")``; ONNX through
Keras' bundled tf2onnx path, checked to work with the pinned TensorFlow 2.21,
tf2onnx 1.17 and protobuf 7). Each is written to a temporary sibling and
renamed into place, so an interrupted export never leaves half a file. A run
folder or a model file exports its trained model as it is; a project is built
with its own weights (the ``python`` format always starts from the design).

A project file is data from anyone: an export built from a project (every
format from a project file, ``python`` from any source) first runs the
analyzer and refuses a project that fails ``check``; and no export may write
over one of its own inputs (the project, its weights, the run folder's files).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.atomic import atomic_target, write_text_atomic
from app.core.project import Project, load_project
from app.engine.run_folder import PROJECT_FILE

FORMATS = ("keras", "python", "savedmodel", "tflite", "onnx")
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class ExportError(Exception):
    """An export that cannot be made; one line naming the target and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(one_line(f"{path}: {reason}"))


class ExportCheckError(ExportError):
    """The project fails ``check``; ``path`` is the project, ``reason`` its first error (CLI exit 1)."""


def one_line(text: str) -> str:
    """``text`` as one printable line: a layer name with a newline in it cannot split a message."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


# -- sources ------------------------------------------------------------------------
def _source(project_or_path: Any, unsafe: bool) -> tuple[Project | None, Path | None]:
    """(project, trained model file): at least one of them is set."""
    if isinstance(project_or_path, Project):
        return project_or_path, None
    p = Path(project_or_path)
    if p.is_dir():
        from app.engine.predict import resolve_run

        model, _ = resolve_run(p)
        snap = p / PROJECT_FILE
        return (load_project(snap) if snap.is_file() else None), model
    if p.name.lower().endswith(MODEL_SUFFIXES):
        return None, p
    return load_project(p), None


def _project_for_script(project: Project | None, model_path: Path | None, unsafe: bool) -> Project:
    if project is not None:
        return project
    from app.engine.model_import import import_model

    assert model_path is not None
    return import_model(model_path, unsafe=unsafe)


def _model(project: Project | None, model_path: Path | None, unsafe: bool) -> Any:
    """The keras.Model to export: the trained file as it is, else the project built with its weights."""
    if model_path is not None:
        from app.engine.safety import load_model_file

        return load_model_file(model_path, unsafe=unsafe)
    assert project is not None
    from app.engine.build import build_model
    from app.engine.model_import import project_weights

    return build_model(project.graph, weights=project_weights(project), name=project.name, unsafe=unsafe)


# -- refusals -----------------------------------------------------------------------
def refuse_failing_project(project: Project, source: str | Path | None = None) -> None:
    """ExportCheckError with the analyzer's first error, as ``PROJECT: layer 'x': message``."""
    from app.engine.analyze import analyze

    errors = analyze(project).errors
    if not errors:
        return
    first = errors[0]
    message = first.message
    if first.layer:
        prefix = next((f"{n.class_name} '{first.layer}': " for n in project.graph if n.id == first.node), "")
        message = f"layer '{first.layer}': {message.removeprefix(prefix)}"
    where = source or project.path or f"project '{project.name}'"
    raise ExportCheckError(where, message)


def export_inputs(project_or_path: Any) -> list[Path]:
    """The files an export reads: the project and its weights, the model file, the run folder's files."""
    if isinstance(project_or_path, Project):
        return [p for p in (project_or_path.path, project_or_path.weights_path) if p is not None]
    p = Path(project_or_path)
    if p.is_dir():
        return [p, *(f for f in p.rglob("*"))]
    if p.name.lower().endswith(MODEL_SUFFIXES) or not p.is_file():
        return [p]
    project = load_project(p)
    return [p, *([project.weights_path] if project.weights_path is not None else [])]


def refuse_input_as_output(project_or_path: Any, out_path: str | Path) -> None:
    """ExportError when ``out_path`` is one of the export's inputs or a folder holding one."""
    target = Path(out_path)
    resolved = target.resolve()
    for source in export_inputs(project_or_path):
        src = Path(source).resolve()
        same = src == resolved or (target.exists() and src.exists() and os.path.samefile(src, target))
        if same or src.is_relative_to(resolved):
            what = "is" if same else "holds"
            raise ExportError(target, f"{what} one of this export's inputs ({source}); choose another output path")


# -- helpers ------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' chatter (tf2onnx logs every pass; numpy-2 deprecation warnings)."""
    loggers = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "absl")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _temp_file(target: Path, suffix: str) -> Path:
    """A temporary sibling for an exporter; a file target's is named (and its stale leftovers
    of a killed export removed) as app.core.atomic does for every other write."""
    if suffix != ".tmp" and target.name.lower().endswith(suffix) and not target.is_dir():
        return atomic_target(target)[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp)


def _commit_file(tmp: Path, target: Path) -> Path:
    if target.is_dir():
        raise ExportError(target, "is a folder; give a file name")
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    os.chmod(tmp, mode)
    os.replace(tmp, target)
    return target


def _commit_dir(tmp: Path, target: Path) -> Path:
    """Put a finished folder in place of ``target`` (which may be an older SavedModel)."""
    if target.exists():
        if not target.is_dir():
            raise ExportError(target, "exists and is a file; a SavedModel is a folder")
        if any(target.iterdir()) and not (target / "saved_model.pb").is_file():
            raise ExportError(target, "exists and is not a SavedModel folder; choose another name")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
    return target


def _reason(exc: BaseException) -> str:
    from app.engine.layers import clean_keras_message

    return clean_keras_message(exc) or type(exc).__name__


def _ensure_called(model: Any) -> None:
    """Keras' ONNX exporter refuses a model never called (a freshly loaded one): call it once."""
    if getattr(model, "_called", True):
        return
    import numpy as np

    dummies = [
        np.zeros([1, *(d if d is not None else 32 for d in t.shape[1:])], dtype=t.dtype or "float32")
        for t in model.inputs
    ]
    model(dummies[0] if len(dummies) == 1 else dummies, training=False)


def _needs_tensorflow(fmt: str, target: Path) -> None:
    import keras

    if keras.backend.backend() != "tensorflow" and fmt in ("savedmodel", "tflite"):
        raise ExportError(
            target, f"{fmt} export needs the TensorFlow backend (KERAS_BACKEND={keras.backend.backend()})"
        )


# -- the formats --------------------------------------------------------------------
@contextlib.contextmanager
def _exporting(what: str, target: Path, tmp: Path) -> Iterator[None]:
    """Run one Keras exporter quietly; any failure is an ExportError naming ``what``; ``tmp`` goes."""
    try:
        with _quiet():
            yield
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(target, f"{what} export failed: {_reason(exc)}") from None
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()


def export_savedmodel(model: Any, target: Path) -> Path:
    """A TensorFlow SavedModel folder with a ``serve`` / ``serving_default`` signature."""
    _needs_tensorflow("savedmodel", target)
    tmp = _temp_file(target, ".tmp")
    with _exporting("SavedModel", target, tmp):
        model.export(str(tmp), format="tf_saved_model", verbose=False)
        return _commit_dir(tmp, target)


def export_tflite(model: Any, target: Path) -> Path:
    """A TensorFlow Lite (LiteRT) flatbuffer, through Keras' LiteRT exporter (TFLiteConverter)."""
    _needs_tensorflow("tflite", target)
    tmp = _temp_file(target, ".tflite")
    with _exporting("TFLite", target, tmp):
        model.export(str(tmp), format="litert", verbose=False)
        return _commit_file(tmp, target)


def export_onnx(model: Any, target: Path) -> Path:
    """An ONNX model (opset chosen by tf2onnx), with a dynamic batch dimension."""
    for module in ("tf2onnx", "onnx"):
        try:
            __import__(module)
        except ImportError:
            raise ExportError(target, f"ONNX export needs the '{module}' package (pip install {module})") from None
    tmp = _temp_file(target, ".onnx")
    with _exporting("ONNX", target, tmp):
        _ensure_called(model)
        model.export(str(tmp), format="onnx", verbose=False)
        return _commit_file(tmp, target)


def export_python(project: Project, target: Path) -> Path:
    """The standalone ``train.py`` (see app.engine.script_template)."""
    from app.engine.script_template import ScriptError, generate_script

    try:
        text = generate_script(project)
    except ScriptError as exc:
        raise ExportError(target, f"cannot write a training script: {exc}") from None
    if target.is_dir():
        raise ExportError(target, "is a folder; give a file name such as train.py")
    return write_text_atomic(target, text)


def export(project_or_path: Project | str | os.PathLike[str], fmt: str, out_path: str | os.PathLike[str],
           *, unsafe: bool = False) -> Path:
    """Export to ``fmt`` (one of FORMATS) at ``out_path``; returns the path written.

    ``project_or_path``: a Project, a project file, a run folder or a ``.keras``/``.h5`` file.
    Raises ExportError: ExportCheckError when the project fails ``check``, and an ExportError
    when ``out_path`` is one of the inputs (and the loaders' ProjectError / ModelFileError / BuildError).
    """
    target = Path(out_path)
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ExportError(target, f"unknown export format '{fmt}' (choose one of: {', '.join(FORMATS)})")
    refuse_input_as_output(project_or_path, target)
    project, model_path = _source(project_or_path, unsafe)
    label = project_or_path if not isinstance(project_or_path, Project) else None
    if fmt == "python":
        script_project = _project_for_script(project, model_path, unsafe)
        refuse_failing_project(script_project, (project.path if project is not None else None) or label)
        return export_python(script_project, target)
    if model_path is None and project is not None:
        refuse_failing_project(project, label)
    if fmt == "keras":
        if not target.name.lower().endswith(MODEL_SUFFIXES):
            raise ExportError(target, "a Keras model file must end in .keras (or .h5)")
        from app.engine.export_keras import export_keras

        if model_path is None and project is not None:
            return export_keras(project, target)
        return export_keras(_model(project, model_path, unsafe), target)
    model = _model(project, model_path, unsafe)
    if fmt == "savedmodel":
        return export_savedmodel(model, target)
    if fmt == "tflite":
        return export_tflite(model, target)
    return export_onnx(model, target)
