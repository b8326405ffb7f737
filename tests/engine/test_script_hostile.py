"""A project file is data: no text in it ever runs as code in the exported train.py (issue 11).

Every text field that reaches the script gets payloads that try to break out of
a docstring, a string, an f-string, a comment or a line. The script must
compile, contain no call or name outside an allow-list (checked on its
``ast``), and neither ``--help`` nor a one-epoch run may create a marker file.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import os
import re
import subprocess
import sys
import tokenize
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

keras = pytest.importorskip("keras")

from app.core.graph import NetworkGraph  # noqa: E402
from app.core.project import Project  # noqa: E402
from app.core.settings import Augmentation, DataSettings, Schedule, TrainSettings  # noqa: E402
from app.engine.export import ExportError, export  # noqa: E402
from app.engine.script_template import ScriptError, generate_script  # noqa: E402

MARK = "PWNED"
# Each {m} becomes a marker file name; the code around it tries one way out of where text goes.
PAYLOADS = (
    "\"\"\"\n__import__('os').system('touch {m}')\n\"\"\"",  # the docstring break-out
    "\"\nopen('{m}', 'w')\n#",  # out of a double-quoted string and its line
    "\"\" + open('{m}', 'w').name + \"",  # out of the docstring's own quotes ("...name..."), inline
    "'\nopen('{m}', 'w')\n#",  # out of a single-quoted string
    "{{open('{m}', 'w')}}",  # an f-string field
    "\\\nopen('{m}', 'w')",  # a backslash continuing a comment or string onto the next line
    "\r\u2028\x0b\x0c\u202e\x00open('{m}', 'w') #",  # other line breaks, a bidi override, NUL
    "end\\",  # a backslash that would escape the closing quote
    "%(prog)s %d @@NETWORK@@ @@NAME@@ \ud800",  # argparse %-formatting, placeholders, a lone surrogate
)


def payloads(tag: str) -> list[str]:
    return [p.format(m=f"{MARK}_{tag}_{i}") for i, p in enumerate(PAYLOADS)]


# -- the allow-list ----------------------------------------------------------------
FIXED_CALLS = frozenset({
    "<call>.astype", "<expr>.strip", "<expr>.write_text", "Path", "__doc__.split", "adapt_normalization",
    "argparse.ArgumentParser", "balanced_class_weights", "before.predict_on_batch", "bool", "build_model",
    "callbacks.append", "choose_backend", "contextlib.nullcontext", "counts.sum", "dataset.rebatch",
    "distribution_scope", "enumerate", "float", "int", "json.dumps", "keras.Input", "keras.Model",
    "keras.backend.backend", "keras.config.set_dtype_policy", "keras.distribution.DataParallel",
    "keras.distribution.initialize", "keras.distribution.list_devices", "keras.distribution.set_distribution",
    "keras.layers.deserialize", "keras.utils.set_random_seed", "labels.argmax", "labels.reshape", "layer.adapt",
    "len", "list", "load_datasets", "main", "make_callbacks", "make_learning_rate", "make_optimizer", "max",
    "min", "model.compile", "model.fit", "model.get_layer", "model.summary", "np.asarray", "np.bincount",
    "np.concatenate", "np.ones", "np.zeros", "os.environ.get", "out_dir.mkdir", "parse_args",
    "parser.add_argument", "parser.parse_args", "present.sum", "print", "read", "sample.append", "str",
    "strategy.scope", "sys.exit", "tf.config.LogicalDeviceConfiguration", "tf.config.list_logical_devices",
    "tf.config.list_physical_devices", "tf.config.set_logical_device_configuration",
    "tf.data.experimental.assert_cardinality", "tf.distribute.MirroredStrategy", "train_ds.cardinality",
    "train_ds.prefetch", "val_ds.prefetch", "whole.apply", "whole_batches",
})  # fmt: skip
# Calls of a real class of these Keras modules are allowed too (keras.layers.Dense, ...).
KERAS_CLASS_MODULES = (
    "keras.layers", "keras.initializers", "keras.regularizers", "keras.constraints",
    "keras.optimizers", "keras.optimizers.schedules", "keras.callbacks",
)  # fmt: skip
FIXED_NAMES = frozenset({
    "BATCH_SIZE", "COLOR_MODE", "DESIGNED_CLASSES", "EPOCHS", "IMAGE_SIZE", "LABEL_MODE", "LEARNING_RATE",
    "LOSS", "METRICS", "MONITOR", "OUTPUT_LAYER", "Path", "SEED", "VALIDATION_SPLIT", "_", "__doc__",
    "__name__", "adapt_normalization", "argparse", "args", "argv", "balanced_class_weights", "batch_size",
    "before", "bool", "build_model", "callbacks", "choose_backend", "class_names", "contextlib", "counts",
    "cpu", "d", "data_dir", "dataset", "devices", "distribution_scope", "enumerate", "epochs", "flag",
    "float", "i", "images", "inputs", "int", "json", "keras", "labels", "layer", "layer_name",
    "learning_rate", "len", "list", "load_datasets", "logical", "main", "make_callbacks",
    "make_learning_rate", "make_optimizer", "max", "max_images", "min", "mode", "model", "monitor", "n",
    "np", "num_classes", "options", "os", "out_dir", "parse_args", "parser", "present", "print", "read",
    "sample", "scope", "seen", "several_processes", "split", "steps_per_epoch", "str", "strategy", "sys",
    "tf", "total", "train_ds", "val_ds", "validation_dir", "w", "warmup", "weights", "whole", "whole_batches",
    "x",
})  # fmt: skip
IMPORTS = frozenset({"argparse", "contextlib", "json", "os", "sys", "pathlib", "keras", "tensorflow", "numpy"})


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "<call>" if isinstance(node, ast.Call) else "<expr>"


def _is_keras_class(name: str) -> bool:
    module, _, attr = name.rpartition(".")
    if module not in KERAS_CLASS_MODULES or attr.startswith("_"):
        return False
    obj = keras
    for part in module.split(".")[1:]:
        obj = getattr(obj, part)
    return isinstance(getattr(obj, attr, None), type)


def assert_only_allowed_code(text: str) -> None:
    """Every call, name and import of the script is on the allow-list (layer variables: a safe form),
    and a project's text (its marker) appears only inside plain string literals, never in a comment,
    an identifier or the literal part of an f-string."""
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        assert tok.type == tokenize.STRING or MARK not in tok.string, f"line {tok.start[0]}: {tok.string!r}"
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            assert not any(MARK in str(getattr(v, "value", "")) for v in node.values), ast.unparse(node)
    build = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "build_model")
    assigned = {t.id for n in ast.walk(build) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    layer_vars = assigned - FIXED_NAMES
    assert assigned & FIXED_NAMES <= {"inputs", "x"}, assigned & FIXED_NAMES  # no layer shadows a script name
    for var in layer_vars:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", var), var
        assert not keyword.iskeyword(var) and not keyword.issoftkeyword(var) and var not in dir(builtins), var
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in FIXED_NAMES or node.id in layer_vars, f"name {node.id!r} is not allowed"
        elif isinstance(node, ast.Attribute):
            assert not node.attr.startswith("_"), f"attribute {node.attr!r} is not allowed"
        elif isinstance(node, ast.Import):
            assert {a.name.split(".")[0] for a in node.names} <= IMPORTS, ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] in IMPORTS, ast.dump(node)
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name == "<call>":  # applying a layer: keras.layers.Dense(...)(x)
                inner = _dotted(node.func.func)  # type: ignore[attr-defined]
                assert _is_keras_class(inner) or inner == "keras.layers.deserialize", f"call of {inner}(...)"
            else:
                assert name in FIXED_CALLS or _is_keras_class(name), f"call {name!r} is not allowed"
        elif isinstance(node, (ast.Lambda, ast.Global, ast.Nonlocal, ast.Delete, ast.Await)):
            raise AssertionError(f"{type(node).__name__} in the script")
    for node in ast.walk(tree):  # layer variables live in build_model only
        if isinstance(node, ast.FunctionDef) and node.name != "build_model":
            used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            assert not (used & layer_vars) - FIXED_NAMES, used & layer_vars


# -- hostile projects ----------------------------------------------------------------
def network(names: list[str] | None = None, *, extra: dict | None = None, call: dict | None = None,
            output: str = "Dense") -> NetworkGraph:  # fmt: skip
    """Input 8x8x3 -> Flatten -> Activation... -> Dense(2 softmax); ``names`` names them in order."""
    names = list(names or ["input", "flatten", "act", "output"])
    while len(names) < 4:
        names.append(f"layer{len(names)}")
    g = NetworkGraph()
    prev = g.add_node("InputLayer", {"shape": [8, 8, 3]}, name=names[0]).id
    flat = g.add_node("Flatten", {}, name=names[1]).id
    g.connect(prev, flat)
    prev = flat
    for i, name in enumerate(names[2:-1]):
        params = {"activation": "relu", **((extra or {}) if i == 0 else {})}
        if call and i == 0:
            params["__call_kwargs__"] = call
        node = g.add_node("Activation", params, name=name).id
        g.connect(prev, node)
        prev = node
    out = g.add_node(output, {"units": 2, "activation": "softmax"}, name=names[-1]).id
    g.connect(prev, out)
    return g


def project(graph: NetworkGraph | None = None, **training) -> Project:
    return Project(
        graph=graph or network(),
        name="tiny",
        description="A tiny network.",
        data=DataSettings(validation_split=0.25, seed=3),
        training=TrainSettings(epochs=1, batch_size=4, **training),
    )


def _with(p: Project, **fields) -> Project:
    for k, v in fields.items():
        setattr(p, k, v)
    return p


# field -> (hostile projects for the payloads, whether the generator must write a script)
FIELDS: dict[str, tuple[Callable[[list[str]], list[Project]], bool]] = {
    "project name": (lambda ps: [_with(project(), name=p) for p in ps], True),
    "description": (lambda ps: [_with(project(), description=p) for p in ps], True),
    "layer names": (lambda ps: [project(network(ps[k:] + ps[:k])) for k in range(len(ps))], True),  # each in each place
    "parameter values": (lambda ps: [project(_rescaling(p)) for p in ps], True),
    "call argument values": (lambda ps: [project(network(call={"training": p})) for p in ps], True),
    "loss name": (lambda ps: [project(loss=p) for p in ps], True),
    "metric names": (lambda ps: [project(metrics=tuple(ps))], True),
    "augmentation flip": (lambda ps: [_with(project(), data=replace(project().data, augmentation=Augmentation(flip=p)))
                                      for p in ps], True),
    "parameter keys": (lambda ps: [project(network(extra={p: 1})) for p in ps], False),
    "call argument keys": (lambda ps: [project(network(call={p: 1})) for p in ps], False),
    "class names": (lambda ps: [project(network(output=p)) for p in ps], False),
    "optimizer name": (lambda ps: [project(optimizer=p) for p in ps], False),
    "schedule name": (lambda ps: [_with(project(), training=replace(project().training, schedule=Schedule(name=p)))
                                  for p in ps], False),
    "normalization": (lambda ps: [_with(project(), data=replace(project().data, normalization=p)) for p in ps], False),
    "task": (lambda ps: [_with(project(), task=p) for p in ps], False),
}  # fmt: skip


def _rescaling(payload: str) -> NetworkGraph:
    """A Rescaling layer keeps any value it is given: text, and a dict keyed by text, reach its config."""
    g = network()
    flat = next(n for n in g if n.class_name == "Flatten")
    act = g.successors(flat.id)[0]
    edge = g.inputs_of(act)[0]
    g.disconnect(edge)
    r = g.add_node("Rescaling", {"scale": payload, "offset": [payload, {payload: [payload, 1.5]}]}, name="rescale")
    g.connect(flat.id, r.id)
    g.connect(r.id, act)
    return g


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_HOME": str(cwd / ".keras"), "HOME": str(cwd)})
    env.pop("KERAS_BACKEND", None)
    return env


def _markers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if MARK in p.name]


def assert_safe_script(text: str, path: Path, cwd: Path) -> None:
    """Compiles, only allowed code, and ``--help`` works without running anything from the project."""
    path.write_text(text, encoding="utf-8")
    compile(text, str(path), "exec")
    assert_only_allowed_code(text)
    proc = subprocess.run([sys.executable, "-I", str(path), "--help"], cwd=cwd, env=_env(cwd),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and "usage:" in proc.stdout, proc.stderr[-2000:]
    assert not _markers(cwd), _markers(cwd)


@pytest.mark.parametrize("field", list(FIELDS))
def test_hostile_text_in_every_field_never_becomes_code(field, tmp_path):
    make, writes_script = FIELDS[field]
    tag = re.sub(r"\W", "_", field)
    for i, hostile in enumerate(make(payloads(tag))):
        # The generator itself (defence in depth: no check in front of it).
        try:
            text = generate_script(hostile)
        except ScriptError as exc:
            assert not writes_script, f"{field}: refused: {exc}"
        else:
            assert writes_script, f"{field}: a script was written for an invalid project"
            assert_safe_script(text, tmp_path / f"gen_{i}.py", tmp_path)
        # The export: refused (check fails, nothing written), or a script just as safe.
        out = tmp_path / f"export_{i}.py"
        try:
            export(hostile, "python", out)
        except ExportError as exc:
            assert not out.exists() and "\n" not in str(exc), exc
        else:
            assert_safe_script(out.read_text(encoding="utf-8"), out, tmp_path)
    assert not _markers(tmp_path)


# -- a real run ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """2 classes x 6 PNGs of 8x8."""
    root = tmp_path_factory.mktemp("hostile-data") / "data"
    rng = np.random.default_rng(1)
    for k, name in enumerate(["a", "b"]):
        (root / name).mkdir(parents=True)
        for i in range(6):
            img = rng.integers(0, 60, (8, 8, 3), dtype=np.uint8)
            img[..., k] += 180
            Image.fromarray(img, "RGB").save(root / name / f"{i}.png")
    return root


def _train(script: Path, data: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(script), "--data", str(data), "--epochs", "1", "--out", str(cwd / "run")],
        cwd=cwd, env=_env(cwd), capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_hostile_project_trains_one_epoch_without_running_its_text(tiny_folder, tmp_path):
    """Hostile name and description; layer names a TensorFlow scope accepts that collide with the
    script's own names (keras, inputs, x, print, ...): it trains, and runs nothing of the project."""
    names = ["keras", "inputs", "x", "num_classes", "print", "__import__", "1st", "a.b>c-d", "Dense", "model"]
    p = project(network(names))
    p.name = PAYLOADS[0].format(m=f"{MARK}_run_name")
    p.description = " ".join(payloads("run_description"))
    script = tmp_path / "train.py"
    script.write_text(generate_script(p), encoding="utf-8")
    assert_only_allowed_code(script.read_text(encoding="utf-8"))
    proc = _train(script, tiny_folder, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "model.keras").is_file()
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert [layer.name for layer in model.layers][-len(names) + 1 :] == names[1:]
    assert not _markers(tmp_path)


def test_payload_layer_names_reach_keras_as_names_only(tiny_folder, tmp_path):
    """Every payload as a layer name: the script builds the network (Keras gets the names as
    text) and TensorFlow then refuses them as scope names; nothing of them runs."""
    names = [n.replace("\x00", "").replace("\ud800", "") for n in payloads("layer")]  # Keras takes them
    p = project(network(names))
    script = tmp_path / "train.py"
    script.write_text(generate_script(p), encoding="utf-8")
    proc = _train(script, tiny_folder, tmp_path)
    assert "is not a valid scope name" in proc.stderr, proc.stderr[-3000:]
    assert not _markers(tmp_path)
