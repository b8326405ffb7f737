"""Analysis speed: DenseNet121, a 50-layer network, one edit, and `layerlab check`.

Run on demand: ``python tests/bench/bench_analyze.py``. Prints its figures;
the README keeps the latest ones. Targets (issue 2): DenseNet121 <= 1.0 s,
50 layers <= 50 ms, `layerlab check` on a template <= 4 s whole process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def timed(fn, repeat=5):
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), result


from networks import fifty_layer_project  # noqa: E402


def main() -> None:
    import keras

    from app.engine.analyze import Analyzer
    from app.engine.model_import import import_model

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "densenet121.keras"
        model = keras.applications.DenseNet121(weights=None)
        model.save(path)
        expected = model.count_params()
        project = import_model(path)
    print(f"DenseNet121: {len(project.graph)} layers, {expected:,} parameters")

    med, best, result = timed(lambda: Analyzer(persistent=False).analyze(project), repeat=3)
    assert result.total_params == expected, (result.total_params, expected)
    print(f"full analysis, DenseNet121 (fresh analyzer):  median {med * 1000:7.1f} ms  best {best * 1000:7.1f} ms"
          f"  (target <= 1000 ms)  params match: {result.total_params == expected}")

    analyzer = Analyzer(persistent=False)
    analyzer.analyze(project)
    mid = project.graph.topological_order()[len(project.graph) // 2]
    node = project.graph.node(mid)
    conv = next(project.graph.node(n) for n in project.graph.topological_order()[len(project.graph) // 2:]
                if project.graph.node(n).class_name == "Conv2D")
    before = analyzer.shapes.layers_built
    project.graph.set_param(conv.id, "filters", int(conv.params["filters"]) + 8)
    t = time.perf_counter()
    analyzer.analyze(project)
    edit = time.perf_counter() - t
    print(f"one edit in DenseNet121 ({conv.name} filters +8): {edit * 1000:7.1f} ms, "
          f"{analyzer.shapes.layers_built - before} of {len(project.graph)} layers re-analyzed"
          f" (the rest from the cache) [{node.name}]")

    p50 = fifty_layer_project()
    med, best, result = timed(lambda: Analyzer(persistent=False).analyze(p50), repeat=5)
    print(f"full analysis, 50-layer CNN (fresh analyzer):  median {med * 1000:7.1f} ms  best {best * 1000:7.1f} ms"
          f"  (target <= 50 ms), {len(p50.graph)} layers ok={result.ok}")
    analyzer = Analyzer(persistent=False)
    analyzer.analyze(p50)
    convs = [n for n in p50.graph if n.class_name == "Conv2D"]
    edits = []
    for i in range(5):
        p50.graph.set_param(convs[len(convs) // 2].id, "filters", 40 + i)
        t = time.perf_counter()
        analyzer.analyze(p50)
        edits.append(time.perf_counter() - t)
    print(f"one edit, 50-layer CNN: median {statistics.median(edits) * 1000:7.1f} ms")

    med, best, result = timed(lambda: Analyzer().analyze(project), repeat=3)  # fills, then reads, the store
    print(f"full analysis, DenseNet121, answers from the on-disk shape store: median {med * 1000:7.1f} ms")

    cache = tempfile.mkdtemp()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", LAYERLAB_CACHE=cache)
    template = ROOT / "models" / "mnist-cnn.layerlab"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app", "check", str(template)], check=True, env=env,
                   capture_output=True, cwd=ROOT)
    cold = time.perf_counter() - t
    walls = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app", "check", str(template)], check=True, env=env,
                       capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - t)
    imports = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import keras"], check=True, env=env, capture_output=True)
        imports.append(time.perf_counter() - t)
    ck, imp = statistics.median(walls), statistics.median(imports)
    print(f"`layerlab check mnist-cnn` whole process, first time (Keras imported): {cold:5.2f} s; "
          f"`python -c 'import keras'` alone: {imp:5.2f} s")
    print(f"`layerlab check mnist-cnn` whole process, again (shape store warm, no Keras import): "
          f"median {ck:5.2f} s (target <= 4 s)")


if __name__ == "__main__":
    main()
