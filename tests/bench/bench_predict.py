"""Single-image prediction speed on the mnist-cnn template, after warm-up.

Run on demand: ``python tests/bench/bench_predict.py [--calls 200]``. Prints
p50/p90 in ms for the Predictor's direct call (``predict_array``), for a whole
file -> top-k (``predict_paths``), and, beside them, ``model.predict`` and an
eager ``model(x)``. Target (issue 4): Predictor p50 <= 10 ms on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def percentiles(fn, calls: int, warmup: int = 10) -> tuple[float, float]:
    import numpy as np

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 90))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args(argv)

    import keras
    import numpy as np
    from PIL import Image

    from app.core.project import load_project
    from app.engine.build import build_model
    from app.engine.predict import Predictor

    project = load_project(ROOT / "models" / "mnist-cnn.layerlab")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mnist-cnn.keras"
        build_model(project.graph, name=project.name).save(path)
        image = Path(tmp) / "digit.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8), "L").save(image)

        t = time.perf_counter()
        predictor = Predictor(path)
        load_s = time.perf_counter() - t
        x = predictor.load_image(image)
        model = predictor.model
        rows = [
            ("Predictor.predict_array (one 28x28x1 image)", percentiles(lambda: predictor.predict_array(x), args.calls)),
            ("Predictor.predict_paths (PNG file -> top-5)", percentiles(lambda: predictor.predict_paths([image]), args.calls)),
            ("model(x, training=False), eager", percentiles(lambda: keras.ops.convert_to_numpy(model(x[None], training=False)), args.calls)),
            ("model.predict(x, verbose=0)", percentiles(lambda: model.predict(x[None], verbose=0), min(args.calls, 50))),
        ]  # fmt: skip
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, {os.cpu_count()} CPU cores")
    print(f"model load (safe mode): {load_s * 1000:.0f} ms")
    for name, (p50, p90) in rows:
        print(f"{name:<46} p50 {p50:7.2f} ms   p90 {p90:7.2f} ms")
    target = rows[0][1][0]
    print(f"target p50 <= 10 ms: {'met' if target <= 10 else 'MISSED'} ({target:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
