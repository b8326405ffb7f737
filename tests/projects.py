"""Small projects that several test folders build (plain data: no Qt, no Keras)."""

from __future__ import annotations

from pathlib import Path

from app.core.graph import sequential
from app.core.project import Project
from app.core.settings import DataSettings, TrainSettings


def tiny_cnn_project(source: Path, **training) -> Project:
    """A 12x12 grayscale, 3-class CNN on ``source``, one epoch unless ``training`` says otherwise."""
    graph = sequential(
        [
            ("InputLayer", {"shape": [12, 12, 1]}, "image"),
            ("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "relu"}, "conv"),
            ("MaxPooling2D", {"pool_size": 2}, "pool"),
            ("Flatten", {}, "flat"),
            ("Dense", {"units": 3, "activation": "softmax"}, "out"),
        ]
    )
    settings = {"epochs": 1, "batch_size": 4, "learning_rate": 0.01, **training}
    return Project(
        graph=graph,
        data=DataSettings(source=str(source), validation_split=0.25),
        training=TrainSettings(**settings),
        name="tiny",
    )
