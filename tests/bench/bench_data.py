"""Data speed: scan of a 20,000-image folder, and the pipeline against Keras' own loader.

Run on demand: ``python tests/bench/bench_data.py [--images N] [--folder DIR]``.
Prints its figures. Targets (issue 3): scan <= 10 s on a 2-core machine;
images/s of the first epoch >= Keras' ``image_dataset_from_directory`` on the
same folder (ratio >= 1.0); the second epoch, from the cache, >= 3x the first.
The folder of small PNGs is generated once and reused (``/tmp`` by default).
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

CLASSES = 10
SIZE = 32
BATCH = 32
ROUNDS = 3


def make_folder(folder: Path, images: int) -> Path:
    """``images`` 32×32 RGB PNGs in 10 class folders (kept for the next run)."""
    import numpy as np
    from PIL import Image

    marker = folder / f".complete-{images}"
    if marker.exists():
        return folder
    t = time.perf_counter()
    rng = np.random.default_rng(0)
    per_class = images // CLASSES
    for c in range(CLASSES):
        d = folder / f"class_{c}"
        d.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 216, (SIZE, SIZE, 3), dtype=np.uint8)
        for i in range(per_class):
            img = base + rng.integers(0, 40, (SIZE, SIZE, 3), dtype=np.uint8)
            Image.fromarray(img).save(d / f"{i:05d}.png", compress_level=1)
    marker.write_text("ok")
    print(f"generated {per_class * CLASSES} PNGs in {folder} ({time.perf_counter() - t:.1f} s)")
    return folder


def iterate(ds) -> int:
    n = 0
    for x, _ in ds:
        n += int(x.shape[0])
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "layerlab-bench-pngs")
    args = ap.parse_args()
    folder = make_folder(args.folder, args.images)

    from app.engine.data_scan import scan_folder

    print(f"\n== scan ({os.cpu_count()} cores) ==")
    t = time.perf_counter()
    report = scan_folder(folder, use_cache=False)
    scan_s = time.perf_counter() - t
    t = time.perf_counter()
    scan_folder(folder, workers=1, use_cache=False)
    serial_s = time.perf_counter() - t
    print(f"scan_folder: {report.images} images, {len(report.skipped)} skipped in {scan_s:.2f} s "
          f"({report.images / scan_s:,.0f} files/s; one process: {serial_s:.2f} s)   target <= 10 s: "
          f"{'OK' if scan_s <= 10 else 'MISSED'}")  # fmt: skip

    import keras

    from app.engine.data_pipeline import make_datasets

    print(f"\n== pipeline vs keras.utils.image_dataset_from_directory (batch {BATCH}) ==")
    print("(wall-clock images/s; CPU µs per image of the whole process in brackets: on a shared")
    print(" virtual machine the CPU figure is the steadier one)")
    print(f"{'target':<9} {'loader':<19} {'epoch 1 img/s':>20} {'epoch 2 img/s':>20} {'e2/e1':>6}")
    results = {}
    for target in ((SIZE, SIZE), (28, 28)):
        label = f"{target[0]}x{target[1]}x3"
        for rnd in range(ROUNDS):  # alternate, so neither one always runs on a warmer machine
            for name in ("keras", "layerlab (cache)", "layerlab (stream)"):
                t, c = time.perf_counter(), time.process_time()
                if name == "keras":
                    ds = keras.utils.image_dataset_from_directory(
                        folder, image_size=target, batch_size=BATCH, shuffle=True, seed=1, verbose=False
                    )
                else:
                    budget = 1024 if "cache" in name else 0
                    ds = make_datasets(report, image_shape=(*target, 3), batch_size=BATCH, validation_split=0.0,
                                       seed=1, cache_budget_mb=budget).train  # fmt: skip
                n1 = iterate(ds)
                e1, c1 = time.perf_counter() - t, time.process_time() - c
                t, c = time.perf_counter(), time.process_time()
                n2 = iterate(ds)
                e2, c2 = time.perf_counter() - t, time.process_time() - c
                assert n1 == n2 == report.images, (n1, n2)
                r1, r2 = n1 / e1, n2 / e2
                best = results.setdefault((label, name), [0.0, 0.0])
                best[0], best[1] = max(best[0], r1), max(best[1], r2)
                u1, u2 = 1e6 * c1 / n1, 1e6 * c2 / n2
                cpu = results.setdefault((label, name, "cpu"), [1e9, 1e9])
                cpu[0], cpu[1] = min(cpu[0], u1), min(cpu[1], u2)
                print(f"{label:<9} {name:<19} {r1:>9,.0f} ({u1:>4.0f} µs) {r2:>9,.0f} ({u2:>4.0f} µs) "
                      f"{r2 / r1:>6.1f}   round {rnd + 1}")  # fmt: skip
                del ds
    print(f"\n== summary (best of {ROUNDS} rounds) ==")
    for target in ((SIZE, SIZE), (28, 28)):
        label = f"{target[0]}x{target[1]}x3"
        k1, _ = results[(label, "keras")]
        c1, c2 = results[(label, "layerlab (cache)")]
        s1, _ = results[(label, "layerlab (stream)")]
        ku1, _ = results[(label, "keras", "cpu")]
        cu1, cu2 = results[(label, "layerlab (cache)", "cpu")]
        print(f"{label}: epoch 1 layerlab/keras = {c1 / k1:.2f} (stream {s1 / k1:.2f}; CPU per image "
              f"{ku1 / cu1:.2f}; target >= 1.0 {'OK' if c1 / k1 >= 1.0 else 'MISSED'}); "
              f"cached epoch 2 / epoch 1 = {c2 / c1:.1f} (CPU {cu1 / cu2:.1f}; target >= 3: "
              f"{'OK' if c2 / c1 >= 3 else 'MISSED'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
