"""``layerlab import MODEL -o PROJECT``: turn a .keras/.h5 model into an editable project.

(The module is not ``import.py``: ``import`` is a Python keyword.)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.common import EXIT_OK, UsageError
from app.engine.keras_loader import load_keras


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


def add_import_parser(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser("import", help="turn a .keras/.h5 model into an editable project")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True, metavar="PROJECT")
    s.add_argument("--force", action="store_true", help="overwrite an existing project and its weights")
    s.add_argument("--unsafe", action="store_true", help="trust a model file that needs arbitrary code")
    s.set_defaults(func=cmd_import)
    return s
