"""What a training run reports, as plain data (no Keras, no Qt objects inside).

Plain frozen dataclasses so that a Qt worker can pass them through a queued
signal, a CLI can print them and a test can compare them. Epochs and batches
are counted from 1, the way history.csv and the progress bar show them.

Every run that starts (``RunStarted``) ends with exactly one of ``Finished``
(completed, early stopping, stopped by the user) or ``Failed`` (NaN loss, an
error); ``Stopped`` comes just before ``Finished`` when the run ended early.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Event:
    """Base of every event; ``kind`` names it in ``to_dict`` (for logs and IPC)."""

    @property
    def kind(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, **asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    run_dir: str
    epochs: int  # the last epoch this run trains to
    initial_epoch: int  # epochs already done (0, or where a resumed run carries on)
    steps_per_epoch: int
    batch_size: int
    train_samples: int
    validation_samples: int
    class_names: tuple[str, ...] = ()
    monitor: str = "val_loss"
    resumed: bool = False


@dataclass(frozen=True)
class BatchEnd(Event):
    """Throttled by time: at most a few tens per second, never one per batch on a fast run."""

    epoch: int
    batch: int  # batches done in this epoch
    steps: int  # batches in an epoch
    loss: float
    metrics: dict[str, float] = field(default_factory=dict)  # running epoch means, as Keras logs them
    learning_rate: float = 0.0
    samples_per_s: float = 0.0


@dataclass(frozen=True)
class EpochEnd(Event):
    epoch: int
    logs: dict[str, float]  # loss, accuracy, val_loss, val_accuracy, learning_rate, ...
    seconds: float  # wall time of the epoch, paused time left out


@dataclass(frozen=True)
class Paused(Event):
    epoch: int
    batch: int


@dataclass(frozen=True)
class Resumed(Event):
    epoch: int
    batch: int


@dataclass(frozen=True)
class Stopped(Event):
    reason: str  # "stopped_by_user" | "early_stopping"


@dataclass(frozen=True)
class Finished(Event):
    run_dir: str
    metrics: dict[str, Any]  # what metrics.json holds


@dataclass(frozen=True)
class Failed(Event):
    reason: str  # "nan_loss: epoch E batch B" | "error: ..."
    epoch: int | None = None
    batch: int | None = None
    run_dir: str | None = None  # still written where it could be


@dataclass(frozen=True)
class Info(Event):
    """A line for the user, e.g. that the output layer was adapted to the dataset."""

    message: str


class EventSink(Protocol):
    """Anything callable with one event; it runs on the training thread, so keep it quick."""

    def __call__(self, event: Event) -> None: ...


TERMINAL = (Finished, Failed)
