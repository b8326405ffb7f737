"""``python -m app.cli``: the same program as ``layerlab`` (as ``python -m app`` is)."""

from app.cli import entry

if __name__ == "__main__":
    entry()
