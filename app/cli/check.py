"""``layerlab check FILE [--json] [--classes N]``: analyze a project or a .keras/.h5 model.

Exit 0 when the analysis finds no error (warnings allowed), 1 when it does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.common import EXIT_FOUND_ERRORS, EXIT_OK, MODEL_SUFFIXES, positive_int, print_json
from app.engine.keras_loader import load_keras, quiet_tensorflow


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
        print_json(result.to_json(project.graph))
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


def add_check_parser(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser("check", help="analyze a project or a .keras/.h5 model")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.add_argument("--classes", type=positive_int, default=None, metavar="N", help="number of classes of the dataset")
    s.add_argument("--unsafe", action="store_true", help="trust a model file that needs arbitrary code")
    s.set_defaults(func=cmd_check)
    return s
