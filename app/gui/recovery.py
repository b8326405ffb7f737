"""Autosave and crash recovery.

Each window session writes a marker ``<id>.session`` (JSON: pid, start time,
the project's own path) into ``cache_dir()/recovery`` and, every 30 s while
there are unsaved changes, the project itself to ``<id>.layerlab`` (atomic:
temporary file, then rename). A clean exit removes both. On the next start a
recovery file whose marker is still there, from a session that is not running
any more, is offered back (``ask_restore``; tests and the smoke test skip it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.core.atomic import write_text_atomic
from app.core.project import Project, ProjectError, load_project
from app.paths import cache_dir

AUTOSAVE_INTERVAL_MS = 30_000
MARKER_SUFFIX = ".session"
RECOVERY_SUFFIX = ".layerlab"

# Sessions of this process that are still open (so a second window in the same
# process, as in tests, does not offer a sibling's autosave as a crash).
_LIVE_SESSIONS: set[str] = set()


def recovery_dir() -> Path:
    d = cache_dir() / "recovery"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Recoverable:
    """An autosaved project left behind by a session that did not exit cleanly."""

    session_id: str
    file: Path
    marker: Path
    saved_at: float
    original_path: str | None
    name: str

    def load(self) -> Project:
        project = load_project(self.file)
        project.path = Path(self.original_path) if self.original_path else None
        return project

    def discard(self) -> None:
        for p in (self.file, self.marker):
            try:
                p.unlink()
            except OSError:
                pass


def find_recoverable() -> list[Recoverable]:
    """Recovery files from crashed sessions, newest first; stale markers are tidied away."""
    found: list[Recoverable] = []
    folder = recovery_dir()
    for marker in folder.glob(f"*{MARKER_SUFFIX}"):
        sid = marker.name.removesuffix(MARKER_SUFFIX)
        if sid in _LIVE_SESSIONS:
            continue
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        pid = int(meta.get("pid") or 0)
        if pid != os.getpid() and _pid_alive(pid):
            continue  # another LayerLab window is running
        file = folder / f"{sid}{RECOVERY_SUFFIX}"
        if not file.is_file():
            try:
                marker.unlink()  # a session that crashed before anything was autosaved
            except OSError:
                pass
            continue
        found.append(
            Recoverable(
                session_id=sid,
                file=file,
                marker=marker,
                saved_at=float(meta.get("saved_at") or file.stat().st_mtime),
                original_path=meta.get("path"),
                name=str(meta.get("name") or "untitled"),
            )
        )
    found.sort(key=lambda r: r.saved_at, reverse=True)
    return found


def ask_restore(parent: QWidget | None, item: Recoverable) -> bool:
    """Ask the user whether to restore ``item`` (replaced in tests)."""
    when = time.strftime("%H:%M on %d %b %Y", time.localtime(item.saved_at))
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Restore unsaved work?")
    box.setText(f"LayerLab did not close properly last time.\nRestore “{item.name}”, autosaved at {when}?")
    where = item.original_path or "a project that was never saved"
    box.setInformativeText(f"It holds the unsaved changes to {where}. If you discard it, they are lost.")
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(restore)
    box.exec()
    return box.clickedButton() is restore


class RecoveryManager(QObject):
    """One window session's autosave: a timer, a marker, atomic writes."""

    autosaved = Signal(str)  # the recovery file's path

    def __init__(
        self,
        get_project: Callable[[], Project],
        is_dirty: Callable[[], bool],
        parent: QObject | None = None,
        interval_ms: int = AUTOSAVE_INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self._get_project = get_project
        self._is_dirty = is_dirty
        self.session_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{id(self) % 100000}"
        self.folder = recovery_dir()
        self.marker = self.folder / f"{self.session_id}{MARKER_SUFFIX}"
        self.file = self.folder / f"{self.session_id}{RECOVERY_SUFFIX}"
        self._saved_text: str | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave)
        self.active = False

    def start(self) -> None:
        _LIVE_SESSIONS.add(self.session_id)
        self.active = True
        self._write_marker(saved_at=None)
        self.timer.start()

    def _write_marker(self, saved_at: float | None) -> None:
        project = self._get_project()
        meta = {
            "pid": os.getpid(),
            "started": time.time(),
            "saved_at": saved_at,
            "path": str(project.path) if project.path else None,
            "name": project.name,
        }
        try:
            write_text_atomic(self.marker, json.dumps(meta))
        except OSError:
            pass

    def autosave(self) -> Path | None:
        """Write the project to the recovery file when it has unsaved changes."""
        if not self.active:
            return None
        if not self._is_dirty():
            self._remove_file()
            return None
        project = self._get_project()
        text = project.to_json()
        if text == self._saved_text and self.file.is_file():
            return self.file  # nothing new since the last autosave
        try:
            write_text_atomic(self.file, text)
        except OSError:
            return None
        self._saved_text = text
        self._write_marker(saved_at=time.time())
        self.autosaved.emit(str(self.file))
        return self.file

    def saved(self) -> None:
        """The user saved: the recovery file is no longer needed."""
        self._remove_file()
        self._write_marker(saved_at=None)

    def _remove_file(self) -> None:
        self._saved_text = None
        try:
            self.file.unlink()
        except OSError:
            pass

    def finish(self) -> None:
        """A clean exit: remove the marker and the recovery file."""
        self.timer.stop()
        self.active = False
        _LIVE_SESSIONS.discard(self.session_id)
        self._remove_file()
        try:
            self.marker.unlink()
        except OSError:
            pass

    def abandon(self) -> None:
        """Stop without tidying up, as a crash would (for tests)."""
        self.timer.stop()
        self.active = False
        _LIVE_SESSIONS.discard(self.session_id)


__all__ = [
    "AUTOSAVE_INTERVAL_MS",
    "ProjectError",
    "Recoverable",
    "RecoveryManager",
    "ask_restore",
    "find_recoverable",
    "recovery_dir",
]
