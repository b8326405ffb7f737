"""LayerLab: design, train and use image neural networks visually, on Keras 3."""

__version__ = "0.1.0"
