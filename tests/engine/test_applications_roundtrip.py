"""Keras Applications survive .keras -> project -> keras.Model -> .keras unchanged.

Same parameter count, same layer classes in the same order, same weights and
the same predictions. Built with ``weights=None`` (nothing is downloaded) and
a small input so that the four of them stay quick.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.core.project import load_project
from app.engine.build import build_model
from app.engine.export_keras import export_keras
from app.engine.model_import import import_model, project_weights, save_imported_project
from app.engine.safety import load_model_file

keras = pytest.importorskip("keras")
# Keras' get_weights() on TensorFlow variables, once per array: noise, not a finding.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

APPS = {
    "ResNet50": (32, 32, 3),
    "DenseNet121": (32, 32, 3),
    "MobileNetV2": (32, 32, 3),
    "EfficientNetB0": (32, 32, 3),
}


def classes(model):
    return [type(layer).__name__ for layer in model.layers]


def assert_same_weights(a, b):
    assert [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
    for la, lb in zip(a.layers, b.layers, strict=True):
        wa, wb = la.get_weights(), lb.get_weights()
        assert len(wa) == len(wb), la.name
        for x, y in zip(wa, wb, strict=True):
            assert np.array_equal(x, y), la.name


@pytest.mark.slow
@pytest.mark.parametrize("app", list(APPS))
def test_application_round_trip(app, tmp_path):
    keras.utils.clear_session()
    original = getattr(keras.applications, app)(
        weights=None, input_shape=APPS[app], include_top=True, classes=10
    )
    src = tmp_path / f"{app.lower()}.keras"
    original.save(src)

    project = import_model(src)
    graph = project.graph
    assert project.name == app.lower()
    assert project.training.loss == "sparse_categorical_crossentropy"  # softmax over 10 classes
    assert len(graph) == len(original.layers)  # functional: InputLayer is one of model.layers
    assert [n.name for n in graph.nodes] == [layer.name for layer in original.layers]
    json.dumps(project.to_dict())  # params are plain JSON

    weights = project_weights(project)
    rebuilt = build_model(graph, weights=weights)
    assert rebuilt.count_params() == original.count_params()
    assert classes(rebuilt) == classes(original)
    assert_same_weights(rebuilt, original)

    out = tmp_path / "export" / "model.keras"
    export_keras(rebuilt, out)  # the graph -> export path is the build above (and the .h5 test)
    assert not [p for p in out.parent.iterdir() if p != out]  # no temporary file left behind
    reloaded = load_model_file(out)
    assert classes(reloaded) == classes(original)
    assert_same_weights(reloaded, original)
    batch = np.random.default_rng(0).random((2, *APPS[app]), dtype=np.float32)
    np.testing.assert_allclose(
        reloaded(batch, training=False), original(batch, training=False), rtol=1e-5, atol=1e-6
    )


def test_h5_import_keeps_weights_through_the_project_file(tmp_path):
    keras.utils.clear_session()
    L = keras.layers
    inp = keras.Input((12, 12, 1), name="pixels")
    x = L.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = L.BatchNormalization(name="bn")(x)
    skip = L.Conv2D(4, 3, name="skip")(inp)
    x = L.Add(name="add")([x, skip])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(1, activation="sigmoid", name="prob")(x)
    original = keras.Model(inp, out, name="tiny")
    original.get_layer("bn").set_weights(
        [np.full((4,), v, dtype="float32") for v in (1.5, 0.25, 0.1, 2.0)]
    )
    src = tmp_path / "tiny.h5"
    original.save(src)

    project = import_model(src)
    assert project.training.loss == "binary_crossentropy"
    assert [n.name for n in project.graph.nodes] == [layer.name for layer in original.layers]
    target = tmp_path / "proj" / "tiny.layerlab"
    save_imported_project(project, project.imported_weights, target)
    assert (target.parent / "tiny.weights.npz").is_file()

    reopened = load_project(target)
    assert reopened.weights_file == "tiny.weights.npz"
    rebuilt = build_model(reopened.graph, weights=project_weights(reopened))
    assert classes(rebuilt) == classes(original)
    assert_same_weights(rebuilt, original)
    batch = np.random.default_rng(2).random((3, 12, 12, 1), dtype=np.float32)
    np.testing.assert_allclose(rebuilt(batch), original(batch), rtol=1e-5, atol=1e-6)

    out = export_keras(reopened, tmp_path / "out" / "tiny.keras")  # weights from the sidecar
    reloaded = load_model_file(out)
    assert classes(reloaded) == classes(original)
    assert_same_weights(reloaded, original)
    assert reloaded.name == "tiny"


def test_sequential_model_imports_with_its_input(tmp_path):
    keras.utils.clear_session()
    L = keras.layers
    original = keras.Sequential(
        [keras.Input((4,)), L.Dense(8, activation="relu"), L.Dense(3, activation="softmax")]
    )
    src = tmp_path / "seq.keras"
    original.save(src)
    project = import_model(src)
    graph = project.graph
    # Sequential.layers leaves the InputLayer out; the graph needs it as a node
    assert len(graph) == len(original.layers) + 1
    assert graph.nodes[0].class_name == "InputLayer" and graph.nodes[0].params == {"shape": [4]}
    rebuilt = build_model(graph, weights=project.imported_weights)
    assert classes(rebuilt)[1:] == classes(original)
    batch = np.random.default_rng(3).random((2, 4), dtype=np.float32)
    np.testing.assert_allclose(rebuilt(batch), original(batch), rtol=1e-5, atol=1e-6)
    ys = [n.position[1] for n in graph.nodes]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)  # laid out top to bottom


def test_shared_layer_is_refused_with_a_clear_message(tmp_path):
    from app.engine.safety import ModelFileError

    keras.utils.clear_session()
    L = keras.layers
    a, b = keras.Input((4,)), keras.Input((4,))
    shared = L.Dense(2, name="shared")
    model = keras.Model([a, b], L.Add()([shared(a), shared(b)]))
    src = tmp_path / "shared.keras"
    model.save(src)
    with pytest.raises(ModelFileError, match="'shared' is used 2 times \\(a shared layer\\)"):
        import_model(src)
