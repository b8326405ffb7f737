"""The layer catalog as the palette and inspector see it: no keras import here."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from app.core import catalog as catalog_mod
from app.core.catalog import (
    CATEGORY_COLOURS,
    CATEGORY_ORDER,
    COMMON_LAYERS,
    STARTING_VALUES,
    Catalog,
    load_catalog,
)


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


def test_conv2d_schema(cat: Catalog) -> None:
    conv = cat.get("Conv2D")
    assert conv is not None and conv.category == "convolution"
    assert conv.summary == "2D convolution layer."
    filters = conv.param("filters")
    assert filters.kind == "int" and filters.required and filters.minimum == 1
    kernel = conv.param("kernel_size")
    assert kernel.kind == "tuple" and kernel.length == 2
    padding = conv.param("padding")
    assert padding.kind == "enum" and set(padding.choices) == {"valid", "same"}
    assert padding.default == "valid"
    act = conv.param("activation")
    assert act.kind == "activation" and act.nullable
    assert {"relu", "sigmoid", "softmax", "tanh", "linear", "gelu", "swish"} <= set(act.choices)
    assert conv.param("strides").default == [1, 1]  # tuples arrive as JSON lists
    assert conv.param("kernel_initializer").kind == "initializer"
    assert "he_normal" in conv.param("kernel_initializer").choices
    assert conv.param("name") is None  # the graph holds names
    assert conv.inputs == "one" and conv.max_inputs == 1


def test_conv1d_allows_causal_padding(cat: Catalog) -> None:
    assert "causal" in cat.get("Conv1D").param("padding").choices
    assert cat.validate("Conv1D", "padding", "causal") is None
    assert cat.validate("Conv2D", "padding", "causal") is not None


def test_categories_in_order_and_non_empty(cat: Catalog) -> None:
    cats = cat.categories()
    names = [c for c, _ in cats]
    assert names == [c for c in CATEGORY_ORDER if c in names]
    expected = set(CATEGORY_ORDER) - {"other"}
    assert expected <= set(names)
    assert all(layers for _, layers in cats)
    assert sum(len(layers) for _, layers in cats) == len(cat.layers)
    by_cat = dict(cats)
    assert "MaxPooling2D" in [s.class_name for s in by_cat["pooling"]]
    assert "RandomFlip" in [s.class_name for s in by_cat["augmentation"]]
    assert "Rescaling" in [s.class_name for s in by_cat["preprocessing"]]
    assert "LSTM" in [s.class_name for s in by_cat["recurrent"]]
    assert "InputLayer" in [s.class_name for s in by_cat["core"]]


def test_common_layers_exist_in_curated_order(cat: Catalog) -> None:
    common = cat.common()
    assert [s.class_name for s in common] == list(COMMON_LAYERS)
    assert all(s.common for s in common)
    assert sum(s.common for s in cat.layers) == len(COMMON_LAYERS)


def test_merging_and_attention_take_many_inputs(cat: Catalog) -> None:
    add = cat.get("Add")
    assert (add.inputs, add.min_inputs, add.max_inputs, add.input_call) == ("many", 2, None, "list")
    assert (cat.get("Subtract").min_inputs, cat.get("Subtract").max_inputs) == (2, 2)
    assert cat.get("Dot").max_inputs == 2
    mha = cat.get("MultiHeadAttention")
    assert (mha.inputs, mha.min_inputs, mha.max_inputs, mha.input_call) == ("many", 2, 3, "positional")
    assert cat.get("Attention").input_call == "list"
    inp = cat.get("InputLayer")
    assert (inp.inputs, inp.min_inputs, inp.max_inputs) == ("none", 0, 0)
    assert inp.param("shape").required and inp.param("shape").kind == "shape"


def test_aliases_resolve_to_one_entry(cat: Catalog) -> None:
    names = [s.class_name for s in cat.layers]
    assert len(names) == len(set(names))
    assert "Convolution2D" not in names and "MaxPool2D" not in names
    assert cat.get("Convolution2D") is cat.get("Conv2D")
    assert cat.get("MaxPool2D") is cat.get("MaxPooling2D")
    assert "MaxPool2D" in cat
    assert "Lambda" not in cat and "Layer" not in cat
    assert "Lambda" in cat.skipped


def test_search_ranks_class_name_prefix_first(cat: Catalog) -> None:
    hits = [s.class_name for s in cat.search("conv")]
    assert hits[0] == "Conv2D"  # a prefix match, and in the common set
    assert hits.index("Conv2D") < hits.index("ConvLSTM2D")
    assert "DepthwiseConv2D" in hits
    assert hits.index("ConvLSTM2D") < hits.index("DepthwiseConv2D")  # prefix before infix
    assert [s.class_name for s in cat.search("DROPOUT")][0] == "Dropout"
    assert cat.search("maxpool")[0].class_name == "MaxPooling2D"
    assert {s.class_name for s in cat.search("augmentation")} >= {"RandomFlip", "RandomZoom"}
    assert "Dense" in {s.class_name for s in cat.search("densely-connected")}  # summary text
    assert cat.search("no such layer at all") == []
    assert len(cat.search("  ")) == len(cat.layers)


@pytest.mark.parametrize(
    ("cls", "key", "value", "expected"),
    [
        ("Conv2D", "filters", "32", "filters must be a whole number of at least 1"),
        ("Conv2D", "filters", 0, "filters must be a whole number of at least 1"),
        ("Conv2D", "filters", 2.5, "filters must be a whole number of at least 1"),
        ("Conv2D", "filters", True, "filters must be a whole number of at least 1"),
        ("Conv2D", "kernel_size", [3], "kernel_size must be an integer or a list of 2 integers"),
        ("Conv2D", "kernel_size", "3x3", "kernel_size must be an integer or a list of 2 integers"),
        ("Conv2D", "kernel_size", [0, 3], "kernel_size values must be at least 1"),
        ("Conv2D", "padding", "full", "padding must be one of: valid, same"),
        ("Conv2D", "use_bias", "yes", "use_bias must be true or false"),
        ("Conv2D", "foo", 1, "Conv2D has no parameter 'foo'"),
        ("Conv2D", "activation", "relux", "activation must be one of the"),
        ("Dense", "units", None, "units needs a value"),
        ("Dropout", "rate", 1.0, "rate must be between 0 and 1"),
        ("Dropout", "rate", -0.1, "rate must be between 0 and 1"),
        ("Dropout", "rate", "half", "rate must be a number between 0 and 1"),
        ("BatchNormalization", "epsilon", 0.0, "epsilon must be greater than 0"),
        ("InputLayer", "shape", [28, "a"], "shape must be a list of whole numbers"),
        ("InputLayer", "shape", [0, 3], "shape sizes must be at least 1"),
        ("Reshape", "target_shape", [-1, -1], "target_shape may contain -1"),
        ("RandomRotation", "factor", [0.2, -0.1], "factor: the lower bound"),
        ("RandomRotation", "factor", "a lot", "factor must be a number or a list of 2 numbers"),
        ("RandomBrightness", "value_range", 255, "value_range must be a list of 2 numbers"),
        ("Concatenate", "axis", "last", "axis must be an integer or a list of integers"),
        ("NoSuchLayer", "units", 1, "unknown layer type 'NoSuchLayer'"),
    ],
)
def test_validate_explains_problems(cat: Catalog, cls: str, key: str, value: object, expected: str) -> None:
    problem = cat.validate(cls, key, value)
    assert problem is not None and problem.startswith(expected), problem


@pytest.mark.parametrize(
    ("cls", "key", "value"),
    [
        ("Conv2D", "filters", 32),
        ("Conv2D", "kernel_size", 3),
        ("Conv2D", "kernel_size", [3, 5]),
        ("Conv2D", "padding", "same"),
        ("Conv2D", "activation", "relu"),
        ("Conv2D", "activation", None),
        ("Conv2D", "kernel_regularizer", "l2"),
        ("Conv2D", "kernel_regularizer", None),
        ("Conv2D", "kernel_initializer", "he_normal"),
        # serialized Keras objects, as an imported model's config holds them
        ("Conv2D", "kernel_initializer", {"module": "keras.initializers", "class_name": "HeNormal", "config": {}}),
        ("Conv2D", "dtype", {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}),
        ("Conv2D", "data_format", None),
        ("Dropout", "rate", 0.5),
        ("Dropout", "rate", 0),
        ("ZeroPadding2D", "padding", [[1, 1], [2, 2]]),
        ("ZeroPadding2D", "padding", 1),
        ("InputLayer", "shape", [28, 28, 1]),
        ("InputLayer", "shape", [None, 3]),
        ("Reshape", "target_shape", [-1, 7]),
        ("RandomRotation", "factor", [-0.1, 0.2]),
        ("RandomRotation", "factor", 0.1),
        ("MaxPooling2D", "strides", None),
        ("Concatenate", "axis", -1),
        ("LSTM", "use_cudnn", "auto"),
        ("LSTM", "use_cudnn", False),
        ("LSTM", "zero_output_for_mask", True),  # from get_config, not the signature
    ],
)
def test_validate_accepts_good_values(cat: Catalog, cls: str, key: str, value: object) -> None:
    assert cat.validate(cls, key, value) is None


def test_defaults_are_json_and_valid_for_every_layer(cat: Catalog) -> None:
    for spec in cat.layers:
        params = cat.defaults(spec.class_name)
        assert json.loads(json.dumps(params)) == params, spec.class_name
        for key, value in params.items():
            assert cat.validate(spec.class_name, key, value) is None, (spec.class_name, key, value)
        assert not any(spec.param(k).hidden for k in params), spec.class_name


def test_defaults_give_starting_values(cat: Catalog) -> None:
    assert cat.defaults("Dense", full=False) == {"units": 64}
    conv = cat.defaults("Conv2D")
    assert conv["filters"] == 32 and conv["kernel_size"] == [3, 3] and conv["padding"] == "valid"
    assert cat.defaults("InputLayer")["shape"] == [28, 28, 1]
    assert cat.defaults("Dropout")["rate"] == 0.5
    assert cat.defaults("Embedding", full=False) == {"input_dim": 1000, "output_dim": 64}
    assert cat.defaults("Rescaling")["scale"] == pytest.approx(1 / 255)
    assert "num_bins" not in cat.defaults("Hashing")  # obscure: left for the analyzer to flag
    first = cat.defaults("Conv2D")
    first["kernel_size"].append(9)
    assert cat.defaults("Conv2D")["kernel_size"] == [3, 3]  # a copy each time
    with pytest.raises(KeyError):
        cat.defaults("NoSuchLayer")


def test_starting_values_name_real_parameters(cat: Catalog) -> None:
    for cls, values in STARTING_VALUES.items():
        spec = cat.get(cls)
        assert spec is not None, cls
        for key, value in values.items():
            assert spec.param(key) is not None, (cls, key)
            assert cat.validate(cls, key, value) is None, (cls, key, value)
    # every common layer can be dropped and used without typing anything
    for spec in cat.common():
        assert set(spec.required) <= set(cat.defaults(spec.class_name)), spec.class_name


def test_category_colours(cat: Catalog) -> None:
    assert set(CATEGORY_ORDER) <= set(CATEGORY_COLOURS)
    colours = [CATEGORY_COLOURS[c] for c in CATEGORY_ORDER]
    assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", c) for c in colours)
    assert len(set(colours)) == len(colours)
    assert cat.get("Dense").colour == CATEGORY_COLOURS["core"]


def test_importing_catalog_does_not_import_keras(repo_root) -> None:
    code = (
        "import sys\n"
        "from app.core.catalog import load_catalog\n"
        "cat = load_catalog()\n"
        "assert cat.get('Conv2D') is not None\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'jax'))\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cached_catalog_for_another_keras_is_preferred(monkeypatch) -> None:
    shipped = load_catalog()
    doc = {
        "format": catalog_mod.FORMAT,
        "version": catalog_mod.FORMAT_VERSION,
        "keras_version": "99.0.0",
        "choices": {},
        "layers": [{"class_name": "Dense", "category": "core", "summary": "", "params": []}],
    }
    target = catalog_mod.cache_dir() / catalog_mod.cached_name("99.0.0")
    monkeypatch.setattr(catalog_mod, "installed_keras_version", lambda: "99.0.0")
    try:
        target.write_text(json.dumps(doc), encoding="utf-8")
        load_catalog.cache_clear()
        assert len(load_catalog()) == 1 and load_catalog().keras_version == "99.0.0"
        target.write_text("{not json", encoding="utf-8")  # a broken cache falls back to the shipped one
        load_catalog.cache_clear()
        assert len(load_catalog()) == len(shipped)
    finally:
        target.unlink(missing_ok=True)
        load_catalog.cache_clear()


def test_missing_catalog_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(catalog_mod.CatalogError, match="catalog_build"):
        Catalog.from_path(tmp_path / "nope.json")


def test_long_choice_lists_suggest_the_nearest_name(cat: Catalog) -> None:
    problem = cat.validate("Conv2D", "activation", "rellu")
    assert "Keras activation names" in problem and "did you mean relu" in problem
    assert "e.g. relu, sigmoid" in cat.validate("Dense", "activation", "qwertyuiop")
