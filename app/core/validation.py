"""The one schema of a project's settings and layer names, and the one place that judges them.

Settings dataclasses keep whatever a file held, so that ``check`` can report a
wrong value and the window can show it on its widget; :func:`check_settings`
says what is wrong, in words tied to the setting's dotted path, with the value
a fix would set. ``check``, ``train``, ``export`` and the window all ask here.
Layer names follow what Keras and TensorFlow accept everywhere (a layer name
becomes a TensorFlow scope name on export): :func:`name_problem` and
:func:`suggest_name`.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from app.core.settings import (
    ALL_LOSSES,
    FLIPS,
    METRICS,
    NORMALIZATIONS,
    OPTIMIZERS,
    SCHEDULES,
    TASKS,
    Augmentation,
    DataSettings,
    Schedule,
    TrainSettings,
)

MAX_COUNT = 1_000_000  # epochs, batch size, patience: beyond this a value is a typo
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_NAME = 200


@dataclass(frozen=True)
class SettingProblem:
    """One wrong setting: ``setting`` is its dotted path, e.g. ``training.learning_rate``."""

    setting: str
    message: str
    fix: str | None = None
    fix_value: Any = None


# -- rules ------------------------------------------------------------------------------
def _show(value: Any) -> str:
    """A value as the message quotes it, kept short (a 5,000-digit number is not printed)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"a {int(abs(value).bit_length() * math.log10(2)) + 1}-digit number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    text = repr(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Number:
    """A finite number in a range; ``whole`` for counts (epochs, batch size)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is not allowed
    high_open: bool = False
    whole: bool = False

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a finite number"
        if self.low is not None and self.high is not None and not (self.low_open or self.high_open):
            return f"{kind} from {_num(self.low)} to {_num(self.high)}"
        parts = []
        if self.low is not None:
            parts.append(f"greater than {_num(self.low)}" if self.low_open else f"at least {_num(self.low)}")
        if self.high is not None:
            parts.append(f"less than {_num(self.high)}" if self.high_open else f"at most {_num(self.high)}")
        return kind + (" " + " and ".join(parts) if parts else "")

    def problem(self, value: Any) -> tuple[str, Any] | None:
        """(what is wrong, a better value or None) or None when ``value`` is fine."""
        if not _is_number(value):
            return "is not a number", None
        if isinstance(value, float) and not math.isfinite(value):
            return "is not finite", None
        if self.whole and not isinstance(value, int):
            if float(value).is_integer() and self._in_range(value):
                return "is not a whole number", int(value)
            return "is not a whole number", None
        if not self._in_range(value):
            return "is out of range", None
        return None

    def _in_range(self, v: float) -> bool:
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        return not (self.high is not None and (v >= self.high if self.high_open else v > self.high))


def _listing(options: tuple[str, ...], most: int = 6) -> str:
    """The options, or the first few of a long list (the window's list shows them all)."""
    if len(options) <= most:
        return ", ".join(options)
    return ", ".join(options[:most]) + f" and {len(options) - most} more"


def _num(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) and x >= 10_000 else f"{x:g}"


@dataclass(frozen=True)
class Choice:
    """One of a few names (an optimizer, a loss, a flip mode)."""

    options: tuple[str, ...]

    def describe(self) -> str:
        return "one of: " + _listing(self.options)

    def problem(self, value: Any) -> tuple[str, Any] | None:
        if not isinstance(value, str):
            return "is not a name", None
        if value in self.options:
            return None
        if value.lower() in self.options:
            return "is not known", value.lower()
        close = difflib.get_close_matches(value.lower(), self.options, n=1, cutoff=0.75)
        return "is not known", close[0] if close else None


@dataclass(frozen=True)
class Flag:
    """true or false."""

    def describe(self) -> str:
        return "true or false"

    def problem(self, value: Any) -> tuple[str, Any] | None:
        return None if isinstance(value, bool) else ("is not true or false", None)


@dataclass(frozen=True)
class Text:
    """Any text (a folder, a sample name); its existence is the data scanner's to judge."""

    def describe(self) -> str:
        return "text"

    def problem(self, value: Any) -> tuple[str, Any] | None:
        return None if isinstance(value, str) else ("is not text", None)


@dataclass(frozen=True)
class Names:
    """A list of names from ``options`` (metrics)."""

    options: tuple[str, ...]

    def describe(self) -> str:
        return "a list of: " + _listing(self.options)

    def problem(self, value: Any) -> tuple[str, Any] | None:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return "is not a list of names", None
        unknown = [v for v in value if v not in self.options]
        if unknown:
            kept = [v for v in value if v in self.options]
            return f"names an unknown metric {_show(unknown[0])}", kept or None
        return None


Rule = Number | Choice | Flag | Text | Names
UNIT = Number(0.0, 1.0)

# The schema: one rule per dataclass field (a test holds the two in step).
AUGMENTATION_RULES: dict[str, Rule] = {
    "flip": Choice(FLIPS),
    "rotation": UNIT,
    "zoom": UNIT,
    "translation": UNIT,
    "contrast": UNIT,
    "brightness": UNIT,
}
DATA_RULES: dict[str, Rule] = {
    "source": Text(),
    "validation_source": Text(),
    "validation_split": Number(0.0, 1.0, high_open=True),
    "seed": Number(0, MAX_SEED, whole=True),
    "normalization": Choice(NORMALIZATIONS),
    "cache_budget_mb": Number(0.0, 1024.0**2),
}
SCHEDULE_RULES: dict[str, Rule] = {
    "name": Choice(SCHEDULES),
    "step_epochs": Number(1, MAX_COUNT, whole=True),
    "factor": Number(0.0, 1.0, low_open=True),
    "warmup_epochs": Number(0, MAX_COUNT, whole=True),
    "patience": Number(0, MAX_COUNT, whole=True),
    "min_learning_rate": Number(0.0),
}
# Which schedule fields each schedule uses; the others are not shown, so not judged.
SCHEDULE_USES: dict[str, tuple[str, ...]] = {
    "constant": (),
    "step": ("step_epochs", "factor"),
    "exponential": ("factor",),
    "cosine": ("min_learning_rate",),
    "warmup_cosine": ("warmup_epochs", "min_learning_rate"),
    "reduce_on_plateau": ("factor", "patience", "min_learning_rate"),
}
TRAIN_RULES: dict[str, Rule] = {
    "loss": Choice(ALL_LOSSES),
    "optimizer": Choice(OPTIMIZERS),
    "learning_rate": Number(0.0, low_open=True),
    "momentum": Number(0.0, 1.0),
    "nesterov": Flag(),
    "weight_decay": Number(0.0),
    "epochs": Number(1, MAX_COUNT, whole=True),
    "batch_size": Number(1, MAX_COUNT, whole=True),
    "metrics": Names(METRICS),
    "early_stopping": Flag(),
    "early_stopping_patience": Number(0, MAX_COUNT, whole=True),
    "class_weights": Flag(),
    "mixed_precision": Flag(),
}


def _judge(path: str, rule: Rule, value: Any, default: Any) -> SettingProblem | None:
    found = rule.problem(value)
    if found is None:
        return None
    what, better = found
    field_name = path.rsplit(".", 1)[-1]
    message = f"{field_name} must be {rule.describe()} (got {_show(value)})"
    if isinstance(rule, Names):
        message = f"{field_name} {what}; it must be {rule.describe()}"
    fix_value = better if better is not None else default
    if fix_value is None or (type(fix_value) is type(value) and fix_value == value):
        return SettingProblem(path, message)
    shown = ", ".join(fix_value) if isinstance(fix_value, list | tuple) else fix_value
    return SettingProblem(path, message, f"Set {field_name} to {shown}", fix_value)


def _check(prefix: str, obj: Any, rules: dict[str, Rule], only: Iterable[str] | None = None) -> list[SettingProblem]:
    defaults = type(obj)()
    keys = list(rules) if only is None else [k for k in rules if k in set(only)]
    out = []
    for key in keys:
        p = _judge(f"{prefix}.{key}", rules[key], getattr(obj, key), getattr(defaults, key))
        if p is not None:
            out.append(p)
    return out


def check_settings(
    data: DataSettings, training: TrainSettings, task: str = "classification", *, name: Any = None
) -> list[SettingProblem]:
    """Every setting that train, export or the window would refuse, in document order."""
    out: list[SettingProblem] = []
    if name is not None and (p := _name_setting(name)) is not None:
        out.append(p)
    if (p := _judge("task", Choice(TASKS), task, "classification")) is not None:
        out.append(p)
    out += _check("data", data, DATA_RULES)
    out += _check("data.augmentation", data.augmentation, AUGMENTATION_RULES)
    out += _check("training", training, TRAIN_RULES)
    sched = training.schedule
    name_problem_ = _check("training.schedule", sched, SCHEDULE_RULES, ["name"])
    out += name_problem_
    if not name_problem_:
        out += _check("training.schedule", sched, SCHEDULE_RULES, SCHEDULE_USES.get(sched.name, ()))
        if sched.name == "reduce_on_plateau" and _is_number(sched.factor) and sched.factor == 1:
            out.append(
                SettingProblem(
                    "training.schedule.factor",
                    "factor must be less than 1 for reduce_on_plateau (1 would never reduce the rate)",
                    "Set factor to 0.5",
                    0.5,
                )
            )
    return out


def _name_setting(name: Any) -> SettingProblem | None:
    if not isinstance(name, str) or not name.strip():
        return SettingProblem("name", f"name must be some text (got {_show(name)})", "Set name to untitled", "untitled")
    if len(name) > MAX_NAME or any(unicodedata.category(c) == "Cc" for c in name):
        fixed = "".join(c for c in name if unicodedata.category(c) != "Cc")[:MAX_NAME].strip() or "untitled"
        return SettingProblem(
            "name", f"name must be at most {MAX_NAME} characters of text, without control characters", f"Set name to {fixed}", fixed
        )
    return None


def replace_setting(obj: Any, path: str, value: Any) -> Any:
    """A copy of settings ``obj`` with dotted ``path`` (relative to it) set to ``value``."""
    head, _, rest = path.partition(".")
    if not is_dataclass(obj) or head not in {f.name for f in fields(obj)}:
        raise ValueError(f"unknown setting {path!r}")
    if rest:
        value = replace_setting(getattr(obj, head), rest, value)
    elif head == "metrics" and isinstance(value, list):
        value = tuple(value)
    return replace(obj, **{head: value})


def schema_fields() -> dict[type, dict[str, Rule]]:
    """Each settings dataclass and its rules (for the test that keeps them in step)."""
    return {
        DataSettings: {**DATA_RULES, "augmentation": None},  # type: ignore[dict-item]
        Augmentation: AUGMENTATION_RULES,
        TrainSettings: {**TRAIN_RULES, "schedule": None},  # type: ignore[dict-item]
        Schedule: SCHEDULE_RULES,
    }


# -- layer names ----------------------------------------------------------------------
# A layer name becomes a TensorFlow scope name on export (``^[A-Za-z0-9_.\\/>-]*$``);
# Keras itself refuses "/". What is left is this.
VALID_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def show_name(name: str) -> str:
    """A name as messages print it: control characters and surrogates escaped."""
    shown = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if unicodedata.category(c) != "Cc" else c.encode("unicode_escape").decode() for c in shown)


def name_problem(name: Any) -> str | None:
    """Why Keras or an export would refuse this layer name, or None when it is fine."""
    if not isinstance(name, str) or not name:
        return "has no name"
    if len(name) > MAX_NAME:
        return f"has a name longer than {MAX_NAME} characters"
    if VALID_NAME.fullmatch(name):
        return None
    if "/" in name:
        return "has a '/' in its name, which Keras does not allow"
    if "::" in name:
        return "has '::' in its name, which export formats cannot hold"
    bad = next((c for c in name if not re.fullmatch(r"[A-Za-z0-9_.-]", c)), name[0])
    what = "a space" if bad == " " else f"the character {show_name(repr(bad))}"
    if bad in ".-" and name[0] == bad:
        return f"starts with '{bad}'; a name must start with a letter, digit or '_'"
    return f"has {what} in its name; use letters, digits, '_', '.' and '-'"


def suggest_name(name: Any, class_name: str, taken: Collection[str]) -> str:
    """A valid name close to ``name`` that is not in ``taken``."""
    from app.core.graph import snake_name

    text = name if isinstance(name, str) else ""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
    text = re.sub(r"_+", "_", text).lstrip(".-")[:MAX_NAME - 8].strip("_") or snake_name(class_name) or "layer"
    if not VALID_NAME.fullmatch(text):
        text = "layer"
    if text not in taken:
        return text
    i = 1
    while f"{text}_{i}" in taken:
        i += 1
    return f"{text}_{i}"


def settings_error(project: Any, training: TrainSettings | None = None) -> str | None:
    """One line naming the project file and its first wrong setting (for train's refusal), or None.

    ``training``: the settings after command-line overrides, when they differ from the project's.
    """
    problems = check_settings(project.data, training or project.training, project.task)
    if not problems:
        return None
    p = problems[0]
    where = str(project.path) if getattr(project, "path", None) is not None else f"project '{project.name}'"
    fix = f"; {p.fix[0].lower()}{p.fix[1:]}" if p.fix else ""
    more = f" (and {len(problems) - 1} more: run layerlab check)" if len(problems) > 1 else ""
    return f"{where}: {p.setting}: {p.message}{fix}{more}"
