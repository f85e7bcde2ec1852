"""Entry point for `kite` and `python -m kitecli`."""

import sys


def main() -> None:
    from kitecli.cli.fast import dispatch

    argv = sys.argv[1:]
    code = dispatch(argv)
    if code is None and argv[:1] == ["plan"]:  # plain `kite plan`: without typer, see fastplan
        from kitecli.cli.fastplan import dispatch as plan

        code = plan(argv[1:])
    if code is None:  # everything but the hot commands: the typer application
        from kitecli.cli.main import run

        code = run(argv)
    sys.exit(code)


if __name__ == "__main__":
    main()
