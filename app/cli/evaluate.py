"""``layerlab evaluate RUNDIR_OR_MODEL --data DIR [--json]``.

Every valid image of DIR is scored (no split); the dataset's class folders are
matched to the model's classes by name, so a folder holding only some of the
classes, or holding them in another order, is scored correctly. Images of a
class the model does not know are left out, and a line says so. A model whose
outputs are NaN or infinite is refused (exit 2): its figures would mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from app.cli.common import EXIT_BAD_INPUT, EXIT_OK, print_error


def add_evaluate_parser(subparsers: Any) -> None:
    s = subparsers.add_parser("evaluate", help="loss, accuracy, confusion matrix and per-class metrics on a folder")
    s.add_argument("model", metavar="RUNDIR_OR_MODEL", help="a run folder or a .keras/.h5 model")
    s.add_argument("--data", required=True, metavar="DIR", help="an image folder (one subfolder per class) or sample:NAME")
    s.add_argument("--batch-size", type=int, default=64, metavar="N")
    s.add_argument("--json", action="store_true")
    s.add_argument("--unsafe", action="store_true", help="trust a model file that needs arbitrary code")
    s.set_defaults(func=cmd_evaluate)


def match_classes(report: Any, model_classes: list[str]) -> tuple[Any, list[str]]:
    """``report`` relabelled to the model's class order; the dataset classes it does not know."""
    index = {name: i for i, name in enumerate(model_classes)}
    unknown = [c for c in report.class_names if c not in index]
    files = [(p, index[report.class_names[k]]) for p, k in report.files if report.class_names[k] in index]
    counts = [0] * len(model_classes)
    for _, k in files:
        counts[k] += 1
    return dataclasses.replace(report, class_names=list(model_classes), counts=counts, files=files), unknown


def _print_human(result: dict[str, Any], source: str) -> None:
    loss = result.get("loss")
    print(f"{source}: {sum(r['support'] for r in result['per_class'])} images, accuracy {result['accuracy']:.4f}"
          + (f", loss {loss:.4f}" if loss is not None else ""))
    width = max([len(c) for c in result["classes"]] + [5])
    print(f"{'class':<{width}}  precision  recall     f1  support")
    for row in result["per_class"]:
        print(f"{row['label']:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}")
    print("confusion matrix (rows: true class, columns: predicted):")
    for name, row in zip(result["classes"], result["confusion_matrix"], strict=True):
        print(f"  {name:<{width}} " + " ".join(f"{v:5d}" for v in row))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from app.engine.keras_loader import load_keras, quiet_tensorflow

    quiet_tensorflow()
    from app.engine.data_sources import DataSourceError, scan_source
    from app.engine.predict import resolve_run
    from app.engine.safety import ModelFileError, UnsafeModelError

    try:
        model_path, names = resolve_run(args.model)
        report = scan_source(args.data)
    except (ModelFileError, DataSourceError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except (NotADirectoryError, FileNotFoundError) as exc:
        print_error(f"{args.data}: {exc.strerror or 'not a folder'}")
        return EXIT_BAD_INPUT
    if not report.images:
        print_error(f"{args.data}: no usable images")
        return EXIT_BAD_INPUT

    load_keras()  # the inputs are readable: now the slow part
    from app.engine.data_pipeline import make_datasets
    from app.engine.evaluate import ModelOutputError, evaluate_model, trained_loss
    from app.engine.safety import load_model_file

    try:
        model = load_model_file(model_path, unsafe=args.unsafe)
    except (ModelFileError, UnsafeModelError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    units = int(model.output_shape[-1])
    classes = 2 if units == 1 else units  # one sigmoid unit: a yes/no model of two classes
    names = names or [str(i) for i in range(classes)]
    if len(names) != classes:
        print_error(f"{model_path}: the model has {units} outputs but {len(names)} class names")
        return EXIT_BAD_INPUT
    if report.arrays is None:
        report, unknown = match_classes(report, names)
    else:
        unknown = [c for c in report.class_names if c not in names]
        if report.class_names != names[: len(report.class_names)]:
            print_error(f"{args.data}: its classes {report.class_names} do not match the model's {names}")
            return EXIT_BAD_INPUT
    if unknown:
        print(f"note: left out the images of classes the model does not know: {', '.join(unknown)}", file=sys.stderr)
    if not report.files and report.arrays is None:
        print_error(f"{args.data}: none of its classes is one the model knows ({', '.join(names)})")
        return EXIT_BAD_INPUT
    shape = tuple(int(d) for d in model.input_shape[1:])
    data = make_datasets(report, image_shape=shape, batch_size=args.batch_size, validation_split=0.0, shuffle=False)
    try:
        result = evaluate_model(model, data.train, names, loss=trained_loss(model_path), source=model_path)
    except ModelOutputError as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_human(result, args.data)
    return EXIT_OK
