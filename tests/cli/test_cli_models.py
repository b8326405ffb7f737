"""`layerlab import / check / export` on real model files, safe mode included."""

from __future__ import annotations

import json

import keras
import numpy as np

from app.cli import main


def small_model():
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    y = keras.layers.Conv2D(4, 3, activation="relu", padding="same", name="c2")(x)
    x = keras.layers.Add(name="skip")([x, y])
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(x))


def test_import_check_export_round_trip_keeps_weights(tmp_path, capsys):
    model = small_model()
    src = tmp_path / "small.keras"
    model.save(src)
    project = tmp_path / "small.layerlab"
    assert main(["import", str(src), "-o", str(project)]) == 0
    assert (tmp_path / "small.weights.npz").is_file()
    capsys.readouterr()
    assert main(["check", str(project), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total_params"] == model.count_params()
    assert [layer["class_name"] for layer in report["layers"]] == [
        "InputLayer", "Conv2D", "Conv2D", "Add", "GlobalAveragePooling2D", "Dense"]
    out = tmp_path / "again.keras"
    assert main(["export", str(project), "--to", "keras", "-o", str(out)]) == 0
    again = keras.saving.load_model(out)
    x = np.random.default_rng(0).random((2, 12, 12, 1)).astype("float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    assert main(["check", str(src), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_params"] == model.count_params()


def test_a_model_with_dropout_and_batchnorm_checks_clean(tmp_path, capsys):
    # Keras records `training=False` in the call of every such layer; that is how it was
    # called, not a parameter, and must not be reported as one.
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="c")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(x))
    src = tmp_path / "dropout.keras"
    model.save(src)
    assert main(["check", str(src), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["errors"] == [] and report["total_params"] == model.count_params()


def test_a_lambda_model_is_refused_with_the_reason(tmp_path, capsys):
    marker = tmp_path / "pwned"
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x, m=str(marker): x * 2, name="sneaky")(inputs)
    path = tmp_path / "evil.keras"
    keras.Model(inputs, outputs).save(path)
    for argv in (["check", str(path)], ["import", str(path), "-o", str(tmp_path / "p.layerlab")]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and "Lambda" in err and str(path) in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "p.layerlab").exists()
