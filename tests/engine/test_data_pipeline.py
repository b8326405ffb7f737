"""The tf.data pipeline, the split, the cache, and preprocessing as Keras layers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.core.settings import Augmentation, DataSettings
from app.engine.data_pipeline import (
    ImageError,
    adapt_normalization,
    augmented_preview,
    build_layers,
    datasets_for,
    load_image_for_model,
    make_datasets,
    preprocessing_layers,
    stratified_split,
)
from app.engine.data_scan import scan_folder
from app.engine.data_sources import ArrayData, DataSourceError
from tests.engine.test_data_scan import MESSY_COUNTS, make_messy_folder

keras = pytest.importorskip("keras")
VALID = sum(MESSY_COUNTS.values())


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    return make_messy_folder(tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def report(messy):
    return scan_folder(messy, workers=1)


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (16, 20, 4)])
def test_any_mode_in_the_models_shape_out(report, shape):
    d = make_datasets(report, image_shape=shape, batch_size=5, validation_split=0.25, seed=1, shuffle=False)
    x, y = _collect(d.train)
    assert x.shape == (d.train_count, *shape) and x.dtype == np.float32 and y.dtype == np.int32
    assert 0.0 <= x.min() and x.max() <= 255.0 and x.max() > 1.0
    vx, vy = _collect(d.validation)
    assert vx.shape == (d.validation_count, *shape)
    assert d.train_count + d.validation_count == VALID
    assert sorted(np.concatenate([y, vy]).tolist()) == sorted(label for _, label in report.files)
    assert d.class_names == ["bird", "cat", "dog"] and d.cached


def test_split_is_stratified_and_reproducible():
    labels = [0] * 50 + [1] * 30 + [2] * 20 + [3]
    tr, va = stratified_split(labels, 0.2, seed=7)
    assert np.bincount(np.asarray(labels)[va], minlength=4).tolist() == [10, 6, 4, 0]
    assert sorted([*tr, *va]) == list(range(len(labels)))
    tr2, va2 = stratified_split(labels, 0.2, seed=7)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)
    assert not np.array_equal(va, stratified_split(labels, 0.2, seed=8)[1])
    tr, va = stratified_split([0, 0, 1, 1, 1], 0.1, seed=0)
    assert np.bincount(np.asarray([0, 0, 1, 1, 1])[va]).tolist() == [1, 1]  # every class is validated


def test_same_seed_same_files_and_proportions(report):
    a = make_datasets(report, image_shape=(8, 8, 1), validation_split=0.5, seed=3)
    b = make_datasets(report, image_shape=(8, 8, 1), validation_split=0.5, seed=3)
    assert a.train_files == b.train_files and a.validation_files == b.validation_files
    assert a.validation_class_counts == [1, 4, 7] and a.train_class_counts == [1, 4, 6]


def test_cache_and_streaming_give_the_same_batches(report):
    kw = {"image_shape": (24, 24, 3), "batch_size": 4, "validation_split": 0.2, "seed": 5, "shuffle": False}
    cached = make_datasets(report, cache_budget_mb=64, **kw)
    streamed = make_datasets(report, cache_budget_mb=0, **kw)
    assert cached.cached and cached.validation_cached and not streamed.cached and not streamed.validation_cached
    for _epoch in range(2):
        pairs = list(zip(cached.train, streamed.train, strict=True))
        assert len(pairs) == cached.steps_per_epoch
        for (xa, ya), (xb, yb) in pairs:
            assert np.array_equal(xa.numpy(), xb.numpy()) and np.array_equal(ya.numpy(), yb.numpy())
    xa, _ = _collect(cached.validation)
    xb, _ = _collect(streamed.validation)
    assert np.array_equal(xa, xb)
    # Shuffled: both still give every image once per epoch, in a new order each epoch.
    shuffled = make_datasets(report, cache_budget_mb=64, **{**kw, "shuffle": True})
    e1, e2 = _collect(shuffled.train)[1], _collect(shuffled.train)[1]
    assert sorted(e1.tolist()) == sorted(e2.tolist()) == sorted(_collect(cached.train)[1].tolist())


def test_a_keras_epoch_over_the_messy_folder_completes(report):
    d = make_datasets(report, image_shape=(32, 32, 3), batch_size=4, validation_split=0.2, seed=0)
    seen = sum(int(x.shape[0]) for x, _ in d.train) + sum(int(x.shape[0]) for x, _ in d.validation)
    assert seen == VALID
    settings = DataSettings(augmentation=Augmentation(flip="horizontal", rotation=0.05))
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            *build_layers(preprocessing_layers(settings, (32, 32, 3))),
            keras.layers.Flatten(),
            keras.layers.Dense(d.num_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(d.train, validation_data=d.validation, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "val_accuracy" in history.history


def test_exported_model_carries_its_preprocessing(tmp_path, report):
    aug = Augmentation(flip="horizontal_and_vertical", rotation=0.1, zoom=0.1, translation=0.1, contrast=0.2, brightness=0.2)
    shape = (16, 16, 3)
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (4, *shape)).astype(np.float32)
    for norm in ("rescale", "standardize"):
        settings = DataSettings(normalization=norm, augmentation=aug)
        stats = {}
        if norm == "standardize":
            d = make_datasets(report, image_shape=shape, validation_split=0.0, batch_size=8)
            mean, var = adapt_normalization(d)
            assert len(mean) == 3 and all(0 < m < 255 for m in mean) and all(v > 0 for v in var)
            stats = {"mean": mean, "variance": var}
        configs = preprocessing_layers(settings, shape, **stats)
        assert [c["class_name"] for c in configs] == [
            "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
            "RandomBrightness", "Rescaling" if norm == "rescale" else "Normalization",
        ]  # fmt: skip
        dense = keras.layers.Dense(3, kernel_initializer="glorot_uniform")
        model = keras.Sequential([keras.Input(shape), *build_layers(configs), keras.layers.Flatten(), dense])
        path = tmp_path / f"m_{norm}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        out = loaded.predict(raw, verbose=0)
        assert np.allclose(out, model.predict(raw, verbose=0), atol=1e-5)
        if norm == "rescale":
            pre = raw / 255.0
        else:
            pre = (raw - np.array(stats["mean"])) / np.sqrt(np.array(stats["variance"]))
        w, b = dense.get_weights()
        assert np.allclose(out, pre.reshape(4, -1) @ w + b, atol=1e-3)


def test_augmented_preview_is_seeded_and_shaped(messy):
    settings = DataSettings(augmentation=Augmentation(flip="horizontal", rotation=0.2, zoom=0.2, contrast=0.3))
    paths = [messy / "cat" / "rgb_0.png", messy / "dog" / "g16.png"]
    a = augmented_preview(paths, settings, (24, 24, 3), n=6, seed=4)
    b = augmented_preview(paths, settings, (24, 24, 3), n=6, seed=4)
    assert a.shape == (6, 24, 24, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    plain = load_image_for_model(paths[0], (24, 24, 3))
    assert not np.array_equal(a[0], plain.astype(np.uint8))
    arrays = augmented_preview(np.zeros((2, 10, 10)), settings, (12, 12, 1), n=3)
    assert arrays.shape == (3, 12, 12, 1)


def test_load_image_for_model_matches_the_pipeline(messy, report):
    shape = (28, 28, 1)
    d = make_datasets(report, image_shape=shape, validation_split=0.0, shuffle=False, batch_size=64)
    x, _ = _collect(d.train)
    for i, (path, _) in enumerate(d.train_files):
        assert np.array_equal(load_image_for_model(path, shape), x[i]), path
    with pytest.raises(ImageError, match="notes.txt: not an image"):
        load_image_for_model(messy / "cat" / "notes.txt", shape)
    with pytest.raises(ImageError, match="truncated"):
        load_image_for_model(messy / "dog" / "truncated.jpg", shape)


def test_array_sources_convert_and_keep_their_test_set():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    y = np.repeat(np.arange(4), 10).astype(np.int32)
    data = ArrayData("mem", x, y, ["a", "b", "c", "d"], x_test=x[:8], y_test=y[:8])
    for budget in (64, 0):
        d = make_datasets(data, image_shape=(32, 32, 3), batch_size=16, validation_split=0.25, seed=0,
                          cache_budget_mb=budget, shuffle=False)  # fmt: skip
        tx, ty = _collect(d.train)
        assert tx.shape == (30, 32, 32, 3) and d.validation_count == 10 and d.test_count == 8
        assert d.validation_class_counts == [3, 3, 2, 2]
        assert np.array_equal(tx[..., 0], tx[..., 2])  # grey replicated into RGB
        assert _collect(d.test)[0].shape == (8, 32, 32, 3)
        if budget:
            first = tx
        else:
            assert np.array_equal(first, tx)


def test_uniform_folder_matches_keras_own_loader(tmp_path):
    rng = np.random.default_rng(3)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    report = scan_folder(tmp_path, workers=1)
    for shape in ((28, 28, 3), (20, 24, 1)):
        d = make_datasets(report, image_shape=shape, validation_split=0.0, shuffle=False, batch_size=4)
        ours, labels = _collect(d.train)
        theirs = keras.utils.image_dataset_from_directory(
            tmp_path, image_size=shape[:2], color_mode="rgb" if shape[2] == 3 else "grayscale",
            batch_size=4, shuffle=False, verbose=False,
        )  # fmt: skip
        ref, ref_labels = _collect(theirs)
        assert np.array_equal(labels, ref_labels)
        assert np.abs(ours - ref).max() <= 0.5 + 1e-4  # the same bilinear resize; ours rounds to uint8
        for i, (path, _) in enumerate(d.train_files):
            assert np.array_equal(load_image_for_model(path, shape), ours[i])


def test_project_settings_on_sample_digits_and_an_empty_folder(tmp_path):
    settings = DataSettings(source="sample:digits", validation_split=0.2, seed=1, cache_budget_mb=16)
    d = datasets_for(settings, image_shape=(28, 28, 1), batch_size=128)
    assert d.class_names == [str(i) for i in range(10)] and d.validation_count == round(1797 * 0.2)
    assert d.train_count + d.validation_count == 1797 and d.cached
    x, y = next(iter(d.train))
    assert x.shape == (128, 28, 28, 1) and float(x.numpy().max()) == 255.0
    (tmp_path / "a").mkdir()
    with pytest.raises(DataSourceError, match="no usable images"):
        make_datasets(str(tmp_path), image_shape=(8, 8, 1))


def test_separate_validation_and_test_folders(tmp_path, report):
    rng = np.random.default_rng(9)
    for folder, classes in (("val", ("cat", "dog", "fish")), ("test", ("bird",))):
        for cls in classes:
            (tmp_path / folder / cls).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)).save(
                    tmp_path / folder / cls / f"{i}.png"
                )
    d = make_datasets(report, image_shape=(12, 12, 3), validation_source=str(tmp_path / "val"),
                      test_source=str(tmp_path / "test"), batch_size=8)  # fmt: skip
    assert d.train_count == VALID and d.validation_count == 4 and d.test_count == 2
    assert d.validation_class_counts == [0, 2, 2]
    assert d.warnings == ["The validation set's class 'fish' is not in the training set and left out"]
    assert sorted(_collect(d.validation)[1].tolist()) == [1, 1, 2, 2]
    assert _collect(d.test)[1].tolist() == [0, 0]


def test_convert_array_image_at_the_exact_and_other_shapes():
    from app.engine.data_pipeline import convert_array_image

    img = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    same = convert_array_image(img[..., None], (28, 28, 1))
    assert same.shape == (28, 28, 1) and same.dtype == np.float32
    np.testing.assert_array_equal(same[..., 0], img.astype(np.float32))
    assert convert_array_image(img, (14, 14, 3)).shape == (14, 14, 3)
