"""The prediction panel, offscreen: a tiny trained run, top-k bars, a bad file, a folder, CSV."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("pytestqt")
keras = pytest.importorskip("keras")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

import app.gui.app  # noqa: E402,F401  (before any Qt call: the None workaround)
from app.gui.predict_panel import PredictionPanel  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
CLASSES = ["apple", "banana", "cherry", "date"]
TIMEOUT = 120_000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder: a tiny CNN trained one step, saved as model.keras + classes.json."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="last_conv")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.uniform(0, 255, (8, 16, 16, 1)).astype("float32"), np.arange(8) % 4)
    folder = tmp_path_factory.mktemp("run")
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(CLASSES))
    return folder


@pytest.fixture
def images(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8), "RGB").save(d / "photo.png")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), "L").save(d / "small.png")
    (d / "notes.txt").write_text("not an image")
    (d / "fake.jpg").write_text("not a jpeg either")
    return d


@pytest.fixture
def panel(qtbot, run_dir):
    p = PredictionPanel()
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    with qtbot.waitSignal(p.modelChanged, timeout=TIMEOUT):
        p.set_model(run_dir)
    yield p
    p.shutdown()


def test_predicted_image_shows_top_k(qtbot, panel, images):
    assert panel.model_info["classes"] == CLASSES
    panel.topkSpin.setValue(3)
    with qtbot.waitSignal(panel.predicted, timeout=TIMEOUT) as blocker:
        panel.handle_paths([images / "photo.png"])
    res = blocker.args[0]
    assert panel.bars.bar_count() == 3
    assert [r["label"] for r in res["top"]] == [lab for lab, _ in panel.bars.rows()]
    assert sum(res["probs"]) == pytest.approx(1.0, abs=1e-4)
    assert res["view"].shape == (16, 16, 1)
    assert "16×16 grayscale" in panel.viewCaption.text() and "resized from 30×40" in panel.viewCaption.text()
    assert panel.resultTitle.text().startswith(res["top"][0]["label"])
    # k above the number of classes: one bar per class, probabilities sum to 1
    with qtbot.waitSignal(panel.predicted, timeout=TIMEOUT) as blocker:
        panel.topkSpin.setValue(10)
    assert panel.bars.bar_count() == len(CLASSES)
    assert sum(p for _, p in panel.bars.rows()) == pytest.approx(1.0, abs=1e-4)
    # Grad-CAM overlay
    with qtbot.waitSignal(panel.worker.gradcamDone, timeout=TIMEOUT):
        panel.gradcamToggle.setChecked(True)
    assert str(images / "photo.png") in panel.cams
    assert "Grad-CAM" in panel.message.text()


def test_non_image_shows_clear_message(qtbot, panel, images):
    with qtbot.waitSignal(panel.failed, timeout=TIMEOUT) as blocker:
        panel.handle_paths([str(images / "notes.txt")])
    text = blocker.args[0]
    assert "notes.txt" in text and "not an image" in text
    assert "Traceback" not in panel.message.text()
    assert "not an image" in panel.message.text()
    assert panel.bars.bar_count() == 0


def test_drop_and_folder_table_csv(qtbot, panel, images, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(images / "small.png"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)  # fmt: skip
    with qtbot.waitSignal(panel.predicted, timeout=TIMEOUT):
        panel.dropEvent(event)
    with qtbot.waitSignal(panel.folderPredicted, timeout=TIMEOUT) as blocker:
        panel.handle_paths([images])
    rows = blocker.args[0]
    assert [r["file"].rsplit("/", 1)[-1] for r in rows] == ["fake.jpg", "photo.png", "small.png"]
    assert panel.table.rowCount() == 3
    assert rows[0]["error"] and rows[1]["label"] in CLASSES
    out = panel.export_csv(tmp_path / "p.csv")
    with out.open() as fh:
        lines = list(csv.reader(fh))
    assert lines[0][:3] == ["file", "label", "probability"] and len(lines) == 4


def test_a_model_without_convolutions_turns_grad_cam_off(qtbot, panel, tmp_path):
    panel.gradcamToggle.setChecked(True)
    assert panel.gradcamToggle.isEnabled()
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    mlp = keras.Model(inputs, keras.layers.Dense(len(CLASSES), activation="softmax")(x))
    mlp.save(tmp_path / "mlp.keras")
    with qtbot.waitSignal(panel.modelChanged, timeout=TIMEOUT) as blocker:
        panel.set_model(tmp_path / "mlp.keras")
    assert blocker.args[0]["gradcam_layer"] is None
    assert not panel.gradcamToggle.isEnabled() and not panel.gradcamToggle.isChecked()
    assert "convolution" in panel.gradcamToggle.toolTip()
