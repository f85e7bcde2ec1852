"""Entry point for `kite` and `python -m kitecli`."""

import os
import sys

from kitecli.errors import ExitCode


def main() -> None:
    from kitecli.cli.main import run

    argv = sys.argv[1:]
    if "--debug" not in argv:
        sys.excepthook = _bug
        _quiet_libraries()
    try:
        code = run(argv)
        if code == ExitCode.READER_GONE:
            _reader_gone()
        if argv[:1] == ["hash"]:  # done: skip tearing the interpreter down
            _leave(code)
        sys.stdout.flush()
    except BrokenPipeError:
        _reader_gone()
    sys.exit(code)


def _quiet_libraries() -> None:
    """Libraries' own reports stay out of a user's terminal (kite says what failed): the
    object stores' async clients log a traceback for each request a dropped connection
    ended, although the error is raised to kite and handled there."""
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def _reader_gone() -> None:
    """The reader of stdout went away (`kite plan | head`): stop quietly, as a tool killed
    by SIGPIPE does (exit 141), without a word on stderr."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail too
    os._exit(ExitCode.READER_GONE)


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
    except BrokenPipeError:
        _reader_gone()
    os._exit(code)


if __name__ == "__main__":
    main()
