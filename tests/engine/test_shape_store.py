"""The on-disk store of Keras' answers: reused across sessions, no Keras import needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.core.templates import load_template
from app.engine.shape_store import ShapeStore
from app.engine.shapes import ShapeInference

ROOT = Path(__file__).resolve().parents[2]


def test_answers_are_reused_by_a_new_session(tmp_path):
    graph = load_template("resnet-mini").graph
    first = ShapeInference(store=ShapeStore(tmp_path / "s.json"))
    infos = first.infer(graph)
    assert first.layers_built > 0 and (tmp_path / "s.json").is_file()
    again = ShapeInference(store=ShapeStore(tmp_path / "s.json"))
    assert again.infer(graph) == infos
    assert again.layers_built == 0


def test_a_damaged_store_is_ignored_and_replaced(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{ not json")
    graph = load_template("mlp").graph
    inference = ShapeInference(store=ShapeStore(path))
    infos = inference.infer(graph)
    assert inference.layers_built > 0 and all(i.error is None for i in infos.values())
    assert json.loads(path.read_text())["format"] == "layerlab-shape-cache"


def test_a_second_check_does_not_import_keras(tmp_path):
    env = dict(os.environ, LAYERLAB_CACHE=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="3")
    script = (
        "import sys; from app.core.templates import load_template; from app.engine.analyze import analyze; "
        "r = analyze(load_template('mnist-cnn')); print(r.total_params, 'keras' in sys.modules)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[0].stdout.split() == ["121930", "True"]
    assert runs[1].stdout.split() == ["121930", "False"]
