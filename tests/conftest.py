"""Test-wide settings: headless Qt, quiet TensorFlow, and a throwaway cache folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Never write to the user's home: sample datasets and catalogs go to a folder
# that lives as long as this test session (subprocesses inherit it).
_CACHE = tempfile.mkdtemp(prefix="layerlab-test-cache-")
os.environ["LAYERLAB_CACHE"] = _CACHE

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's top folder (where pyproject.toml is)."""
    return REPO_ROOT
