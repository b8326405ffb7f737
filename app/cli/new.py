"""``layerlab templates`` and ``layerlab new TEMPLATE -o PROJECT``: the built-in networks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.common import EXIT_OK, UsageError, print_json


def cmd_templates(args: argparse.Namespace) -> int:
    from app.core.templates import list_templates

    items = list_templates()
    if args.json:
        print_json([t.to_json() for t in items])
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


def add_templates_parser(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser("templates", help="list the built-in network templates")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_templates)
    return s


def add_new_parser(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser("new", help="write a new project from a template")
    s.add_argument("template")
    s.add_argument("-o", "--output", required=True, metavar="PROJECT")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s.set_defaults(func=cmd_new)
    return s
