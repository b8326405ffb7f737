"""The ``layerlab`` command line (SPEC.md): parse, call the engine, print.

Exit status: 0 success (warnings allowed), 1 the work was done and found
errors, 2 bad usage or an input that cannot be read. Errors are one line on
stderr naming the file and the problem; ``--debug`` shows the traceback.
Keras is imported only by the commands that need it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from app import __version__
from app.engine.keras_loader import load_keras, quiet_tensorflow

EXIT_OK, EXIT_FOUND_ERRORS, EXIT_BAD_INPUT = 0, 1, 2
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class UsageError(Exception):
    """Bad usage or unreadable input: exit 2 with this one line."""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse then exits 2 naming the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# -- templates / new ------------------------------------------------------------
def cmd_templates(args: argparse.Namespace) -> int:
    from app.core.templates import list_templates

    items = list_templates()
    if args.json:
        _print_json([t.to_json() for t in items])
        return EXIT_OK
    width = max((len(t.name) for t in items), default=4)
    for t in items:
        shape = "×".join(str(d) for d in t.input_shape) if t.input_shape else "?"
        print(f"{t.name:<{width}}  {t.task:<14} {shape:<10} {t.description}")
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from app.core.templates import load_template

    target = Path(args.output)
    if target.suffix != ".layerlab":
        target = target.with_name(target.name + ".layerlab")
    if target.exists() and not args.force:
        raise UsageError(f"{target}: already exists (use --force to overwrite)")
    project = load_template(args.template)
    project.name = target.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # a name that saves
    project.save(target)
    print(f"wrote {target} from template {args.template}")
    return EXIT_OK


# -- check ------------------------------------------------------------------------
def _load_any(path: Path, unsafe: bool) -> tuple[Any, int | None]:
    """A project from a project file or a model file; with the model's own parameter count."""
    if path.suffix.lower() in MODEL_SUFFIXES:
        load_keras()
        from app.engine.model_import import import_model_with_count

        return import_model_with_count(path, unsafe=unsafe)
    from app.core.project import load_project

    return load_project(path), None


def _fmt_shape(shape: Any) -> str:
    from app.engine.analyze import fmt_shape

    if shape is None:
        return "-"
    if isinstance(shape, list):
        return ", ".join(fmt_shape(s) for s in shape)
    return fmt_shape(shape)


def cmd_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    project, model_params = _load_any(path, args.unsafe)
    quiet_tensorflow()
    from app.engine.analyze import analyze, fmt_bytes

    result = analyze(project, num_classes=args.classes)
    if model_params is not None and model_params != result.total_params:
        print(
            f"warning: {path}: analysis counted {result.total_params} parameters, the model has {model_params}",
            file=sys.stderr,
        )
    if args.json:
        _print_json(result.to_json(project.graph))
        return EXIT_OK if result.ok else EXIT_FOUND_ERRORS
    graph = project.graph
    rows = []
    for nid in result.order:
        n = graph.node(nid)
        info = result.layers.get(nid)
        rows.append(
            (
                f"{n.name} ({n.class_name})",
                _fmt_shape(info.output_shape if info else None),
                "-" if not info or info.params is None else f"{info.params:,}",
            )
        )
    w0 = max([len(r[0]) for r in rows] + [12])
    w1 = max([len(r[1]) for r in rows] + [12])
    print(f"{'Layer (type)':<{w0}}  {'Output shape':<{w1}}  Params")
    print("-" * (w0 + w1 + 12))
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:<{w1}}  {c:>8}")
    print("-" * (w0 + w1 + 12))
    print(
        f"Total params: {result.total_params:,} ({fmt_bytes(result.total_params * 4)}), "
        f"trainable {result.trainable_params:,}; training memory at batch {project.training.batch_size}: "
        f"~{fmt_bytes(result.memory.total)}"
    )
    for d in result.diagnostics:
        tied = d.layer or d.setting
        where = f" [{tied}]" if tied else ""
        print(f"{d.severity}{where}: {d.message}")
        if d.fix:
            print(f"    fix: {d.fix.label}")
    ne, nw = len(result.errors), len(result.warnings)
    print(f"{path}: {'OK' if result.ok else 'FAILED'} ({ne} error{'s' * (ne != 1)}, {nw} warning{'s' * (nw != 1)})")
    return EXIT_OK if result.ok else EXIT_FOUND_ERRORS


# -- import / export ----------------------------------------------------------------
def _refuse_overwrite(target: Path, force: bool) -> None:
    """``import`` replaces nothing without ``--force``: neither the project nor its weights sidecar."""
    from app.engine.model_import import sidecar_name

    for path in (target, target.with_name(sidecar_name(target))):
        if path.is_dir():
            raise UsageError(f"{path}: is a folder, not a project file")
        if not force and (path.exists() or path.is_symlink()):
            raise UsageError(f"{path}: already exists (use --force to overwrite)")


def cmd_import(args: argparse.Namespace) -> int:
    target = Path(args.output)
    if target.suffix != ".layerlab":
        target = target.with_name(target.name + ".layerlab")
    _refuse_overwrite(target, args.force)  # before Keras loads: a refusal costs no time
    load_keras()
    from app.engine.model_import import import_model_file

    project = import_model_file(Path(args.model), target, unsafe=args.unsafe)
    extra = f" with weights in {project.weights_file}" if project.weights_file else ""
    print(f"wrote {target} ({len(project.graph)} layers){extra}")
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    from app.cli_data import cmd_data as run_data

    return int(run_data(args))


def cmd_gui(args: argparse.Namespace) -> int:
    if getattr(args, "screenshot", None):
        folder = Path(args.screenshot).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)  # as export does for its output
        except OSError as exc:
            raise UsageError(f"{args.screenshot}: cannot create its folder {folder} ({exc.strerror or exc})") from None
    try:
        from app.gui.main_window import run_gui  # type: ignore[import-not-found]
    except ImportError:
        raise UsageError(
            "the LayerLab window is not part of this version yet; use the command line "
            "(layerlab --help) meanwhile"
        ) from None
    return int(run_gui(args))


# -- parser -------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="layerlab",
        description="LayerLab: design, train and use image neural networks visually, on Keras 3.",
    )
    p.add_argument("--version", action="version", version=f"layerlab {__version__}")
    p.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("gui", help="open the window (the default command)")
    s.add_argument("file", nargs="?", help="a project or a .keras/.h5 model to open")
    s.add_argument("--smoke-test", action="store_true", help="open, wait until painted and idle, then exit")
    s.add_argument("--screenshot", metavar="PNG", help="with --smoke-test: save a screenshot")
    s.set_defaults(func=cmd_gui)

    s = sub.add_parser("templates", help="list the built-in network templates")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_templates)

    s = sub.add_parser("new", help="write a new project from a template")
    s.add_argument("template")
    s.add_argument("-o", "--output", required=True, metavar="PROJECT")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s.set_defaults(func=cmd_new)

    s = sub.add_parser("check", help="analyze a project or a .keras/.h5 model")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.add_argument("--classes", type=positive_int, default=None, metavar="N", help="number of classes of the dataset")
    s.add_argument("--unsafe", action="store_true", help="trust a model file that needs arbitrary code")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("import", help="turn a .keras/.h5 model into an editable project")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True, metavar="PROJECT")
    s.add_argument("--force", action="store_true", help="overwrite an existing project and its weights")
    s.add_argument("--unsafe", action="store_true", help="trust a model file that needs arbitrary code")
    s.set_defaults(func=cmd_import)

    from app.cli_train import add_train_parser

    add_train_parser(sub)

    s = sub.add_parser("data", help="scan an image dataset folder and report on its health")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_data)

    from app.cli_evaluate import add_evaluate_parser
    from app.cli_export import add_export_parser
    from app.cli_predict import add_predict_parser

    add_export_parser(sub)
    add_evaluate_parser(sub)
    add_predict_parser(sub)
    return p


def _known_errors() -> tuple[type[BaseException], ...]:
    from app.core.project import ProjectError
    from app.core.templates import TemplateError

    errors: list[type[BaseException]] = [UsageError, ProjectError, TemplateError]
    sources = sys.modules.get("app.engine.data_sources")
    if sources is not None:
        errors.append(sources.DataSourceError)
    engine = sys.modules.get("app.engine.safety")
    if engine is not None:
        errors += [engine.ModelFileError, engine.UnsafeModelError]
    build = sys.modules.get("app.engine.build")
    if build is not None:
        errors.append(build.BuildError)
    layers = sys.modules.get("app.engine.layers")
    if layers is not None:
        errors.append(layers.LayerConfigError)
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not [a for a in argv if not a.startswith("-")] and not {"-h", "--help", "--version"} & set(argv):
        argv = [*argv, "gui"] if "--debug" not in argv else ["--debug", "gui"]
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BaseException as exc:  # noqa: BLE001 - turn every failure into one line
        if isinstance(exc, SystemExit):
            raise
        if args.debug:
            traceback.print_exc()
        if isinstance(exc, _known_errors()):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if isinstance(exc, OSError):
            name = getattr(exc, "filename", None) or ""
            print(f"error: {name}{': ' if name else ''}{exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"error: {exc.__class__.__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_FOUND_ERRORS


def entry() -> None:
    """The process's entry (``layerlab``, ``python -m app``): :func:`main`, then a quick exit.

    With TensorFlow loaded, the interpreter's own teardown takes ~1.4 s here (a
    full garbage collection of TensorFlow's objects, then its C++ destructors),
    after the command has already written and closed everything. So once
    ``atexit`` handlers have run and the output is flushed, the process ends at
    once. ``LAYERLAB_FULL_EXIT=1`` keeps the normal teardown (e.g. for leak checkers).
    """
    for stream in (sys.stdout, sys.stderr):  # a file name with undecodable bytes must not crash a print
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    code = main()
    if "tensorflow" not in sys.modules or os.environ.get("LAYERLAB_FULL_EXIT"):
        sys.exit(code)
    import atexit
    import logging

    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
