"""Drop the gradient-registry entries that pin every finished run's traced train step.

On TensorFlow, Keras' optimizer sums the gradients with the replica context's
``all_reduce``, which is a ``tf.custom_gradient``. Traced in graph mode, that
registers a ``CustomGradient-N`` closure in TensorFlow's global gradient
registry and never removes it; the closure holds a tensor of the train step's
``FuncGraph``, so each run's whole traced step (about 1,000 ops and its function
library entries, ~5 MB) stays alive after ``clear_session()``
(tensorflow/tensorflow#27492, #80895; keras-team/tf-keras#898 proposes the same
purge). Only the all-reduce's own entries are dropped: nothing differentiates
through an all-reduce of gradients, so no later trace can need them.
"""

from __future__ import annotations

import sys
from typing import Any

_ALL_REDUCE = "ReplicaContextBase.all_reduce."


def _leads_to_all_reduce(fn: Any, depth: int = 0) -> bool:
    """True when the registered gradient wraps the all-reduce's ``grad_wrapper`` (closures, 3 deep)."""
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if not callable(value):
            continue
        if getattr(value, "__qualname__", "").startswith(_ALL_REDUCE):
            return True
        if depth < 3 and _leads_to_all_reduce(value, depth + 1):
            return True
    return False


def release_all_reduce_gradients() -> int:
    """Remove the all-reduce gradient entries left by earlier traces; how many went.

    A no-op (0) where TensorFlow is not loaded or its registry looks different.
    """
    ops = sys.modules.get("tensorflow.python.framework.ops")
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):
        return 0
    stale = [
        name
        for name, entry in list(registry.items())
        if name.startswith("CustomGradient-")
        and isinstance(entry, dict)
        and _leads_to_all_reduce(entry.get("type"))
    ]
    for name in stale:
        registry.pop(name, None)
    return len(stale)
