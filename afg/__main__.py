"""``python -m afg ...`` — the same as the ``afg`` console script (see :mod:`afg.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
