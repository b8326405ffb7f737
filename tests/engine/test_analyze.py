"""The analyzer: each rule with a network that triggers it and one that does not."""

from __future__ import annotations

import dataclasses

import keras
import pytest

from app.core.diagnostics import apply_fix
from app.core.graph import NetworkGraph, sequential
from app.core.project import Project
from app.core.settings import TrainSettings
from app.engine.analyze import Analyzer, analyze

INPUT = ("InputLayer", {"shape": [28, 28, 1]})
CONV = ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"})
POOL = ("MaxPooling2D", {"pool_size": [2, 2]})
SEED_NO_FLATTEN = [
    INPUT,
    CONV,
    POOL,
    ("Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
    POOL,
    ("Dense", {"units": 64, "activation": "relu"}),
    ("Dropout", {"rate": 0.5}),
    ("Dense", {"units": 10, "activation": "softmax"}),
]


def project(layers, **training) -> Project:
    return Project(graph=sequential(layers), training=TrainSettings(**training))


def codes(result):
    return [d.code for d in result.diagnostics]


def test_good_cnn_has_no_problems_and_keras_counts():
    layers = SEED_NO_FLATTEN[:5] + [("Flatten", {})] + SEED_NO_FLATTEN[5:]
    result = analyze(project(layers))
    assert result.ok and result.diagnostics == []
    ref = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    assert result.total_params == ref.count_params()
    shapes = [result.layers[n].output_shape for n in result.order]
    assert shapes[-1] == (None, 10) and shapes[5] == (None, 1600)


def test_seed_network_without_flatten_is_caught_and_fixed_in_one_click():
    p = project(SEED_NO_FLATTEN)
    result = analyze(p)
    (d,) = [d for d in result.errors if d.code == "head-needs-flatten"]
    assert d.layer == "dense" and "Flatten" in d.message and "GlobalAveragePooling2D" in d.message
    assert d.fix.label == "Insert Flatten before 'dense'"
    apply_fix(p, d.fix)
    fixed = analyze(p)
    assert fixed.ok, fixed.diagnostics
    names = [p.graph.node(n).class_name for n in fixed.order]
    assert names.index("Flatten") == names.index("Dense") - 1
    assert fixed.layers[fixed.order[-1]].output_shape == (None, 10)


def test_second_fix_uses_global_pooling():
    p = project(SEED_NO_FLATTEN)
    d = next(d for d in analyze(p).errors if d.code == "head-needs-flatten")
    apply_fix(p, d.fixes[1])
    assert analyze(p).ok
    assert any(n.class_name == "GlobalAveragePooling2D" for n in p.graph)


def test_segmentation_task_keeps_spatial_output():
    p = project([INPUT, ("Conv2D", {"filters": 2, "kernel_size": 1, "activation": "softmax"})])
    p.task = "segmentation"
    assert "head-needs-flatten" not in codes(analyze(p))
    p.task = "classification"
    assert "head-needs-flatten" in codes(analyze(p))


def test_empty_network():
    result = analyze(Project())
    assert codes(result) == ["empty"] and not result.ok


def test_no_input_with_fix():
    p = project([("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})])
    d = next(d for d in analyze(p).errors if d.code == "no-input")
    apply_fix(p, d.fix)
    assert analyze(p).ok


def test_no_output():
    assert "no-output" in codes(analyze(project([INPUT])))
    assert "no-output" not in codes(analyze(project([INPUT, ("Flatten", {})])))


def test_loose_layer_and_dead_end_branch():
    p = project([INPUT, ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})])
    loose = p.graph.add_node("Dense", {"units": 3})
    result = analyze(p)
    assert [d.node for d in result.errors if d.code == "not-connected"] == [loose.id]
    apply_fix(p, next(d.fix for d in result.errors if d.code == "not-connected"))
    assert analyze(p).ok
    side = p.graph.add_node("Dense", {"units": 4})
    p.graph.connect("n2", side.id)
    result = analyze(p)
    assert [d.node for d in result.warnings if d.code == "unused-output"] == [side.id]


def test_cycle_is_reported_with_a_fix():
    p = project([INPUT, ("Dense", {"units": 8}), ("Dense", {"units": 8})])
    p.graph.connect("n3", "n2", 1)
    result = analyze(p)
    d = next(d for d in result.errors if d.code == "cycle")
    assert "loop" in d.message
    apply_fix(p, d.fix)
    assert "cycle" not in codes(analyze(p))


def residual(shortcut_filters: int) -> Project:
    g = NetworkGraph()
    i = g.add_node("InputLayer", {"shape": [16, 16, 8]})
    a = g.add_node("Conv2D", {"filters": 8, "kernel_size": 3, "padding": "same"})
    b = g.add_node("Conv2D", {"filters": shortcut_filters, "kernel_size": 1})
    add = g.add_node("Add")
    out = g.add_node("GlobalAveragePooling2D")
    d = g.add_node("Dense", {"units": 10, "activation": "softmax"})
    g.connect(i.id, a.id)
    g.connect(i.id, b.id)
    g.connect(a.id, add.id, 0)
    g.connect(b.id, add.id, 1)
    g.connect(add.id, out.id)
    g.connect(out.id, d.id)
    return Project(graph=g)


def test_add_of_different_shapes():
    assert analyze(residual(8)).ok
    result = analyze(residual(16))
    d = next(d for d in result.errors if d.code == "merge-shapes")
    assert "(None, 16, 16, 8)" in d.message and "(None, 16, 16, 16)" in d.message
    assert [x for x in result.errors if x.code == "keras" and x.node == d.node] == []


def test_merge_with_a_single_input():
    p = residual(8)
    p.graph.disconnect(p.graph.inputs_of("n4")[1])
    assert "merge-inputs" in codes(analyze(p))


def test_plain_layer_with_two_inputs():
    p = residual(8)
    p.graph.connect("n3", "n5", 1)
    result = analyze(p)
    d = next(d for d in result.errors if d.code == "too-many-inputs")
    apply_fix(p, d.fix)
    assert analyze(p).ok


def concat(second_pool: bool) -> Project:
    g = NetworkGraph()
    i = g.add_node("InputLayer", {"shape": [16, 16, 3]})
    a = g.add_node("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"})
    b = g.add_node("MaxPooling2D", {"pool_size": 2}) if second_pool else g.add_node("Conv2D", {"filters": 2, "kernel_size": 1})
    c = g.add_node("Concatenate", {"axis": -1})
    h = g.add_node("Conv2D", {"filters": 2, "kernel_size": 1, "activation": "softmax"})
    for s, d_, slot in ((i, a, 0), (i, b, 0), (a, c, 0), (b, c, 1), (c, h, 0)):
        g.connect(s.id, d_.id, slot)
    return Project(graph=g, task="segmentation")


def test_concatenate_axis_mismatch():
    assert analyze(concat(False)).ok
    d = next(d for d in analyze(concat(True)).errors if d.code == "concat-shapes")
    assert "axis -1" in d.message


def test_bad_param_types_and_ranges_with_reset_fix():
    p = project([INPUT, ("Conv2D", {"filters": "many", "kernel_size": [3, 3]}), ("Flatten", {}),
                 ("Dense", {"units": 10, "activation": "softmax"})])
    result = analyze(p)
    d = next(d for d in result.errors if d.code == "bad-param")
    assert d.layer == "conv2d" and "filters" in d.message
    apply_fix(p, d.fix)
    assert analyze(p).ok
    p2 = project([INPUT, ("Flatten", {}), ("Dropout", {"rate": 1.5}), ("Dense", {"units": 10, "activation": "softmax"})])
    assert any(d.code == "bad-param" and "rate" in d.message for d in analyze(p2).errors)
    p3 = project([INPUT, ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax", "colour": "red"})])
    d = next(d for d in analyze(p3).errors if d.code == "bad-param")
    apply_fix(p3, d.fix)
    assert analyze(p3).ok


def test_missing_required_param():
    p = project([INPUT, ("Flatten", {}), ("Dense", {"activation": "softmax"})])
    d = next(d for d in analyze(p).errors if d.code == "missing-param")
    assert "units" in d.message
    apply_fix(p, d.fix)
    assert "missing-param" not in codes(analyze(p))


def test_unknown_layer_type():
    p = project([INPUT, ("Flatten", {}), ("Denseish", {}), ("Dense", {"units": 10, "activation": "softmax"})])
    assert "unknown-layer" in codes(analyze(p))


@pytest.mark.parametrize("layer, key", [
    (("Conv2D", {"filters": 8, "kernel_size": [5, 5]}), "kernel"),
    (("MaxPooling2D", {"pool_size": [4, 4]}), "pooling window"),
])
def test_window_larger_than_input(layer, key):
    small = ("InputLayer", {"shape": [3, 3, 1]})
    p = project([small, layer, ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})])
    d = next(d for d in analyze(p).errors if d.code == "window-too-large")
    assert key in d.message and "3×3" in d.message
    apply_fix(p, d.fix)
    assert analyze(p).ok
    big = ("InputLayer", {"shape": [8, 8, 1]})
    assert analyze(project([big, layer, ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})])).ok


def test_loss_output_mismatches():
    sig1 = [INPUT, ("Flatten", {}), ("Dense", {"units": 1, "activation": "sigmoid"})]
    p = project(sig1)
    d = next(d for d in analyze(p).errors if d.code == "loss-output")
    apply_fix(p, d.fix)
    assert p.training.loss == "binary_crossentropy" and analyze(p).ok

    soft10 = [INPUT, ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})]
    p = project(soft10, loss="binary_crossentropy")
    d = next(d for d in analyze(p).errors if d.code == "loss-output")
    apply_fix(p, d.fix)
    assert analyze(p).ok

    soft1 = [INPUT, ("Flatten", {}), ("Dense", {"units": 1, "activation": "softmax"})]
    p = project(soft1, loss="binary_crossentropy")
    d = next(d for d in analyze(p).errors if d.code == "softmax-one-unit")
    apply_fix(p, d.fix)
    assert analyze(p).ok

    logits = [INPUT, ("Flatten", {}), ("Dense", {"units": 10})]
    assert "logits" in codes(analyze(project(logits)))
    assert "logits" not in codes(analyze(project(logits, loss="mean_squared_error")))


def test_output_units_versus_dataset_classes():
    layers = [INPUT, ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})]
    p = project(layers)
    assert "classes" not in codes(analyze(p, num_classes=10))
    d = next(d for d in analyze(p, num_classes=3).warnings if d.code == "classes")
    apply_fix(p, d.fix)
    assert "classes" not in codes(analyze(p, num_classes=3))


def test_memory_warning_for_a_huge_network():
    huge = [("InputLayer", {"shape": [512, 512, 3]}), ("Conv2D", {"filters": 256, "kernel_size": 3, "padding": "same"}),
            ("Conv2D", {"filters": 256, "kernel_size": 3, "padding": "same"}), ("GlobalAveragePooling2D", {}),
            ("Dense", {"units": 10, "activation": "softmax"})]
    p = project(huge, batch_size=64)
    result = analyze(p)
    d = next(d for d in result.warnings if d.code == "memory")
    assert "GB" in d.message and result.memory.total > 4 * 1024**3
    p.training = dataclasses.replace(p.training, batch_size=2)
    assert "memory" not in codes(analyze(p))


def test_keras_errors_are_reported_on_the_layer():
    p = project([("InputLayer", {"shape": [10]}), ("Conv2D", {"filters": 4, "kernel_size": 3}),
                 ("Dense", {"units": 2, "activation": "softmax"})])
    d = next(d for d in analyze(p).errors if d.code == "keras")
    assert d.layer == "conv2d" and "Traceback" not in d.message


def test_only_the_edited_part_is_rebuilt():
    layers = [INPUT] + [("Conv2D", {"filters": 4 + i, "kernel_size": 3, "padding": "same"}) for i in range(10)] + [
        ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})]
    p = project(layers)
    analyzer = Analyzer(persistent=False)
    analyzer.analyze(p)
    built = analyzer.shapes.layers_built
    assert built == 12
    analyzer.analyze(p)
    assert analyzer.shapes.layers_built == built  # nothing changed, nothing rebuilt
    p.graph.set_param("n8", "filters", 30)  # it and the next layer (new input channels) change
    result = analyzer.analyze(p)
    assert analyzer.shapes.layers_built - built == 2  # n8, and n9 (new input channels); the rest hit the cache
    assert result.layers["n8"].output_shape == (None, 28, 28, 30)


def test_attention_layers_are_called_the_keras_way():
    g = NetworkGraph()
    i = g.add_node("InputLayer", {"shape": [10, 16]})
    mha = g.add_node("MultiHeadAttention", {"num_heads": 2, "key_dim": 8})
    g.connect(i.id, mha.id, 0)
    g.connect(i.id, mha.id, 1)
    pool = g.add_node("GlobalAveragePooling1D")
    g.connect(mha.id, pool.id)
    dense = g.add_node("Dense", {"units": 3, "activation": "softmax"})
    g.connect(pool.id, dense.id)
    result = analyze(Project(graph=g))
    assert result.ok, result.diagnostics
    ref = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)
    x = keras.Input((10, 16))
    ref(x, x)
    assert result.layers[mha.id].output_shape == (None, 10, 16)
    assert result.layers[mha.id].params == ref.count_params()


def test_a_segmentation_template_gets_a_note_that_it_cannot_be_trained_yet():
    from app.core.templates import load_template
    from app.engine.analyze import NOT_TRAINABLE

    unet = analyze(load_template("unet-mini"))
    notes = [d for d in unet.diagnostics if d.code == NOT_TRAINABLE]
    assert unet.ok and len(notes) == 1 and notes[0].severity == "info"
    assert notes[0].layer == "output" and "64×64" in notes[0].message
    assert not [d for d in analyze(load_template("mnist-cnn")).diagnostics if d.code == NOT_TRAINABLE]


GOOD = [("InputLayer", {"shape": [8]}), ("Dense", {"units": 16, "activation": "relu"}),
        ("Dense", {"units": 3, "activation": "softmax"})]


def test_settings_train_would_refuse_are_errors_tied_to_the_setting():
    p = project(GOOD, learning_rate=float("nan"), epochs=-3, batch_size="fast", optimizer=["adam"], loss=7)
    p.data = dataclasses.replace(p.data, validation_split=2.0)
    result = analyze(p)
    assert not result.ok
    tied = {d.setting: d for d in result.errors}
    assert set(tied) == {"training.learning_rate", "training.epochs", "training.batch_size",
                         "training.optimizer", "training.loss", "data.validation_split"}
    row = tied["training.learning_rate"].to_json()
    assert row["layer"] is None and row["setting"] == "training.learning_rate"
    assert row["fix"] == "Set learning_rate to 0.001" and "(got nan)" in row["message"]
    for d in result.errors:
        apply_fix(p, d.fix)
    assert analyze(p).ok and p.training.batch_size == 32 and p.data.validation_split == 0.2


def test_duplicate_and_invalid_layer_names_are_errors_with_a_unique_valid_rename():
    layers = [("InputLayer", {"shape": [8]})] + [("Dense", {"units": 4}, "same")] * 1
    p = project(layers + [("Dense", {"units": 4})] * 5 + [("Dense", {"units": 3, "activation": "softmax"})])
    names = ["same", "same", "same", "a/b", "x::y", "", "same"]
    for node, name in zip(p.graph.nodes[1:], names, strict=True):
        node.name = name
    result = analyze(p)
    bad = [d for d in result.errors if d.code == "layer-name"]
    assert [d.node for d in bad] == [n.id for n in p.graph.nodes[2:]]  # the first 'same' keeps its name
    assert "repeats the name" in bad[0].message and "'/'" in bad[2].message and "'::'" in bad[3].message
    assert "keras" not in codes(result)  # said once, as a name problem, not again as Keras' complaint
    for d in bad:
        apply_fix(p, d.fix)
    after = [n.name for n in p.graph.nodes]
    assert len(set(after)) == len(after) and analyze(p).ok


def test_check_on_10000_layers_is_fast_and_needs_no_recursion():
    import sys
    import time

    nodes = [{"id": "n0", "class_name": "InputLayer", "name": "input", "params": {"shape": [8]}}]
    nodes += [{"id": f"n{i}", "class_name": "Dense", "name": f"d{i}", "params": {"units": 4}} for i in range(1, 10_001)]
    edges = [{"src": f"n{i}", "dst": f"n{i + 1}"} for i in range(10_000)]
    p = Project(graph=NetworkGraph.from_dict({"nodes": nodes, "edges": edges}), training=TrainSettings(loss="mse"))
    analyzer = Analyzer(persistent=False)
    analyzer.analyze(project(GOOD))  # Keras is loaded and warm
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        t0 = time.perf_counter()
        result = analyzer.analyze(p)
        elapsed = time.perf_counter() - t0
    finally:
        sys.setrecursionlimit(old)
    assert result.ok and len(result.order) == 10_001 and result.total_params == 36 + 20 * 9_999
    assert elapsed < 5.0  # was ~45 s: every input lookup scanned all edges


def test_every_loss_and_metric_the_schema_knows_is_known_to_keras():
    from app.core.settings import ALL_LOSSES, METRICS, OPTIMIZERS

    for name in ALL_LOSSES:
        keras.losses.get(name)
    for name in METRICS:
        keras.metrics.get(name)
    for name in OPTIMIZERS:
        keras.optimizers.get(name)
