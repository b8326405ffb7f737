"""Graph -> keras.Model: the same network a hand-written Keras model gives, or a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.graph import NetworkGraph, sequential
from app.engine.build import BuildError, build, build_model
from app.engine.layers import LayerConfigError, clean_keras_message, layer_config, make_layer
from app.engine.model_import import model_to_graph
from app.engine.weights import load_weights, model_weights, save_weights

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
L = keras.layers

CNN = [
    ("InputLayer", {"shape": [28, 28, 1]}, "image"),
    ("Conv2D", {"filters": 8, "kernel_size": [3, 3], "activation": "relu"}, "c1"),
    ("MaxPooling2D", {"pool_size": [2, 2]}, "p1"),
    ("Flatten", {}, "flat"),
    ("Dense", {"units": 16, "activation": "relu"}, "d1"),
    ("Dropout", {"rate": 0.5}, "drop"),
    ("Dense", {"units": 10, "activation": "softmax"}, "out"),
]


def classes(model):
    return [type(layer).__name__ for layer in model.layers]


def test_sequential_cnn_matches_hand_built_keras():
    model = build_model(sequential(CNN), name="cnn")
    ref = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(8, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(16, activation="relu"),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    )
    assert model.count_params() == ref.count_params() == 8 * 9 + 8 + 13 * 13 * 8 * 16 + 16 + 170
    assert [layer.name for layer in model.layers] == [n for _, _, n in CNN]
    assert classes(model)[1:] == classes(ref)
    assert model.name == "cnn"
    assert model.output_shape == (None, 10)


def branching_graph() -> NetworkGraph:
    """Two conv branches merged by Add, then a Concatenate skip from the input."""
    g = NetworkGraph()
    x = g.add_node("InputLayer", {"shape": [16, 16, 3]}, name="x")
    a = g.add_node("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}, name="a")
    b = g.add_node("Conv2D", {"filters": 4, "kernel_size": 1}, name="b")
    add = g.add_node("Add", {}, name="add")
    cat = g.add_node("Concatenate", {"axis": -1}, name="cat")
    gap = g.add_node("GlobalAveragePooling2D", {}, name="gap")
    out = g.add_node("Dense", {"units": 2}, name="out")
    g.connect(x.id, a.id)
    g.connect(x.id, b.id)
    g.connect(b.id, add.id, 1)  # slots, not insertion order, decide the argument order
    g.connect(a.id, add.id, 0)
    g.connect(x.id, cat.id, 1)
    g.connect(add.id, cat.id, 0)
    g.connect(cat.id, gap.id)
    g.connect(gap.id, out.id)
    return g


def test_branches_and_merges_match_hand_built_keras():
    model = build_model(branching_graph())
    x = keras.Input((16, 16, 3), name="x")
    add = L.Add(name="add")([L.Conv2D(4, 3, padding="same", name="a")(x), L.Conv2D(4, 1, name="b")(x)])
    cat = L.Concatenate(name="cat")([add, x])
    ref = keras.Model(x, L.Dense(2, name="out")(L.GlobalAveragePooling2D(name="gap")(cat)))
    assert model.count_params() == ref.count_params()
    assert classes(model) == classes(ref)
    assert [t.name for t in model.get_layer("add").input] == [
        model.get_layer("a").output.name,
        model.get_layer("b").output.name,
    ]
    assert model.get_layer("cat").output.shape == (None, 16, 16, 7)
    # same weights -> same function
    for layer in ref.layers:
        model.get_layer(layer.name).set_weights(layer.get_weights())
    batch = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(model(batch), ref(batch), rtol=1e-5, atol=1e-6)


def test_two_inputs_and_two_outputs():
    g = NetworkGraph()
    img = g.add_node("InputLayer", {"shape": [8]}, name="img")
    meta = g.add_node("InputLayer", {"shape": [3]}, name="meta")
    h = g.add_node("Dense", {"units": 5}, name="h")
    cat = g.add_node("Concatenate", {}, name="cat")
    cls = g.add_node("Dense", {"units": 4, "activation": "softmax"}, name="cls")
    reg = g.add_node("Dense", {"units": 1}, name="reg")
    g.connect(img.id, h.id)
    g.connect(h.id, cat.id, 0)
    g.connect(meta.id, cat.id, 1)
    g.connect(cat.id, cls.id)
    g.connect(cat.id, reg.id)
    model = build_model(g)
    assert [t.name for t in model.inputs] == ["img", "meta"]
    assert [tuple(t.shape) for t in model.outputs] == [(None, 4), (None, 1)]
    assert model.count_params() == (8 * 5 + 5) + (8 * 4 + 4) + (8 + 1)
    out = model([np.ones((2, 8), "float32"), np.ones((2, 3), "float32")])
    assert [tuple(o.shape) for o in out] == [(2, 4), (2, 1)]


def test_multi_output_port_and_positional_attention():
    g = NetworkGraph()
    q = g.add_node("InputLayer", {"shape": [4, 8]}, name="q")
    v = g.add_node("InputLayer", {"shape": [6, 8]}, name="v")
    mha = g.add_node("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, name="mha")
    g.connect(q.id, mha.id, 0)
    g.connect(v.id, mha.id, 1)
    model = build_model(g)
    x = keras.Input((4, 8))
    y = keras.Input((6, 8))
    ref = keras.Model([x, y], L.MultiHeadAttention(num_heads=2, key_dim=4)(x, y))
    assert model.count_params() == ref.count_params()
    assert model.output_shape == (None, 4, 8)


def test_cycle_names_a_node_on_the_loop():
    g = sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}), ("Dense", {"units": 3})])
    d1, d2 = g.nodes[1], g.nodes[2]
    g.connect(d2.id, d1.id, 1)
    with pytest.raises(BuildError) as err:
        build_model(g)
    assert err.value.node_id in {d1.id, d2.id}
    assert "loop" in err.value.message and "'dense'" in err.value.message


def test_layer_without_input_is_named():
    g = sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 3})])
    loose = g.add_node("Dense", {"units": 2}, name="loose")
    with pytest.raises(BuildError) as err:
        build_model(g)
    assert err.value.node_id == loose.id
    assert err.value.message == "Dense 'loose' has no input: connect a layer to it"


def test_no_input_layer():
    g = NetworkGraph()
    g.add_node("Dense", {"units": 2})
    with pytest.raises(BuildError, match="no Input layer"):
        build_model(g)


def test_bad_parameter_is_a_layer_config_error_naming_the_node():
    g = sequential([("InputLayer", {"shape": [8, 8, 1]}), ("Conv2D", {"filters": 4, "kernel_size": 3, "foo": 1})])
    conv = g.nodes[1]
    with pytest.raises(LayerConfigError) as err:
        build_model(g)
    assert err.value.node_id == conv.id
    assert err.value.message == "Conv2D 'conv2d': unexpected parameter 'foo'"
    assert isinstance(err.value, BuildError)  # one except clause catches both


@pytest.mark.parametrize(
    ("class_name", "params", "expected"),
    [
        ("Conv2D", {"kernel_size": 3}, "missing required parameter 'filters'"),
        ("Dropout", {"rate": 3}, "Expected a float value between 0 and 1"),
        ("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "nope"}, "activation function identifier: nope"),
        ("Conv3X", {}, "unknown layer type 'Conv3X'"),
    ],
)
def test_keras_config_errors_are_readable(class_name, params, expected):
    g = NetworkGraph()
    node = g.add_node(class_name, params, name="layer")
    with pytest.raises(LayerConfigError) as err:
        make_layer(node)
    assert expected in err.value.message
    assert "\n" not in err.value.message and "Full object config" not in err.value.message


def test_incompatible_shapes_when_calling_are_a_build_error():
    g = sequential([("InputLayer", {"shape": [10]}), ("Conv2D", {"filters": 4, "kernel_size": 3}, "conv")])
    with pytest.raises(BuildError) as err:
        build_model(g)
    assert err.value.node_id == g.nodes[1].id
    assert err.value.message.startswith("Conv2D 'conv': ")
    assert "expected min_ndim=4, found ndim=2" in err.value.message


def test_lambda_node_is_refused_in_safe_mode():
    g = sequential([("InputLayer", {"shape": [3]}), ("Lambda", {"function": {"class_name": "__lambda__"}})])
    with pytest.raises(LayerConfigError, match="Lambda layer runs arbitrary Python code"):
        build_model(g)


def test_clean_keras_message_strips_call_context():
    raw = (
        "Exception encountered when calling Reshape.call().\n\n\x1b[1mThe total size of the tensor "
        "must be unchanged.\x1b[0m\n\nArguments received by Reshape.call():\n  • args=('x',)"
    )
    assert clean_keras_message(raw) == "The total size of the tensor must be unchanged."


def test_a_graph_execution_error_loses_its_python_stack():
    # A shape problem found while the train step runs: TensorFlow's text carries the stack.
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10)])
    model.compile("adam", "mse")
    labels = tf.TensorSpec((None, None))  # unknown label shape: the problem shows only at run time
    ds = tf.data.Dataset.from_generator(
        lambda: iter([(np.ones((8, 4), "float32"), np.ones((8, 3), "float32"))]),
        output_signature=(tf.TensorSpec((None, 4)), labels),
    )
    with pytest.raises(Exception) as info:
        model.fit(ds, verbose=0)
    assert str(info.value).startswith("Graph execution error")
    text = clean_keras_message(info.value)
    assert text.startswith("Incompatible shapes: [8,3] vs. [8,10]") and "mse/sub" in text
    assert "File " not in text and "[Op:" not in text and "{{node" not in text


def test_layer_config_adds_the_name_and_keeps_lists():
    g = sequential([("Conv2D", {"filters": 2, "kernel_size": [3, 3]}, "c")])
    assert layer_config(g.nodes[0]) == {"filters": 2, "kernel_size": [3, 3], "name": "c"}


def test_weights_reapplied_by_name_and_skipped_when_shape_changed(tmp_path):
    g = sequential(CNN)
    first = build_model(g)
    saved = model_weights(first)
    save_weights(tmp_path / "w.weights.npz", saved)
    loaded = load_weights(tmp_path / "w.weights.npz")
    assert set(loaded) == {"c1", "d1", "out"}
    g.set_param(g.find("d1").id, "units", 32)  # d1 and out change shape, c1 does not
    result = build(g, weights=loaded)
    assert result.weights.applied == ["c1"]
    assert set(result.weights.skipped) == {"d1", "out"}
    for a, b in zip(result.model.get_layer("c1").get_weights(), first.get_layer("c1").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert result.model.get_layer("d1").get_weights()[0].shape == (13 * 13 * 8, 32)


def test_nested_model_and_call_kwargs_round_trip():
    base = keras.Sequential(
        [keras.Input((6,)), L.Dense(4, name="dense"), L.BatchNormalization(name="bn")], name="base"
    )
    inp = keras.Input((6,), name="x")
    h = base(inp, training=False)
    out = L.Dense(2, name="dense_out")(L.Concatenate(name="cat")([h, L.Dense(3, name="dense")(inp)]))
    model = keras.Model(inp, out)
    graph, weights = model_to_graph(model)
    assert graph.find("base").class_name == "Sequential"
    assert graph.find("base").params["__call_kwargs__"] == {"training": False}
    rebuilt = build_model(graph, weights=weights)
    assert rebuilt.count_params() == model.count_params()
    assert classes(rebuilt) == classes(model)
    batch = np.random.default_rng(1).random((3, 6), dtype=np.float32)
    np.testing.assert_allclose(rebuilt(batch, training=True), model(batch, training=True), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, words", [("a/b", "'/'"), ("x::y", "'::'"), ("", "no name"), ("a b", "a space")])
def test_a_name_check_reports_is_refused_before_keras_sees_it(name, words):
    g = sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}), ("Dense", {"units": 2})])
    g.node("n2").name = name
    with pytest.raises(BuildError) as info:
        build_model(g)
    assert info.value.node_id == "n2" and words in str(info.value) and "rename it, e.g. to '" in str(info.value)


def test_duplicate_names_are_refused_on_the_repeat():
    g = sequential([("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}, "same"), ("Dense", {"units": 2})])
    g.node("n3").name = "same"
    with pytest.raises(BuildError, match="same name as another layer") as info:
        build_model(g)
    assert info.value.node_id == "n3"


def test_a_chain_deeper_than_the_recursion_limit_builds():
    import inspect
    import sys

    g = sequential([("InputLayer", {"shape": [4]})] + [("Dense", {"units": 2})] * 400)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 300)  # Keras maps the graph with one frame per layer
    try:
        model = build_model(g)
    finally:
        sys.setrecursionlimit(old)
    assert len(model.layers) == 401 and sys.getrecursionlimit() == old
