"""Data and training settings: small frozen dataclasses saved inside a project.

Unknown keys in a file are ignored and missing ones take the defaults, so an
older or newer project still opens. Values are kept as the file holds them,
even wrong ones (a string learning rate, epochs -3), so that ``check`` can say
what is wrong and the window can show it; ``app.core.validation`` judges them.
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
# Losses Keras knows by name beyond those offered first (a test asks Keras about each).
ALL_LOSSES = (
    *LOSSES,
    "categorical_focal_crossentropy",
    "binary_focal_crossentropy",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "log_cosh",
    "kl_divergence",
    "poisson",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "cosine_similarity",
    "dice",
    "tversky",
    "mse",
    "mae",
)
METRICS = (
    "accuracy",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "precision",
    "recall",
    "mean_absolute_error",
    "mean_squared_error",
    "mae",
    "mse",
)
TASKS = ("classification", "segmentation", "regression")
FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam", "adagrad", "adamax", "lion")
SCHEDULES = ("constant", "step", "exponential", "cosine", "warmup_cosine", "reduce_on_plateau")
NORMALIZATIONS = ("rescale", "standardize", "none")
COLOR_MODES = ("grayscale", "rgb", "rgba")


class SettingsFormatError(ValueError):
    """A settings section that is not a JSON object at all (the file cannot be read as a project)."""


def _section(data: Any, where: str) -> dict[str, Any]:
    """A copy of a settings section; None (missing) is empty."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsFormatError(f"{where} must be a JSON object")
    return dict(data)


def _from_dict(cls: type, data: Any, where: str) -> Any:
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in _section(data, where).items() if k in known})


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


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
            _positive(getattr(self, k)) for k in ("rotation", "zoom", "translation", "contrast", "brightness")
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Augmentation:
        return _from_dict(cls, data, "data.augmentation")


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
        data = _section(data, "data")
        aug = Augmentation.from_dict(data.pop("augmentation", None))
        return replace(_from_dict(cls, data, "data"), augmentation=aug)


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
        return _from_dict(cls, data, "training.schedule")


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
        d["metrics"] = list(self.metrics) if isinstance(self.metrics, tuple | list) else self.metrics
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainSettings:
        data = _section(data, "training")
        sched = Schedule.from_dict(data.pop("schedule", None))
        if isinstance(data.get("metrics"), list):  # anything else is kept for check to report
            data["metrics"] = tuple(data["metrics"])
        return replace(_from_dict(cls, data, "training"), schedule=sched)
