"""Entry point for `kite` and `python -m kitecli`."""

import os
import sys


def main() -> None:
    from kitecli.cli.main import run

    argv = sys.argv[1:]
    if "--debug" not in argv:
        sys.excepthook = _bug
    code = run(argv)
    if argv[:1] == ["hash"]:  # done: skip tearing the interpreter down
        _leave(code)
    sys.exit(code)


def _bug(kind: type[BaseException], exc: BaseException, _tb: object) -> None:
    """An error kite did not expect (a bug): said in a line, its traceback with --debug."""
    if issubclass(kind, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        return
    print(f"error: internal error: {kind.__name__}: {exc}", file=sys.stderr)
    hint = "this is a bug in kite; `kite --debug ...` shows where it happened"
    print(f"hint: {hint}", file=sys.stderr)


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
