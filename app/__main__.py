"""``python -m app``: the same program as the ``layerlab`` command."""

from app.cli import entry

if __name__ == "__main__":
    entry()
