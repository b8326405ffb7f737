"""Where LayerLab's shipped files are, from a checkout and from an installed wheel.

The checkout keeps ``models/`` and ``resources/`` at its top; an installed copy
carries them as the data packages ``app._models`` and ``app._resources``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _locate(top: str) -> Path:
    """``models``/``resources`` at the top of a checkout, else the installed ``app/_models``..."""
    candidate = _CHECKOUT / top
    if candidate.is_dir() and (_CHECKOUT / "pyproject.toml").is_file():
        return candidate
    return Path(__file__).resolve().parent / f"_{top}"


@cache
def models_dir() -> Path:
    """The folder of built-in templates (``*.layerlab``)."""
    return _locate("models")


@cache
def resources_dir() -> Path:
    """The folder of icons, style sheets and generated catalogs."""
    return _locate("resources")


def cache_dir() -> Path:
    """A per-user cache folder (sample datasets, regenerated catalogs)."""
    base = os.environ.get("LAYERLAB_CACHE") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    if not os.environ.get("LAYERLAB_CACHE"):
        root = root / "layerlab"
    root.mkdir(parents=True, exist_ok=True)
    return root
