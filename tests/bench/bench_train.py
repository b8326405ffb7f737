"""Training figures: overhead against plain Keras, default quality, memory over 20 runs.

Run on demand: ``python tests/bench/bench_train.py [--epochs N] [--repeat R]``.
Issue 4 targets: `layerlab train` vs a plain Keras script of the same CNN on the
same image folder, whole processes, median wall ratio <= 1.02; mnist-cnn on
sample:digits with the project's defaults >= 0.95 validation accuracy; 20 runs
in one process grow memory by <= 150 MB.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PLAIN = textwrap.dedent(
    """
    # The same CNN as the mnist-cnn template, the way a Keras user writes it.
    import sys
    import keras
    data, epochs, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    train, val = keras.utils.image_dataset_from_directory(
        data, validation_split=0.2, subset="both", seed=1337, image_size=(28, 28),
        color_mode="grayscale", batch_size=batch)
    train, val = train.cache().prefetch(-1), val.cache().prefetch(-1)
    model = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, validation_data=val, epochs=epochs, verbose=2,
              callbacks=[keras.callbacks.ModelCheckpoint(sys.argv[4] + "/model.keras",
                                                         monitor="val_accuracy", save_best_only=True)])
    """
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20, help="runs for the memory figure")
    args = ap.parse_args()

    from app.engine.data_sources import sample_dir

    folder = sample_dir("digits")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    tmp = Path(tempfile.mkdtemp())
    script = tmp / "plain.py"
    script.write_text(PLAIN)
    times: dict[str, list[float]] = {"ours": [], "ours-full-exit": [], "plain": []}
    kinds = list(times)
    warm = tmp / "warm-up"  # one uncounted 1-epoch run of each first: disk caches, .pyc files
    warm.with_suffix(".plain").mkdir()
    subprocess.run([sys.executable, str(script), str(folder), "1", "32", str(warm.with_suffix(".plain"))],
                   check=False, capture_output=True, env=env, cwd=ROOT)  # fmt: skip
    subprocess.run([sys.executable, "-m", "app", "train", str(ROOT / "models" / "mnist-cnn.layerlab"), "--data",
                    str(folder), "--epochs", "1", "--out", str(warm)], check=False, capture_output=True, env=env,
                   cwd=ROOT)  # fmt: skip
    for i in range(args.repeat):
        for kind in kinds[i % 3:] + kinds[: i % 3]:  # rotate the order: no kind always goes first
            out = tmp / f"{kind}{i}"
            out.mkdir()
            run_env = env
            if kind.startswith("ours"):
                cmd = [sys.executable, "-m", "app", "train", str(ROOT / "models" / "mnist-cnn.layerlab"),
                       "--data", str(folder), "--epochs", str(args.epochs), "--batch-size", "32", "--out", str(out)]
                if kind == "ours-full-exit":
                    run_env = dict(env, LAYERLAB_FULL_EXIT="1")
            else:
                cmd = [sys.executable, str(script), str(folder), str(args.epochs), "32", str(out)]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=run_env, cwd=ROOT)
            times[kind].append(time.perf_counter() - t)
    mo = mf = mp = float("nan")
    if args.repeat:  # --repeat 0: only the quality and memory figures
        mo, mf, mp = (statistics.median(times[k]) for k in ("ours", "ours-full-exit", "plain"))
        print(f"train mnist-cnn on sample:digits, {args.epochs} epochs, batch 32, {args.repeat} runs each, whole processes:")
        print(f"  layerlab train: median {mo:6.2f} s   plain Keras script: median {mp:6.2f} s   ratio {mo / mp:5.3f} (target <= 1.02)")
        for kind, values in times.items():
            print(f"  {kind:15s} runs: {', '.join(f'{v:.2f}' for v in values)}")
        print(f"  layerlab train with the interpreter's full teardown (LAYERLAB_FULL_EXIT=1, as the plain script): "
              f"median {mf:6.2f} s   ratio {mf / mp:5.3f}")

    from app.core.templates import load_template
    from app.engine.train import run

    project = load_template("mnist-cnn")
    result = run(project, data="sample:digits", out_dir=tmp / "defaults")
    best = max(r.get("val_accuracy", 0) for r in result.history)
    print(f"default quality: mnist-cnn, project defaults ({project.training.epochs} epochs): "
          f"best val_accuracy {best:.3f} (target >= 0.95), stopped_reason={result.stopped_reason}")

    project.training = dataclasses.replace(project.training, epochs=1)
    start = None
    for i in range(args.runs):
        run(project, data="sample:digits", out_dir=tmp / f"mem{i}")
        if i == 1:
            start = rss_mb()  # after warm-up: graphs traced, caches filled
    end = rss_mb()
    growth = None
    if start is not None:
        growth = end - start
        print(f"memory: {args.runs} consecutive 1-epoch runs in one process: RSS {start:.0f} MB after run 2 -> "
              f"{end:.0f} MB after run {args.runs}, growth {growth:.0f} MB (target <= 150 MB)")
    print(json.dumps({"ratio": mo / mp, "ratio_full_exit": mf / mp, "best_val_accuracy": best,
                      "memory_growth_mb": growth}))


if __name__ == "__main__":
    main()
