"""A run trained here for real (tiny image folder, one epoch): every cell of its confusion
matrix, the correct ones too, opens exactly its images, least confident first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402

import app.gui.app  # noqa: E402,F401  (before any Qt call: the None workaround)
from app.gui.results_panel import ResultsPanel  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from dataclasses import replace

    from app.core.templates import load_template
    from app.engine import train

    base = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(0)
    for k, name in enumerate(("dark", "mid", "light")):
        folder = base / "data" / name
        folder.mkdir(parents=True)
        for i in range(10):
            pixels = np.clip(rng.normal(40 + 80 * k, 25, (12, 12)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(folder / f"{i}.png")
    project = load_template("mlp")
    project.data = replace(project.data, source=str(base / "data"))
    train.run(project, out_dir=base / "run", overrides={"epochs": 1, "batch_size": 8})
    return base / "run"


def test_every_cell_of_a_trained_run_opens_its_images(qtbot, trained_run):
    run = trained_run
    if not (run / "predictions.csv").is_file():
        pytest.skip("this checkout's training does not write predictions.csv yet")
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    assert panel.load_run(run) and panel.every_image
    n, shown = len(panel.matrixView.matrix), 0
    for r in range(n):
        for c in range(n):
            gallery = panel.open_gallery(r, c)
            count = panel.matrixView.value(r, c)
            assert gallery.list.count() == count, (r, c)
            assert all(p and run.parent / "data" in Path(p).parents for p in gallery.paths())
            conf = [it["confidence"] for it in gallery.items]
            assert conf == sorted(conf)
            shown += gallery.list.count()
    assert shown == sum(map(sum, panel.matrixView.matrix)) > 0  # every validation image, once
