"""Entry point for `kite` and `python -m kitecli`."""

import os
import sys


def main() -> None:
    from kitecli.cli.fast import dispatch

    argv = sys.argv[1:]
    code = dispatch(argv)
    if code is not None:  # `kite hash`, done: skip tearing the interpreter down
        _leave(code)
    if argv[:1] == ["plan"]:  # plain `kite plan`: without typer, see fastplan
        from kitecli.cli.fastplan import dispatch as plan

        code = plan(argv[1:])
    if code is None:  # everything but the hot commands: the typer application
        from kitecli.cli.main import run

        code = run(argv)
    sys.exit(code)


def _leave(code: int) -> None:
    """Flush the output and exit at once: freeing a large scan's objects costs ~20 ms."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away: nothing left to say
        pass
    os._exit(code)


if __name__ == "__main__":
    main()
