"""``python -m skelfs``: the same as the ``skelfs`` console script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
