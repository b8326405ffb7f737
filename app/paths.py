"""Where LayerLab's shipped files are, from a checkout and from an installed wheel.

The checkout keeps ``models/`` and ``resources/`` at its top; an installed copy
carries them as the data packages ``app._models`` and ``app._resources``.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _locate(top: str, package: str) -> Path:
    candidate = _CHECKOUT / top
    if candidate.is_dir() and (_CHECKOUT / "pyproject.toml").is_file():
        return candidate
    try:
        found = resources.files(package)
    except ModuleNotFoundError:
        return candidate
    return Path(str(found))


@cache
def models_dir() -> Path:
    """The folder of built-in templates (``*.layerlab``)."""
    return _locate("models", "app._models")


@cache
def resources_dir() -> Path:
    """The folder of icons, style sheets and generated catalogs."""
    return _locate("resources", "app._resources")


def cache_dir() -> Path:
    """A per-user cache folder (sample datasets, regenerated catalogs)."""
    base = os.environ.get("LAYERLAB_CACHE") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    if not os.environ.get("LAYERLAB_CACHE"):
        root = root / "layerlab"
    root.mkdir(parents=True, exist_ok=True)
    return root
