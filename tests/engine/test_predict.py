"""Prediction: any image file -> the model's input -> top-k; Grad-CAM overlays."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

keras = pytest.importorskip("keras")

from app.engine.predict import (  # noqa: E402
    ImageError,
    PredictError,
    Predictor,
    _load_image,
    find_last_conv_layer,
    jet,
    resolve_run,
)
from app.engine.safety import ModelFileError  # noqa: E402

CLASSES = ["cat", "dog", "emu"]


def tiny_cnn() -> keras.Model:
    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="last_conv")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder: a tiny CNN trained for one step, model.keras + classes.json."""
    keras.utils.set_random_seed(0)
    model = tiny_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.uniform(0, 255, (6, 16, 16, 3)).astype("float32"), np.array([0, 1, 2] * 2))
    folder = tmp_path_factory.mktemp("run")
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(CLASSES))
    return folder


@pytest.fixture(scope="module")
def predictor(run_dir):
    return Predictor(run_dir)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """One file per awkward kind: CMYK JPEG, 16-bit PNG, 1x1, animated GIF, RGBA, palette."""
    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8), "RGB")
    paths = {}
    paths["cmyk"] = d / "cmyk.jpg"
    rgb.convert("CMYK").save(paths["cmyk"])
    paths["png16"] = d / "deep.png"
    Image.fromarray(rng.integers(0, 65535, (12, 9), dtype=np.uint16)).save(paths["png16"])
    paths["one"] = d / "one.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(paths["one"])
    paths["gif"] = d / "anim.gif"
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    frames[0].save(paths["gif"], save_all=True, append_images=frames[1:], duration=50, loop=0)
    paths["rgba"] = d / "alpha.png"
    Image.fromarray(rng.integers(0, 255, (16, 16, 4), dtype=np.uint8), "RGBA").save(paths["rgba"])
    paths["palette"] = d / "palette.png"
    rgb.convert("P").save(paths["palette"])
    return paths


def test_every_kind_of_image_predicts_a_sorted_distribution(predictor, images):
    rows = predictor.predict_paths(list(images.values()), top_k=3)
    assert [r["image"] for r in rows] == [str(p) for p in images.values()]
    for row in rows:
        probs = [t["probability"] for t in row["top"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert {t["label"] for t in row["top"]} == set(CLASSES)
    assert len(predictor.predict_paths([images["one"]], top_k=2)[0]["top"]) == 2


def test_conversions_match_what_training_sees(images):
    x = _load_image(images["png16"], (16, 16, 1))
    assert x.shape == (16, 16, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 255
    assert x.max() > 200  # 16-bit values scaled down, not clipped to 255
    gif = _load_image(images["gif"], (4, 4, 3))
    assert np.allclose(gif[..., 0], 255) and np.allclose(gif[..., 1:], 0)  # the first (red) frame
    assert _load_image(images["one"], (5, 7, 3)).shape == (5, 7, 3)
    assert _load_image(images["rgba"], (16, 16, 4)).shape == (16, 16, 4)
    assert _load_image(images["cmyk"], (None, None, 3)).shape == (20, 30, 3)  # free size: the image's own


def test_images_are_decoded_exactly_as_training_decodes_them(predictor, images):
    from app.engine.data_pipeline import load_image_for_model

    compared = 0
    for path in images.values():
        try:
            expected = load_image_for_model(path, (16, 16, 3))
        except TypeError:  # the pipeline's eager PIL branch (see predict._pil_fallback)
            continue
        assert np.array_equal(predictor.load_image(path), expected)
        compared += 1
    assert compared >= 3


def test_a_non_image_raises_a_clear_error(predictor, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    with pytest.raises(ImageError) as info:
        predictor.predict_paths([bad])
    assert str(bad) in str(info.value) and "not a valid PNG" in str(info.value)
    with pytest.raises(ImageError, match="No such file"):
        predictor.load_image(tmp_path / "missing.png")


def test_labels_come_from_classes_json_or_are_numbered(run_dir, tmp_path):
    assert resolve_run(run_dir) == (run_dir / "model.keras", CLASSES)
    lone = tmp_path / "lone.keras"
    lone.write_bytes((run_dir / "model.keras").read_bytes())
    assert Predictor(lone).class_names == ["0", "1", "2"]
    with pytest.raises(ModelFileError, match="model.keras"):
        resolve_run(tmp_path)


def test_predict_array_matches_the_model(predictor, images):
    x = predictor.load_image(images["rgba"])
    expected = keras.ops.convert_to_numpy(predictor.model(x[None], training=False))
    assert np.allclose(predictor.predict_array(x), expected, atol=1e-5)


def test_last_conv_layer_is_found_before_the_dense_head(predictor):
    assert find_last_conv_layer(predictor.model).name == "last_conv"
    dense_only = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(PredictError, match="convolution"):
        find_last_conv_layer(dense_only)
    # An MLP with the pixel scaling inside (as every trained model has): the scaling layer
    # keeps rows and columns but is not something the network learned to look with.
    mlp = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(PredictError, match="convolution"):
        find_last_conv_layer(mlp)


def test_gradcam_writes_an_overlay_of_the_image_size(predictor, images, tmp_path):
    out = tmp_path / "cam" / "overlay.png"
    info = predictor.gradcam(images["cmyk"], out)
    assert info["layer"] == "last_conv" and info["label"] in CLASSES and out.is_file()
    overlay = Image.open(out)
    assert overlay.format == "PNG" and overlay.size == (30, 20)
    view = Image.open(images["cmyk"]).convert("RGB").resize((30, 20))
    assert np.abs(np.asarray(overlay, np.int16) - np.asarray(view, np.int16)).mean() > 5
    assert predictor.gradcam(images["one"], tmp_path / "one.png", class_index=2)["label"] == "emu"


def test_jet_runs_from_blue_to_red():
    c = jet(np.array([0.0, 1.0]))
    assert c[0, 2] > 100 and c[0, 0] == 0 and c[1, 0] > 100 and c[1, 2] == 0


def test_a_fifo_is_refused_before_it_is_opened(predictor, tmp_path):
    import os

    fifo = tmp_path / "stream.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="named pipe"):  # opening it would wait for a writer forever
        predictor.load_image(fifo)
    from app.engine.predict import check_image

    with pytest.raises(ImageError, match="named pipe"):
        check_image(fifo)


def test_nan_outputs_are_a_predict_error_not_nan_percent(images):
    model = tiny_cnn()
    model.get_layer("out").bias.assign(np.full((3,), np.nan, "float32"))
    with pytest.raises(PredictError, match="not finite"):
        Predictor(model, CLASSES).predict_paths([images["rgba"]])
