"""`layerlab export` never writes over its inputs, refuses a project that fails check, and
keeps stderr to one line (issue 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import pytest

from app.cli import main
from app.core.project import load_project
from app.core.templates import load_template

FORMATS = ("keras", "python", "savedmodel", "tflite", "onnx")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project_file(tmp_path):
    p = load_template("mlp")
    return p.save(tmp_path / "p.layerlab")


def _broken(tmp_path):
    """mnist-cnn without its Flatten: check fails on the first Dense."""
    p = load_template("mnist-cnn")
    flatten = next(n for n in p.graph if n.class_name == "Flatten")
    src, dst = p.graph.predecessors(flatten.id)[0], p.graph.successors(flatten.id)[0]
    p.graph.remove_node(flatten.id)
    p.graph.connect(src, dst)
    return p.save(tmp_path / "broken.layerlab")


def test_output_path_that_is_the_project_is_refused_for_every_format(project_file, capsys):
    before = project_file.read_bytes()
    for fmt in FORMATS:
        code, out, err = run(capsys, "export", project_file, "--to", fmt, "-o", project_file)
        assert code == 2 and out == "", (fmt, out, err)
        assert err.count("\n") == 1 and "is one of this export's inputs" in err and str(project_file) in err
    folder = project_file.parent  # a SavedModel written over the folder that holds the project
    code, _, err = run(capsys, "export", project_file, "--to", "savedmodel", "-o", folder)
    assert code == 2 and "holds one of this export's inputs" in err
    assert project_file.read_bytes() == before


def test_weights_sidecar_and_run_folder_files_are_inputs_too(tmp_path, capsys):
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Flatten(name="flat")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(x))
    model.save(tmp_path / "m.keras")
    project = tmp_path / "m.layerlab"
    assert run(capsys, "import", tmp_path / "m.keras", "-o", project)[0] == 0
    sidecar = load_project(project).weights_path
    assert sidecar is not None and sidecar.is_file()
    weights = sidecar.read_bytes()
    for fmt in ("python", "keras"):
        code, _, err = run(capsys, "export", project, "--to", fmt, "-o", sidecar)
        assert code == 2 and "is one of this export's inputs" in err, err
    assert sidecar.read_bytes() == weights

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "model.keras").write_bytes((tmp_path / "m.keras").read_bytes())
    (run_dir / "classes.json").write_text(json.dumps(["a", "b"]))
    load_project(project).save(run_dir / "project.layerlab")
    snapshot = (run_dir / "project.layerlab").read_bytes()
    for fmt, target in [("keras", "model.keras"), ("python", "project.layerlab"), ("onnx", "classes.json"),
                        ("savedmodel", ".")]:  # fmt: skip
        code, _, err = run(capsys, "export", run_dir, "--to", fmt, "-o", run_dir / target)
        assert code == 2 and "this export's inputs" in err, (fmt, err)
    assert (run_dir / "project.layerlab").read_bytes() == snapshot
    code, _, _ = run(capsys, "export", run_dir, "--to", "keras", "-o", run_dir / "copy.keras")
    assert code == 0 and (run_dir / "copy.keras").is_file()  # a new file beside them is fine


def test_a_project_failing_check_is_not_exported_in_any_format(tmp_path, capsys):
    broken = _broken(tmp_path)
    for fmt in FORMATS:
        target = tmp_path / f"out-{fmt}.{'keras' if fmt == 'keras' else 'x'}"
        code, out, err = run(capsys, "export", broken, "--to", fmt, "-o", target)
        assert code == 1 and out == "" and not target.exists(), (fmt, out, err)
        assert err.count("\n") == 1 and err.startswith(f"error: {broken}: layer '"), err


def test_call_kwargs_key_that_is_code_fails_check_and_is_not_exported(project_file, tmp_path, capsys):
    doc = json.loads(project_file.read_text())
    marker = tmp_path / "PWNED"
    dense = next(n for n in doc["graph"]["nodes"] if n["class_name"] == "Dense")
    dense["params"]["__call_kwargs__"] = {f"x=open({str(marker)!r}, 'w'),y": 1}
    dense["name"] = "dense\nopen('PWNED', 'w')"
    evil = tmp_path / "evil.layerlab"
    evil.write_text(json.dumps(doc))
    code, out, err = run(capsys, "export", evil, "--to", "python", "-o", tmp_path / "train.py")
    assert code == 1 and not (tmp_path / "train.py").exists() and not marker.exists()
    assert err.count("\n") == 1 and str(evil) in err, err  # the newline in the name is shown as \n


def _cli(*argv, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "LAYERLAB_TF_LOGS")}
    return subprocess.run([sys.executable, "-m", "app", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_export_python_in_a_fresh_process_keeps_stderr_clean(project_file, tmp_path):
    """TensorFlow's start-up log lines never reach stderr: none on success, one line on an error."""
    proc = _cli("export", project_file, "--to", "python", "-o", tmp_path / "train.py", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (tmp_path / "train.py").is_file() and "wrote" in proc.stdout
    broken = _broken(tmp_path)
    proc = _cli("export", broken, "--to", "python", "-o", tmp_path / "bad.py", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "layer '" in proc.stderr, proc.stderr
