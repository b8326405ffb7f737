"""The dataset panel, offscreen: a background scan, its chart and health list, split edits, samples."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

import app.gui.app  # noqa: E402,F401  (before any Qt call: the None workaround)
from app.core.project import Project  # noqa: E402
from app.core.templates import load_template  # noqa: E402
from app.gui.data_panel import DatasetPanel, describe_input  # noqa: E402

SCAN_TIMEOUT = 60_000


def _png_folder(root, counts=(3, 4, 5)):
    rng = np.random.default_rng(0)
    for c, n in enumerate(counts):
        d = root / f"class_{'abc'[c]}"
        d.mkdir(parents=True)
        for i in range(n):
            arr = rng.integers(0, 255, (12, 12), dtype=np.uint8)
            Image.fromarray(arr, "L").save(d / f"img{i}.png")
    (root / "class_b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    return root


@pytest.fixture
def panel(qtbot):
    project = Project()
    p = DatasetPanel(lambda: project)
    p.test_project = project
    qtbot.addWidget(p)
    p.resize(700, 600)
    yield p
    p.shutdown()


def test_scan_folder_shows_counts_and_skipped_file(qtbot, panel, tmp_path):
    root = _png_folder(tmp_path / "data")
    with qtbot.waitSignal(panel.scanFinished, timeout=SCAN_TIMEOUT) as blocker:
        panel.set_source(str(root))
    report = blocker.args[0]
    assert report.counts == [3, 4, 5]
    assert panel.chart.counts() == {"class_a": 3, "class_b": 4, "class_c": 5}
    assert panel.test_project.data.source == str(root)
    lines = panel.health_lines()
    broken = [line for line in lines if "broken.png" in line]
    assert broken, lines
    skipped = next(s for s in report.skipped if "broken.png" in s.path)
    assert skipped.reason in broken[0]
    assert not panel.progress.isVisible()
    # thumbnails load lazily for the class shown
    assert panel.thumbModel.rowCount() == 3
    panel.show()
    panel.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.thumbModel.loaded_count() == 3, timeout=10_000)
    panel.classCombo.setCurrentIndex(2)
    assert panel.thumbModel.rowCount() == 5


def test_split_and_augmentation_edit_project(qtbot, panel):
    with qtbot.waitSignal(panel.settingsChanged):
        panel.splitSpin.setValue(30)
    assert panel.test_project.data.validation_split == pytest.approx(0.3)
    assert panel.splitSlider.value() == 30
    panel.normCombo.setCurrentIndex(panel.normCombo.findData("standardize"))
    assert panel.test_project.data.normalization == "standardize"
    panel.flipCombo.setCurrentIndex(panel.flipCombo.findData("horizontal"))
    panel.augSpins["rotation"].setValue(0.1)
    aug = panel.test_project.data.augmentation
    assert aug.flip == "horizontal" and aug.rotation == pytest.approx(0.1)


def test_sample_digits_is_selectable(qtbot, panel):
    i = panel.sampleCombo.findData("sample:digits")
    assert i > 0
    panel.sampleCombo.setCurrentIndex(i)
    with qtbot.waitSignal(panel.scanFinished, timeout=120_000) as blocker:
        panel.sampleCombo.activated.emit(i)
    assert panel.test_project.data.source == "sample:digits"
    assert blocker.args[0].num_classes == 10
    assert sum(panel.chart.counts().values()) == 1797
    # the augmentation preview is computed in the background after the scan
    panel.augSpins["rotation"].setValue(0.1)
    qtbot.waitUntil(lambda: panel.preview_count() == panel.PREVIEW_N, timeout=120_000)
    assert "28×28×1" in panel.previewStatus.text()


def test_bad_source_message_and_input_line(qtbot, panel, tmp_path):
    with qtbot.waitSignal(panel.scanFailed, timeout=SCAN_TIMEOUT):
        panel.set_source(str(tmp_path / "missing"))
    assert "no such file" in panel.summaryLabel.text()
    assert describe_input((28, 28, 1)).startswith("Network input: 28×28×1 grayscale")
    project = load_template("mnist-cnn")
    panel.project_provider = lambda: project
    panel.refresh_input()
    assert "28×28×1 grayscale" in panel.inputLabel.text()


def test_folder_layout_is_shown_where_a_folder_is_chosen(qtbot, panel, tmp_path):
    panel.show()
    hint = panel.findChild(type(panel.summaryLabel), "folderLayoutHint")
    assert hint is not None and hint.isVisible()
    assert "one subfolder per class" in hint.text() and "├──" in hint.text()  # the tiny picture
    assert "├──" in panel.folderButton.toolTip()
    # the hint sits by the Folder… button, above the tabs
    assert panel.folderButton.geometry().bottom() < hint.geometry().top() < panel.tabs.geometry().top()

    flat = tmp_path / "flat"  # images, but no class subfolders
    flat.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(flat / f"{i}.png")
    with qtbot.waitSignal(panel.scanFinished, timeout=SCAN_TIMEOUT):
        panel.set_source(str(flat))
    text = panel.summaryLabel.text()
    assert "No class subfolders" in text and "“flat”" in text and "3 images lie directly in the folder" in text
    assert hint.isVisible() and "FCEEEC" in hint.styleSheet()  # shown in red now

    with qtbot.waitSignal(panel.scanFinished, timeout=SCAN_TIMEOUT):
        panel.set_source(str(_png_folder(tmp_path / "good")))
    assert not hint.isVisible() and "No class subfolders" not in panel.summaryLabel.text()


def test_wrong_data_settings_from_a_file_show_on_their_widgets(qtbot, tmp_path):
    from dataclasses import replace

    from app.gui.diagnostics_panel import SettingProblemLine

    project = Project()
    aug = replace(project.data.augmentation, rotation="x", zoom=float("nan"), flip=3)
    project.data = replace(project.data, validation_split=float("nan"), normalization="fast", seed=-3, augmentation=aug)
    p = DatasetPanel(lambda: project)  # refreshing from it does not crash
    qtbot.addWidget(p)
    p.resize(700, 700)
    p.show()
    try:
        def lines():
            return {ln.problem.setting: ln for ln in p.findChildren(SettingProblemLine) if not ln.isHidden()}

        found = lines()
        marked = {"data.validation_split": p.splitSpin, "data.normalization": p.normCombo,
                  "data.augmentation.flip": p.flipCombo, "data.augmentation.rotation": p.augSpins["rotation"],
                  "data.augmentation.zoom": p.augSpins["zoom"]}  # fmt: skip
        for setting, widget in marked.items():
            assert widget.property("settingProblem") is True, setting
            assert setting in found and setting.split(".")[-1] in widget.toolTip()
        assert "data.seed" in found  # no widget for it: listed under the source, with its fix
        assert "⚠ 5" in p.tabs.tabText(3)
        assert p.splitSpin.value() == 20 and p.augSpins["rotation"].value() == 0.0
        p.augSpins["contrast"].setValue(0.3)  # an edit writes its own field only
        assert project.data.augmentation.contrast == pytest.approx(0.3)
        assert project.data.augmentation.rotation == "x" and project.data.augmentation.flip == 3
        with qtbot.waitSignal(p.settingsChanged):
            qtbot.mouseClick(found["data.augmentation.rotation"].fix_button, Qt.MouseButton.LeftButton)
        assert project.data.augmentation.rotation == 0.0 and project.data.augmentation.zoom != project.data.augmentation.zoom
        assert p.augSpins["rotation"].property("settingProblem") is False
        for setting in ("data.validation_split", "data.normalization", "data.augmentation.flip",
                        "data.augmentation.zoom", "data.seed"):  # fmt: skip
            qtbot.mouseClick(lines()[setting].fix_button, Qt.MouseButton.LeftButton)
        assert p.problems() == [] and lines() == {} and p.tabs.tabText(3) == "Input && augmentation"
        assert project.data.validation_split == 0.2 and project.data.seed == 1337
    finally:
        p.shutdown()
