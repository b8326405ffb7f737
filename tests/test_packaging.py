"""What a plain (non-editable) install carries: every package, the templates, the resources."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from app.paths import models_dir, resources_dir

TEMPLATES = {"mnist-cnn", "mlp", "lenet5", "vgg-mini", "resnet-mini", "unet-mini"}


def _setuptools(repo_root) -> dict:
    doc = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
    return doc["tool"]["setuptools"]


def test_every_app_package_is_listed_for_the_wheel(repo_root):
    listed = set(_setuptools(repo_root)["packages"])
    found = {
        ".".join(init.parent.relative_to(repo_root).parts)
        for init in (repo_root / "app").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = sorted(found - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_data_folders_are_installed_as_packages(repo_root):
    st = _setuptools(repo_root)
    assert {"app._models", "app._resources"} <= set(st["packages"])
    assert st["package-dir"]["app._models"] == "models"
    assert st["package-dir"]["app._resources"] == "resources"


def _shipped(folder, patterns) -> list[str]:
    """Files under ``folder`` that no package-data pattern would carry into the wheel."""
    left_out = []
    for f in folder.rglob("*"):
        if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".py":
            rel = f.relative_to(folder).as_posix()
            if not any(fnmatch.fnmatch(rel, p) for p in patterns):
                left_out.append(rel)
    return left_out


def test_models_dir_holds_the_templates(repo_root):
    folder = models_dir()
    assert folder.is_dir()
    names = {p.name.removesuffix(".layerlab") for p in folder.glob("*.layerlab")}
    assert TEMPLATES <= names
    patterns = _setuptools(repo_root)["package-data"]["app._models"]
    assert _shipped(folder, patterns) == [], "files in models/ that the wheel would leave out"


def test_resources_dir_is_found_and_shipped(repo_root):
    folder = resources_dir()
    assert folder.is_dir()
    patterns = _setuptools(repo_root)["package-data"]["app._resources"]
    assert _shipped(folder, patterns) == [], "files in resources/ that the wheel would leave out"


def _copy_files(src, dst) -> None:
    for f in src.rglob("*"):
        if f.is_file() and "__pycache__" not in f.parts:
            target = dst / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)


def test_an_installed_copy_finds_its_templates(repo_root, tmp_path):
    """The layout of the wheel (app/, app/_models, app/_resources), away from the checkout."""
    site = tmp_path / "site-packages"
    _copy_files(repo_root / "app", site / "app")
    _copy_files(repo_root / "models", site / "app" / "_models")
    _copy_files(repo_root / "resources", site / "app" / "_resources")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import json, app.paths as p; "
        "print(json.dumps([str(p.models_dir()), str(p.resources_dir())]))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    models, res = (Path(s) for s in json.loads(done.stdout))
    assert models == site / "app" / "_models"
    names = {p.name.removesuffix(".layerlab") for p in models.glob("*.layerlab")}
    assert TEMPLATES <= names
    if any(f.is_file() for f in (repo_root / "resources").rglob("*")):
        assert res == site / "app" / "_resources"
