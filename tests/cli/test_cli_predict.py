"""``layerlab predict`` and ``layerlab export``: output, JSON shape and exit codes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

keras = pytest.importorskip("keras")

from app.cli import main  # noqa: E402
from app.cli.predict import gradcam_targets  # noqa: E402

LABELS = ["zero", "one", "two", "three"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    folder = tmp_path_factory.mktemp("run")
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(LABELS))
    return folder


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    d = tmp_path_factory.mktemp("pics")
    a, b = d / "a.png", d / "b.jpg"
    Image.fromarray(np.arange(100, dtype=np.uint8).reshape(10, 10), "L").save(a)
    Image.new("RGB", (8, 5), (90, 20, 200)).save(b)
    return a, b


def test_json_rows_with_top_k(capsys, run_dir, pictures):
    code, out, _ = run(capsys, "predict", str(run_dir), *map(str, pictures), "--top-k", "2", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["image"] for r in rows] == [str(p) for p in pictures]
    for row in rows:
        assert set(row) == {"image", "top"} and len(row["top"]) == 2
        assert all(set(t) == {"label", "probability"} and t["label"] in LABELS for t in row["top"])
        assert row["top"][0]["probability"] >= row["top"][1]["probability"]


def test_table_and_gradcam(capsys, run_dir, pictures, tmp_path):
    code, out, _ = run(capsys, "predict", str(run_dir), str(pictures[0]), "--gradcam", str(tmp_path / "cam.png"))
    assert code == 0 and str(pictures[0]) in out and "%" in out and "Grad-CAM" in out
    assert Image.open(tmp_path / "cam.png").size == (10, 10)
    code, out, err = run(
        capsys, "predict", str(run_dir), *map(str, pictures), "--json", "--gradcam", str(tmp_path / "many.png")
    )
    assert code == 0 and json.loads(out)[1]["gradcam"] == str(tmp_path / "many-b.png")
    assert (tmp_path / "many-a.png").is_file() and "wrote" in err


def test_gradcam_names_for_several_images():
    assert gradcam_targets("o.png", ["x/1.jpg"]) == [gradcam_targets("o.png", ["x/1.jpg"])[0]]
    names = [p.name for p in gradcam_targets("out/cam.png", ["a/cat.jpg", "b/cat.png", "dog.gif"])]
    assert names == ["cam-cat.png", "cam-cat-2.png", "cam-dog.png"]


def test_a_non_image_exits_2_naming_it(capsys, run_dir, pictures, tmp_path):
    bad = tmp_path / "readme.jpg"
    bad.write_text("just text")
    code, out, err = run(capsys, "predict", str(run_dir), str(pictures[0]), str(bad))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0]
    code, _, err = run(capsys, "predict", str(run_dir), str(tmp_path / "missing.png"))
    assert code == 2 and "missing.png" in err


def test_bad_usage_and_unsafe_models_exit_2(capsys, run_dir, pictures, tmp_path):
    code, _, err = run(capsys, "predict", str(run_dir), str(pictures[0]), "--top-k", "0")
    assert code == 2 and "--top-k" in err
    code, _, err = run(capsys, "predict", str(tmp_path), str(pictures[0]))
    assert code == 2 and "model.keras" in err
    inputs = keras.Input((4,))
    lam = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    lam.save(tmp_path / "lambda.keras")
    code, _, err = run(capsys, "predict", str(tmp_path / "lambda.keras"), str(pictures[0]))
    assert code == 2 and "safe mode" in err


def test_export_every_format_from_the_command_line(capsys, run_dir, tmp_path):
    code, out, _ = run(capsys, "export", str(run_dir / "model.keras"), "--to", "onnx", "-o", str(tmp_path / "m.onnx"))
    assert code == 0 and (tmp_path / "m.onnx").is_file() and "wrote" in out
    code, out, _ = run(capsys, "export", str(run_dir), "--to", "python", "-o", str(tmp_path / "train.py"))
    assert code == 0 and "--data DIR" in out and "def build_model" in (tmp_path / "train.py").read_text()
    code, _, err = run(capsys, "export", str(run_dir), "--to", "keras", "-o", str(tmp_path / "m.bin"))
    assert code == 2 and "m.bin" in err


def nan_run(folder):
    """A run folder whose model.keras has NaN weights (what a run that diverged used to keep)."""
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    model.layers[-1].kernel.assign(np.full((144, 4), np.nan, "float32"))
    folder.mkdir()
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(LABELS))
    return folder


def test_a_model_with_nan_outputs_is_refused_in_one_line(capsys, pictures, tmp_path):
    folder = nan_run(tmp_path / "nan-run")
    code, out, err = run(capsys, "predict", str(folder), str(pictures[0]))
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert lines[0].startswith(f"error: {folder}: ") and "not finite" in lines[0]


def test_a_fifo_is_refused_without_opening_it(tmp_path, run_dir):
    import subprocess
    import sys

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "app", "predict", str(run_dir), str(fifo)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2 and r.stderr.strip() == f"error: {fifo}: is a named pipe (FIFO), not an image file"
