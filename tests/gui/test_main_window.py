"""The main window, offscreen: default project, panels, edits, fixes, files, recovery, start-up.

Windows are built with recovery offers and unsaved-changes prompts off (a test
turns each on where it is the subject). The Keras thread starts when a window
is first painted, as in the app; the first test to wait for an analysis pays
for importing Keras.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget  # noqa: E402

import app.gui.app  # noqa: E402,F401  (before any Qt call: the None workaround)
from app.core.templates import load_template  # noqa: E402
from app.gui import recovery  # noqa: E402
from app.gui.commands import MIME_LAYER, SetParam  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
ANALYSIS_TIMEOUT = 180_000  # ms; the first one includes importing Keras on a busy 2-core machine
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setattr(MainWindow, "confirm_unsaved", False)


@pytest.fixture
def make_window(qtbot):
    made: list[MainWindow] = []

    def make(project=None, *, show=True, wait=True, **kw) -> MainWindow:
        kw.setdefault("offer_recovery", False)
        w = MainWindow(project, **kw)
        qtbot.addWidget(w)
        made.append(w)
        if show:
            with qtbot.waitSignal(w.analysisApplied, timeout=ANALYSIS_TIMEOUT, raising=wait) if wait else _null():
                w.show()
                qtbot.waitExposed(w)
        return w

    yield make
    for w in made:
        w.shutdown()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def node_id(window: MainWindow, name: str) -> str:
    node = window.project.graph.find(name)
    assert node is not None, name
    return node.id


def analyze_after(qtbot, window: MainWindow, action) -> object:
    """Run ``action`` and wait for the analysis of the state it leaves."""
    with qtbot.waitSignal(window.analysisApplied, timeout=ANALYSIS_TIMEOUT) as blocker:
        action()
    return blocker.args[0]


def seed_without_flatten():
    """mnist-cnn with its Flatten removed and pool2 wired straight to dense1."""
    project = load_template("mnist-cnn")
    g = project.graph
    flat = g.find("flatten")
    src, dst = g.predecessors(flat.id)[0], g.successors(flat.id)[0]
    g.remove_node(flat.id)
    g.connect(src, dst)
    return project


# -- start-up state ------------------------------------------------------------------
def test_opens_on_the_embedded_default(make_window):
    w = make_window()
    assert w.project.name == "mnist-cnn"
    assert w.project.data.source == "sample:digits"
    assert [n.class_name for n in w.project.graph.nodes][:3] == ["InputLayer", "Conv2D", "MaxPooling2D"]
    assert w.last_analysis is not None and w.last_analysis.ok
    assert "Ready to train" in w.state_label.text()
    assert "121,930" in w.params_label.text()
    assert "MB" in w.memory_label.text()
    assert not w.is_modified()


def test_every_object_name_of_this_issue_is_present(make_window):
    w = make_window(wait=False)
    for name in ("layerPalette", "canvas", "inspector", "diagnostics"):
        assert w.findChild(QWidget, name) is not None, name
    docks = {d.objectName() for d in (w.palette_dock, w.inspector_dock, w.diagnostics_dock, w.history_dock)}
    assert docks == {"paletteDock", "inspectorDock", "diagnosticsDock", "historyDock"}


def test_standard_shortcuts(make_window):
    from PySide6.QtGui import QKeySequence

    w = make_window(show=False)
    K = QKeySequence.StandardKey
    for act, key in (
        (w.act_new, K.New), (w.act_open, K.Open), (w.act_save, K.Save), (w.act_undo, K.Undo),
        (w.act_redo, K.Redo), (w.act_copy, K.Copy), (w.act_paste, K.Paste), (w.act_select_all, K.SelectAll),
        (w.act_zoom_in, K.ZoomIn), (w.act_zoom_out, K.ZoomOut),
    ):
        assert QKeySequence(key) in act.shortcuts(), act.text()
    assert w.act_fit.shortcut() == QKeySequence("Ctrl+0")


# Qt's Redo keys by platform: X11 desktops (xcb) bind Ctrl+Shift+Z only, Windows Ctrl+Y only
# (the offscreen test platform happens to bind both, so each is pinned here).
PLATFORM_REDO = {"linux-desktop": ["Ctrl+Shift+Z"], "windows": ["Ctrl+Y"]}


@pytest.mark.parametrize("platform", sorted(PLATFORM_REDO))
@pytest.mark.parametrize("keys", ["Ctrl+Y", "Ctrl+Shift+Z"])
def test_ctrl_y_and_ctrl_shift_z_both_redo(make_window, qtbot, monkeypatch, keys, platform):
    """Typed on the canvas, as a user does, whatever the platform binds to Redo."""
    from PySide6.QtGui import QKeySequence

    real = QKeySequence.keyBindings

    def bindings(key):
        if key == QKeySequence.StandardKey.Redo:
            return [QKeySequence(k) for k in PLATFORM_REDO[platform]]
        return real(key)

    with monkeypatch.context() as m:
        m.setattr(QKeySequence, "keyBindings", staticmethod(bindings))
        w = make_window(wait=False)
    assert QKeySequence(keys) in w.act_redo.shortcuts()
    conv1 = node_id(w, "conv1")
    w.undo_stack.push(SetParam(w.project, conv1, "filters", 8))
    w.undo_stack.undo()
    assert w.project.graph.node(conv1).params["filters"] == 32
    with qtbot.waitActive(w):
        w.activateWindow()
    w.canvas.setFocus()
    combo = QKeySequence(keys)[0]
    qtbot.keyClick(w.canvas, combo.key(), combo.keyboardModifiers())
    assert w.project.graph.node(conv1).params["filters"] == 8
    assert w.undo_stack.index() == 1


# -- palette ----------------------------------------------------------------------------
def test_palette_groups_search_and_tooltips(make_window):
    w = make_window(show=False)
    p = w.palette
    everything = p.visible_layers()
    assert everything[:3] == ["InputLayer", "Dense", "Conv2D"]  # common ones first
    assert len(set(everything)) == len(p.catalog)  # every catalog layer, once in its category
    p.search.setText("conv")
    hits = p.visible_layers()
    assert "Conv2D" in hits and "SeparableConv2D" in hits
    assert all("conv" in h.lower() for h in hits), hits
    p.search.setText("zzzz")
    assert p.visible_layers() == [] and p.empty.isVisibleTo(p)
    p.search.clear()
    assert len(p.visible_layers()) == len(everything)
    assert "2D convolution" in p.model.itemFromIndex(p.index_of("Conv2D")).toolTip()


def test_palette_drag_carries_the_class_name_only(make_window):
    w = make_window(show=False)
    mime = w.palette.mime_data_for("Conv2D")
    assert mime.formats()[0] == MIME_LAYER
    assert bytes(mime.data(MIME_LAYER).data()) == b"Conv2D"


def test_palette_double_click_adds_after_the_selected_layer(make_window, qtbot):
    w = make_window()
    conv1 = node_id(w, "conv1")
    w.canvas.select_node(conv1)
    before = len(w.project.graph)
    w.palette.layerActivated.emit("Dropout")
    assert len(w.project.graph) == before + 1
    new = w.project.graph.successors(conv1)
    assert [w.project.graph.node(n).class_name for n in new] == ["Dropout"]
    w.undo_stack.undo()
    assert len(w.project.graph) == before


# -- inspector --------------------------------------------------------------------------
def test_inspector_edit_updates_shape_and_params(make_window, qtbot):
    w = make_window()
    conv1 = node_id(w, "conv1")
    w.canvas.select_node(conv1)
    assert w.inspector.node_id == conv1
    assert "kernel_size" in w.inspector.fields and "trainable" not in w.inspector.fields
    assert "(None, 26, 26, 32)" in w.inspector.shape_label.text()
    assert not w.inspector.advanced_box.isVisibleTo(w.inspector)  # advanced collapsed, built on opening
    w.inspector.advanced_toggle.setChecked(True)
    assert "trainable" in w.inspector.fields and w.inspector.fields["trainable"].editor.isChecked()
    w.inspector.advanced_toggle.setChecked(False)

    a = analyze_after(qtbot, w, lambda: w.inspector.set_field_text("filters", "16"))
    info = a.layers[conv1]
    assert info.output_shape == (None, 26, 26, 16) and info.params == 160
    item = w.canvas.scene().node_item(conv1)
    assert "16" in item.shape_str and item.params_str.startswith("160")
    assert "(None, 26, 26, 16)" in w.inspector.shape_label.text()
    assert w.undo_stack.count() == 1

    # typing on merges into the same undo step
    analyze_after(qtbot, w, lambda: w.inspector.set_field_text("filters", "24"))
    assert w.undo_stack.count() == 1
    assert w.project.graph.node(conv1).params["filters"] == 24

    # invalid text: an inline problem, nothing changes
    for bad in ("abc", "0"):
        problem = w.inspector.set_field_text("filters", bad)
        assert problem and "filters must be a whole number" in problem
        assert w.inspector.fields["filters"].error.isVisibleTo(w.inspector)
    assert w.project.graph.node(conv1).params["filters"] == 24

    a = analyze_after(qtbot, w, w.undo_stack.undo)
    assert a.layers[conv1].output_shape == (None, 26, 26, 32)
    assert w.inspector.fields["filters"].editor.text() == "32"


def test_inspector_combo_and_rename(make_window, qtbot):
    w = make_window(wait=False)
    conv1 = node_id(w, "conv1")
    w.canvas.select_node(conv1)
    combo = w.inspector.fields["padding"].editor
    i = combo.findData("same")
    combo.setCurrentIndex(i)
    combo.activated.emit(i)
    assert w.project.graph.node(conv1).params["padding"] == "same"
    w.inspector.name_edit.setText("first_conv")
    w.inspector.name_edit.editingFinished.emit()
    assert w.project.graph.node(conv1).name == "first_conv"
    assert w.undo_stack.count() == 2
    w.undo_stack.undo()
    assert w.project.graph.node(conv1).name == "conv1"
    assert w.inspector.name_edit.text() == "conv1"


def test_inspector_hides_hidden_and_call_kwargs(make_window):
    w = make_window(show=False)
    g = w.project.graph
    n = g.add_node("Embedding", {"input_dim": 10, "output_dim": 4, "__call_kwargs__": {"training": False}})
    w.inspector.show_node(n.id)
    assert "activity_regularizer" not in w.inspector.fields  # hidden in the catalog
    assert "__call_kwargs__" not in w.inspector.fields
    assert "input_dim" in w.inspector.fields


# -- diagnostics --------------------------------------------------------------------------
def test_seed_error_is_shown_and_fixed_by_its_fix_button(make_window, qtbot):
    from PySide6.QtCore import Qt

    w = make_window()
    before = seed_without_flatten()
    a = analyze_after(qtbot, w, lambda: w.set_project(before))
    assert not a.ok
    assert "head-needs-flatten" in w.diagnostics.codes()
    row = w.diagnostics.row_for("head-needs-flatten")
    assert row.fix_button is not None and row.fix_button.objectName() == "fixButton"
    assert "Flatten" in row.fix_button.text()
    assert w.diagnostics.findChildren(QWidget, "fixButton")

    # clicking the row selects its layer
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton)
    assert w.canvas.selected_ids() == [row.diagnostic.node]

    snapshot = w.project.graph.to_dict()
    a = analyze_after(qtbot, w, lambda: qtbot.mouseClick(row.fix_button, Qt.MouseButton.LeftButton))
    assert a.ok, [d.message for d in a.errors]
    assert "Flatten" in [n.class_name for n in w.project.graph.nodes]
    assert w.undo_stack.count() == 1 and w.undo_stack.undoText().startswith("Fix")
    assert "head-needs-flatten" not in w.diagnostics.codes()

    a = analyze_after(qtbot, w, w.undo_stack.undo)
    assert "head-needs-flatten" in [d.code for d in a.errors]
    assert w.project.graph.to_dict() == snapshot


# -- files ------------------------------------------------------------------------------
def test_save_reopen_same_graph(make_window, tmp_path):
    w = make_window(wait=False)
    conv1 = node_id(w, "conv1")
    w.undo_stack.push(SetParam(w.project, conv1, "filters", 8))
    assert w.is_modified() and w.isWindowModified()
    target = tmp_path / "mine.layerlab"
    assert w.save_to(target)
    assert target.is_file() and not w.is_modified()
    assert str(target.resolve()) in w.recent_files()
    saved = w.project.to_dict()

    w2 = make_window(wait=False)
    assert w2.open_file(target)
    assert w2.project.graph.to_dict() == saved["graph"]
    assert w2.project.to_dict() == saved
    assert w2.project.path == target and "mine.layerlab" in w2.windowTitle()


def test_unsaved_changes_prompt(make_window, monkeypatch):
    w = make_window(show=False)
    monkeypatch.setattr(MainWindow, "confirm_unsaved", True)
    asked = []
    monkeypatch.setattr(w, "ask_unsaved", lambda: asked.append(1) or "cancel")
    w.undo_stack.push(SetParam(w.project, node_id(w, "conv1"), "filters", 8))
    assert not w.new_project("mlp")
    assert asked and w.project.name == "mnist-cnn"
    monkeypatch.setattr(w, "ask_unsaved", lambda: "discard")
    assert w.new_project("mlp")
    assert w.project.name == "mlp" and not w.is_modified() and w.undo_stack.count() == 0


def test_template_gallery_lists_templates_and_returns_the_choice(qtbot):
    from app.gui.template_gallery import EMPTY, TemplateGallery

    d = TemplateGallery()
    qtbot.addWidget(d)
    names = list(d.cards)
    assert names[0] == "mnist-cnn" and {"mlp", "lenet5", "resnet-mini", "unet-mini", EMPTY} <= set(names)
    card = d.cards["resnet-mini"]
    texts = " ".join(lbl.text() for lbl in card.findChildren(QLabel))
    assert "input 32×32×3" in texts and "Add" in texts
    card.activated.emit("resnet-mini")
    assert d.chosen() == "resnet-mini"


def test_template_cards_say_what_each_template_can_do_today(qtbot):
    """unet-mini opens as design only: its card says so; no card claims more than it does."""
    from app.gui.template_gallery import TemplateGallery

    d = TemplateGallery()
    qtbot.addWidget(d)
    sub = d.findChild(QLabel, "dialogSubtitle").text()
    assert "trainable" not in sub and "complete" not in sub

    def ability(name: str) -> str:
        label = d.cards[name].findChild(QLabel, "cardAbility")
        assert label is not None, name
        return label.text()

    assert ability("unet-mini") == "Segmentation: design, check and export; training comes later."
    for name in ("mnist-cnn", "mlp", "lenet5", "vgg-mini", "resnet-mini"):
        assert ability(name).startswith("Trains now on sample:digits"), name


# -- recovery ---------------------------------------------------------------------------
def test_autosave_is_written_and_offered_on_the_next_start(make_window, qtbot, monkeypatch):
    w = make_window(show=False)
    w.undo_stack.push(SetParam(w.project, node_id(w, "conv1"), "filters", 12))
    path = w.recovery.autosave()
    assert path is not None and path.is_file() and w.recovery.marker.is_file()
    edited = w.project.to_dict()
    w.recovery.abandon()  # as if the process had crashed

    offered = []
    monkeypatch.setattr(recovery, "ask_restore", lambda parent, item: offered.append(item) or True)
    w2 = make_window(offer_recovery=True, wait=False)
    qtbot.waitUntil(lambda: bool(offered), timeout=10_000)
    assert offered[0].file == path
    assert w2.project.to_dict()["graph"] == edited["graph"]
    assert w2.is_modified()
    assert not path.exists()  # taken back; the new session autosaves on its own
    assert not recovery.find_recoverable()


def test_clean_exit_leaves_nothing_to_recover(make_window):
    w = make_window(show=False)
    w.undo_stack.push(SetParam(w.project, node_id(w, "conv1"), "filters", 12))
    assert w.recovery.autosave() is not None
    w.close()
    assert not w.recovery.marker.exists() and not w.recovery.file.exists()
    assert not recovery.find_recoverable()


def test_autosave_interval_is_30_seconds(make_window):
    w = make_window(show=False)
    assert w.recovery.timer.interval() == 30_000 and w.recovery.timer.isActive()


# -- model import -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    keras = pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("models")
    inp = keras.Input((28, 28, 1), name="x")
    out = keras.layers.Lambda(lambda t: t, name="evil")(inp)
    out = keras.layers.Dense(3, activation="softmax", name="d")(keras.layers.Flatten()(out))
    keras.Model(inp, out).save(folder / "lambda.keras")
    inp = keras.Input((4,), name="x")
    good = keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="d")(keras.layers.Dense(3, name="h")(inp)))
    good.save(folder / "small.keras")
    return folder


def test_refused_model_shows_a_message_and_changes_nothing(make_window, model_files, monkeypatch):
    w = make_window(show=False)
    shown = []

    def fake_exec(box):
        shown.append((box.windowTitle(), box.text(), box.informativeText()))
        return int(QMessageBox.StandardButton.Cancel)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    before = w.project.to_dict()
    assert not w.import_model(model_files / "lambda.keras")
    assert len(shown) == 1
    title, text, info = shown[0]
    assert "safe mode" in title and "lambda.keras" in text
    assert "Lambda" in info and "trust" in info
    assert w.project.to_dict() == before and w.undo_stack.count() == 0
    assert not w._jobs


def test_import_a_safe_model(make_window, model_files, qtbot):
    w = make_window()
    with qtbot.waitSignal(w.importFinished, timeout=ANALYSIS_TIMEOUT) as blocker:
        assert w.import_model(model_files / "small.keras")
    assert blocker.args == [True]
    assert [n.class_name for n in w.project.graph.nodes] == ["InputLayer", "Dense", "Dense"]
    assert w.project.path is None and w.is_modified()


# -- the analysis thread ---------------------------------------------------------------------
def test_requests_are_coalesced_and_snapshots_are_cheap(make_window, qtbot):
    w = make_window()
    conv1 = node_id(w, "conv1")
    runs = w.analysis.worker.analyses_run
    costs = []
    with qtbot.waitSignal(w.analysisApplied, timeout=ANALYSIS_TIMEOUT) as blocker:
        for f in range(1, 21):
            w.project.graph.set_param(conv1, "filters", f)
            w.analysis.request(w.project)
            costs.append(w.analysis.last_snapshot_s)
    costs.sort()
    # Cheap on the GUI thread; one outlier is allowed for a loaded machine's scheduler.
    assert costs[10] < 0.01 and costs[-2] < 0.05, costs
    assert blocker.args[0].layers[conv1].output_shape[-1] == 20
    assert w.analysis.worker.analyses_run - runs < 20


# -- start-up ------------------------------------------------------------------------------
def _smoke_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LAYERLAB_SETTINGS"] = str(tmp_path / "smoke.ini")
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def test_smoke_test_command(tmp_path):
    png = tmp_path / "shot.png"
    proc = subprocess.run(
        [sys.executable, "-m", "app", "gui", "--smoke-test", "--screenshot", str(png)],
        cwd=REPO, env=_smoke_env(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1 and re.fullmatch(r"startup_s=\d+\.\d{3} keras_imported=no", lines[0]), proc.stdout
    img = QImage(str(png))
    assert not img.isNull() and img.width() > 800 and img.height() > 500
    colours = {img.pixel(x, y) for x in range(0, img.width(), 23) for y in range(0, img.height(), 17)}
    assert len(colours) > 20  # not blank


def test_smoke_test_refuses_an_unsafe_model(tmp_path, model_files):
    proc = subprocess.run(
        [sys.executable, "-m", "app", "gui", "--smoke-test", str(model_files / "lambda.keras")],
        cwd=REPO, env=_smoke_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and "lambda.keras" in err[0] and "safe mode" in err[0]


def test_importing_the_window_does_not_import_keras():
    code = (
        "import sys; import app.gui.main_window; "
        "bad = [m for m in ('keras', 'tensorflow', 'pyqtgraph') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_palette_drop_on_the_canvas_adds_the_layer(make_window):
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QDropEvent

    w = make_window(wait=False)
    before = len(w.project.graph)
    mime = w.palette.mime_data_for("BatchNormalization")
    pos = w.canvas.mapFromScene(QPointF(900.0, 900.0))
    event = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    w.canvas.dropEvent(event)
    assert len(w.project.graph) == before + 1
    assert w.project.graph.nodes[-1].class_name == "BatchNormalization"


def test_window_geometry_and_dock_state_are_remembered(make_window):
    w = make_window(show=False)
    w.resize(701, 503)  # inside the 800×600 off-screen screen
    w.history_dock.raise_()
    w.close()
    from app.gui.app import settings

    assert settings().value("window/geometry") is not None
    w2 = make_window(show=False)
    assert (w2.width(), w2.height()) == (701, 503)


def test_a_refused_model_opens_after_the_explicit_opt_in(make_window, model_files, qtbot, monkeypatch):
    w = make_window(wait=False)
    asked = []
    monkeypatch.setattr(w, "ask_unsafe", lambda path, reason: asked.append(reason) or True)
    with qtbot.waitSignal(w.importFinished, timeout=ANALYSIS_TIMEOUT) as blocker:
        assert w.import_model(model_files / "lambda.keras")
    assert asked and "Lambda" in asked[0]
    assert blocker.args == [True]
    assert "Lambda" in [n.class_name for n in w.project.graph.nodes]


def test_smoke_test_on_a_project_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "app", "gui", "--smoke-test", str(REPO / "models" / "resnet-mini.layerlab")],
        cwd=REPO, env=_smoke_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"startup_s=\d+\.\d{3} keras_imported=no\n", proc.stdout)
    bad = subprocess.run(
        [sys.executable, "-m", "app", "gui", "--smoke-test", str(tmp_path / "missing.layerlab")],
        cwd=REPO, env=_smoke_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2 and "missing.layerlab" in bad.stderr and "Traceback" not in bad.stderr


def test_export_keras_writes_a_model_in_the_keras_thread(make_window, qtbot, tmp_path):
    w = make_window(wait=False)
    target = tmp_path / "net.keras"
    with qtbot.waitSignal(w.exportFinished, timeout=ANALYSIS_TIMEOUT) as blocker:
        assert w.export_keras(target)
    assert blocker.args[0] == target and target.is_file() and target.stat().st_size > 1000
