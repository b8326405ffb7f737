"""The ``layerlab`` command line (SPEC.md): parse, call the engine, print.

Each command lives in a module of its own that imports only
:mod:`app.cli.common` (the exit codes, UsageError, the one-line error format);
this package assembles the parser and turns every failure into that one line
on stderr naming the file and the problem (``--debug`` shows the traceback).
Keras is imported only by the commands that need it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback

from app import __version__
from app.cli.check import add_check_parser
from app.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FOUND_ERRORS,
    EXIT_INTERRUPTED,
    UsageError,
    os_error_text,
    print_error,
)
from app.cli.data import add_data_parser
from app.cli.evaluate import add_evaluate_parser
from app.cli.export import add_export_parser
from app.cli.gui import add_gui_parser
from app.cli.import_model import add_import_parser
from app.cli.new import add_new_parser, add_templates_parser
from app.cli.predict import add_predict_parser
from app.cli.train import add_train_parser

# In the order ``layerlab --help`` lists them.
COMMANDS = (
    add_gui_parser,
    add_templates_parser,
    add_new_parser,
    add_check_parser,
    add_import_parser,
    add_train_parser,
    add_data_parser,
    add_export_parser,
    add_evaluate_parser,
    add_predict_parser,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="layerlab",
        description="LayerLab: design, train and use image neural networks visually, on Keras 3.",
    )
    p.add_argument("--version", action="version", version=f"layerlab {__version__}")
    p.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
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
        return EXIT_INTERRUPTED
    except BaseException as exc:  # noqa: BLE001 - turn every failure into one line
        if isinstance(exc, SystemExit):
            raise
        if args.debug:
            traceback.print_exc()
        if isinstance(exc, _known_errors()):
            print_error(str(exc))
            return EXIT_BAD_INPUT
        if isinstance(exc, OSError):
            print_error(os_error_text(exc))
            return EXIT_BAD_INPUT
        print_error(f"{exc.__class__.__name__}: {exc} (run with --debug for details)")
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
