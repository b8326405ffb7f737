"""The one bridge between the training engine and Qt.

``TrainWorker.start`` runs :func:`app.engine.train.run` on a dedicated thread
that owns every Keras call of the run (the TensorFlow backend is not thread
safe). The engine's event sink re-emits each event as ``event`` (a plain
frozen dataclass); the signals are emitted from the training thread on an
object that lives in the GUI thread, so Qt queues them to the GUI thread. The
worker never touches a widget.

The thread is a daemon ``threading.Thread``: ``shutdown`` stops the run at the
next batch and joins it (3 s by default); if Keras is stuck in a long call the
process can still exit, which a QThread destroyed while running would not
allow. Keras and TensorFlow are imported only inside that thread.
"""

from __future__ import annotations

import gc
import logging
import re
import sys
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from app.engine.control import RunControl

log = logging.getLogger(__name__)

# While a run is active the training thread is busy in Python most of the time; every time
# the GUI thread gives the GIL away (PySide6 drops it around Qt calls) it waits up to one
# switch interval to get it back - with the default 5 ms, a repaint of hundreds of Qt calls
# stalls the event loop for 100+ ms. A short interval keeps the GUI responsive.
RUN_SWITCH_INTERVAL_S = 0.0001

__all__ = ["TrainWorker", "plain_reason"]


def plain_reason(reason: str) -> str:
    """A run's ``stopped_reason`` / an error message in plain words, never a traceback."""
    text = (reason or "").strip()
    m = re.match(r"nan_loss:\s*epoch\s*(\d+)\s*batch\s*(\d+)", text)
    if m:
        return (
            f"Training diverged: the loss became NaN (not a number) at epoch {m.group(1)}, batch {m.group(2)}. "
            "Try a smaller learning rate, or normalise the input."
        )
    if text.startswith("nan_loss"):
        return "Training diverged: the loss became NaN. Try a smaller learning rate."
    text = text.removeprefix("error:").strip()
    low = text.lower()
    if "resourceexhausted" in low or "out of memory" in low or "oom" in low.split():
        return "Out of memory: the network or the batch is too large. Try a smaller batch size or fewer filters."
    if "traceback" in low:
        text = text.splitlines()[-1]
    first = text.splitlines()[0] if text else "unknown error"
    if len(first) > 400:
        first = first[:400] + "…"
    return f"Training failed: {first}"


class _Bridge(QObject):
    """Lives in the GUI thread; emitted from the training thread (queued connections)."""

    event = Signal(object)
    done = Signal(object, object)  # RunResult | None, error message | None


class TrainWorker(QObject):
    """Runs one training at a time; see the module docstring.

    Signals (all delivered in the GUI thread):

    - ``started()``: the thread is running (emitted by :meth:`start` itself);
    - ``event(object)``: each engine event (RunStarted, BatchEnd, EpochEnd, ...);
    - ``finished(object)``: the RunResult, whenever the engine returned one
      (completed, stopped, early stopping, and failed runs - ``result.failed``);
    - ``failed(str)``: the run failed, in plain words: a NaN loss, an error
      mid-run, or a problem found before training started (then no
      ``finished``).
    """

    started = Signal()
    event = Signal(object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = _Bridge()
        self._bridge.event.connect(self.event)
        self._bridge.done.connect(self._on_done)
        self._thread: threading.Thread | None = None
        self._control: RunControl | None = None
        self._active = False  # GUI-thread view: True from start() until finished/failed went out
        self.last_result: Any = None
        self.last_error: str | None = None
        self._saved_switch: float | None = None

    # -- control ------------------------------------------------------------
    def start(
        self,
        project_snapshot: Any,
        data: Any = None,
        out_dir: Any = None,
        overrides: dict[str, Any] | None = None,
        *,
        resume: Any = None,
        event_interval: float | None = None,
    ) -> bool:
        """Start a run on ``project_snapshot`` (a copy: the designer goes on editing its own).

        Returns False, doing nothing, while another run is active.
        """
        if self.is_running():
            return False
        control = RunControl()
        self._control = control
        self._active = True
        self.last_result = None
        self.last_error = None
        bridge = self._bridge
        kwargs: dict[str, Any] = {"data": data, "out_dir": out_dir, "overrides": overrides, "resume": resume}
        if event_interval is not None:
            kwargs["event_interval"] = float(event_interval)

        def target() -> None:
            result, error = None, None
            collector = _FitCollector()
            try:
                from app.engine import train
                from app.engine.keras_loader import load_keras

                load_keras()
                sink = _safe_emit(bridge.event, collector)
                result = train.run(project_snapshot, events=sink, control=control, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any failure becomes one plain line
                log.debug("training run raised", exc_info=True)
                error = _exception_message(exc)
            except BaseException as exc:  # noqa: BLE001 - e.g. SystemExit inside Keras
                error = _exception_message(exc)
            finally:
                collector.release()
                _return_freed_memory()
            try:
                bridge.done.emit(result, error)
            except RuntimeError:  # the bridge was deleted: the window is gone
                pass

        if self._saved_switch is None:
            self._saved_switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved_switch, RUN_SWITCH_INTERVAL_S))
        self._thread = threading.Thread(target=target, name="layerlab-train", daemon=True)
        self._thread.start()
        self.started.emit()
        return True

    def stop(self) -> None:
        if self._control is not None:
            self._control.stop()

    def pause(self) -> None:
        if self._control is not None and self.is_running():
            self._control.pause()

    def resume(self) -> None:
        if self._control is not None:
            self._control.resume()

    def is_paused(self) -> bool:
        return self._control is not None and self.is_running() and self._control.paused

    def is_running(self) -> bool:
        """True from :meth:`start` until ``finished``/``failed`` has been delivered."""
        return self._active or (self._thread is not None and self._thread.is_alive())

    def shutdown(self, timeout_s: float = 3.0) -> bool:
        """Stop the run at its next batch and wait for the thread; True when it has ended."""
        thread = self._thread
        if thread is None:
            return True
        self.stop()
        thread.join(max(0.0, float(timeout_s)))
        ok = not thread.is_alive()
        if ok:
            self._thread = None
            self._active = False
            self._restore_switch()
        return ok

    def _restore_switch(self) -> None:
        if self._saved_switch is not None:
            sys.setswitchinterval(self._saved_switch)
            self._saved_switch = None

    def wait(self, timeout_s: float | None = None) -> bool:
        """Join the thread (tests, benchmarks); True when it has ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    # -- GUI thread -----------------------------------------------------------
    @Slot(object, object)
    def _on_done(self, result: Any, error: Any) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(5.0)  # the thread only has its return left to do
            if not thread.is_alive():
                self._thread = None
        self._active = False
        self._restore_switch()
        self.last_result = result
        if result is not None:
            if getattr(result, "failed", False):
                self.last_error = plain_reason(result.stopped_reason)
            self.finished.emit(result)
            if self.last_error:
                self.failed.emit(self.last_error)
        else:
            self.last_error = error or "Training failed for an unknown reason."
            self.failed.emit(self.last_error)


class _FitCollector:
    """No full (generation-2) garbage collection from the first batch to the run's end.

    A full collection walks every object the run made (the model, its traced train
    step: ~100k objects), holding the GIL for 20-50 ms, so the window stalls that
    long several times per run. Young objects are still collected (generations
    0 and 1, < 5 ms each); what reaches the old generation during the fit waits
    for the first full collection after the run. (``gc.freeze`` would do the
    same but never free the run's reference cycles: +380 MB over 20 runs.)
    """

    NEVER = 1 << 30

    def __init__(self) -> None:
        self.saved: tuple[int, int, int] | None = None

    def hold(self) -> None:
        if self.saved is None:
            self.saved = gc.get_threshold()
            gc.set_threshold(self.saved[0], self.saved[1], self.NEVER)

    def release(self) -> None:
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None


def _return_freed_memory() -> None:
    """Give the heap pages a finished run freed back to the system (glibc keeps them otherwise)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)  # a foreign call: the GIL is free meanwhile
    except (OSError, AttributeError):
        pass


def _safe_emit(signal: Any, collector: _FitCollector | None = None) -> Any:
    def sink(event: Any) -> None:
        if collector is not None and collector.saved is None and getattr(event, "kind", "") == "batch_end":
            collector.hold()  # the model is built and its step traced: the fit has begun
        try:
            signal.emit(event)
        except RuntimeError:  # the receiver is gone (window closed); the run stops anyway
            pass

    return sink


def _exception_message(exc: BaseException) -> str:
    """TrainError & co. carry one clean line; anything else is cleaned like Keras messages."""
    try:
        from app.engine.train import TrainError

        if isinstance(exc, TrainError):
            return f"Cannot train: {exc}"
    except Exception:  # noqa: BLE001
        pass
    try:
        from app.engine.layers import clean_keras_message

        text = clean_keras_message(exc) or ""
    except Exception:  # noqa: BLE001
        text = ""
    text = text or str(exc) or type(exc).__name__
    return plain_reason(f"error: {text}")

