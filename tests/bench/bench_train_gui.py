"""Training panel speed: event-loop stall while training, plot redraw, memory over train/stop cycles.

Run on demand: ``python tests/bench/bench_train_gui.py [--cycles N] [--epochs N]`` (off screen).
Prints figures. Targets (issue 6):

- GUI event-loop stall while training mnist-cnn on sample:digits (a 5 ms
  timer measuring the gaps between its ticks): max <= 50 ms, p99 <= 20 ms;
- plot redraw with 100,000 points <= 16 ms;
- 20 train/stop cycles in one GUI session: memory growth <= 150 MB.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def spin_until(app: QApplication, cond, timeout_s: float) -> bool:
    end = time.perf_counter() + timeout_s
    while not cond():
        if time.perf_counter() > end:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.001)
    return True


class GapMeter:
    """A 5 ms QTimer; the gaps between its ticks are how long the event loop was busy."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = None

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self.last = self.clock.nsecsElapsed()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.gaps.append((now - self.last) / 1e6)
        self.last = now


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()

    app = QApplication.instance() or QApplication(sys.argv)
    import importlib

    from app.gui.preload import WORKSPACE_MODULES

    for name in WORKSPACE_MODULES:  # as the window does in the background at start-up
        importlib.import_module(name)
    from app.core.templates import load_template
    from app.gui.train_panel import TrainingPanel

    runs = Path(tempfile.mkdtemp(prefix="layerlab-bench-runs-"))
    project = load_template("mnist-cnn")
    from dataclasses import replace

    project.training = replace(project.training, epochs=args.epochs)
    panel = TrainingPanel(lambda: project, runs_dir=runs)
    panel.resize(1400, 800)
    panel.show()
    done: list[object] = []
    panel.runFinished.connect(done.append)
    panel.runFailed.connect(done.append)

    # 1. event-loop stall during whole runs (data loading, build, fit, evaluation); the first
    #    run also imports TensorFlow in the worker thread (in the app the analyzer usually has
    #    done that already), the second is warm.
    meter = GapMeter()
    first_batch: list[int] = []
    panel.worker.event.connect(
        lambda e: first_batch.append(meter.clock.nsecsElapsed()) if e.kind == "batch_end" and not first_batch else None
    )
    for label in ("cold (TensorFlow imported by this run)", "warm (second run)"):
        done.clear()
        first_batch.clear()
        app.processEvents()
        t0 = time.perf_counter()
        meter.start()
        ticks: list[int] = []
        meter.timer.timeout.connect(lambda t=ticks: t.append(meter.clock.nsecsElapsed()))
        panel.train()
        ok = spin_until(app, lambda: bool(done), 600)
        meter.stop()
        meter.timer.timeout.disconnect()
        meter.timer.timeout.connect(meter._tick)
        wall = time.perf_counter() - t0
        gaps = np.asarray(meter.gaps[: len(ticks)])
        at = np.asarray(ticks[: gaps.size])
        spin_until(app, lambda: False, 0.3)
        res = done[0] if done else None
        print(f"{label}: {getattr(res, 'stopped_reason', res)} in {wall:.1f} s, {panel.batch_events} batch events, finished={ok}")
        fb = first_batch[0] if first_batch else at[-1]
        for part, sel in (("whole run", np.ones(gaps.size, bool)), ("fit (after the first batch)", at > fb)):
            g = gaps[sel]
            if g.size:
                print(
                    f"  event-loop gaps, {part} ({g.size} ticks): max {g.max():.1f} ms, "
                    f"p99 {np.percentile(g, 99):.1f} ms, median {np.median(g):.1f} ms (targets: max <= 50, p99 <= 20)"
                )

    # 2. plot redraw with 100,000 points
    from app.gui.plots import LiveCurves

    curves = LiveCurves()
    curves.resize(1000, 600)
    curves.show()
    n = 100_000
    xs = np.linspace(0, 50, n)
    for p, ys in ((curves.loss, np.exp(-xs / 10) + 0.05 * np.random.rand(n)), (curves.accuracy, 1 - np.exp(-xs / 10))):
        p.batch.extend(xs, ys)
        p.smooth.extend(xs, ys)
    curves.redraw()
    app.processEvents()
    times = []
    for _ in range(10):
        for p in (curves.loss, curves.accuracy):
            p.batch.dirty = p.smooth.dirty = True
        t = time.perf_counter()
        curves.redraw()
        curves.loss_plot.viewport().repaint()
        curves.accuracy_plot.viewport().repaint()
        times.append((time.perf_counter() - t) * 1000)
    print(
        f"plot redraw, 100,000 points in each of 4 curves, both plots (setData + paint): median {np.median(times):.1f} ms, "
        f"max {max(times):.1f} ms"
    )
    ticks = []  # what one timer tick does: one plot in turn (2 curves of 100,000 points)
    for i in range(20):
        for p in (curves.loss, curves.accuracy):
            p.batch.dirty = p.smooth.dirty = True
        t = time.perf_counter()
        curves.redraw_next()
        (curves.loss_plot if i % 2 == 0 else curves.accuracy_plot).viewport().repaint()
        ticks.append((time.perf_counter() - t) * 1000)
    print(
        f"plot redraw per timer tick (one plot, 2 curves x 100,000 points): median {np.median(ticks):.1f} ms, "
        f"max {max(ticks):.1f} ms (target <= 16)"
    )
    curves.close()
    curves.deleteLater()

    # 3. train/stop cycles
    gc.collect()
    spin_until(app, lambda: False, 0.2)
    base = rss_mb()
    first_after = None
    long_project = load_template("mnist-cnn")
    long_project.training = replace(long_project.training, epochs=50)
    panel._provider = lambda: long_project
    t0 = time.perf_counter()
    for i in range(args.cycles):
        done.clear()
        panel.batch_events = 0
        panel.train()
        spin_until(app, lambda: panel.batch_events > 0, 120)
        panel.stop()
        spin_until(app, lambda: bool(done), 120)
        gc.collect()
        if i == 0:
            first_after = rss_mb()
    spin_until(app, lambda: False, 0.3)
    gc.collect()
    end = rss_mb()
    print(
        f"{args.cycles} train/stop cycles in {time.perf_counter() - t0:.0f} s: RSS {base:.0f} -> {end:.0f} MB "
        f"(growth {end - base:+.0f} MB; {end - (first_after or base):+.0f} MB after the first cycle; target <= 150)"
    )
    panel.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
