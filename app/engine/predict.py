"""Image files -> the model's input -> top-k labels; Grad-CAM for the top class.

The model is loaded once (safe mode) and called through Keras' compiled
predict function (``predict_on_batch``): measured on the mnist-cnn template on
2 CPU cores, ~1.3 ms per image against ~10 ms for an eager ``model(x)`` and
~90 ms for ``model.predict`` (which builds a data pipeline on every call).

Images go through the training pipeline's own decoder
(``data_pipeline.load_image_for_model``): any mode (CMYK, 16-bit, palette,
RGBA, first frame of a GIF) to the network's channels, bilinear resize to its
height and width, float32 with pixel values 0..255 (scaling is a layer inside
a trained LayerLab model).
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.core.atomic import write_bytes_atomic
from app.engine.data_pipeline import ImageError, load_image_for_model
from app.engine.run_folder import CLASSES_FILE, MODEL_FILE
from app.engine.safety import ModelFileError, load_model_file

__all__ = ["ImageError", "PredictError", "Predictor", "load_run", "resolve_run"]

_BATCH = 32
_CONV_HINTS = ("Conv", "Convolution")


class PredictError(Exception):
    """A model that cannot be used this way (not an image model, no conv layer, ...)."""


# -- run folders ------------------------------------------------------------------
def _read_classes(path: Path) -> list[str]:
    """classes.json as a list of names; accepts a list, {"classes": [...]} or {"0": name}."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(path, f"cannot read the class names ({exc})") from None
    if isinstance(doc, dict):
        for key in ("classes", "class_names", "labels"):
            if isinstance(doc.get(key), list):
                doc = doc[key]
                break
        else:
            try:
                doc = [doc[k] for k in sorted(doc, key=int)]
            except (TypeError, ValueError):
                raise ModelFileError(path, "class names must be a list of strings") from None
    if not isinstance(doc, list):
        raise ModelFileError(path, "class names must be a list of strings")
    return [str(c) for c in doc]


def resolve_run(path: str | Path) -> tuple[Path, list[str] | None]:
    """(model file, class names or None) for a run folder or a model file (no Keras needed).

    A run folder holds model.keras and classes.json; a model file may have a
    classes.json beside it.
    """
    p = Path(path)
    if p.is_dir():
        model = p / MODEL_FILE
        if not model.is_file():
            raise ModelFileError(p, f"is a folder without a {MODEL_FILE} (not a LayerLab run folder)")
        classes = p / CLASSES_FILE
    else:
        model, classes = p, p.parent / CLASSES_FILE
    return model, (_read_classes(classes) if classes.is_file() else None)


def load_run(path: str | Path, *, unsafe: bool = False) -> tuple[Any, list[str] | None]:
    """(keras.Model loaded in safe mode, class names or None) for a run folder or model file."""
    model_path, names = resolve_run(path)
    return load_model_file(model_path, unsafe=unsafe), names


# -- images -----------------------------------------------------------------------
def check_image(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file the pipeline can read; else ImageError with the reason.

    PIL only (no TensorFlow), so the command line names a bad file before the model loads.
    """
    from app.engine.data_scan import probe_file

    p = _regular_file(path)
    res = probe_file(os.fspath(p))
    if res[0] != "ok":
        reason = str(res[2])
        if "No such file" in reason:
            reason = "file not found"
        raise ImageError(p, reason)
    return int(res[2]), int(res[3])


def _regular_file(path: str | Path) -> Path:
    """``path`` if it is a regular file; a FIFO, device or socket is refused without opening it
    (opening a FIFO waits for a writer forever)."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except OSError:
        return p  # missing or unreadable: the decoder names the reason
    if stat.S_ISDIR(mode):
        raise ImageError(p, "is a folder, not an image")
    if not stat.S_ISREG(mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise ImageError(p, f"is {kind}, not an image file")
    return p


def _load_image(path: str | Path, image_shape: Sequence[int | None]) -> np.ndarray:
    """Image file -> H×W×C float32 0..255, decoded exactly as the training pipeline does.

    A free height or width (None) takes the image's own; free channels mean RGB.
    """
    if len(image_shape) != 3:
        raise PredictError(f"the model's input has shape {tuple(image_shape)}, not height × width × channels")
    h, w, c = image_shape
    if c is not None and int(c) not in (1, 3, 4):
        raise PredictError(f"the model takes {c} channels per pixel, which is not an image (1, 3 or 4)")
    if h is None or w is None:
        iw, ih = check_image(path)
        h, w = h or ih, w or iw
    shape = (int(h), int(w), int(c or 3))
    return load_image_for_model(_regular_file(path), shape)


# -- the predictor ----------------------------------------------------------------
def _output_activation(model: Any) -> str | None:
    """How the output layer turns scores into probabilities: softmax, sigmoid or None."""
    try:
        layer = model.outputs[0]._keras_history[0]
    except (AttributeError, IndexError, TypeError):
        layer = model.layers[-1] if model.layers else None
    if layer is None:
        return None
    if type(layer).__name__ == "Softmax":
        return "softmax"
    act = layer.get_config().get("activation") if hasattr(layer, "get_config") else None
    if isinstance(act, dict):
        act = act.get("config", {}).get("name") if isinstance(act.get("config"), dict) else act.get("class_name")
    return str(act).lower() if act else None


class Predictor:
    """A model loaded once, its input shape and class names; predicts image files."""

    def __init__(self, model_or_path: Any, class_names: Sequence[str] | None = None, *, unsafe: bool = False) -> None:
        names: list[str] | None = None
        if isinstance(model_or_path, (str, Path)):
            model, names = load_run(model_or_path, unsafe=unsafe)
            self.source: str | None = str(model_or_path)
        else:
            model, self.source = model_or_path, None
        self.model = model
        if len(model.inputs) != 1:
            raise PredictError(f"the model has {len(model.inputs)} inputs; prediction takes one image")
        self.image_shape: tuple[int | None, ...] = tuple(
            None if d is None else int(d) for d in model.inputs[0].shape[1:]
        )
        if len(self.image_shape) != 3:
            raise PredictError(f"the model's input has shape {self.image_shape}, not height × width × channels")
        units = model.outputs[0].shape[-1]
        self.activation = _output_activation(model)
        self.units = int(units) if units is not None else None
        n = 2 if self.units == 1 else self.units  # one sigmoid unit: classes 0 and 1
        given = list(class_names) if class_names is not None else names
        self.warnings: list[str] = []
        if given is None:
            given = [str(i) for i in range(n or 0)]
        elif n is not None and len(given) != n:
            self.warnings.append(f"{len(given)} class names for {n} outputs; missing ones are numbered")
            given = [*given[:n], *(str(i) for i in range(len(given), n))]
        self.class_names: list[str] = [str(c) for c in given]

    # -- inputs
    def load_image(self, path: str | Path) -> np.ndarray:
        """One image file -> H×W×C float32 0..255 for this model."""
        return _load_image(path, self.image_shape)

    # -- outputs
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (batch × classes) for a batch (or one H×W×C image)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == len(self.image_shape):
            x = x[None]
        out = self.model.predict_on_batch(x)
        if isinstance(out, (list, tuple)):
            out = out[0]
        elif isinstance(out, dict):
            out = next(iter(out.values()))
        if not isinstance(out, np.ndarray):
            import keras

            out = keras.ops.convert_to_numpy(out)
        probs = self._probabilities(np.asarray(out, dtype=np.float64))
        if not np.isfinite(probs).all():
            raise PredictError(
                "the model's outputs are not finite numbers (NaN or infinity); its weights are broken "
                "(e.g. trained until the loss became NaN)"
            )
        return probs

    def _probabilities(self, y: np.ndarray) -> np.ndarray:
        if y.ndim > 2:  # a per-pixel output (segmentation): the mean over pixels
            y = y.reshape(y.shape[0], -1, y.shape[-1]).mean(axis=1)
        if y.shape[-1] == 1:
            p = y if self.activation == "sigmoid" else 1.0 / (1.0 + np.exp(-y))
            return np.concatenate([1.0 - p, p], axis=-1)
        if self.activation in ("softmax", "sigmoid"):
            return y
        if np.all(y >= 0) and np.allclose(y.sum(axis=-1), 1.0, atol=1e-3):
            return y
        e = np.exp(y - y.max(axis=-1, keepdims=True))  # logits
        return e / e.sum(axis=-1, keepdims=True)

    def top(self, probs: np.ndarray, top_k: int = 5) -> list[dict[str, Any]]:
        """The ``top_k`` most likely labels, highest first."""
        k = max(1, min(int(top_k), probs.shape[-1]))
        order = np.argsort(-probs, kind="stable")[:k]
        return [{"label": self.label(int(i)), "probability": float(probs[i])} for i in order]

    def label(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def predict_paths(self, paths: Sequence[str | Path], top_k: int = 5) -> list[dict[str, Any]]:
        """SPEC rows ``[{"image", "top": [{"label", "probability"}]}]``; an unreadable file raises ImageError."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(paths), _BATCH):
            chunk = list(paths[start : start + _BATCH])
            batch = np.stack([self.load_image(p) for p in chunk])
            for p, probs in zip(chunk, self.predict_array(batch), strict=True):
                rows.append({"image": str(p), "top": self.top(probs, top_k)})
        return rows

    # -- Grad-CAM
    def gradcam_layer(self) -> Any:
        """The last convolution layer (else the last layer with a 4-D output)."""
        return find_last_conv_layer(self.model)

    def gradcam(
        self, image_path: str | Path, out_png: str | Path, class_index: int | None = None
    ) -> dict[str, Any]:
        """Save the Grad-CAM overlay for ``class_index`` (default: the top class) as a PNG.

        The overlay is drawn on the image as the network sees it (its channels
        and resolution), scaled to the original image's size. Returns
        ``{"image", "output", "label", "class_index", "layer"}``.
        """
        size = check_image(image_path)
        x = self.load_image(image_path)
        layer = self.gradcam_layer()
        if class_index is None:
            class_index = int(np.argmax(self.predict_array(x)[0]))
        heat = gradcam_heatmap(self.model, x, layer, class_index)
        overlay = overlay_heatmap(x, heat, size)
        buf = io.BytesIO()
        overlay.save(buf, format="PNG")
        out = write_bytes_atomic(out_png, buf.getvalue())
        return {
            "image": str(image_path),
            "output": str(out),
            "label": self.label(class_index),
            "class_index": class_index,
            "layer": layer.name,
        }


# -- Grad-CAM ---------------------------------------------------------------------
def _rank(tensor: Any) -> int | None:
    try:
        return len(tensor.shape)
    except (AttributeError, TypeError):
        return None


def _layer_output(layer: Any) -> Any:
    try:
        return layer.output
    except (AttributeError, ValueError, RuntimeError):  # unbuilt, or called several times
        return None


def find_last_conv_layer(model: Any) -> Any:
    """The model's last convolution layer with a 4-D output; else its last 4-D layer.

    Only top-level layers are searched (a nested model counts as one layer).
    """
    import keras

    candidates = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
        and not _is_preprocessing(layer)  # the pixels themselves: nothing learned to look at
        and _rank(_layer_output(layer)) == 4
    ]
    convs = [c for c in candidates if any(h in type(c).__name__ for h in _CONV_HINTS)]
    chosen = (convs or candidates)[-1:] if candidates else []
    if not chosen:
        raise PredictError(
            "Grad-CAM needs a convolution layer (one that keeps the image's rows and columns); "
            "this model has none, so there is no map of where it looked"
        )
    return chosen[0]


def _is_preprocessing(layer: Any) -> bool:
    """Keras' preprocessing layers (Rescaling, Resizing, Normalization, augmentation)."""
    return ".layers.preprocessing." in type(layer).__module__


def gradcam_heatmap(model: Any, x: np.ndarray, layer: Any, class_index: int) -> np.ndarray:
    """Grad-CAM (Selvaraju et al.) of ``layer`` for ``class_index``: h×w floats in 0..1."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise PredictError(
            f"Grad-CAM is available with the TensorFlow backend only (this is {keras.backend.backend()})"
        )
    import tensorflow as tf

    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    outputs = model.outputs[0]
    probe = keras.Model(model.inputs, [layer.output, outputs])
    with tf.GradientTape() as tape:
        maps, preds = probe(tf.constant(x), training=False)
        if isinstance(preds, (list, tuple)):
            preds = preds[0]
        score = tf.reduce_mean(preds[..., class_index])  # per-pixel outputs: their mean
    grads = tape.gradient(score, maps)
    if grads is None:
        raise PredictError(f"the output does not depend on layer '{layer.name}'")
    weights = tf.reduce_mean(grads, axis=(1, 2))  # one weight per feature map
    cam = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))[0].numpy()
    top = float(cam.max())
    return (cam / top if top > 0 and math.isfinite(top) else np.zeros_like(cam)).astype(np.float32)


def jet(values: np.ndarray) -> np.ndarray:
    """A jet-like colour map: 0..1 -> uint8 RGB (blue, cyan, yellow, red)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25])  # where red, green and blue peak
    rgb = np.clip(1.5 - np.abs(4.0 * (v - centres)), 0.0, 1.0)
    return (rgb * 255).astype(np.uint8)


def overlay_heatmap(x: np.ndarray, heat: np.ndarray, size: tuple[int, int], alpha: float = 0.45) -> Any:
    """Blend the heat map over the network's view of the image, scaled to ``size`` (w, h)."""
    from PIL import Image

    view = np.clip(np.asarray(x, dtype=np.float32), 0, 255).astype(np.uint8)
    if view.shape[-1] == 1:
        base = Image.fromarray(view[:, :, 0], "L").convert("RGB")
    else:
        base = Image.fromarray(view[:, :, :3], "RGB")
    if base.size != size:
        base = base.resize(size, Image.Resampling.BILINEAR)
    heat_img = Image.fromarray(np.asarray(heat, dtype=np.float32), "F").resize(size, Image.Resampling.BILINEAR)
    colours = Image.fromarray(jet(np.asarray(heat_img)), "RGB")
    return Image.blend(base, colours, alpha)
