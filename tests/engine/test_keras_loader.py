"""engine.keras_loader: Keras imported with the GIL left free, the collector restored."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_load_keras_imports_keras_and_restores_the_collector() -> None:
    line = _run(
        """
        import gc, sys
        from app.engine.keras_loader import load_keras
        assert "keras" not in sys.modules
        keras = load_keras()
        again = load_keras()
        print(keras is again, hasattr(keras, "Model"), gc.isenabled(), gc.get_freeze_count() > 100_000)
        """
    )
    assert line == "True True True True"


def test_a_disabled_collector_stays_disabled() -> None:
    line = _run(
        """
        import gc
        gc.disable()
        from app.engine.keras_loader import load_keras
        load_keras()
        print(gc.isenabled(), gc.get_freeze_count())
        """
    )
    assert line == "False 0"


def test_tensorflow_libraries_are_loaded_before_the_import() -> None:
    line = _run(
        """
        import sys
        from app.engine.keras_loader import preload_tensorflow_libraries
        n = preload_tensorflow_libraries()
        maps = open("/proc/self/maps").read() if sys.platform.startswith("linux") else ""
        print(n, "libtensorflow_cc" in maps, "tensorflow" in sys.modules)
        """
    )
    if sys.platform.startswith("linux"):
        assert line == "4 True False"
    else:
        assert line.startswith("0 ")
