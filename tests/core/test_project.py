"""The project file: round trip, atomic save, migrations, refusals."""

from __future__ import annotations

import json
import os

import pytest

from app.core.graph import sequential
from app.core.project import VERSION, Project, ProjectError, load_project
from app.core.settings import Augmentation, DataSettings, Schedule, TrainSettings


def make() -> Project:
    g = sequential([("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}), ("Dense", {"units": 10})])
    return Project(
        graph=g,
        data=DataSettings(source="sample:digits", augmentation=Augmentation(flip="horizontal")),
        training=TrainSettings(optimizer="sgd", schedule=Schedule(name="cosine"), epochs=3),
        name="demo",
    )


def test_roundtrip_keeps_everything(tmp_path):
    p = make()
    path = p.save(tmp_path / "demo.layerlab")
    q = load_project(path)
    assert q.to_dict() == p.to_dict()
    assert q.data.augmentation.flip == "horizontal" and q.training.schedule.name == "cosine"
    assert json.loads(path.read_text())["format"] == "layerlab-project"


def test_save_is_atomic_and_leaves_no_temporaries(tmp_path, monkeypatch):
    p = make()
    path = p.save(tmp_path / "demo.layerlab")
    before = path.read_text()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    p.name = "changed"
    with pytest.raises(OSError):
        p.save(path)
    assert path.read_text() == before
    assert [f.name for f in tmp_path.iterdir()] == ["demo.layerlab"]


def test_save_as_carries_the_weights_sidecar(tmp_path):
    p = make()
    p.save(tmp_path / "a.layerlab")
    (tmp_path / "a.weights.npz").write_bytes(b"weights")
    p.weights_file = "a.weights.npz"
    (tmp_path / "sub").mkdir()
    p.save(tmp_path / "sub" / "b.layerlab")
    assert (tmp_path / "sub" / "b.weights.npz").read_bytes() == b"weights"
    assert load_project(tmp_path / "sub" / "b.layerlab").weights_file == "b.weights.npz"


def test_version_zero_is_migrated(tmp_path):
    old = {"format": "layerlab-project", "version": 0,
           "layers": [{"id": "n1", "class_name": "InputLayer", "params": {"shape": [4]}}], "links": []}
    path = tmp_path / "old.layerlab"
    path.write_text(json.dumps(old))
    assert [n.class_name for n in load_project(path).graph] == ["InputLayer"]


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"format": "layerlab-project", "version": 1, "graph": {"nod', "truncated"),
        (bytes(range(256)) * 4, "binary"),
        (json.dumps({"format": "layerlab-project", "version": VERSION + 1, "graph": {}}).encode(), "newer"),
        (b"[1, 2, 3]", "JSON object"),
        (json.dumps({"format": "something-else", "version": 1}).encode(), "not a LayerLab project"),
        (json.dumps({"format": "layerlab-project", "version": 1, "graph": {"nodes": [{"x": 1}]}}).encode(),
         "not a valid"),
        (json.dumps({"format": "layerlab-project", "version": "one", "graph": {}}).encode(), "invalid version"),
        (json.dumps({"format": "layerlab-project", "version": 1}).encode(), "no network graph"),
    ],
)
def test_bad_files_are_refused_with_the_file_named(tmp_path, content, words):
    path = tmp_path / "bad.layerlab"
    path.write_bytes(content)
    with pytest.raises(ProjectError) as info:
        load_project(path)
    assert str(path) in str(info.value) and words in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ProjectError, match="not found"):
        load_project(tmp_path / "nope.layerlab")
    with pytest.raises(ProjectError, match="folder"):
        load_project(tmp_path)


def test_settings_ignore_unknown_keys_and_fill_defaults():
    t = TrainSettings.from_dict({"epochs": 4, "from_the_future": True, "schedule": "step"})
    assert t.epochs == 4 and t.schedule.name == "step" and t.optimizer == "adam"


def test_atomic_open_and_path_commit_or_leave_nothing(tmp_path):
    from app.core.atomic import atomic_open, atomic_path

    target = tmp_path / "w.bin"
    with atomic_open(target) as fh:
        fh.write(b"abc")
    assert target.read_bytes() == b"abc" and (target.stat().st_mode & 0o777) == 0o644
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"abc" and [p.name for p in tmp_path.iterdir()] == ["w.bin"]


def _doc(**training):
    p = make()
    d = p.to_dict()
    d["training"].update(training)
    return d


def _write(tmp_path, text, name="hostile.layerlab"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "make_text, words",
    [
        (lambda: '{"format": "layerlab-project", "version": 1, "graph": ' + "[" * 100_000 + "]" * 100_000 + "}",
         "nested deeper"),
        (lambda: json.dumps(_doc())[:-1] + ', "n": ' + "7" * 5001 + "}", "longer than"),
        (lambda: json.dumps({**_doc(), "x": json.loads("[" * 80 + "]" * 80)}), "nested deeper than 64"),
        (lambda: json.dumps(_doc()).replace('"name": "flatten"', '"name": "fl\\ud800at"'), "surrogate"),
        (lambda: json.dumps(_doc()).replace('"name": "flatten"', '"name": "fl\\u0000at"'), "NUL"),
        (lambda: json.dumps(_doc())[:-1] + ', "k\\udfff": 1}', "a key in the document contains a lone surrogate"),
        (lambda: json.dumps({**_doc(), "training": 5}), "training must be a JSON object"),
        (lambda: json.dumps({**_doc(), "data": {"augmentation": [1]}}), "data.augmentation must be a JSON object"),
    ],
)
def test_hostile_files_are_one_project_error_naming_the_file(tmp_path, make_text, words):
    path = _write(tmp_path, make_text())
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message
    message.encode("utf-8")  # printable as it is


def test_the_name_of_the_layer_with_bad_text_is_said(tmp_path):
    path = _write(tmp_path, json.dumps(_doc()).replace('"name": "flatten"', '"name": "fl\\u0000at"'))
    with pytest.raises(ProjectError, match=r"the name of layer 'n2' contains a NUL character"):
        load_project(path)


def test_wrong_setting_values_are_kept_on_load_and_saved_back(tmp_path):
    text = json.dumps(_doc(learning_rate=float("nan"), epochs=-3, batch_size="big", metrics=5, optimizer=["adam"]))
    path = _write(tmp_path, text)
    p = load_project(path)
    t = p.training
    assert t.learning_rate != t.learning_rate and t.epochs == -3 and t.batch_size == "big"
    assert t.metrics == 5 and t.optimizer == ["adam"]
    p.save(path)
    again = load_project(path).training
    assert again.epochs == -3 and again.batch_size == "big" and again.metrics == 5


def test_an_empty_layer_name_is_kept_for_check_to_report(tmp_path):
    d = _doc()
    d["graph"]["nodes"][1]["name"] = ""
    del d["graph"]["nodes"][2]["name"]
    p = load_project(_write(tmp_path, json.dumps(d)))
    assert p.graph.nodes[1].name == "" and p.graph.nodes[2].name == p.graph.nodes[2].id
