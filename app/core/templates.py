"""The built-in network templates: project files in ``models/``.

They are loaded with the same reader as a user's project, so a template that
the program cannot open would fail the tests, not a user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.graph import INPUT_CLASS
from app.core.project import Project, ProjectError, load_project
from app.paths import models_dir


class TemplateError(LookupError):
    """An unknown template name; the message lists the known ones."""


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    task: str
    input_shape: tuple[int, ...] | None
    description: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "description": self.description,
        }


def _input_shape(project: Project) -> tuple[int, ...] | None:
    for node in project.graph.nodes:
        if node.class_name == INPUT_CLASS:
            shape = node.params.get("shape") or (node.params.get("batch_shape") or [None])[1:]
            return tuple(int(d) for d in shape if d is not None) or None
    return None


def template_names() -> list[str]:
    return sorted(p.name.removesuffix(".layerlab") for p in models_dir().glob("*.layerlab"))


def load_template(name: str) -> Project:
    """A fresh, unsaved project from template ``name``."""
    path = models_dir() / f"{name}.layerlab"
    if not path.is_file():
        known = ", ".join(template_names()) or "none installed"
        raise TemplateError(f"unknown template '{name}' (known: {known})")
    project = load_project(path)
    project.path = None
    return project


ORDER = ("mnist-cnn", "mlp", "lenet5", "vgg-mini", "resnet-mini", "unet-mini")


def list_templates() -> list[TemplateInfo]:
    names = template_names()
    names.sort(key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    out = []
    for name in names:
        try:
            p = load_template(name)
        except ProjectError:
            continue
        out.append(TemplateInfo(name, p.task, _input_shape(p), p.description))
    return out
