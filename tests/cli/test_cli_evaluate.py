"""`layerlab evaluate`: the evaluate object over a held-out folder, checked by hand."""

from __future__ import annotations

import json

import keras
import numpy as np
from PIL import Image

from app.cli import main


def write_folder(root, classes, per_class, seed):
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 60, (12, 12), dtype=np.uint8)
            img[:, 4 * k : 4 * k + 4] = 255  # a bright stripe whose place says the class
            Image.fromarray(img, "L").save(root / name / f"{i}.png")


def test_evaluate_matches_a_hand_count(tmp_path, capsys):
    classes = ["a", "b", "c"]
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "classes.json").write_text(json.dumps(classes))
    held = tmp_path / "held"
    write_folder(held, ["c", "a"], 5, seed=1)  # a subset of the classes, in another order
    (held / "a" / "broken.png").write_bytes(b"not an image")

    assert main(["evaluate", str(run), "--data", str(held), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)

    expected = np.zeros((3, 3), int)
    for name in ("a", "c"):
        for i in range(5):
            img = np.asarray(Image.open(held / name / f"{i}.png"), np.float32)[None, :, :, None]
            pred = int(np.argmax(model.predict_on_batch(img)))
            expected[classes.index(name), pred] += 1
    assert result["classes"] == classes
    assert result["confusion_matrix"] == expected.tolist()
    assert result["accuracy"] == np.trace(expected) / 10
    assert [r["support"] for r in result["per_class"]] == [5, 0, 5]
    assert set(result) >= {"loss", "accuracy", "classes", "confusion_matrix", "per_class"}


def test_a_one_unit_sigmoid_model_is_evaluated_on_two_classes(tmp_path, capsys):
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")  # not compiled: the loss comes from the output's shape
    (run / "classes.json").write_text(json.dumps(["no", "yes"]))
    held = tmp_path / "held"
    write_folder(held, ["no", "yes"], 4, seed=2)

    assert main(["evaluate", str(run), "--data", str(held), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    images = [np.asarray(Image.open(held / c / f"{i}.png"), np.float32) for c in ("no", "yes") for i in range(4)]
    p = model.predict_on_batch(np.stack(images)[..., None]).reshape(-1)
    truth = np.array([0] * 4 + [1] * 4)
    assert result["accuracy"] == np.mean((p > 0.5).astype(int) == truth)
    expected = -np.mean(truth * np.log(np.clip(p, 1e-7, 1)) + (1 - truth) * np.log(np.clip(1 - p, 1e-7, 1)))
    assert abs(result["loss"] - expected) < 1e-4  # binary cross-entropy, not None


def test_evaluate_bad_inputs_exit_2(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "Traceback" not in err


def test_a_model_with_nan_outputs_is_refused_in_one_line(tmp_path, capsys):
    inputs = keras.Input((12, 12, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    model.layers[-1].bias.assign(np.array([np.nan, 0.0], "float32"))
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "classes.json").write_text(json.dumps(["a", "b"]))
    held = tmp_path / "held"
    write_folder(held, ["a", "b"], 3, seed=4)
    assert main(["evaluate", str(run), "--data", str(held), "--json"]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1, err
    assert lines[0].startswith(f"error: {run / 'model.keras'}: ") and "not finite" in lines[0] and "6 of 6" in lines[0]
