"""Benchmark: open DenseNet121 (427 layers, imported from .keras) on the canvas.

Run on demand (not collected by pytest):

    python tests/bench/bench_canvas.py [--keep DIR]

Prints the time to lay the graph out, build the scene, and paint the first
frame of a CanvasView (the target is <= 2 s for all three together), plus the
cost of showing an analysis on every card and of interactive redraws.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

TARGET_S = 2.0


def densenet_file(folder: Path) -> Path:
    path = folder / "densenet121.keras"
    if not path.exists():
        import keras

        keras.applications.DenseNet121(weights=None).save(path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="folder to keep the .keras file in between runs")
    args = ap.parse_args()

    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QUndoStack
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    folder = args.keep or Path(tempfile.mkdtemp(prefix="layerlab-bench-"))
    folder.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    path = densenet_file(folder)
    from app.engine.model_import import import_model

    project = import_model(path)
    t_import = time.perf_counter() - t
    g = project.graph
    print(
        f"DenseNet121: {len(g)} layers, {len(g.edges)} connections (built + saved + imported in {t_import:.1f} s)"
    )

    # warm the catalog and fonts (done once per app start, not per document)
    from app.core.catalog import load_catalog
    from app.gui.canvas.layout import layered_layout
    from app.gui.canvas.view import CanvasView

    load_catalog()

    t0 = time.perf_counter()
    positions = layered_layout(g)
    t_layout = time.perf_counter() - t0
    for nid, pos in positions.items():
        g.move(nid, pos)
    t_apply = time.perf_counter() - t0 - t_layout

    stack = QUndoStack()
    t1 = time.perf_counter()
    view = CanvasView(None, stack)
    view.resize(1400, 900)
    view.set_project(project, layout=False)
    t_scene = time.perf_counter() - t1
    t2 = time.perf_counter()
    view.show()
    app.processEvents()
    view.grab()
    t_paint = time.perf_counter() - t2
    total = t_layout + t_apply + t_scene + t_paint
    items = len(view.scene().items())
    print(
        f"  layout            {t_layout * 1000:7.0f} ms  (+ {t_apply * 1000:.0f} ms to store positions)"
    )
    print(f"  scene ({items} items) {t_scene * 1000:7.0f} ms")
    print(f"  first paint       {t_paint * 1000:7.0f} ms  (zoom {view.zoom():.2f})")
    verdict = "OK" if total <= TARGET_S else "TOO SLOW"
    print(f"  total             {total * 1000:7.0f} ms  target <= {TARGET_S:.0f} s: {verdict}")

    # the whole network in view (the smallest zoom level)
    t3 = time.perf_counter()
    view.fit()
    view.grab()
    print(
        f"  fit + paint all   {(time.perf_counter() - t3) * 1000:7.0f} ms  (zoom {view.zoom():.3f})"
    )

    # analysis on every card
    from app.engine.analyze import analyze

    t4 = time.perf_counter()
    analysis = analyze(project)
    t_an = time.perf_counter() - t4
    t5 = time.perf_counter()
    changed = view.scene().set_analysis(analysis)
    t_set = time.perf_counter() - t5
    t6 = time.perf_counter()
    again = view.scene().set_analysis(analysis)
    t_again = time.perf_counter() - t6
    print(f"  analyze (engine)  {t_an * 1000:7.0f} ms")
    print(
        f"  set_analysis      {t_set * 1000:7.0f} ms  ({changed} cards changed; again: {t_again * 1000:.0f} ms, {again} changed)"
    )

    # interactive: a readable zoom, drag a card 30 steps, repaint each time
    view.set_zoom(0.8)
    nid = g.nodes[len(g) // 2].id
    view.center_on(nid)
    item = view.scene().node_item(nid)
    start = item.pos()
    t7 = time.perf_counter()
    for i in range(30):
        item.setPos(start + QPointF(3 * i, 2 * i))
        view.viewport().repaint()
    per = (time.perf_counter() - t7) / 30
    print(f"  drag frame        {per * 1000:7.1f} ms  (move + repaint at zoom 0.8)")
    view.commit_moves()

    t8 = time.perf_counter()
    view.relayout()
    app.processEvents()
    print(f"  relayout command  {(time.perf_counter() - t8) * 1000:7.0f} ms")
    stack.undo()
    app.processEvents()
    view.close()
    return 0 if total <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
