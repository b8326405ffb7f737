"""TrainSettings -> Keras' own optimizer, learning-rate schedule, loss and metrics.

Only built-in Keras objects are used, so a saved ``model.keras`` reloads in a
plain Keras (safe mode) with its compile state. Schedules count optimizer
steps; the settings speak in epochs, so they are converted with the number of
steps per epoch. :func:`lr_curve` computes the same curve in plain Python (no
Keras import) for the GUI's schedule preview; a test holds the two equal.

``min_learning_rate`` is the floor of cosine, warm-up + cosine and
reduce-on-plateau; step and exponential decay are Keras' ``ExponentialDecay``,
which has no floor.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from app.core.settings import OPTIMIZERS, SCHEDULES, TrainSettings


class CompileError(ValueError):
    """A setting Keras cannot use; the message says which and what is allowed."""


def _steps(steps_per_epoch: int, epochs: int) -> tuple[int, int]:
    return max(1, int(steps_per_epoch)), max(1, int(epochs))


def _warmup(settings: TrainSettings, steps_per_epoch: int, epochs: int) -> tuple[int, int]:
    """(warm-up steps, cosine steps after it); the cosine part keeps at least one step."""
    s, e = _steps(steps_per_epoch, epochs)
    total = s * e
    warm = min(max(0, int(settings.schedule.warmup_epochs)) * s, total - 1)
    return warm, total - warm


def _alpha(settings: TrainSettings) -> float:
    lr = float(settings.learning_rate)
    if lr <= 0:
        return 0.0
    return min(1.0, max(0.0, float(settings.schedule.min_learning_rate) / lr))


def make_schedule(settings: TrainSettings, steps_per_epoch: int, epochs: int) -> Any:
    """A ``keras.optimizers.schedules.LearningRateSchedule``, or a float for a constant rate.

    reduce_on_plateau is a constant rate here; :func:`schedule_callbacks` adds
    the ``ReduceLROnPlateau`` callback (Keras cannot combine it with a schedule).
    """
    import keras

    sched = settings.schedule
    lr = float(settings.learning_rate)
    s, e = _steps(steps_per_epoch, epochs)
    S = keras.optimizers.schedules
    name = sched.name
    if name in ("constant", "reduce_on_plateau"):
        return lr
    if name == "step":
        return S.ExponentialDecay(
            lr, decay_steps=max(1, int(sched.step_epochs)) * s, decay_rate=float(sched.factor), staircase=True
        )
    if name == "exponential":
        return S.ExponentialDecay(lr, decay_steps=s, decay_rate=float(sched.factor))
    if name == "cosine":
        return S.CosineDecay(lr, decay_steps=s * e, alpha=_alpha(settings))
    if name == "warmup_cosine":
        warm, decay = _warmup(settings, s, e)
        if warm == 0:
            return S.CosineDecay(lr, decay_steps=decay, alpha=_alpha(settings))
        return S.CosineDecay(
            lr / warm, decay_steps=decay, alpha=_alpha(settings), warmup_target=lr, warmup_steps=warm
        )
    raise CompileError(f"unknown learning-rate schedule '{name}' (choose one of: {', '.join(SCHEDULES)})")


def lr_at(settings: TrainSettings, step: int, steps_per_epoch: int, epochs: int) -> float:
    """The learning rate at optimizer step ``step``, the way the Keras schedule computes it."""
    sched = settings.schedule
    lr = float(settings.learning_rate)
    s, e = _steps(steps_per_epoch, epochs)
    name = sched.name
    if name in ("constant", "reduce_on_plateau"):
        return lr
    if name == "step":
        return lr * float(sched.factor) ** math.floor(step / (max(1, int(sched.step_epochs)) * s))
    if name == "exponential":
        return lr * float(sched.factor) ** (step / s)
    alpha = _alpha(settings)

    def cosine(t: float, n: int, top: float) -> float:
        t = min(t, n)
        return top * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t / n)) + alpha)

    if name == "cosine":
        return cosine(step, s * e, lr)
    if name == "warmup_cosine":
        warm, decay = _warmup(settings, s, e)
        if warm == 0:
            return cosine(step, decay, lr)
        if step < warm:
            start = lr / warm
            return (lr - start) * step / warm + start
        return cosine(step - warm, decay, lr)
    raise CompileError(f"unknown learning-rate schedule '{name}' (choose one of: {', '.join(SCHEDULES)})")


def lr_curve(settings: TrainSettings, epochs: int, steps_per_epoch: int) -> list[float]:
    """The rate at the first batch of each epoch (what history.csv's learning_rate shows)."""
    s, e = _steps(steps_per_epoch, epochs)
    return [lr_at(settings, i * s, s, e) for i in range(e)]


def make_optimizer(settings: TrainSettings, steps_per_epoch: int, epochs: int) -> Any:
    """Keras' own optimizer for ``settings.optimizer`` with the schedule as its learning rate."""
    import keras

    opt = keras.optimizers
    lr = make_schedule(settings, steps_per_epoch, epochs)
    name = settings.optimizer.lower()
    wd = float(settings.weight_decay)
    decay = {"weight_decay": wd} if wd > 0 else {}
    if name == "adam":
        return opt.Adam(lr, **decay)
    if name == "adamw":
        return opt.AdamW(lr, weight_decay=wd)
    if name == "sgd":
        return opt.SGD(lr, momentum=float(settings.momentum), nesterov=bool(settings.nesterov), **decay)
    if name == "rmsprop":
        return opt.RMSprop(lr, momentum=float(settings.momentum), **decay)
    simple = {"nadam": opt.Nadam, "adagrad": opt.Adagrad, "adamax": opt.Adamax, "lion": opt.Lion}
    if name in simple:
        return simple[name](lr, **decay)
    raise CompileError(f"unknown optimizer '{settings.optimizer}' (choose one of: {', '.join(OPTIMIZERS)})")


def make_loss(name: str) -> str:
    """The loss name, checked against Keras' own losses (kept as a name so it serializes)."""
    import keras

    try:
        keras.losses.get(name)
    except (ValueError, TypeError):
        raise CompileError(f"unknown loss '{name}' (not one of Keras' losses)") from None
    return name


def target_form(loss: str, units: int | None) -> str:
    """How the class labels must reach ``loss`` for an output of ``units`` values.

    ``"column"``: one 0/1 value per image (a single sigmoid unit); ``"sparse"``:
    the class number (the sparse losses); ``"one_hot"``: one row per class, for
    every other loss (categorical and binary cross-entropy over several units,
    squared or absolute error, Huber, hinge), which compare two same-shape
    tensors. Training, evaluation and the exported script all use this rule.
    """
    if units == 1:
        return "column"
    return "sparse" if "sparse" in str(loss) else "one_hot"


def make_metrics(settings: TrainSettings) -> list[str]:
    return [str(m) for m in settings.metrics]


def compile_model(model: Any, settings: TrainSettings, steps_per_epoch: int, epochs: int) -> Any:
    """Compile in place; under a mixed_float16 policy Keras wraps the optimizer in loss scaling."""
    model.compile(
        optimizer=make_optimizer(settings, steps_per_epoch, epochs),
        loss=make_loss(settings.loss),
        metrics=make_metrics(settings),
    )
    return model


def schedule_callbacks(settings: TrainSettings, monitor: str) -> list[Any]:
    """``ReduceLROnPlateau`` when that schedule is chosen; nothing otherwise."""
    if settings.schedule.name != "reduce_on_plateau":
        return []
    import keras

    sched = settings.schedule
    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor=monitor,
            factor=float(sched.factor),
            patience=max(0, int(sched.patience)),
            min_lr=float(sched.min_learning_rate),
            mode="max" if "accuracy" in monitor else "min",
        )
    ]


def class_weights(counts: Mapping[int, int] | Sequence[int]) -> dict[int, float]:
    """Balanced weights (n / (classes * count), sklearn's rule); a class with no sample gets 1."""
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    items = dict(counts) if isinstance(counts, Mapping) else dict(enumerate(counts))
    present = sorted(k for k, v in items.items() if int(v) > 0)
    if not present:
        return {}
    labels = np.repeat(np.array(present), [int(items[k]) for k in present])
    weights = compute_class_weight("balanced", classes=np.array(present), y=labels)
    out = {int(k): 1.0 for k in items}
    out.update({int(k): float(w) for k, w in zip(present, weights, strict=True)})
    return out


@contextmanager
def dtype_policy(mixed_precision: bool) -> Iterator[None]:
    """Set mixed_float16 for this thread while the block runs (Keras keeps the policy per thread)."""
    if not mixed_precision:
        yield
        return
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
