"""Hostile inputs on the command line: one stderr line naming the user's file, nothing overwritten.

Every hostile file is made here, in tmp_path: a FIFO, a link to /dev/zero, a
0-byte or random-bytes ``.npz``, a weights name that leaves the project's
folder, an existing project as the import target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cli import main

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def listing(folder: Path) -> dict[str, bytes | None]:
    return {p.name: (p.read_bytes() if p.is_file() and not p.is_symlink() else None) for p in folder.iterdir()}


@pytest.fixture()
def project(tmp_path, capsys) -> Path:
    path = tmp_path / "p.layerlab"
    assert run(capsys, "new", "mlp", "-o", path)[0] == 0
    return path


def name_weights(project: Path, name: str) -> None:
    doc = json.loads(project.read_text())
    doc["weights"] = name
    project.write_text(json.dumps(doc))


def make_sidecar(folder: Path, kind: str) -> str:
    """A hostile weights sidecar of ``kind`` in ``folder``; returns the name the project gives it."""
    if kind == "missing":
        return "gone.weights.npz"
    if kind == "fifo":
        os.mkfifo(folder / "pipe.weights.npz")
        return "pipe.weights.npz"
    if kind == "dev-zero":
        (folder / "zero.weights.npz").symlink_to("/dev/zero")
        return "zero.weights.npz"
    if kind == "folder":
        return "."
    if kind == "empty":
        (folder / "empty.weights.npz").write_bytes(b"")
        return "empty.weights.npz"
    if kind == "random":
        (folder / "rand.weights.npz").write_bytes(np.random.default_rng(0).bytes(300))
        return "rand.weights.npz"
    if kind == "truncated":
        np.savez(folder / "whole.npz", **{"dense::0": np.zeros((50, 50), np.float32)})
        (folder / "cut.weights.npz").write_bytes((folder / "whole.npz").read_bytes()[:900])
        (folder / "whole.npz").unlink()
        return "cut.weights.npz"
    if kind == "parent":
        np.savez(folder.parent / "x.npz", **{"dense::0": np.zeros(3, np.float32)})
        return "../x.npz"
    if kind == "absolute":
        return str(folder / "abs.weights.npz")
    raise AssertionError(kind)


SIDECARS = ["missing", "empty", "random", "truncated", "folder", "parent", "absolute",
            pytest.param("fifo", marks=needs_fifo), pytest.param("dev-zero", marks=needs_fifo)]  # fmt: skip


@pytest.mark.parametrize("kind", SIDECARS)
def test_export_refuses_a_named_sidecar_it_cannot_read(capsys, tmp_path, project, kind):
    name = make_sidecar(tmp_path, kind)
    name_weights(project, name)
    out = tmp_path / "out.keras"
    out.write_bytes(b"the user's earlier export")
    before = listing(tmp_path)
    code, _, err = run(capsys, "export", project, "--to", "keras", "-o", out)
    assert code == 2
    line = one_line(err)
    if kind in ("folder", "parent", "absolute"):
        assert str(project) in line and repr(name) in line
    else:
        assert str(tmp_path / name) in line and str(project) in line
    assert listing(tmp_path) == before  # nothing overwritten, nothing left behind


def test_weights_fresh_only_when_the_caller_asks_for_the_design(tmp_path, project):
    from app.core.project import load_project
    from app.engine.model_import import project_weights

    name_weights(project, "gone.weights.npz")
    p = load_project(project)
    warnings: list[str] = []
    assert project_weights(p, fresh_ok=warnings.append) is None
    assert len(warnings) == 1 and "gone.weights.npz" in warnings[0] and "the weights are fresh" in warnings[0]
    from app.engine.safety import ModelFileError

    with pytest.raises(ModelFileError, match="not found"):
        project_weights(p)


def _small_model_file(folder: Path) -> Path:
    import keras

    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Flatten(name="flat")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(x))
    path = folder / "m.keras"
    model.save(path)
    return path


def test_import_refuses_to_replace_a_project_without_force(capsys, tmp_path, project):
    model = _small_model_file(tmp_path)
    original = project.read_bytes()
    code, _, err = run(capsys, "import", model, "-o", project)
    assert code == 2 and str(project) in one_line(err) and "--force" in err
    assert project.read_bytes() == original and not (tmp_path / "p.weights.npz").exists()
    sidecar = tmp_path / "q.weights.npz"
    sidecar.write_bytes(b"someone's weights")
    code, _, err = run(capsys, "import", model, "-o", tmp_path / "q")
    assert code == 2 and str(sidecar) in one_line(err) and not (tmp_path / "q.layerlab").exists()
    assert sidecar.read_bytes() == b"someone's weights"
    code, out, _ = run(capsys, "import", model, "-o", project, "--force")
    assert code == 0 and project.read_bytes() != original and (tmp_path / "p.weights.npz").is_file()


@pytest.mark.parametrize("kind", ["empty", "random", "fake", "truncated", pytest.param("fifo", marks=needs_fifo),
                                  pytest.param("dev-zero", marks=needs_fifo)])  # fmt: skip
def test_a_hostile_npz_dataset_is_one_line(capsys, tmp_path, kind):
    path = tmp_path / f"{kind}.npz"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1).bytes(500))
    elif kind == "fake":
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("x_train.npy", b"not an array")
            zf.writestr("y_train.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (10**9,), }")
    elif kind == "truncated":
        np.savez(tmp_path / "whole.npz", x_train=np.zeros((40, 28, 28), np.uint8), y_train=np.zeros(40, np.int64))
        path.write_bytes((tmp_path / "whole.npz").read_bytes()[:2000])
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    code, out, err = run(capsys, "data", path)
    assert code == 2 and out == "" and str(path) in one_line(err)
    assert "BadZipFile" not in err and "pickle" not in err


def test_classes_must_be_positive(capsys, project):
    for bad in ("-1", "0", "x"):
        with pytest.raises(SystemExit) as info:
            main(["check", str(project), "--classes", bad])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "--classes" in err and "units" not in err


def test_export_into_a_folder_names_the_folder_not_a_temporary(capsys, tmp_path):
    model = _small_model_file(tmp_path)
    folder = tmp_path / "out.keras"
    folder.mkdir()
    code, _, err = run(capsys, "export", model, "--to", "keras", "-o", folder)
    line = one_line(err)
    assert code == 2 and str(folder) in line and ".tmp" not in line and ".out." not in line
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "out.keras"]


def test_zip_slip_entries_are_refused_quietly(tmp_path):
    import zipfile

    model = _small_model_file(tmp_path)
    slip = tmp_path / "slip.keras"
    with zipfile.ZipFile(model) as src, zipfile.ZipFile(slip, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("../../evil.txt", b"x")
    r = subprocess.run([sys.executable, "-m", "app", "check", str(slip)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and str(slip) in one_line(r.stderr) and "evil.txt" in r.stderr
    assert not (tmp_path.parent / "evil.txt").exists()


def test_screenshot_into_a_missing_folder_is_written(tmp_path):
    shot = tmp_path / "new" / "folder" / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-m", "app", "gui", "--smoke-test", "--screenshot", str(shot)],
                       capture_output=True, text=True, timeout=180, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert shot.is_file() and shot.read_bytes().startswith(b"\x89PNG")


def test_the_window_opens_a_keras_file_without_tensorflow_log_lines(tmp_path):
    model = _small_model_file(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "LAYERLAB_TF_LOGS")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    r = subprocess.run([sys.executable, "-m", "app", "gui", "--smoke-test", str(model)],
                       capture_output=True, text=True, timeout=180, env=env)  # fmt: skip
    assert r.returncode == 0 and r.stdout.startswith("startup_s=")
    assert r.stderr == ""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8_prints_without_crashing(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    r = subprocess.run([sys.executable, "-m", "app", "new", "mlp", "-o", b"caf\xe9.layerlab"], cwd=tmp_path,
                       capture_output=True, timeout=120, env=env)  # fmt: skip
    assert r.returncode == 0 and r.stderr == b"" and r.stdout.startswith(b"wrote caf\\udce9.layerlab")
    assert (tmp_path / os.fsdecode(b"caf\xe9.layerlab")).is_file()


def test_train_refuses_a_missing_sidecar_before_writing_a_run(capsys, tmp_path, project):
    from PIL import Image

    data = tmp_path / "data"
    for cls in ("a", "b"):
        (data / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.random.default_rng(i).integers(0, 255, (28, 28), np.uint8)).save(data / cls / f"{i}.png")
    name_weights(project, "gone.weights.npz")
    code, _, err = run(capsys, "train", project, "--data", data, "--epochs", "1", "--out", tmp_path / "run")
    assert code == 2 and str(tmp_path / "gone.weights.npz") in one_line(err)
    assert not (tmp_path / "run").exists()


def test_sidecar_problem_is_one_line_or_none(tmp_path, project):
    from app.core.project import load_project
    from app.engine.model_import import sidecar_problem

    assert sidecar_problem(load_project(project)) is None  # no sidecar named: nothing to report
    name_weights(project, make_sidecar(tmp_path, "random"))
    problem = sidecar_problem(load_project(project))
    assert problem is not None and "rand.weights.npz" in problem and "not an .npz file" in problem
