"""TensorFlow's pre-init absl lines are dropped from fd 2 while Keras loads; nothing else is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.engine.stderr_filter import NOISE

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, sys
from app.engine.stderr_filter import tensorflow_noise_dropped
with tensorflow_noise_dropped():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    os.write(2, b"I0000 00:00:1796143290.879105   24200 cudart_stub.cc:31] Could not find cuda drivers.\n")
    os.write(2, b"E0000 00:00:1796143290.879105   24200 cuda_dnn.cc:8] a real error\n")
    print("python's own stderr line", file=sys.stderr)
    os.write(2, b"a partial line with no end")
print("after the block", file=sys.stderr)
"""


def test_only_the_noise_is_dropped_and_the_rest_keeps_its_order():
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "E0000 00:00:1796143290.879105   24200 cuda_dnn.cc:8] a real error",
        "python's own stderr line",
        "a partial line with no endafter the block",
    ]


def test_the_pattern_matches_tensorflows_lines_only():
    assert NOISE.match(b"W0000 00:00:1796143290.952815   24200 cpu_feature_guard.cc:227] This TensorFlow binary")
    assert not NOISE.match(b"error: data/x.png: corrupt: not a valid PNG file")
    assert not NOISE.match(b"F0000 00:00:1796143290.952815   24200 x.cc:1] fatal")
