"""``layerlab predict MODEL IMAGE... [--top-k K] [--json] [--gradcam OUT.png]``.

MODEL is a run folder (model.keras + classes.json) or a model file (labels
"0".."N-1" unless a classes.json sits beside it). With several images,
``--gradcam OUT.png`` writes one overlay per image as ``OUT-<image stem>.png``.
Every image is checked before the model loads, so a file that is not an image
fails fast: exit 2 and one line naming it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.common import EXIT_OK, UsageError, print_json


def gradcam_targets(out: str | Path, images: list[str]) -> list[Path]:
    """OUT.png for one image; OUT-<stem>.png for several (numbered when stems repeat)."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        out = out.with_name(out.name + ".png")
    if len(images) == 1:
        return [out]
    targets: list[Path] = []
    seen: dict[str, int] = {}
    for image in images:
        stem = Path(image).stem or "image"
        n = seen.get(stem, 0) + 1
        seen[stem] = n
        name = f"{out.stem}-{stem}" + (f"-{n}" if n > 1 else "")
        targets.append(out.with_name(name + out.suffix))
    return targets


def _print_table(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(row["image"])
        width = max(len(t["label"]) for t in row["top"])
        for i, t in enumerate(row["top"], 1):
            print(f"  {i}. {t['label']:<{width}}  {100 * t['probability']:6.2f}%")


def cmd_predict(args: argparse.Namespace) -> int:
    from app.engine.keras_loader import load_keras

    if args.top_k < 1:
        raise UsageError(f"--top-k must be 1 or more (got {args.top_k})")
    from app.engine.predict import ImageError, PredictError, check_image

    try:
        for image in args.images:
            check_image(image)  # PIL only: a bad file is named before TensorFlow loads
    except ImageError as exc:
        raise UsageError(str(exc)) from None
    load_keras()
    from app.engine.predict import Predictor

    try:
        predictor = Predictor(args.model, unsafe=args.unsafe)
        rows = predictor.predict_paths(args.images, top_k=args.top_k)
    except (ImageError, PredictError) as exc:
        raise UsageError(f"{args.model}: {exc}" if isinstance(exc, PredictError) else str(exc)) from None
    for warning in predictor.warnings:
        print(f"warning: {args.model}: {warning}", file=sys.stderr)
    notes: list[str] = []
    if args.gradcam:
        for row, target in zip(rows, gradcam_targets(args.gradcam, args.images), strict=True):
            try:
                info = predictor.gradcam(row["image"], target)
            except PredictError as exc:
                raise UsageError(f"{args.model}: {exc}") from None
            row["gradcam"] = info["output"]
            notes.append(f"wrote {info['output']} (Grad-CAM of '{info['label']}' at layer '{info['layer']}')")
    if args.json:
        print_json(rows)
        for note in notes:
            print(note, file=sys.stderr)
    else:
        _print_table(rows)
        for note in notes:
            print(note)
    return EXIT_OK


def add_predict_parser(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser("predict", help="top-k labels for images, optional Grad-CAM overlay")
    s.add_argument("model", metavar="MODEL", help="a run folder or a .keras/.h5 model")
    s.add_argument("images", nargs="+", metavar="IMAGE")
    s.add_argument("--top-k", type=int, default=5, metavar="K", help="how many labels per image (default 5)")
    s.add_argument("--json", action="store_true")
    s.add_argument(
        "--gradcam",
        metavar="OUT.png",
        help="save a Grad-CAM overlay of the top class (several images: OUT-<image stem>.png)",
    )
    s.add_argument("--unsafe", action="store_true", help="trust a model file that needs arbitrary code")
    s.set_defaults(func=cmd_predict)
    return s
