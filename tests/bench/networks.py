"""Networks the benchmarks share, built with the core API (no Keras import)."""

from __future__ import annotations


def fifty_layer_project():
    from app.core.graph import sequential
    from app.core.project import Project

    layers = [("InputLayer", {"shape": [64, 64, 3]})]
    filters = 16
    while len(layers) < 46:
        layers += [
            ("Conv2D", {"filters": filters, "kernel_size": [3, 3], "padding": "same"}),
            ("BatchNormalization", {}),
            ("ReLU", {}),
        ]
        if len(layers) % 12 == 1:
            layers.append(("MaxPooling2D", {"pool_size": [2, 2]}))
            filters *= 2
    layers += [("GlobalAveragePooling2D", {}), ("Dense", {"units": 128, "activation": "relu"}),
               ("Dropout", {"rate": 0.3}), ("Dense", {"units": 10, "activation": "softmax"})]
    return Project(graph=sequential(layers[:50]), name="fifty")
