"""Finished runs' traced train steps are freed: the all-reduce gradient entries are dropped."""

from __future__ import annotations

import gc
import sys
import weakref
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from tensorflow.python.framework import ops  # noqa: E402
from tensorflow.python.framework.func_graph import FuncGraph  # noqa: E402

from app.engine import train  # noqa: E402
from app.engine.tf_gradients import release_all_reduce_gradients  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from test_train import tiny_data, tiny_project  # noqa: E402


def _train_steps(besides: list[weakref.ref] = ()) -> list[weakref.ref]:
    """Weak references to the traced train steps alive now, other than those ``besides`` holds."""
    others = [r() for r in besides]
    return [
        weakref.ref(g)
        for g in gc.get_objects()
        if isinstance(g, FuncGraph) and g.name.startswith("one_step") and not any(g is o for o in others)
    ]


def _custom_gradients() -> set[str]:
    return {k for k in ops._gradient_registry._registry if k.startswith("CustomGradient-")}


def test_a_finished_runs_train_step_is_freed_and_other_custom_gradients_stay(tmp_path):
    @tf.custom_gradient
    def halve_grad(x):
        return tf.identity(x), lambda dy: dy * 0.5

    @tf.function
    def uses_own_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = halve_grad(x)
        return tape.gradient(y, x)

    before = _custom_gradients()
    assert float(uses_own_gradient(tf.constant(2.0))) == 0.5
    own = _custom_gradients() - before
    assert len(own) == 1

    earlier = _train_steps()  # other tests' models may hold theirs: not this test's business
    train.run(tiny_project(epochs=1), data=tiny_data(), out_dir=tmp_path / "run")
    added = _custom_gradients() - before - own
    assert added, "TensorFlow no longer registers the optimizer's all-reduce gradient"
    steps = _train_steps(earlier)
    assert steps
    keras.utils.clear_session()
    gc.collect()
    assert any(r() is not None for r in steps), "the leak this module works around is gone upstream"

    assert release_all_reduce_gradients() == len(added)
    gc.collect()
    assert all(r() is None for r in steps)  # the traced step and its graph went with the entries
    assert own <= _custom_gradients()  # a gradient of our own is kept
    assert float(uses_own_gradient(tf.constant(3.0))) == 0.5
    assert release_all_reduce_gradients() == 0


def test_the_next_run_releases_the_previous_ones(tmp_path):
    earlier = _train_steps()
    train.run(tiny_project(epochs=1), data=tiny_data(), out_dir=tmp_path / "a")
    first = _train_steps(earlier)
    train.run(tiny_project(epochs=1), data=tiny_data(), out_dir=tmp_path / "b")
    gc.collect()
    assert first and all(r() is None for r in first)
