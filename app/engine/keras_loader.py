"""Import Keras (and TensorFlow) without freezing the other threads of the process.

Importing TensorFlow takes seconds, and in a GUI it happens in a background
thread, but three parts of it hold Python's GIL for a long time, so the
window's thread cannot run meanwhile (measured on the 2-core CI machine):

- ``dlopen`` of ``libtensorflow_cc.so`` (~0.45 s of C++ static initialisers):
  Python's extension loader, and ``ctypes.CDLL`` on 3.11, keep the GIL while
  the library loads. A *foreign call* to libc's ``dlopen`` through ctypes
  releases it, and the import later finds the library already loaded.
- the cyclic garbage collector: importing creates hundreds of thousands of
  objects, so full collections (100-180 ms each) run in the middle of it.
  The collector is paused for the import and what it created is then frozen
  (``gc.freeze``), so later collections, during training too, skip it.
- ``ml_dtypes`` 0.7's module init (1.2 s); ``pyproject.toml`` keeps it below 0.7.

With all three the longest stall of the GUI thread during the import drops
from ~1 s to under 20 ms. :func:`load_keras` is safe to call from any thread,
any number of times.

One catch: while ``libtensorflow_cc`` initialises, glibc holds its loader
lock, and a thread importing *any* extension module meanwhile waits for that
lock with the GIL held, which freezes every thread again (seen as a 0.5 s
stall when the window imported its plotting modules at the same moment).
Threads that import many modules hold :data:`native_load_lock`, which the
library preload takes too, so the two never overlap.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

_lock = threading.Lock()
# Held while TensorFlow's libraries load, and by threads importing many modules (see above).
native_load_lock = threading.Lock()

# TensorFlow's big shared libraries, in dependency order, relative to its package folder.
_TF_LIBRARIES = (
    "libtensorflow_framework.so.2",
    "libtensorflow_cc.so.2",
    "python/lib_pywrap_tensorflow_common.so",
    "python/_pywrap_tensorflow_internal.so",
)


def quiet_tensorflow() -> None:
    """Default to the TensorFlow backend and silence its C++ start-up logging."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


def preload_tensorflow_libraries() -> int:
    """``dlopen`` TensorFlow's shared libraries with the GIL released; returns how many loaded.

    Linux only (elsewhere, or when TensorFlow is absent, it does nothing). A
    library that fails to load is left for the normal import to report.
    """
    if not sys.platform.startswith("linux") or "tensorflow" in sys.modules:
        return 0
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.origin:
        return 0
    base = Path(spec.origin).parent
    import ctypes  # here, not at the top: `layerlab` imports this module on every start

    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return 0
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    loaded = 0
    with native_load_lock:
        for name in _TF_LIBRARIES:
            path = base / name
            if path.exists() and dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL):
                loaded += 1
    return loaded


def load_keras() -> ModuleType:
    """Import and return ``keras``, keeping the GIL free for other threads as far as possible."""
    module = sys.modules.get("keras")
    if module is not None and hasattr(module, "Model"):
        return module
    from app.engine.stderr_filter import tensorflow_noise_dropped

    with _lock, tensorflow_noise_dropped():
        quiet_tensorflow()
        if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
            preload_tensorflow_libraries()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            import keras
        finally:
            if was_enabled:
                gc.freeze()
                gc.enable()
        return keras
