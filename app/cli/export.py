"""``layerlab export PROJECT --to FORMAT -o PATH`` for every format of SPEC.md.

PROJECT is a project file, a run folder (its trained model.keras; its
project.layerlab for ``python``) or a ``.keras``/``.h5`` file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.common import EXIT_FOUND_ERRORS, EXIT_OK, UsageError, print_error

EXPORT_FORMATS = ("keras", "python", "savedmodel", "tflite", "onnx")


def cmd_export(args: argparse.Namespace) -> int:
    """Exit 0 written; 1 the project fails ``check`` (nothing written); 2 bad usage or input."""
    from app.engine.export import ExportCheckError, ExportError, export, refuse_input_as_output
    from app.engine.keras_loader import load_keras

    source, target = Path(args.project), Path(args.output)
    try:
        refuse_input_as_output(source, target)  # before Keras loads: answered at once
        load_keras()  # quietly: TensorFlow's start-up log lines never reach stderr
        out = export(source, args.to, target, unsafe=args.unsafe)
    except ExportCheckError as exc:
        print_error(str(exc))
        return EXIT_FOUND_ERRORS
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {out}")
    if args.to == "python":
        print(f"train with: python {out} --data DIR --epochs N --out OUTDIR")
    return EXIT_OK


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser("export", help="export a project's network")
    s.add_argument("project", help="a project file, a run folder or a .keras/.h5 model")
    s.add_argument(
        "--to", required=True, choices=EXPORT_FORMATS, metavar="FORMAT", help=", ".join(EXPORT_FORMATS)
    )
    s.add_argument("-o", "--output", required=True, metavar="PATH")
    s.add_argument("--unsafe", action="store_true", help="trust a model file that needs arbitrary code")
    s.set_defaults(func=cmd_export)
    return s
