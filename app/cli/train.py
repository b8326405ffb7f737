"""``layerlab train``: headless training with a progress bar (SPEC.md).

The bar goes to stderr and redraws in place on a terminal; elsewhere (a log
file, CI) one plain line per epoch is printed instead. Messages (the output
layer adapted, resuming) and the summary line go to stdout. Ctrl-C or SIGTERM
(a service manager, ``kill``, a batch scheduler) stops the run at the next
batch and still writes the run folder - best model, metrics, checkpoint; a
second signal aborts.

Exit status: 0 the run ended normally (completed, early stopping), 1 it failed
(NaN loss, an error, no model worth keeping; what could be written is
written), 2 it could not start (bad project, data, run folder or checkpoint),
130 stopped with Ctrl-C, 143 stopped with SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FOUND_ERRORS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    MODEL_SUFFIXES,
)
from app.core.settings import OPTIMIZERS


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to ``layerlab``'s subparsers (``func`` = :func:`cmd_train`)."""
    s = subparsers.add_parser("train", help="train a project headless and write a run folder")
    s.add_argument("project", metavar="PROJECT", help="a .layerlab project (or a .keras/.h5 model)")
    s.add_argument("--data", metavar="DIR", help="an image folder or sample:NAME (default: the project's dataset)")
    s.add_argument("--epochs", type=int, metavar="N", help="number of epochs")
    s.add_argument("--batch-size", type=int, metavar="N", help="batch size")
    s.add_argument("--learning-rate", type=float, metavar="X", help="learning rate")
    s.add_argument("--optimizer", type=str.lower, choices=OPTIMIZERS, metavar="NAME", help=", ".join(OPTIMIZERS))
    s.add_argument("--out", metavar="RUNDIR", help="run folder to write (default: runs/<time>-<name> next to the project)")
    s.add_argument("--resume", metavar="RUNDIR", help="continue a run folder from its last completed epoch")
    s.add_argument("--unsafe", action="store_true", help="trust a model file that needs arbitrary code")
    s.set_defaults(func=cmd_train)
    return s


def _fmt_time(seconds: float) -> str:
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"
    return str(value)


class ProgressPrinter:
    """An event sink that draws the training progress (called on the training thread)."""

    def __init__(
        self, stream: TextIO | None = None, out: TextIO | None = None, *, tty: bool | None = None, width: int = 24
    ) -> None:
        self.stream = stream or sys.stderr
        self.out = out or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.width = width
        self.epochs = 0
        self.steps = 0
        self.batch_size = 1
        self._bar = False

    def _clear(self) -> None:
        if self._bar:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._bar = False

    def _line(self, text: str, *, out: bool = False) -> None:
        self._clear()
        target = self.out if out else self.stream
        print(text, file=target, flush=True)

    def __call__(self, event: Any) -> None:
        from app.engine import events as ev

        if isinstance(event, ev.RunStarted):
            self.epochs, self.steps, self.batch_size = event.epochs, event.steps_per_epoch, max(1, event.batch_size)
            done = f", carrying on after epoch {event.initial_epoch}" if event.initial_epoch else ""
            self._line(
                f"training {event.epochs} epochs of {event.steps_per_epoch} batches (batch size {event.batch_size}) "
                f"on {event.train_samples} images, validating on {event.validation_samples}{done}"
            )
        elif isinstance(event, ev.BatchEnd):
            if self.tty:
                self._draw(event)
        elif isinstance(event, ev.EpochEnd):
            logs = event.logs
            parts = [f"epoch {event.epoch}/{self.epochs}"]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if logs.get(key) is not None:
                    parts.append(f"{key} {_fmt(logs[key])}")
            if logs.get("learning_rate") is not None:
                parts.append(f"lr {logs['learning_rate']:.3g}")
            parts.append(f"{event.seconds:.1f}s")
            self._line("  ".join(parts))
        elif isinstance(event, ev.Paused):
            self._line(f"paused at epoch {event.epoch} batch {event.batch}")
        elif isinstance(event, ev.Resumed):
            self._line("resumed")
        elif isinstance(event, ev.Info):
            self._line(event.message, out=True)
        elif isinstance(event, ev.Stopped):
            self._line(f"stopped: {event.reason.replace('_', ' ')}")
        elif isinstance(event, ev.Failed):
            self._line(f"training failed: {event.reason}")
        elif isinstance(event, ev.Finished):
            self._clear()

    def _draw(self, e: Any) -> None:
        steps = max(1, e.steps)
        filled = min(self.width, int(self.width * e.batch / steps))
        bar = "=" * filled + (">" if filled < self.width else "") + " " * (self.width - filled - 1)
        acc = e.metrics.get("accuracy")
        rate = e.samples_per_s
        remaining = (steps - e.batch) + max(0, self.epochs - e.epoch) * steps
        eta = remaining * self.batch_size / rate if rate > 0 else float("inf")
        text = (
            f"\repoch {e.epoch}/{self.epochs} [{bar[: self.width]}] {e.batch}/{steps} loss {_fmt(e.loss)}"
            + (f" acc {_fmt(acc)}" if acc is not None else "")
            + f" {rate:,.0f} img/s ETA {_fmt_time(eta)}\033[K"
        )
        self.stream.write(text)
        self.stream.flush()
        self._bar = True


def _load(path: Path, unsafe: bool) -> Any:
    if path.suffix.lower() in MODEL_SUFFIXES:
        from app.engine.model_import import import_model

        return import_model(path, unsafe=unsafe)
    from app.core.project import load_project

    return load_project(path)


def _setup_errors() -> tuple[type[BaseException], ...]:
    from app.core.project import ProjectError
    from app.engine.build import BuildError
    from app.engine.compile import CompileError
    from app.engine.safety import ModelFileError
    from app.engine.train import TrainError

    return (ProjectError, BuildError, CompileError, ModelFileError, TrainError)


def summary_line(result: Any) -> str:
    """One line: how the run ended, its figures and best epoch - only for what is on disk."""
    m = result.metrics or {}
    split = "val_" if m.get("split") == "validation" else ""
    figures = [f"{split}{k} {_fmt(m[k])}" for k in ("accuracy", "loss") if m.get(k) is not None]
    best = f" (best epoch {result.best_epoch})" if result.best_epoch else ""
    n = result.epochs_completed
    what = f"{result.stopped_reason.replace('_', ' ')}: {n} epoch{'s' * (n != 1)}"
    problems = [p for p in getattr(result, "problems", None) or [] if p not in result.stopped_reason]
    lost = f"; {'; '.join(problems)}" if problems else ""
    return f"{what}{', ' if figures else ''}{', '.join(figures)}{best}{lost}; run folder {result.run_dir}"


def cmd_train(args: argparse.Namespace) -> int:
    from app.engine.keras_loader import load_keras, quiet_tensorflow

    quiet_tensorflow()
    debug = bool(getattr(args, "debug", False))
    from app.engine.control import RunControl

    control = RunControl()
    printer = ProgressPrinter()
    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "optimizer": args.optimizer,
    }
    interrupted: list[int] = []  # the signals received

    def on_signal(signum: int, frame: Any) -> None:
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(signum)
        control.stop()
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        printer._line(f"{name}: stopping after this batch and writing the run folder ({name} again to abort)")

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, on_signal)
        except ValueError:  # not the main thread
            break
    try:
        from app.engine.train import run

        load_keras()
        project = _load(Path(args.project), bool(getattr(args, "unsafe", False)))
        result = run(
            project,
            data=args.data,
            events=printer,
            control=control,
            out_dir=args.out,
            resume=args.resume,
            overrides=overrides,
        )
    except _setup_errors() as exc:
        if debug:
            traceback.print_exc()
        printer._line(f"error: {exc}")
        return EXIT_BAD_INPUT
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print(summary_line(result), flush=True)
    if result.failed:
        return EXIT_FOUND_ERRORS
    if interrupted:
        return EXIT_TERMINATED if interrupted[0] == signal.SIGTERM else EXIT_INTERRUPTED
    return EXIT_OK
