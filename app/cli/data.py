"""``layerlab data DIR [--json]``: the dataset health report on the command line.

Exit 0 when the data can be trained on (warnings allowed); 2 for a missing or
unreadable source, or one with no usable image at all. No TensorFlow here:
the scan is PIL and numpy only, so the command answers in about a second.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli.common import EXIT_BAD_INPUT, EXIT_OK, print_error, print_json

MODE_NAMES = {
    "1": "black and white",
    "L": "grayscale",
    "LA": "grayscale + alpha",
    "La": "grayscale + alpha",
    "P": "palette",
    "PA": "palette + alpha",
    "RGB": "RGB",
    "RGBA": "RGBA",
    "RGBa": "RGBA",
    "CMYK": "CMYK",
    "YCbCr": "YCbCr",
    "LAB": "Lab",
    "HSV": "HSV",
    "I;16": "16-bit grayscale",
    "I;16B": "16-bit grayscale",
    "I;16L": "16-bit grayscale",
    "I": "32-bit grayscale",
    "F": "float grayscale",
}


class _Progress:
    """One self-overwriting line on stderr, only when it is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if total:
            sys.stderr.write(f"\rScanning {self.label}: {done:,}/{total:,} files")
            sys.stderr.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _size(s: Any) -> str:
    return f"{s[0]}×{s[1]}"


def format_report(report: Any, source: str | None = None) -> str:
    """The report as text for people: a class table, sizes and modes, skipped files, warnings."""
    lines: list[str] = []
    where = report.root if not source or source == report.root else f"{source} ({report.root})"
    lines.append(f"Dataset {where}")
    lines.append(
        f"{_n(report.images, 'image')} in {_n(report.num_classes, 'class', 'classes')}"
        + (f" (scanned in {report.seconds:.1f} s)" if report.seconds else "")
    )
    if report.class_names:
        lines.append("")
        width = max(len("class"), *(len(n) for n in report.class_names))
        top = max(report.counts) or 1
        lines.append(f"  {'class':<{width}}  {'images':>8}")
        for name, count in zip(report.class_names, report.counts, strict=True):
            bar = "█" * max(1 if count else 0, round(24 * count / top))
            lines.append(f"  {name:<{width}}  {count:>8,}  {bar}")
    lines.append("")
    if report.sizes:
        common = report.sizes.most_common(3)
        if len(report.sizes) == 1:
            lines.append(f"Image size: {_size(common[0][0])} (all)")
        else:
            summary = report.size_summary()
            shown = ", ".join(f"{_size(s)} ({c:,})" for s, c in common)
            lines.append(
                f"Image sizes: {len(report.sizes):,} different; most common {shown}; "
                f"smallest {_size(summary['min'])}, largest {_size(summary['max'])} "
                "(all are resized to the network's input)"
            )
    if report.modes:
        merged: dict[str, int] = {}
        for mode, count in report.modes.most_common():
            label = MODE_NAMES.get(mode, mode)
            merged[label] = merged.get(label, 0) + count
        lines.append("Colour modes: " + ", ".join(f"{m} {c:,}" for m, c in merged.items()))
    if report.formats:
        lines.append("Formats: " + ", ".join(f"{f} {c:,}" for f, c in report.formats.most_common()))
    if report.ignored:
        lines.append(f"{_n(report.ignored, 'hidden or system file')} ignored (dot files, Thumbs.db, __MACOSX)")
    if report.skipped:
        lines.append("")
        lines.append(f"Skipped {_n(len(report.skipped), 'file')}:")
        width = min(48, max(len(s.path) for s in report.skipped))
        for s in report.skipped:
            lines.append(f"  {s.path:<{width}}  {s.reason}")
    if report.warnings:
        lines.append("")
        lines.append(f"Warnings ({len(report.warnings)}):")
        lines.extend(f"  - {w}" for w in report.warnings)
    return "\n".join(lines)


def cmd_data(args: argparse.Namespace) -> int:
    from app.engine.data_sources import DataSourceError, scan_source

    source = str(args.dir)
    progress = _Progress(source) if sys.stderr.isatty() else None
    try:
        report = scan_source(source, progress=progress)
    except DataSourceError as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except OSError as exc:
        print_error(f"{exc.filename or source}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    finally:
        if progress is not None:
            progress.clear()
    if args.json:
        obj = report.to_json()
        if source != report.root:
            obj["source"] = source
        print_json(obj)
    else:
        print(format_report(report, source))
    if report.images == 0:
        why = f"{_n(len(report.skipped), 'file')} skipped" if report.skipped else "it is empty"
        hint = "" if report.class_names else "; put the images in one subfolder per class"
        print_error(f"{source}: no usable images ({why}{hint})")
        return EXIT_BAD_INPUT
    return EXIT_OK


def add_data_parser(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser("data", help="scan an image dataset folder and report on its health")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_data)
    return s
