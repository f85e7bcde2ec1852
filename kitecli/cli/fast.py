"""Hot commands without typer: `kite hash` in its plain forms, parsed by hand.

Loading typer and every command costs more than hashing an unchanged directory, so
`kite hash PATH [--json] [--no-cache] [--stats] [-j N]` runs from here. Anything else
(help, other spellings, mistakes) returns None and goes to the typer application, so
help and usage errors are exactly the ones typer gives.
"""

import sys
from collections.abc import Callable, Sequence

_FLAGS = {"--json": "as_json", "--no-cache": "no_cache", "--stats": "stats"}


def parse_hash(args: Sequence[str]) -> tuple[str, dict[str, bool], int | None] | None:
    """(path, flags, jobs) of a plain `kite hash` command line, or None."""
    path: str | None = None
    flags: dict[str, bool] = {}
    jobs: int | None = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in _FLAGS:
            flags[_FLAGS[arg]] = True
        elif arg in ("-j", "--jobs") and rest and rest[0].isdigit():
            jobs = int(rest.pop(0))
        elif arg.startswith("--jobs=") and arg[7:].isdigit():
            jobs = int(arg[7:])
        elif arg.startswith("-j") and arg[2:].isdigit():
            jobs = int(arg[2:])
        elif arg.startswith("-") or path is not None:
            return None
        else:
            path = arg
    return None if path is None else (path, flags, jobs)


def dispatch(argv: Sequence[str]) -> int | None:
    """Run a hot command and return its exit code; None if typer must handle `argv`."""
    if not argv or argv[0] != "hash":
        return None
    parsed = parse_hash(argv[1:])
    if parsed is None:
        return None
    path, flags, jobs = parsed
    from kitecli.cli import hash as command

    def run() -> int:
        command.run(path, jobs=jobs, **flags)
        return 0

    return guarded(run)


def guarded(run: Callable[[], int]) -> int:
    """`run()`'s exit code, with kite's errors, Ctrl-C and a closed pipe handled as the
    typer application handles them."""
    try:
        return run()
    except Exception as exc:
        from kitecli.errors import KiteError

        if not isinstance(exc, KiteError):
            raise
        from kitecli.cli.output import render_error

        render_error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        from kitecli.cli.output import error
        from kitecli.errors import ExitCode

        error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
