"""``layerlab gui [FILE]``: open the window (the default command when none is given)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.common import UsageError


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


def add_gui_parser(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser("gui", help="open the window (the default command)")
    s.add_argument("file", nargs="?", help="a project or a .keras/.h5 model to open")
    s.add_argument("--smoke-test", action="store_true", help="open, wait until painted and idle, then exit")
    s.add_argument("--screenshot", metavar="PNG", help="with --smoke-test: save a screenshot")
    s.set_defaults(func=cmd_gui)
    return s
