"""``python -m app``: the same program as the ``layerlab`` command."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
