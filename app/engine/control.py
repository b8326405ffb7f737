"""Stop / pause / resume for a running job, safe to call from any thread.

The GUI thread (or a signal handler) flips flags here; the training thread
looks at them at each batch boundary, which is the only place where Keras can
stop or wait cleanly. Two ``threading.Event`` objects, nothing more, so a check
costs well under a microsecond.
"""

from __future__ import annotations

import threading


class RunControl:
    """``stop()`` is final; ``pause()`` / ``resume()`` may alternate any number of times."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run wakes up to stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self, timeout: float | None = None) -> bool:
        """Block while paused (up to ``timeout`` seconds); True when the job may go on."""
        if not self._running.is_set():
            self._running.wait(timeout)
        return self._running.is_set() and not self._stop.is_set()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "paused" if self.paused else "running"
        return f"<RunControl {state}>"
