"""``layerlab export PROJECT --to FORMAT -o PATH`` for every format of SPEC.md.

PROJECT is a project file, a run folder (its trained model.keras; its
project.layerlab for ``python``) or a ``.keras``/``.h5`` file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXPORT_FORMATS = ("keras", "python", "savedmodel", "tflite", "onnx")


def cmd_export(args: argparse.Namespace) -> int:
    from app.cli import UsageError
    from app.engine.export import MODEL_SUFFIXES
    from app.engine.keras_loader import load_keras, quiet_tensorflow

    if args.to != "python" or Path(args.project).suffix.lower() in MODEL_SUFFIXES:
        load_keras()
    else:
        quiet_tensorflow()  # a project's script needs no Keras here
    from app.engine.export import ExportError, export

    try:
        out = export(Path(args.project), args.to, Path(args.output), unsafe=args.unsafe)
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
