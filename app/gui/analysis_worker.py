"""The one thread that owns Keras for the window: analysis and other Keras jobs.

``AnalysisWorker`` is a QThread started once the window is on screen. It
analyzes the project snapshots the GUI sends (from the on-disk shape store
when it can, without Keras), and imports Keras in the background soon after
(``kerasReady``). Requests are coalesced: while one analysis
runs, newer snapshots replace older waiting ones, so only the newest is
analyzed. Results go back as plain data through ``Signal(object)``; the worker
never touches a widget. Other Keras work (importing or exporting a model) runs
in the same thread as "jobs", because the TensorFlow backend is not thread-safe.

``AnalysisService`` is the GUI-side owner: it snapshots the project
(:func:`snapshot`), numbers the requests and quits/waits for the thread.
"""

from __future__ import annotations

import marshal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.graph import NetworkGraph, Node
from app.core.project import Project
from app.engine.keras_loader import load_keras, quiet_tensorflow


def snapshot(project: Project) -> Project:
    """A deep copy of ``project`` for the worker thread, fast enough for the GUI thread.

    ``Project.copy()`` goes through ``to_dict`` (``copy.deepcopy`` of every
    layer's params, ~90 ms for DenseNet121 here); params are plain JSON data,
    so one ``marshal`` round trip (in C) copies them all at once. Settings are
    frozen dataclasses and edges frozen too: shared, not copied.
    """
    g = project.graph
    try:
        nodes = marshal.loads(
            marshal.dumps([(n.id, n.class_name, n.name, n.params, n.position) for n in g.nodes])
        )
    except ValueError:  # something in the params that is not plain data
        return project.copy()
    graph = NetworkGraph()
    for nid, class_name, name, params, position in nodes:
        graph._nodes[nid] = Node(nid, class_name, name, params, position)
    graph._edges = list(g.edges)
    graph._counter = g._counter
    return Project(
        graph=graph,
        data=project.data,
        training=project.training,
        name=project.name,
        description=project.description,
        task=project.task,
        weights_file=project.weights_file,
        path=project.path,
    )


class JobResult:
    """What a job returned (``value``) or raised (``error``, with its traceback text)."""

    __slots__ = ("job_id", "value", "error", "trace")

    def __init__(self, job_id: int, value: Any = None, error: BaseException | None = None, trace: str = "") -> None:
        self.job_id = job_id
        self.value = value
        self.error = error
        self.trace = trace

    @property
    def ok(self) -> bool:
        return self.error is None


class AnalysisWorker(QThread):
    """The thread itself: one ``run()`` loop serves analyses and jobs until it is stopped.

    One long Python call, not a QObject with queued slots: PySide enters Python
    afresh for each queued slot call on a thread Python did not start, and
    TensorFlow keeps per-thread state that does not survive that (see
    ``data_panel.JobThread``). Signals go out to the GUI thread as plain data.
    """

    kerasReady = Signal()
    kerasFailed = Signal(str)
    analyzed = Signal(object)  # (revision, Analysis)
    analysisFailed = Signal(object)  # (revision, message)
    jobFinished = Signal(object)  # JobResult

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("layerlab-analysis")
        self._cond = threading.Condition()
        self._pending: tuple[int, Project, int | None] | None = None
        self._jobs: deque[tuple[int, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = deque()
        self._analyzer: Any = None
        self._stopping = False
        self.analyses_run = 0
        self.last_duration = 0.0
        self.keras_delay_ms = 1000
        self.keras_loaded = False
        self._keras_failed = False

    # -- called from the GUI thread ------------------------------------------
    def post(self, revision: int, snapshot: Project, num_classes: int | None = None) -> None:
        """Queue ``snapshot`` for analysis, replacing any snapshot still waiting."""
        with self._cond:
            self._pending = (revision, snapshot, num_classes)
            self._cond.notify()

    def post_job(self, job_id: int, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        with self._cond:
            self._jobs.append((job_id, fn, args, kwargs))
            self._cond.notify()

    def request_stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._pending = None
            self._jobs.clear()
            self._cond.notify()

    # -- in the worker thread -------------------------------------------------
    def run(self) -> None:  # noqa: D102 - QThread
        """Serve what is waiting; import Keras ``keras_delay_ms`` after the start when idle.

        The analyzer answers from its on-disk shape store without Keras when it
        has seen the layers before (a cache miss imports Keras right there);
        Keras itself is imported a little later, so a window that just opened
        stays responsive and a quick smoke test need not wait.
        """
        quiet_tensorflow()
        try:
            from app.engine.analyze import Analyzer

            self._analyzer = Analyzer()
        except Exception as exc:  # noqa: BLE001 - shown in the status bar
            self.kerasFailed.emit(f"the analyzer could not start: {exc}")
            return
        keras_at = time.monotonic() + self.keras_delay_ms / 1000
        while True:
            with self._cond:
                while not (self._stopping or self._jobs or self._pending is not None):
                    if self.keras_loaded or self._keras_failed:
                        self._cond.wait()
                        continue
                    left = keras_at - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._stopping:
                    return
                job = self._jobs.popleft() if self._jobs else None
                item = self._pending if job is None else None
                if job is None:
                    self._pending = None
            if job is not None:
                self._run_job(*job)
            elif item is not None:
                self._analyze(*item)
            else:
                self._load_keras()

    def _load_keras(self) -> None:
        try:
            load_keras()  # the slow part: seconds, with the GIL left free for the window
        except Exception as exc:  # noqa: BLE001 - shown in the status bar
            self._keras_failed = True
            self.kerasFailed.emit(f"Keras could not be loaded: {exc}")
            return
        self.keras_loaded = True
        self.kerasReady.emit()

    def _analyze(self, revision: int, snapshot: Project, num_classes: int | None) -> None:
        t = time.perf_counter()
        try:
            analysis = self._analyzer.analyze(snapshot, num_classes=num_classes)
        except Exception as exc:  # noqa: BLE001 - an analyzer bug must not kill the thread
            self.analysisFailed.emit((revision, f"{type(exc).__name__}: {exc}"))
            return
        self.last_duration = time.perf_counter() - t
        self.analyses_run += 1
        self.analyzed.emit((revision, analysis))

    def _run_job(self, job_id: int, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI as data
            self.jobFinished.emit(JobResult(job_id, error=exc, trace=traceback.format_exc()))
            return
        self.jobFinished.emit(JobResult(job_id, value=value))


class AnalysisService(QObject):
    """The GUI thread's handle on the worker: snapshots, revisions, start and stop."""

    kerasReady = Signal()
    kerasFailed = Signal(str)
    analyzed = Signal(object)  # (revision, Analysis) - only the newest request's result
    analysisFailed = Signal(object)
    jobFinished = Signal(object)  # JobResult
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = AnalysisWorker()  # the thread itself
        self.worker.kerasReady.connect(self._on_ready)
        self.worker.kerasFailed.connect(self.kerasFailed)
        self.worker.analyzed.connect(self._on_analyzed)
        self.worker.analysisFailed.connect(self._on_failed)
        self.worker.jobFinished.connect(self.jobFinished)
        self.revision = 0
        self.applied_revision = 0
        self.ready = False
        self.started = False
        self.last_snapshot_s = 0.0  # GUI-thread cost of the latest request (copy + post)
        self._next_job = 0

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.worker.start()

    @property
    def busy(self) -> bool:
        return self.applied_revision < self.revision

    def request(self, project: Project, num_classes: int | None = None) -> int:
        """Analyze a snapshot of ``project`` in the background; returns its revision."""
        t = time.perf_counter()
        self.revision += 1
        self.worker.post(self.revision, snapshot(project), num_classes)
        self.last_snapshot_s = time.perf_counter() - t
        if self.revision == self.applied_revision + 1:
            self.busyChanged.emit(True)
        return self.revision

    def run_job(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        """Run ``fn`` in the Keras thread (after Keras has loaded); ``jobFinished`` tells."""
        self._next_job += 1
        self.worker.post_job(self._next_job, fn, args, kwargs)
        self.start()
        return self._next_job

    def stop(self, timeout_ms: int = 60000) -> None:
        """Quit the thread and wait for it (an import of Keras in progress finishes first)."""
        self.worker.request_stop()
        if self.worker.isRunning():
            self.worker.wait(timeout_ms)

    @Slot()
    def _on_ready(self) -> None:
        self.ready = True
        self.kerasReady.emit()

    @Slot(object)
    def _on_analyzed(self, payload: tuple[int, Any]) -> None:
        revision, _analysis = payload
        if revision < self.revision:
            return  # a newer snapshot is on its way; its result replaces this one
        self.applied_revision = revision
        self.analyzed.emit(payload)
        self.busyChanged.emit(False)

    @Slot(object)
    def _on_failed(self, payload: tuple[int, str]) -> None:
        revision, _message = payload
        if revision >= self.revision:
            self.applied_revision = revision
            self.busyChanged.emit(False)
        self.analysisFailed.emit(payload)
