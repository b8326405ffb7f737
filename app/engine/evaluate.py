"""A trained model on a labelled dataset -> SPEC's evaluate object, and its mistakes.

One pass over the dataset collects labels and probabilities together (a
shuffling dataset could not be read twice in the same order); every figure is
then computed from those arrays: the loss with Keras' own loss function,
confusion matrix and per-class precision / recall / F1 with scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.engine.run_folder import PREDICTION_COLUMNS, PROJECT_FILE

PREDICT_BATCH_BYTES = 32 << 20  # images per predict call: up to 32 MB of input (at most 512)


def _large_batches(dataset: Any) -> Any:
    """A tf.data dataset re-batched into fewer, larger calls (each call has a fixed cost)."""
    spec = getattr(dataset, "element_spec", None)
    if spec is None or not hasattr(dataset, "unbatch"):
        return dataset
    try:
        x_spec = spec[0]
        per_image = int(np.prod([d for d in x_spec.shape[1:]])) * x_spec.dtype.size
        rows = int(max(32, min(512, PREDICT_BATCH_BYTES // max(per_image, 1))))
        return dataset.unbatch().batch(rows)
    except Exception:  # noqa: BLE001 - an unusual structure: predict it as it comes
        return dataset


def predict_dataset(model: Any, dataset: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(integer labels, probabilities ``[n, classes]``) over ``dataset``'s (image, label) batches."""
    labels: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    for batch in _large_batches(dataset):
        x, y = batch[0], batch[1]
        p = np.asarray(model.predict_on_batch(x), dtype=np.float32)
        y = np.asarray(y)
        if y.ndim > 1 and y.shape[-1] > 1:  # one-hot labels
            y = y.argmax(axis=-1)
        labels.append(y.reshape(-1).astype(np.int64))
        probs.append(p.reshape(len(p), -1))
    if not labels:
        return np.zeros((0,), np.int64), np.zeros((0, 0), np.float32)
    return np.concatenate(labels), np.concatenate(probs)


def _two_columns(probs: np.ndarray) -> np.ndarray:
    """A single sigmoid unit is P(class 1): make it [P(0), P(1)]."""
    if probs.ndim == 2 and probs.shape[1] == 1:
        return np.concatenate([1.0 - probs, probs], axis=1)
    return probs


def _loss_value(loss: Any, labels: np.ndarray, probs: np.ndarray) -> float | None:
    """Keras' loss function on the collected arrays; None when it does not apply to them."""
    if not len(labels):
        return None
    import keras

    from app.engine.compile import target_form

    name = loss if isinstance(loss, str) else getattr(loss, "__name__", "")
    try:
        fn = keras.losses.get(loss)
        form = target_form(str(name), probs.shape[1])
        if form == "column":
            y_true = labels.reshape(-1, 1).astype(np.float32)
        elif form == "sparse":
            y_true = labels
        else:
            y_true = np.eye(probs.shape[1], dtype=np.float32)[labels]
        mean = keras.ops.mean(fn(y_true, probs))
        value = float(mean.numpy() if hasattr(mean, "numpy") else mean)
    except Exception:  # noqa: BLE001 - a loss the labels do not fit: report none rather than fail
        return None
    return value if math.isfinite(value) else None


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def evaluation_from_predictions(
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    *,
    loss: Any = "sparse_categorical_crossentropy",
) -> dict[str, Any]:
    """The evaluate object from labels and probabilities already collected."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    names = [str(c) for c in class_names]
    n = len(names)
    pred = predicted_labels(probs)
    ids = list(range(n))
    if len(labels):
        cm = confusion_matrix(labels, pred, labels=ids)
        precision, recall, f1, support = precision_recall_fscore_support(
            labels, pred, labels=ids, zero_division=0
        )
        accuracy = float(np.mean(labels == pred))
    else:
        cm = np.zeros((n, n), np.int64)
        precision = recall = f1 = np.zeros(n)
        support = np.zeros(n, np.int64)
        accuracy = None
    return {
        "loss": _loss_value(loss, labels, probs),
        "accuracy": accuracy,
        "classes": names,
        "confusion_matrix": [[int(v) for v in row] for row in cm],
        "per_class": [
            {
                "label": names[i],
                "precision": _finite(precision[i]),
                "recall": _finite(recall[i]),
                "f1": _finite(f1[i]),
                "support": int(support[i]),
            }
            for i in ids
        ],
    }


def predicted_labels(probs: np.ndarray) -> np.ndarray:
    if probs.ndim != 2 or probs.shape[1] == 0:
        return np.zeros((len(probs),), np.int64)
    if probs.shape[1] == 1:
        return (probs[:, 0] > 0.5).astype(np.int64)
    return np.nan_to_num(probs, nan=-np.inf).argmax(axis=1).astype(np.int64)


def evaluate_model(
    model: Any, dataset: Iterable[Any], class_names: Sequence[str], *, loss: Any = None, source: Any = None
) -> dict[str, Any]:
    """SPEC's evaluate object: loss, accuracy, classes, confusion_matrix, per_class.

    ``loss`` defaults to the model's compiled loss (else sparse categorical
    cross-entropy); a value that is not a finite number is reported as None.
    A model whose outputs are not finite raises :class:`ModelOutputError`
    (named by ``source``, default the model's name).
    """
    labels, probs = predict_dataset(model, dataset)
    require_finite(probs, source if source is not None else getattr(model, "name", "model"))
    return evaluation_from_predictions(labels, probs, class_names, loss=_default_loss(model, loss))


def _default_loss(model: Any, loss: Any) -> Any:
    if loss is not None:
        return loss
    compiled = getattr(model, "loss", None)
    if isinstance(compiled, str):
        return compiled
    try:
        one_unit = int(model.output_shape[-1]) == 1
    except (AttributeError, TypeError, ValueError, IndexError):
        one_unit = False
    return "binary_crossentropy" if one_unit else "sparse_categorical_crossentropy"


def trained_loss(model_path: str | Path) -> str | None:
    """The loss a LayerLab run trained with (its project snapshot beside ``model.keras``), or None."""
    from app.core.project import ProjectError, load_project

    snapshot = Path(model_path).parent / PROJECT_FILE
    if not snapshot.is_file():
        return None
    try:
        return str(load_project(snapshot).training.loss) or None
    except (ProjectError, OSError, ValueError):
        return None


def misclassified_from_predictions(
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    *,
    paths: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Each wrong sample: its index in dataset order, true and predicted label, probabilities."""
    names = [str(c) for c in class_names]
    pred = predicted_labels(probs)
    full = _two_columns(probs)
    wrong = np.flatnonzero(pred != labels)
    if limit is not None:
        wrong = wrong[: max(0, int(limit))]
    items = []
    for i in wrong:
        item: dict[str, Any] = {
            "index": int(i),
            "label": names[labels[i]] if 0 <= labels[i] < len(names) else str(int(labels[i])),
            "label_index": int(labels[i]),
            "predicted": names[pred[i]] if 0 <= pred[i] < len(names) else str(int(pred[i])),
            "predicted_index": int(pred[i]),
            "probabilities": [round(float(p), 6) if math.isfinite(p) else None for p in full[i]],
        }
        if paths is not None and i < len(paths):
            item["path"] = str(paths[i])
        items.append(item)
    return items


def _six(value: float) -> str:
    """A probability rounded to 6 decimals, never in exponent form; empty when not finite."""
    value = float(value)
    if not math.isfinite(value):
        return ""
    return f"{round(value, 6):.6f}".rstrip("0").rstrip(".") or "0"


def predictions_csv(
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    *,
    paths: Sequence[str] | None = None,
) -> str:
    """predictions.csv: every sample's prediction in dataset order (the Results view's whole gallery).

    Columns ``index,path,label,label_index,predicted,predicted_index,confidence,p0..p{K-1}``;
    ``path`` is absolute, or empty for data without files; ``pK`` is class K's probability.
    """
    import csv
    import io
    import os

    names = [str(c) for c in class_names]
    pred = predicted_labels(probs)
    full = _two_columns(probs)
    k = full.shape[1] if full.ndim == 2 else 0

    def name(i: int) -> str:
        return names[i] if 0 <= i < len(names) else str(i)

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*PREDICTION_COLUMNS, *(f"p{j}" for j in range(k))])
    for i in range(len(labels)):
        y, p = int(labels[i]), int(pred[i])
        path = os.path.abspath(paths[i]) if paths is not None and i < len(paths) and paths[i] else ""
        confidence = _six(full[i, p]) if 0 <= p < k else ""
        writer.writerow([i, path, name(y), y, name(p), p, confidence, *(_six(v) for v in full[i])])
    return buf.getvalue()


def require_finite(probs: np.ndarray, source: Any) -> None:
    """ModelOutputError unless every output is a number: a NaN model's figures would be garbage."""
    bad = int(np.count_nonzero(~np.isfinite(probs).all(axis=-1))) if probs.size else 0
    if bad:
        raise ModelOutputError(
            f"{source}: the model's outputs are not finite numbers (NaN or infinity) for {bad} of "
            f"{len(probs)} images; its weights are broken (e.g. trained until the loss became NaN)"
        )


class ModelOutputError(ValueError):
    """The model gives NaN or infinite outputs; one line naming the model."""


def misclassified(
    model: Any,
    dataset: Iterable[Any],
    class_names: Sequence[str],
    *,
    paths: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The wrong predictions over ``dataset`` (see :func:`misclassified_from_predictions`)."""
    labels, probs = predict_dataset(model, dataset)
    return misclassified_from_predictions(labels, probs, class_names, paths=paths, limit=limit)
