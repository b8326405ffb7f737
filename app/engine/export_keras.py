"""Project or graph -> a ``.keras`` file (or legacy ``.h5``), written atomically.

Keras writes to a temporary file in the target's folder, which then replaces
the target in one rename: an interrupted export never leaves half a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.core.atomic import atomic_path
from app.core.graph import NetworkGraph
from app.core.project import Project
from app.engine.build import build_model

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def export_keras(
    project_or_graph: Project | NetworkGraph | Any,
    path: str | Path,
    *,
    weights: Mapping[str, Sequence[Any]] | None = None,
) -> Path:
    """Build the network, apply ``weights`` (default: the project's own) and save it.

    An already built ``keras.Model`` is saved as it is (``weights`` then apply to it).
    Raises BuildError (or LayerConfigError) when the graph does not build.
    """
    target = Path(path)
    if not target.name.lower().endswith(MODEL_SUFFIXES):
        raise ValueError(f"{target}: a Keras model file must end in .keras (or .h5)")
    if isinstance(project_or_graph, Project):
        graph, name = project_or_graph.graph, project_or_graph.name
        if weights is None:
            from app.engine.model_import import project_weights

            weights = project_weights(project_or_graph)
    elif isinstance(project_or_graph, NetworkGraph):
        graph, name = project_or_graph, "model"
    else:
        from app.engine.weights import apply_weights

        apply_weights(project_or_graph, weights)
        return save_model_atomic(project_or_graph, target)
    model = build_model(graph, weights=weights, name=name)
    return save_model_atomic(model, target)


def save_model_atomic(model: Any, path: str | Path) -> Path:
    """``model.save`` to a temporary sibling with the same suffix, then rename over ``path``."""
    with atomic_path(path) as tmp:
        model.save(str(tmp))
    return Path(path)
