"""Data and training settings: small frozen dataclasses saved inside a project.

Unknown keys in a file are ignored and missing ones take the defaults, so an
older or newer project still opens; values are checked by the analyzer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

LOSSES = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
)
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam", "adagrad", "adamax", "lion")
SCHEDULES = ("constant", "step", "exponential", "cosine", "warmup_cosine", "reduce_on_plateau")
NORMALIZATIONS = ("rescale", "standardize", "none")
COLOR_MODES = ("grayscale", "rgb", "rgba")


def _from_dict(cls: type, data: dict[str, Any] | None) -> Any:
    data = data or {}
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Augmentation:
    """Random transforms applied as Keras layers during training only."""

    flip: str = "none"  # none | horizontal | vertical | horizontal_and_vertical
    rotation: float = 0.0  # fraction of a full turn
    zoom: float = 0.0
    translation: float = 0.0
    contrast: float = 0.0
    brightness: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.flip != "none" or any(
            getattr(self, k) > 0 for k in ("rotation", "zoom", "translation", "contrast", "brightness")
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Augmentation:
        return _from_dict(cls, data)


@dataclass(frozen=True)
class DataSettings:
    """Where the images come from and how they become the network's input."""

    source: str = ""  # a folder, an .npz/IDX file, or "sample:NAME"
    validation_source: str = ""  # optional separate validation folder
    validation_split: float = 0.2
    seed: int = 1337
    normalization: str = "rescale"
    augmentation: Augmentation = field(default_factory=Augmentation)
    cache_budget_mb: int = 1024

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["augmentation"] = self.augmentation.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DataSettings:
        data = dict(data or {})
        aug = Augmentation.from_dict(data.pop("augmentation", None))
        return replace(_from_dict(cls, data), augmentation=aug)


@dataclass(frozen=True)
class Schedule:
    """Learning-rate schedule; only the fields of the chosen ``name`` matter."""

    name: str = "constant"
    step_epochs: int = 10  # step: drop every N epochs
    factor: float = 0.5  # step / exponential / reduce_on_plateau multiplier
    warmup_epochs: int = 1  # warmup_cosine
    patience: int = 3  # reduce_on_plateau
    min_learning_rate: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | str | None) -> Schedule:
        if isinstance(data, str):
            return cls(name=data)
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TrainSettings:
    """How the network is compiled and fitted."""

    loss: str = "sparse_categorical_crossentropy"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd / rmsprop
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: Schedule = field(default_factory=Schedule)
    epochs: int = 10
    batch_size: int = 32
    metrics: tuple[str, ...] = ("accuracy",)
    early_stopping: bool = False
    early_stopping_patience: int = 5
    class_weights: bool = False
    mixed_precision: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["schedule"] = self.schedule.to_dict()
        d["metrics"] = list(self.metrics)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainSettings:
        data = dict(data or {})
        sched = Schedule.from_dict(data.pop("schedule", None))
        if "metrics" in data:
            data["metrics"] = tuple(data["metrics"])
        return replace(_from_dict(cls, data), schedule=sched)
