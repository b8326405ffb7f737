"""Export: every format loads elsewhere and predicts what the .keras model predicts."""

from __future__ import annotations

import json
import os
import py_compile
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

keras = pytest.importorskip("keras")

from app.core.graph import NetworkGraph  # noqa: E402
from app.core.project import Project  # noqa: E402
from app.core.settings import DataSettings, TrainSettings  # noqa: E402
from app.core.templates import load_template  # noqa: E402
from app.engine.export import ExportError, export  # noqa: E402
from app.engine.predict import Predictor  # noqa: E402


def tiny_project(**training) -> Project:
    g = NetworkGraph()
    inp = g.add_node("InputLayer", {"shape": [16, 16, 3]}, name="input")
    conv = g.add_node("Conv2D", {"filters": 4, "kernel_size": [3, 3], "activation": "relu"}, name="conv")
    pool = g.add_node("MaxPooling2D", {"pool_size": [2, 2]}, name="pool")
    conv2 = g.add_node("Conv2D", {"filters": 4, "kernel_size": [3, 3], "padding": "same"}, name="conv2")
    add = g.add_node("Add", {}, name="add")
    gap = g.add_node("GlobalAveragePooling2D", {}, name="gap")
    out = g.add_node("Dense", {"units": 5, "activation": "softmax"}, name="output")
    g.connect(inp.id, conv.id)
    g.connect(conv.id, pool.id)
    g.connect(pool.id, conv2.id)
    g.connect(conv2.id, add.id, 0)
    g.connect(pool.id, add.id, 1)  # a skip connection: branches and merges by name
    g.connect(add.id, gap.id)
    g.connect(gap.id, out.id)
    return Project(
        graph=g,
        name="tiny",
        data=DataSettings(validation_split=0.25, seed=7),
        training=TrainSettings(epochs=1, batch_size=8, **training),
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="module")
def keras_file(work):
    keras.utils.set_random_seed(3)
    return export(tiny_project(), "keras", work / "tiny.keras")


@pytest.fixture(scope="module")
def sample(keras_file):
    x = np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3)).astype("float32")
    ref = keras.ops.convert_to_numpy(keras.saving.load_model(keras_file)(x, training=False))
    return x, ref


@pytest.fixture(scope="module")
def image_folder(work):
    """3 classes x 6 PNGs of 16x16, different enough to learn from."""
    root = work / "data"
    rng = np.random.default_rng(5)
    for k, name in enumerate(["ant", "bee", "cow"]):
        (root / name).mkdir(parents=True)
        for i in range(6):
            a = rng.integers(0, 60, (16, 16, 3), dtype=np.uint8)
            a[..., k] += 180
            Image.fromarray(a, "RGB").save(root / name / f"{i}.png")
    return root


def test_keras_export_loads_and_predicts(keras_file, sample):
    x, ref = sample
    model = keras.saving.load_model(keras_file)
    assert np.allclose(keras.ops.convert_to_numpy(model(x)), ref, atol=1e-6)


def test_savedmodel_export_serves_the_same_prediction(keras_file, sample, work):
    import tensorflow as tf

    x, ref = sample
    out = export(keras_file, "savedmodel", work / "saved")
    loaded = tf.saved_model.load(str(out))
    got = loaded.signatures["serving_default"](tf.constant(x))
    got = next(iter(got.values())).numpy()
    assert np.allclose(got, ref, atol=1e-5) and got.argmax() == ref.argmax()
    assert export(keras_file, "savedmodel", out) == out  # replaces an older SavedModel atomically
    assert not [p for p in work.iterdir() if p.name.startswith(".saved")]


def test_tflite_export_runs_in_the_interpreter(keras_file, sample, work):
    import tensorflow as tf

    x, ref = sample
    out = export(keras_file, "tflite", work / "tiny.tflite")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter: "moving to ai_edge_litert"
        interp = tf.lite.Interpreter(model_path=str(out))
    interp.allocate_tensors()
    inp, res = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    got = interp.get_tensor(res["index"])
    assert np.allclose(got, ref, atol=1e-4) and got.argmax() == ref.argmax()


def test_onnx_export_runs_in_onnxruntime(keras_file, sample, work):
    ort = pytest.importorskip("onnxruntime")
    x, ref = sample
    out = export(keras_file, "onnx", work / "tiny.onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: np.repeat(x, 2, axis=0)})[0]
    assert got.shape == (2, 5)  # the batch dimension stays dynamic
    assert np.allclose(got[:1], ref, atol=1e-5) and got[0].argmax() == ref.argmax()


def test_bad_requests_are_export_errors(keras_file, work):
    with pytest.raises(ExportError, match="unknown export format"):
        export(keras_file, "caffe", work / "x")
    with pytest.raises(ExportError, match=r"\.keras"):
        export(keras_file, "keras", work / "model.bin")
    with pytest.raises(ExportError, match="segmentation"):
        export(load_template("unet-mini"), "python", work / "unet.py")
    (work / "afile").write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        export(keras_file, "savedmodel", work / "afile")


# -- the standalone training script -------------------------------------------------
@pytest.fixture(scope="module")
def script(work):
    return export(tiny_project(), "python", work / "scripts" / "train.py")


def test_script_is_standalone_readable_python(script):
    text = script.read_text()
    py_compile.compile(str(script), doraise=True)
    assert "import app" not in text and "from app" not in text
    assert "keras.layers.Add(name=\"add\")([conv2, pool])" in text
    assert "units=num_classes" in text and '"subset": "both"' in text and "SEED = 7" in text
    assert "keras.layers.Rescaling(scale=1 / 255" in text
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP",
         "--line-length", "100", str(script)],
        capture_output=True, text=True,
    )  # fmt: skip
    if "No module named ruff" not in ruff.stderr:
        assert ruff.returncode == 0, ruff.stdout


def test_every_setting_writes_valid_python(work):
    from app.core.settings import Augmentation, Schedule

    for i, sched in enumerate(["step", "exponential", "cosine", "warmup_cosine", "reduce_on_plateau"]):
        project = tiny_project(
            schedule=Schedule(name=sched),
            optimizer=["sgd", "rmsprop", "adamw", "lion", "nadam"][i],
            weight_decay=0.01,
            early_stopping=True,
            class_weights=True,
            mixed_precision=i == 0,
            loss=["sparse_categorical_crossentropy", "categorical_crossentropy", "mean_squared_error"][i % 3],
        )
        project.data = DataSettings(
            normalization="standardize", augmentation=Augmentation(flip="horizontal", rotation=0.1, contrast=0.2)
        )
        out = export(project, "python", work / "variants" / f"train_{sched}.py")
        py_compile.compile(str(out), doraise=True)
        text = out.read_text()
        assert "adapt_normalization(model" in text and "balanced_class_weights" in text
        assert "EarlyStopping" in text and 'keras.layers.RandomFlip(mode="horizontal"' in text
        # Labels as the loss compares them: class numbers for the sparse loss, one-hot rows otherwise.
        assert f'LABEL_MODE = "{"int" if i % 3 == 0 else "categorical"}"' in text


def _run_script(script, *args, cwd, env_extra=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_HOME": str(cwd / ".keras"), "HOME": str(cwd)})
    env.pop("KERAS_BACKEND", None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-I", str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_script_trains_in_a_clean_interpreter_from_another_folder(script, image_folder, tmp_path):
    out = tmp_path / "run"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _run_script(script, "--data", str(image_folder), "--epochs", "1", "--out", str(out), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "output layer 'output' gets 3 units" in proc.stdout
    assert (out / "model.keras").is_file() and (out / "history.csv").is_file()
    assert json.loads((out / "classes.json").read_text()) == ["ant", "bee", "cow"]
    rows = Predictor(out).predict_paths([image_folder / "cow" / "0.png"], top_k=3)
    assert {t["label"] for t in rows[0]["top"]} == {"ant", "bee", "cow"}


def test_script_mirrored_strategy_on_two_logical_cpus(script, image_folder, tmp_path):
    out = tmp_path / "mirrored"
    proc = _run_script(
        script, "--data", str(image_folder), "--epochs", "1", "--out", str(out),
        "--distribute", "mirrored", "--logical-cpus", "2", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MirroredStrategy, 2 replicas" in proc.stdout
    assert (out / "model.keras").is_file()


def test_script_jax_data_parallel_on_two_host_devices(script, image_folder, tmp_path):
    pytest.importorskip("jax")
    out = tmp_path / "jax"
    proc = _run_script(
        script, "--data", str(image_folder), "--epochs", "1", "--out", str(out),
        "--distribute", "jax-data-parallel", "--logical-cpus", "2", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DataParallel, 2 replicas" in proc.stdout
    assert (out / "model.keras").is_file()


def test_script_jax_over_two_processes_with_distribution_initialize(script, image_folder, tmp_path):
    """Two processes on one machine stand in for two hosts (coordinator, count, id)."""
    pytest.importorskip("jax")
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_HOME": str(tmp_path / ".keras"), "HOME": str(tmp_path)})
    env.pop("KERAS_BACKEND", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-I", str(script), "--data", str(image_folder), "--epochs", "2", "--batch-size", "2",
             "--out", str(tmp_path / f"host{i}"), "--distribute", "jax-data-parallel",
             "--coordinator-address", f"localhost:{port}", "--num-processes", "2", "--process-id", str(i)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert "DataParallel, 2 replicas" in out
    for i in range(2):  # both took the same steps: one row per epoch each, validation included
        rows = (tmp_path / f"host{i}" / "history.csv").read_text().splitlines()
        assert len(rows) == 3 and "val_accuracy" in rows[0]


def test_run_folder_exports_its_trained_model_and_project(keras_file, work, sample):
    run = work / "run_folder"
    run.mkdir()
    (run / "model.keras").write_bytes(keras_file.read_bytes())
    (run / "classes.json").write_text(json.dumps(list("abcde")))
    tiny_project().save(run / "project.layerlab")
    x, ref = sample
    again = export(run, "keras", work / "again.keras")
    assert np.allclose(keras.ops.convert_to_numpy(keras.saving.load_model(again)(x)), ref, atol=1e-6)
    assert "keras.layers.Add" in export(run, "python", work / "from_run.py").read_text()
    assert "def build_model" in export(keras_file, "python", work / "from_model.py").read_text()


def test_script_for_a_10000_layer_network_is_written_without_recursion():
    """The generator walks the graph in a loop: depth is not limited by Python's recursion limit."""
    from app.engine.script_template import generate_script

    g = NetworkGraph()
    prev = g.add_node("InputLayer", {"shape": [4, 4, 1]}, name="input").id
    for i in range(10_000):
        node = g.add_node("Activation" if i else "Flatten", {"activation": "relu"} if i else {}, name=f"l{i}")
        g.connect(prev, node.id)
        prev = node.id
    g.connect(prev, g.add_node("Dense", {"units": 2, "activation": "softmax"}, name="output").id)
    text = generate_script(Project(graph=g, name="deep"))
    assert text.count("keras.layers.Activation(") == 9_999
    assert 'l9999 = keras.layers.Activation(activation="relu", name="l9999")(l9998)' in text


def test_a_killed_tflite_export_leaves_nothing_on_the_next_one(tmp_path):
    """Exporters that want a path get the same temporary naming, so leftovers are found."""
    import os
    import time

    from app.engine.export import _temp_file

    target = tmp_path / "model.tflite"
    first = _temp_file(target, ".tflite")
    first.write_bytes(b"")  # what a SIGKILL mid-export leaves
    old = time.time() - 3600
    os.utime(first, (old, old))
    second = _temp_file(target, ".tflite")
    assert not first.exists() and second.name.endswith(".tflite") and second.parent == tmp_path
