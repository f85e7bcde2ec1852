"""Entry point for `kite` and `python -m kitecli`."""

import sys

from kitecli.cli.main import run


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
