"""tf.data input pipelines over a scanned dataset, and preprocessing as Keras layers.

Only files the scan validated are read, so a bad image never reaches an epoch
and the number of batches is known (Keras' progress bar, ``steps_per_epoch``);
``ignore_errors`` is not used, since it would hide the count and drop whole
batches. A file changed after the scan fails loudly, naming the file.
PNG and plain JPEG decode natively in
TensorFlow; CMYK JPEG, GIF, BMP, WebP, TIFF go through PIL. Images stay uint8
until the batch is cast to float32 (0..255): the in-memory cache holds a
quarter of the bytes, and a same-size image skips the resize. Resizing is
bilinear without antialiasing, as Keras' ``image_dataset_from_directory``.
Preprocessing (Rescaling or an adapted Normalization) and augmentation are
Keras layers for the front of the model, so an exported model carries them.
TensorFlow and Keras are imported inside the functions.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.settings import DataSettings
from app.engine.data_scan import ScanReport, probe_file
from app.engine.data_sources import (
    ArrayData,
    DataSourceError,
    as_uint8_images,
    report_for_arrays,
    scan_source,
)

ImageShape = tuple[int, int, int]
_PIL_MODE = {1: "L", 3: "RGB", 4: "RGBA"}


class ImageError(Exception):
    """A file that cannot be used as a model input, with the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class Datasets:
    """Train/validation(/test) ``tf.data.Dataset`` of (float32 B×H×W×C in 0..255, int32 B)."""

    train: Any
    validation: Any | None
    class_names: list[str]
    image_shape: ImageShape
    batch_size: int
    train_count: int
    validation_count: int
    train_class_counts: list[int]
    validation_class_counts: list[int]
    cached: bool  # the training set is kept decoded in memory after its first epoch
    validation_cached: bool
    report: ScanReport
    test: Any | None = None
    test_count: int = 0
    train_files: list[tuple[str, int]] = field(default_factory=list)  # empty for array sources
    validation_files: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (max_images, seed) -> an uncached, unshuffled dataset over a random sample of the
    # training images: statistics without filling (and then dropping) the cache.
    sample: Any = field(default=None, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_count / self.batch_size)

    def class_weights(self) -> dict[int, float]:
        """Balanced weights (n / (k · count)), for ``model.fit(class_weight=...)``."""
        return class_weights(self.train_class_counts)


def class_weights(counts: Sequence[int]) -> dict[int, float]:
    total, present = sum(counts), sum(1 for c in counts if c)
    return {i: (total / (present * c) if c else 0.0) for i, c in enumerate(counts)}


# -- splitting ----------------------------------------------------------------------
def stratified_split(labels: Sequence[int], validation_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, validation), each sorted, with every class split in proportion.

    A class of one image stays in training; a class of two or more gives at least
    one image to each side. The same labels and seed always give the same split.
    """
    labels = np.asarray(labels)
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == cls) for cls in classes]
    # Largest remainder: the validation set is round(N × split) images in all.
    exact = np.array([len(m) * validation_split for m in members])
    n_val = np.floor(exact).astype(int)
    extra = int(round(len(labels) * validation_split)) - int(n_val.sum())
    for i in sorted(range(len(members)), key=lambda i: -(exact[i] - n_val[i]))[: max(extra, 0)]:
        n_val[i] += 1
    train, val = [], []
    for idx, k in zip(members, n_val, strict=True):
        idx = rng.permutation(idx)
        if validation_split > 0 and len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        elif len(idx) < 2:
            k = 0
        val.append(idx[:k])
        train.append(idx[k:])
    return _joined(train), _joined(val)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)


# -- decoding ---------------------------------------------------------------------
def _pil_array(img: Any, channels: int) -> np.ndarray:
    """A PIL image (any mode, first frame) as uint8 H×W×channels, as TensorFlow would give it."""
    from PIL import Image

    mode = img.mode  # a freshly opened file is on its first frame (GIF, APNG, TIFF pages)
    if mode.startswith("I") or mode == "F":
        a = np.asarray(img)
        if mode == "F":
            a = a * 255.0 if a.size and float(a.max()) <= 1.0 else a
            a = np.clip(np.rint(a), 0, 255)
        elif mode.startswith("I;16") or (a.size and a.max() > 255):
            a = a.astype(np.int64) >> 8  # 16-bit to 8-bit, as TensorFlow does for PNG
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    elif mode in ("P", "PA"):
        img = img.convert("RGBA" if ("transparency" in img.info or mode == "PA") else "RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 1
    out = np.asarray(img.convert(_PIL_MODE[channels]))
    return out[..., None] if out.ndim == 2 else out


def _pil_decode(path: Any, channels: Any) -> np.ndarray:
    from PIL import Image

    if isinstance(path, np.ndarray):  # eager numpy_function passes a 0-d object array
        path = path.item()
    with Image.open(os.fsdecode(path)) as img:
        return np.ascontiguousarray(_pil_array(img, int(channels)))


def _fit_to(img: Any, height: int, width: int, known_size: bool = False) -> Any:
    """Bilinear resize of one H×W×C or a batch N×H×W×C (skipped when already that size), uint8."""
    import tensorflow as tf

    def resize() -> Any:
        out = tf.image.resize(img, (height, width), method="bilinear")
        return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)

    static = tuple(img.shape[-3:-1])
    if known_size:
        out = img
    elif None not in static:
        out = img if static == (height, width) else resize()
    else:
        shape = tf.shape(img)[-3:-1]
        same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
        out = tf.cond(same, lambda: img, resize)
    out.set_shape((*img.shape[:-3], height, width, img.shape[-1]))
    return out


def _file_decoder(shape: ImageShape, *, any_pil: bool, same_size: bool, resize: bool = True) -> Any:
    """(path, use_pil) -> uint8 H×W×C; the TensorFlow op, or PIL inside ``numpy_function``.

    ``resize=False`` leaves the decoded size (a uniform-size chunk is resized at once).
    """
    import tensorflow as tf

    h, w, c = shape

    def native(path: Any) -> Any:
        img = tf.io.decode_image(tf.io.read_file(path), channels=c, expand_animations=False)
        img.set_shape((None, None, c))
        return img

    def pil(path: Any) -> Any:
        img = tf.numpy_function(_pil_decode, [path, c], tf.uint8, stateful=False)
        img.set_shape((None, None, c))
        return img

    def decode(path: Any, use_pil: Any) -> Any:
        img = tf.cond(use_pil, lambda: pil(path), lambda: native(path)) if any_pil else native(path)
        img.set_shape((None, None, c))
        return _fit_to(img, h, w, known_size=same_size) if resize else img

    return decode


def _chunk_decoder(shape: ImageShape, *, any_pil: bool, sizes: set[tuple[int, int]]) -> Any:
    """A batch of paths -> a batch of images: one tf.data call per chunk, not per image.

    Measured on 32×32 PNGs: ~70 µs of CPU per image instead of ~135 µs for a
    per-image ``map`` (the per-element overhead of tf.data dominates small images).
    When every image has one size (known from the scan), the chunk is resized
    in one vectorized call, or not at all if that is already the target size.
    """
    import tensorflow as tf

    h, w, c = shape
    if len(sizes) == 1:
        (w0, h0), = sizes
        one = _file_decoder(shape, any_pil=any_pil, same_size=True, resize=False)
        spec = tf.TensorSpec((h0, w0, c), tf.uint8)

        def decode(paths: Any, use_pil: Any, labels: Any) -> Any:
            images = tf.map_fn(lambda a: one(a[0], a[1]), (paths, use_pil), fn_output_signature=spec)
            return _fit_to(images, h, w, known_size=(h0, w0) == (h, w)), labels

        return decode
    one = _file_decoder(shape, any_pil=any_pil, same_size=False)
    spec = tf.TensorSpec(shape, tf.uint8)

    def decode_mixed(paths: Any, use_pil: Any, labels: Any) -> Any:
        images = tf.map_fn(lambda a: one(a[0], a[1]), (paths, use_pil), fn_output_signature=spec)
        return images, labels

    return decode_mixed


def _array_converter(src_channels: int, shape: ImageShape, same_size: bool) -> Any:
    """uint8 (N×)h×w×C0 -> uint8 (N×)H×W×C, channels converted as TensorFlow's decoders do."""
    import tensorflow as tf

    h, w, c = shape

    def opaque(img: Any) -> Any:
        return tf.concat([img, tf.fill(tf.concat([tf.shape(img)[:-1], [1]], 0), tf.constant(255, tf.uint8))], -1)

    def convert(img: Any) -> Any:
        have = src_channels
        if have == 4 and c != 4:
            img, have = img[..., :3], 3
        if have != c:
            if c == 1:
                img = tf.image.rgb_to_grayscale(img)
            elif have == 1:
                img = tf.image.grayscale_to_rgb(img)
                img = opaque(img) if c == 4 else img
            else:  # 3 -> 4
                img = opaque(img)
        return _fit_to(img, h, w, known_size=same_size)

    return convert


def _check_shape(image_shape: Sequence[int]) -> ImageShape:
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or shape[2] not in (1, 3, 4) or min(shape) <= 0:
        raise ValueError(f"image_shape must be (height, width, channels) with 1, 3 or 4 channels, got {image_shape!r}")
    return shape  # type: ignore[return-value]


# -- building datasets -----------------------------------------------------------------
_CHUNK = 32  # images decoded per tf.data call when the set is cached


def _plain(fn: Any) -> Any:
    """``fn`` traced as written, without AutoGraph's source rewrite (~0.5 s for the decoders).

    The pipeline's functions branch only on Python values or with explicit
    ``tf.cond``, so there is nothing for AutoGraph to convert.
    """
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(fn)


def _files_dataset(
    files: Sequence[tuple[str, int]],
    report: ScanReport,
    shape: ImageShape,
    *,
    shuffle: bool,
    seed: int,
    batch_size: int,
    cache: bool,
) -> Any:
    """Streamed: shuffle the file list, decode a batch per call. Cached: decode in
    chunks once, keep single images in memory, shuffle them all every epoch."""
    import tensorflow as tf

    n = len(files)
    paths = tf.constant([os.fsencode(p) for p, _ in files], tf.string, shape=(n,))
    labels = np.array([label for _, label in files], dtype=np.int32)
    use_pil = np.array(
        [p in report.pil_decode or (shape[2] == 4 and p in report.jpeg_files) for p, _ in files], dtype=bool
    )
    decode = _chunk_decoder(shape, any_pil=bool(use_pil.any()), sizes=set(report.sizes))
    ds = tf.data.Dataset.from_tensor_slices((paths, use_pil, labels))
    if cache:
        ds = ds.batch(_CHUNK).map(_plain(decode), num_parallel_calls=tf.data.AUTOTUNE).unbatch()
        ds = ds.apply(tf.data.experimental.assert_cardinality(n)).cache()
        if shuffle:
            ds = ds.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
    else:
        if shuffle:
            ds = ds.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)  # paths only: cheap
        ds = ds.batch(batch_size).map(_plain(decode), num_parallel_calls=tf.data.AUTOTUNE)
    return _to_float(ds)


def _to_float(ds: Any) -> Any:
    import tensorflow as tf

    ds = ds.map(_plain(lambda x, y: (tf.cast(x, tf.float32), y)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _arrays_dataset(
    x: np.ndarray, y: np.ndarray, shape: ImageShape, *, shuffle: bool, seed: int, batch_size: int, cache: bool
) -> Any:
    """Arrays are in memory already: converted per batch (vectorized), or once when cached."""
    import tensorflow as tf

    n = len(x)
    same = tuple(x.shape[1:3]) == shape[:2]
    needs = not same or x.shape[-1] != shape[2]
    convert = _array_converter(x.shape[-1], shape, same)
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    if needs and cache:
        ds = ds.batch(256).map(_plain(lambda a, b: (convert(a), b)), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.unbatch().apply(tf.data.experimental.assert_cardinality(n)).cache()
        needs = False
    if shuffle:
        ds = ds.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if needs:
        ds = ds.map(_plain(lambda a, b: (convert(a), b)), num_parallel_calls=tf.data.AUTOTUNE)
    return _to_float(ds)


def _as_report(source: Any) -> ScanReport:
    if isinstance(source, ScanReport):
        return source
    if isinstance(source, ArrayData):
        return report_for_arrays(source)
    return scan_source(source)


def _labels_in(report: ScanReport, class_names: list[str], what: str, notes: list[str]) -> Any:
    """Map another report's class indices onto ``class_names``; unknown classes are left out."""
    index = {n: i for i, n in enumerate(class_names)}
    remap = [index.get(n) for n in report.class_names]
    unknown = [n for n, r in zip(report.class_names, remap, strict=True) if r is None]
    if unknown:
        many = len(unknown) > 1
        notes.append(f"The {what} set's class{'es' * many} {', '.join(repr(n) for n in unknown)} "
                     f"{'are' if many else 'is'} not in the training set and left out")  # fmt: skip
    return remap


def _other_subset(
    source: Any, class_names: list[str], what: str, notes: list[str]
) -> tuple[ScanReport, list[tuple[str, int]], np.ndarray | None, np.ndarray | None]:
    report = _as_report(source)
    remap = _labels_in(report, class_names, what, notes)
    if report.arrays is not None:
        keep = np.array([remap[int(v)] is not None for v in report.arrays.y_train], dtype=bool)
        y = np.array([remap[int(v)] for v in report.arrays.y_train[keep]], dtype=np.int32)
        return report, [], report.arrays.x_train[keep], y
    files = [(p, remap[label]) for p, label in report.files if remap[label] is not None]
    return report, files, None, None  # type: ignore[return-value]


def make_datasets(
    source_or_report: Any,
    *,
    image_shape: Sequence[int],
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 1337,
    cache_budget_mb: float = 1024,
    shuffle: bool = True,
    validation_source: Any = None,
    test_source: Any = None,
) -> Datasets:
    """Training and validation datasets at the network's ``image_shape`` (H, W, C).

    ``source_or_report``: a source string (folder, .npz, IDX, ``sample:NAME``), a
    ``ScanReport`` or ``ArrayData``. The validation set is ``validation_source``
    when given, else the source's own validation arrays, else a stratified,
    seeded ``validation_split`` of the training images. Each set is cached in
    memory (uint8) when it fits ``cache_budget_mb``, else streamed from disk.
    """
    shape = _check_shape(image_shape)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    report = _as_report(source_or_report)
    class_names = list(report.class_names)
    notes: list[str] = []
    arrays: ArrayData | None = report.arrays
    if report.images == 0:
        why = f"{len(report.skipped)} files skipped" if report.skipped else "no image files found"
        raise DataSourceError(report.root, f"no usable images ({why}; see `layerlab data`)")

    # Training pool and validation, as files or arrays.
    val_x = val_y = None
    val_files: list[tuple[str, int]] = []
    val_report = report
    if arrays is not None:
        labels = arrays.y_train
    else:
        labels = np.array([label for _, label in report.files], dtype=np.int32)
    if validation_source is not None:
        val_report, val_files, val_x, val_y = _other_subset(validation_source, class_names, "validation", notes)
        train_idx, val_idx = np.arange(len(labels)), np.zeros(0, np.int64)
    elif arrays is not None and arrays.x_val is not None:
        val_x, val_y = arrays.x_val, arrays.y_val
        train_idx, val_idx = np.arange(len(labels)), np.zeros(0, np.int64)
    else:
        train_idx, val_idx = stratified_split(labels, validation_split, seed)
        if arrays is not None:
            val_x, val_y = arrays.x_train[val_idx], arrays.y_train[val_idx]
        else:
            val_files = [report.files[i] for i in val_idx]
    per_image = shape[0] * shape[1] * shape[2]
    budget = cache_budget_mb * 2**20
    n_train = len(train_idx)
    n_val = len(val_y) if val_y is not None else len(val_files)
    cache_train = n_train * per_image <= budget
    cache_val = (n_train * per_image if cache_train else 0) + n_val * per_image <= budget
    common = {"seed": seed, "batch_size": batch_size}

    if arrays is not None:
        train_y = arrays.y_train[train_idx]
        train = _arrays_dataset(arrays.x_train[train_idx], train_y, shape, shuffle=shuffle, cache=cache_train, **common)
        train_files: list[tuple[str, int]] = []
    else:
        train_files = [report.files[i] for i in train_idx]
        train_y = labels[train_idx]
        train = _files_dataset(train_files, report, shape, shuffle=shuffle, cache=cache_train, **common)
    validation = None
    if val_y is not None and len(val_y):
        validation = _arrays_dataset(val_x, val_y, shape, shuffle=False, cache=cache_val, **common)
        val_counts = np.bincount(val_y, minlength=len(class_names)).tolist()
    elif val_files:
        validation = _files_dataset(val_files, val_report, shape, shuffle=False, cache=cache_val, **common)
        val_counts = np.bincount([lab for _, lab in val_files], minlength=len(class_names)).tolist()
    else:
        val_counts = [0] * len(class_names)

    test, n_test = None, 0
    test_x, test_y, test_files, test_report = None, None, [], report
    if test_source is not None:
        test_report, test_files, test_x, test_y = _other_subset(test_source, class_names, "test", notes)
    elif arrays is not None and arrays.x_test is not None:
        test_x, test_y = arrays.x_test, arrays.y_test
    if test_y is not None and len(test_y):
        test, n_test = _arrays_dataset(test_x, test_y, shape, shuffle=False, cache=False, **common), len(test_y)
    elif test_files:
        test, n_test = _files_dataset(test_files, test_report, shape, shuffle=False, cache=False, **common), len(test_files)

    def sample(max_images: int, sample_seed: int = 0) -> Any:
        rng = np.random.default_rng(sample_seed)
        pick = np.sort(rng.permutation(n_train)[:max_images])
        opts = {"shuffle": False, "cache": False, "seed": 0, "batch_size": 256}
        if arrays is not None:
            return _arrays_dataset(arrays.x_train[train_idx][pick], train_y[pick], shape, **opts)
        return _files_dataset([train_files[i] for i in pick], report, shape, **opts)

    return Datasets(
        sample=sample,
        train=train,
        validation=validation,
        class_names=class_names,
        image_shape=shape,
        batch_size=batch_size,
        train_count=n_train,
        validation_count=n_val if validation is not None else 0,
        train_class_counts=np.bincount(train_y, minlength=len(class_names)).tolist(),
        validation_class_counts=val_counts,
        cached=cache_train,
        validation_cached=cache_val and validation is not None,
        report=report,
        test=test,
        test_count=n_test,
        train_files=train_files,
        validation_files=val_files,
        warnings=notes,
    )


def datasets_for(
    data_settings: DataSettings,
    *,
    image_shape: Sequence[int],
    batch_size: int,
    report: ScanReport | None = None,
    shuffle: bool = True,
) -> Datasets:
    """:func:`make_datasets` with a project's data settings (source, split, seed, cache budget)."""
    return make_datasets(
        report if report is not None else data_settings.source,
        image_shape=image_shape,
        batch_size=batch_size,
        validation_split=data_settings.validation_split,
        seed=data_settings.seed,
        cache_budget_mb=data_settings.cache_budget_mb,
        shuffle=shuffle,
        validation_source=data_settings.validation_source or None,
    )


# -- single images (prediction, preview) -----------------------------------------------
def load_image_for_model(path: str | os.PathLike[str], image_shape: Sequence[int]) -> np.ndarray:
    """float32 H×W×C in 0..255: the pipeline's exact decoding, for one file to predict on."""
    shape = _check_shape(image_shape)
    res = probe_file(os.fspath(path))
    if res[0] != "ok":
        raise ImageError(path, res[2])
    _, _, w, h, mode, fmt = res
    use_pil = not (fmt == "PNG" or (fmt == "JPEG" and mode in ("L", "RGB") and shape[2] != 4))
    import tensorflow as tf

    decode = _file_decoder(shape, any_pil=True, same_size=False)
    try:
        img = decode(tf.constant(os.fsencode(os.fspath(path))), tf.constant(use_pil))
    except (tf.errors.OpError, OSError, ValueError) as exc:
        raise ImageError(path, f"cannot decode it ({str(exc).splitlines()[0][:200]})") from None
    return img.numpy().astype(np.float32)


def load_images_for_model(paths: Iterable[str | os.PathLike[str]], image_shape: Sequence[int]) -> np.ndarray:
    """A float32 batch N×H×W×C of :func:`load_image_for_model` images."""
    return np.stack([load_image_for_model(p, image_shape) for p in paths])


def convert_array_image(image: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """An in-memory image (H×W or H×W×C) converted like an array source: float32 H×W×C."""
    shape = _check_shape(image_shape)
    import tensorflow as tf

    x = as_uint8_images(np.asarray(image)[None], "image")[0]
    out = _array_converter(x.shape[-1], shape, False)(tf.convert_to_tensor(x))
    return np.asarray(out, dtype=np.float32)


# -- preprocessing and augmentation layers ------------------------------------------------
def _layer(class_name: str, **config: Any) -> dict[str, Any]:
    return {"module": "keras.layers", "class_name": class_name, "config": config, "registered_name": None}


def augmentation_layers(data_settings: DataSettings, *, seed: int | None = None) -> list[dict[str, Any]]:
    """Keras configs of the random transforms set in ``data_settings.augmentation`` (0..255 input)."""
    aug = data_settings.augmentation
    base = data_settings.seed if seed is None else seed
    out: list[dict[str, Any]] = []
    if aug.flip and aug.flip != "none":
        out.append(_layer("RandomFlip", name="augment_flip", mode=aug.flip, seed=base))
    if aug.rotation > 0:
        out.append(_layer("RandomRotation", name="augment_rotation", factor=float(aug.rotation), seed=base + 1))
    if aug.zoom > 0:
        out.append(_layer("RandomZoom", name="augment_zoom", height_factor=float(aug.zoom), seed=base + 2))
    if aug.translation > 0:
        t = float(aug.translation)
        out.append(_layer("RandomTranslation", name="augment_translation", height_factor=t, width_factor=t, seed=base + 3))
    if aug.contrast > 0:
        out.append(_layer("RandomContrast", name="augment_contrast", factor=float(aug.contrast),
                          value_range=[0, 255], seed=base + 4))  # fmt: skip
    if aug.brightness > 0:
        out.append(_layer("RandomBrightness", name="augment_brightness", factor=float(aug.brightness),
                          value_range=[0, 255], seed=base + 5))  # fmt: skip
    return out


def preprocessing_layers(
    data_settings: DataSettings,
    image_shape: Sequence[int],
    *,
    mean: Sequence[float] | None = None,
    variance: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """Keras layer configs for the front of the model: augmentation, then normalization.

    The model then takes raw 0..255 images, in training and in prediction alike;
    augmentation layers are active only in training (Keras does that itself).
    ``normalization="standardize"`` needs ``mean``/``variance`` per channel
    (:func:`adapt_normalization`).
    """
    channels = _check_shape(image_shape)[2]
    out = augmentation_layers(data_settings)
    norm = data_settings.normalization
    if norm == "rescale":
        out.append(_layer("Rescaling", name="rescaling", scale=1.0 / 255.0, offset=0.0))
    elif norm == "standardize":
        if mean is None or variance is None:
            raise ValueError("normalization 'standardize' needs the training set's mean and variance (adapt_normalization)")
        mean, variance = [float(m) for m in mean], [float(v) for v in variance]
        if len(mean) != channels or len(variance) != channels:
            raise ValueError(f"mean and variance need one value per channel ({channels})")
        out.append(_layer("Normalization", name="normalization", axis=-1, mean=mean, variance=variance))
    elif norm != "none":
        raise ValueError(f"unknown normalization {norm!r} (rescale, standardize or none)")
    return out


def build_layers(configs: Iterable[dict[str, Any]]) -> list[Any]:
    """Keras layers from :func:`preprocessing_layers` configs (safe-mode deserialization)."""
    import keras

    return [keras.saving.deserialize_keras_object(copy.deepcopy(c), safe_mode=True) for c in configs]


def adapt_normalization(data: Any, *, max_images: int = 10_000) -> tuple[list[float], list[float]]:
    """Per-channel mean and variance of up to ``max_images`` training images (0..255 scale).

    ``data``: ``Datasets`` (its training set), a dataset of (images, labels)
    batches or of image batches, or an N×H×W×C array.
    """
    if isinstance(data, Datasets):
        data = data.sample(max_images) if data.sample is not None else data.train
    total = None
    sq = None
    count = 0

    def add(x: np.ndarray) -> None:
        nonlocal total, sq, count
        x = np.asarray(x, dtype=np.float64)
        x = x.reshape(-1, x.shape[-1])
        total = x.sum(0) if total is None else total + x.sum(0)
        sq = (x * x).sum(0) if sq is None else sq + (x * x).sum(0)
        count += x.shape[0]

    if isinstance(data, np.ndarray):
        add(data[:max_images])
    else:
        seen = 0
        for batch in data:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            x = np.asarray(x)[: max_images - seen]
            add(x)
            seen += len(x)
            if seen >= max_images:
                break
    if not count:
        raise ValueError("no images to compute the normalization from")
    mean = total / count  # type: ignore[operator]
    var = np.maximum(sq / count - mean * mean, 1e-12)  # type: ignore[operator]
    return mean.tolist(), var.tolist()


def augmented_preview(
    paths_or_images: Any,
    data_settings: DataSettings,
    image_shape: Sequence[int],
    n: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """``n`` augmented versions (uint8 N×H×W×C) of the given images, cycled, for the GUI.

    ``paths_or_images``: file paths, or images as arrays (an N×H×W×C batch or a list).
    The same seed gives the same pictures.
    """
    shape = _check_shape(image_shape)
    if isinstance(paths_or_images, (str, os.PathLike)):
        paths_or_images = [paths_or_images]
    images = []
    for item in paths_or_images:
        if isinstance(item, (str, os.PathLike)):
            images.append(load_image_for_model(item, shape))
        else:
            images.append(convert_array_image(np.asarray(item), shape))
    if not images:
        raise ValueError("no images to preview")
    batch = np.stack([images[i % len(images)] for i in range(n)]).astype(np.float32)
    for layer in build_layers(augmentation_layers(data_settings, seed=seed)):
        batch = np.asarray(layer(batch, training=True))
    return np.clip(np.rint(batch), 0, 255).astype(np.uint8)
