"""Model files that need arbitrary code are refused before any of it runs.

The Lambda models here write a marker file when their code runs; every
refusal checks that the marker never appears. Only the explicit opt-in
(``unsafe=True``) may run it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from app.engine.model_import import import_model
from app.engine.safety import (
    ModelFileError,
    UnsafeModelError,
    inspect_model_file,
    load_model_file,
    scan_config,
)

keras = pytest.importorskip("keras")
L = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def lambda_model(marker: Path):
    """A model whose Lambda writes ``marker`` whenever it is called (also while rebuilt)."""
    path = str(marker)  # a closure: Keras 3.15.1 cannot reload a lambda's default arguments
    inp = keras.Input((3,), name="x")
    out = L.Lambda(lambda t: (open(path, "w").write("ran"), t)[1], name="evil")(inp)
    return keras.Model(inp, L.Dense(2, name="d")(out))


@pytest.fixture(scope="module")
def lambda_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lambda")
    marker = folder / "MARKER"
    model = lambda_model(marker)
    model.save(folder / "lambda.keras")
    model.save(folder / "lambda.h5")
    marker.unlink()  # written while the model was built here
    return folder, marker


@pytest.fixture(scope="module")
def small_keras(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, L.Dense(2, activation="relu", name="d")(L.Dense(3, name="h")(inp)))
    model.save(folder / "small.keras")
    model.save(folder / "small.h5")
    model.save_weights(folder / "small.weights.h5")
    return folder


def rewrite_config(src: Path, dst: Path, edit) -> Path:
    """A copy of the .keras zip ``src`` with ``edit(config)`` applied to config.json."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return dst


def dense_layer(config, name="d"):
    return next(layer for layer in config["config"]["layers"] if layer["name"] == name)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_file_is_refused_and_its_code_never_runs(lambda_files, suffix):
    folder, marker = lambda_files
    path = folder / f"lambda{suffix}"
    with pytest.raises(UnsafeModelError) as err:
        load_model_file(path)
    assert "contains a Lambda layer 'evil', which runs arbitrary Python code" in str(err.value)
    assert str(path) in str(err.value)
    with pytest.raises(UnsafeModelError):
        import_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_safe_mode_alone_refuses_the_lambda_too(lambda_files, suffix):
    """Keras 3.15.1's own check (our inspection comes first, this is the second line)."""
    folder, marker = lambda_files
    with pytest.raises(ValueError, match="arbitrary code execution"):
        keras.saving.load_model(folder / f"lambda{suffix}", compile=False, safe_mode=True)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_unsafe_opt_in_loads_the_lambda_model(tmp_path, suffix):
    marker = tmp_path / "MARKER"
    lambda_model(marker).save(tmp_path / f"opt_in{suffix}")
    marker.unlink()
    model = load_model_file(tmp_path / f"opt_in{suffix}", unsafe=True)
    assert [layer.name for layer in model.layers] == ["x", "evil", "d"]
    assert marker.read_text() == "ran"  # the user asked for it: the code did run


EDITS = {
    "os.system": (
        lambda c: dense_layer(c).update(module="os", class_name="system"),
        "it uses 'system' from the module 'os', which is not part of Keras",
    ),
    "made-up package": (
        lambda c: dense_layer(c).update(module="evil_pkg.layers", class_name="EvilLayer"),
        "it uses 'EvilLayer' from the module 'evil_pkg.layers', which is not part of Keras",
    ),
    "custom registered object": (
        lambda c: dense_layer(c).update(registered_name="evil_pkg>Dense"),
        "it uses the custom object 'evil_pkg>Dense', which needs its own Python code",
    ),
    "function from __main__": (
        lambda c: dense_layer(c)["config"].update(
            activation={"module": "__main__", "class_name": "function", "config": "hack", "registered_name": "hack"}
        ),
        "it calls the Python function 'hack' from the module '__main__', which is not part of Keras",
    ),
    "serialized lambda as activation": (
        lambda c: dense_layer(c)["config"].update(activation={"class_name": "__lambda__", "config": {"value": "x"}}),
        "serialized Python lambda (compiled bytecode)",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_config_naming_code_outside_keras_is_refused(small_keras, tmp_path, case):
    edit, reason = EDITS[case]
    path = rewrite_config(small_keras / "small.keras", tmp_path / "edited.keras", edit)
    with pytest.raises(UnsafeModelError, match="refused in safe mode") as err:
        load_model_file(path)
    assert reason in err.value.reason


def test_keras_builtin_functions_saved_by_name_are_fine(small_keras, tmp_path):
    def edit(config):
        dense_layer(config)["config"]["activation"] = {
            "module": "builtins",
            "class_name": "function",
            "config": "relu",
            "registered_name": "function",
        }
        config["compile_config"] = {"loss": {"module": "my_losses", "class_name": "function", "config": "x"}}

    path = rewrite_config(small_keras / "small.keras", tmp_path / "builtin.keras", edit)
    inspect_model_file(path)  # compile_config is never deserialized (compile=False)
    model = load_model_file(path)
    assert model.get_layer("d").get_config()["activation"] == "relu"


def test_h5_with_a_custom_layer_class_is_refused(small_keras, tmp_path):
    import h5py

    path = tmp_path / "custom.h5"
    path.write_bytes((small_keras / "small.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        dense_layer(config)["class_name"] = "MyCustomDense"
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(UnsafeModelError, match="layer class 'MyCustomDense', which is not part of Keras"):
        inspect_model_file(path)


def test_clean_files_load(small_keras):
    config = json.loads(zipfile.ZipFile(small_keras / "small.keras").read("config.json"))
    assert scan_config(config) == []
    for name in ("small.keras", "small.h5"):
        model = load_model_file(small_keras / name)
        assert [layer.name for layer in model.layers] == ["x", "h", "d"]


def broken_files(small_keras: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    good = (small_keras / "small.keras").read_bytes()
    h5 = (small_keras / "small.h5").read_bytes()
    cases = {
        "missing": (folder / "missing.keras", None, "file not found"),
        "empty": (folder / "empty.keras", b"", "file is empty"),
        "truncated zip": (folder / "truncated.keras", good[: len(good) // 2], "damaged or truncated .keras"),
        "not a zip": (folder / "text.keras", b"just some text, not a model\n", "not a Keras model file"),
        "random bytes": (folder / "random.h5", bytes(range(256)) * 4, "not a Keras model file"),
        "truncated h5": (folder / "truncated.h5", h5[: len(h5) // 3], "damaged or truncated .h5"),
        "zip without config": (folder / "other.keras", None, "zip archive without config.json"),
        "bad json": (folder / "badjson.keras", None, "config.json is not valid JSON"),
        "weights only": (small_keras / "small.weights.h5", None, "holds only weights"),
        "folder": (folder, None, "is a folder"),
    }
    out = {}
    for key, (path, data, reason) in cases.items():
        if data is not None:
            path.write_bytes(data)
        out[key] = (path, reason)
    with zipfile.ZipFile(folder / "other.keras", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with zipfile.ZipFile(folder / "badjson.keras", "w") as zf:
        zf.writestr("config.json", "{not json")
    return out


@pytest.mark.parametrize(
    "case",
    ["missing", "empty", "truncated zip", "not a zip", "random bytes", "truncated h5",
     "zip without config", "bad json", "weights only", "folder"],
)
def test_unreadable_files_give_one_clean_line(small_keras, tmp_path, case):
    path, reason = broken_files(small_keras, tmp_path)[case]
    for unsafe in (False, True):
        with pytest.raises(ModelFileError) as err:
            load_model_file(path, unsafe=unsafe)
        assert reason in err.value.reason
        assert "\n" not in str(err.value) and "Traceback" not in str(err.value)
        assert str(err.value).startswith(str(path))


def test_weights_files_hold_plain_arrays_only(tmp_path):
    import numpy as np

    from app.engine.weights import load_weights, save_weights

    good = save_weights(tmp_path / "ok.weights.npz", {"dense": [np.ones((2, 3), np.float32), np.zeros(3)]})
    assert [w.shape for w in load_weights(good)["dense"]] == [(2, 3), (3,)]
    objects = tmp_path / "obj.weights.npz"
    np.savez(objects, **{"dense::0": np.array([object()], dtype=object)})
    with pytest.raises(ModelFileError, match="obj.weights.npz: weights file holds Python objects"):
        load_weights(objects)
    extra = tmp_path / "extra.weights.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(extra, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("payload.py", b"print('hi')")
    with pytest.raises(ModelFileError, match="entry 'payload.py' is not a NumPy array"):
        load_weights(extra)
    with pytest.raises(ModelFileError, match="weights file is a folder, not a regular file"):
        load_weights(tmp_path)
