"""The catalog generator against the installed Keras: the shipped file must match it."""

from __future__ import annotations

import json
from typing import Any

import keras
import pytest

from app.core import catalog as core_catalog
from app.core.catalog import Catalog
from app.engine import catalog_build
from app.paths import resources_dir

# Layers Keras itself cannot build from defaults alone, with Keras' reason in
# the catalog's ``note``; anything new here is a schema bug, not a quirk.
NOTED = {"Discretization"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return catalog_build.build_catalog()


@pytest.fixture(scope="module")
def cat(doc: dict[str, Any]) -> Catalog:
    return Catalog(doc)


def _jsonish(value: Any) -> Any:
    """A get_config value as it looks after a trip through a JSON project file."""
    return json.loads(json.dumps(value, default=list))


def test_shipped_catalog_matches_a_fresh_build(doc: dict[str, Any]) -> None:
    shipped = (resources_dir() / core_catalog.CATALOG_FILE).read_text(encoding="utf-8")
    assert shipped == catalog_build.dumps(doc), (
        "resources/layer_catalog.json is stale: run `python -m app.engine.catalog_build`"
    )


def test_header_and_size(doc: dict[str, Any], cat: Catalog) -> None:
    assert doc["format"] == "layerlab-catalog" and doc["version"] == 1
    assert doc["keras_version"] == keras.__version__
    assert len(doc["layers"]) >= 120  # 127 with Keras 3.15.1
    assert [c for c, _ in cat.categories()] == [c for c in core_catalog.CATEGORY_ORDER if c != "other"]
    order = {c: i for i, c in enumerate(core_catalog.CATEGORY_ORDER)}
    keys = [(order[e["category"]], e["class_name"]) for e in doc["layers"]]
    assert keys == sorted(keys)  # stable diffs


def test_every_exported_layer_class_is_listed_or_skipped(doc: dict[str, Any], cat: Catalog) -> None:
    skipped = {s["class_name"]: s["reason"] for s in doc["skipped"]}
    for attr in dir(keras.layers):
        obj = getattr(keras.layers, attr)
        if isinstance(obj, type) and issubclass(obj, keras.layers.Layer):
            assert attr in cat or attr in skipped, attr
    for name in ("Layer", "Lambda", "TFSMLayer", "Bidirectional", "TimeDistributed", "JaxLayer", "FlaxLayer",
                 "TorchModuleWrapper", "RNN", "LSTMCell", "InputSpec"):
        assert name in skipped and name not in cat, name
    assert "arbitrary" in skipped["Lambda"]


def test_one_entry_per_class(doc: dict[str, Any], cat: Catalog) -> None:
    classes = [type_ for e in doc["layers"] if (type_ := getattr(keras.layers, e["class_name"], None))]
    assert len(classes) == len(doc["layers"])  # every name is reachable as keras.layers.<name>
    assert len(set(classes)) == len(classes)
    assert cat.get("Convolution2D").class_name == "Conv2D"
    # exported under another name than its class: keep the one keras.layers has
    assert cat.get("GroupedQueryAttention").class_name == "GroupQueryAttention"


def test_every_layer_constructs_from_its_defaults(cat: Catalog) -> None:
    built, noted, problems = 0, set(), []
    for spec in cat.layers:
        params = cat.defaults(spec.class_name)
        if not set(spec.required) <= set(params):
            continue  # a required value the user must choose; the analyzer says so
        config = {"class_name": spec.class_name, "config": params, "module": "keras.layers"}
        try:
            layer = keras.layers.deserialize(config)
        except Exception as exc:
            assert spec.note, f"{spec.class_name}: {exc}"
            noted.add(spec.class_name)
            continue
        assert not spec.note, spec.class_name
        built += 1
        # and everything Keras writes back validates, so imported configs pass
        for key, value in layer.get_config().items():
            if key != "name":
                problems.append((spec.class_name, key, value, cat.validate(spec.class_name, key, _jsonish(value))))
    assert [p for p in problems if p[3]] == []
    assert noted == NOTED
    assert built >= 100


def test_common_layers_build_a_model(cat: Catalog) -> None:
    keras.utils.clear_session()
    make = lambda name, **kw: keras.layers.deserialize(  # noqa: E731
        {"class_name": name, "config": {**cat.defaults(name), **kw}, "module": "keras.layers"}
    )
    x = inp = make("InputLayer", shape=[32, 32, 3]).output
    for name in ("Rescaling", "RandomFlip", "RandomRotation", "Conv2D", "BatchNormalization", "ReLU",
                 "MaxPooling2D", "SeparableConv2D", "DepthwiseConv2D", "ZeroPadding2D", "Conv2DTranspose",
                 "UpSampling2D", "AveragePooling2D"):
        x = make(name)(x)
    skip = make("Conv2D", filters=32, padding="same")(x)
    x = make("Add")([make("Conv2D", filters=32, padding="same")(x), skip])
    x = make("Concatenate")([x, skip])
    x = make("GlobalAveragePooling2D")(x)
    x = make("Dropout")(x)
    x = make("Dense", units=10, activation="softmax")(x)
    model = keras.Model(inp, x)
    assert model.output_shape == (None, 10)


def test_cli_writes_the_catalog(tmp_path, monkeypatch, doc: dict[str, Any], capsys) -> None:
    monkeypatch.setattr(catalog_build, "build_catalog", lambda: doc)
    target = tmp_path / "out" / "catalog.json"
    assert catalog_build.main(["-o", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(catalog_build.dumps(doc))
    assert f"wrote {len(doc['layers'])} layers" in capsys.readouterr().out


def test_ensure_current_regenerates_for_another_keras(monkeypatch, doc: dict[str, Any]) -> None:
    shipped = resources_dir() / core_catalog.CATALOG_FILE
    assert catalog_build.ensure_current() == shipped  # same version: nothing to do

    calls = []

    def fake_build() -> dict[str, Any]:
        calls.append(1)
        return {**doc, "keras_version": "99.1.0", "layers": doc["layers"][:3]}

    monkeypatch.setattr(catalog_build, "keras_version", lambda: "99.1.0")
    monkeypatch.setattr(catalog_build, "build_catalog", fake_build)
    monkeypatch.setattr(core_catalog, "installed_keras_version", lambda: "99.1.0")
    target = core_catalog.cache_dir() / core_catalog.cached_name("99.1.0")
    try:
        assert catalog_build.ensure_current() == target
        assert catalog_build.ensure_current() == target  # cached: not rebuilt
        assert len(calls) == 1
        assert len(core_catalog.load_catalog()) == 3  # the core loader prefers it
    finally:
        target.unlink(missing_ok=True)
        core_catalog.load_catalog.cache_clear()
