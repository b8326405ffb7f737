"""The one settings schema: every wrong value is named by its setting, with a fix; names Keras refuses."""

from __future__ import annotations

import dataclasses
import math

import pytest

from app.core.diagnostics import RENAME, SET_SETTING, Fix, apply_fix
from app.core.graph import sequential
from app.core.project import Project, load_project
from app.core.settings import Augmentation, DataSettings, Schedule, TrainSettings
from app.core.validation import (
    VALID_NAME,
    check_settings,
    name_problem,
    schema_fields,
    settings_error,
    suggest_name,
)
from app.paths import models_dir


def problems(**training):
    return {p.setting: p for p in check_settings(DataSettings(), TrainSettings(**training))}


def test_defaults_and_every_template_are_valid():
    assert check_settings(DataSettings(), TrainSettings()) == []
    for path in sorted(models_dir().glob("*.layerlab")):
        p = load_project(path)
        assert check_settings(p.data, p.training, p.task, name=p.name) == [], path.name


@pytest.mark.parametrize(
    "key, value, fix_value",
    [
        ("learning_rate", math.nan, 1e-3),
        ("learning_rate", math.inf, 1e-3),
        ("learning_rate", "fast", 1e-3),
        ("learning_rate", 0.0, 1e-3),
        ("epochs", -3, 10),
        ("epochs", "5", 10),
        ("epochs", 3.0, 3),
        ("epochs", True, 10),
        ("batch_size", 0, 32),
        ("batch_size", 10**4000, 32),
        ("optimizer", "Adam", "adam"),
        ("optimizer", "adamm", "adam"),
        ("optimizer", "warp-drive", "adam"),
        ("loss", "sparse_categorical_crossentropyy", "sparse_categorical_crossentropy"),
        ("loss", ["mse"], "sparse_categorical_crossentropy"),
        ("momentum", 1.5, 0.9),
        ("nesterov", "yes", False),
        ("metrics", ("accuracy", "bogus"), ["accuracy"]),
    ],
)
def test_each_wrong_training_value_is_an_error_with_a_fix(key, value, fix_value):
    found = problems(**{key: value})
    p = found[f"training.{key}"]
    assert p.message.startswith(f"{key} must be") or p.message.startswith(f"{key} names")
    assert "\n" not in p.message and len(p.message) < 250
    assert p.fix_value == fix_value and p.fix and str(key) in p.fix
    assert list(found) == [f"training.{key}"]  # nothing else is blamed


def test_data_augmentation_schedule_and_task_paths():
    data = DataSettings(validation_split=2.0, seed=-1, augmentation=Augmentation(rotation=math.nan, flip="sideways"))
    training = TrainSettings(schedule=Schedule(name="step", factor=0.0, step_epochs=0))
    found = {p.setting: p for p in check_settings(data, training, "astrology")}
    assert set(found) == {
        "task",
        "data.validation_split",
        "data.seed",
        "data.augmentation.rotation",
        "data.augmentation.flip",
        "training.schedule.factor",
        "training.schedule.step_epochs",
    }
    assert "(got 2.0)" in found["data.validation_split"].message and found["data.validation_split"].fix_value == 0.2
    assert "(got nan)" in found["data.augmentation.rotation"].message
    assert found["task"].fix_value == "classification"


def test_a_schedule_is_judged_only_on_the_fields_it_uses():
    unused = Schedule(name="constant", factor=-5, step_epochs=0)
    assert check_settings(DataSettings(), TrainSettings(schedule=unused)) == []
    assert [p.setting for p in check_settings(DataSettings(), TrainSettings(schedule=Schedule("warp")))] == [
        "training.schedule.name"
    ]
    plateau = TrainSettings(schedule=Schedule(name="reduce_on_plateau", factor=1.0))
    assert [p.setting for p in check_settings(DataSettings(), plateau)] == ["training.schedule.factor"]


def test_the_schema_has_one_rule_per_field():
    for cls, rules in schema_fields().items():
        assert set(rules) == {f.name for f in dataclasses.fields(cls)}, cls.__name__


def test_a_fix_sets_the_setting_and_then_check_is_clean(tmp_path):
    project = Project(
        graph=sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 2})]),
        data=DataSettings(validation_split=2.0, augmentation=Augmentation(zoom="big")),
        training=TrainSettings(epochs=-3, schedule=Schedule(name="exponential", factor=7)),
        task="classfication",
    )
    found = check_settings(project.data, project.training, project.task)
    assert len(found) == 5
    for p in found:
        apply_fix(project, Fix(p.fix, SET_SETTING, key=p.setting, value=p.fix_value))
    assert check_settings(project.data, project.training, project.task) == []
    assert project.task == "classification" and project.training.schedule.factor == 0.5
    assert project.data.augmentation.zoom == 0.0 and project.data.validation_split == 0.2


def test_settings_error_is_one_line_naming_the_file(tmp_path):
    project = Project(training=TrainSettings(learning_rate=math.nan, batch_size=0))
    project.path = tmp_path / "p.layerlab"
    line = settings_error(project)
    assert line is not None and "\n" not in line
    assert line.startswith(f"{project.path}: training.learning_rate: learning_rate must be")
    assert "and 1 more" in line
    assert settings_error(project, dataclasses.replace(project.training, learning_rate=0.01, batch_size=8)) is None


@pytest.mark.parametrize(
    "name, words",
    [
        ("", "no name"),
        ("a/b", "'/'"),
        ("a::b", "'::'"),
        ("a b", "a space"),
        ("ünï", "character"),
        ("a\x00b", "character"),
        ("a\ud800b", "character"),
        ("-x", "starts with"),
        ("x" * 201, "longer"),
    ],
)
def test_names_keras_or_an_export_refuses(name, words):
    problem = name_problem(name)
    assert problem is not None and words in problem
    fixed = suggest_name(name, "Dense", {"dense", "a_b"})
    assert VALID_NAME.fullmatch(fixed) and name_problem(fixed) is None and fixed not in {"dense", "a_b"}
    problem.encode("utf-8")  # printable, even for a surrogate


def test_good_names_pass_and_a_suggestion_keeps_the_readable_part():
    for name in ("conv2d", "dense_1", "block1a.se-squeeze", "_x", "9"):
        assert name_problem(name) is None
    assert suggest_name("conv/1", "Conv2D", set()) == "conv_1"
    assert suggest_name("ünï", "Dense", set()) == "uni"
    assert suggest_name("same", "Dense", {"same", "same_1"}) == "same_2"


def test_a_rename_fix_applies():
    project = Project(graph=sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 2}, "a")]))
    node = project.graph.nodes[1]
    node.name = "a/b"
    apply_fix(project, Fix("Rename to 'a_b'", RENAME, node=node.id, value="a_b"))
    assert project.graph.node(node.id).name == "a_b"
