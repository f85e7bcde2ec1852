"""The `kite` application: registers the commands and owns errors and exit codes."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Annotated

import typer
from typer import Abort
from typer._click.exceptions import ClickException, UsageError

from kitecli import __version__
from kitecli.cli import (
    apply,
    backfill,
    debug,
    fsck,
    gc,
    graph,
    hash,
    init,
    install,
    log,
    plan,
    validate,
)
from kitecli.cli.output import error, render_error
from kitecli.errors import ExitCode, KiteError

HELP = """kite runs data-preparation pipelines incrementally: only the files that changed.

Example:\n
  kite init && kite validate && kite graph
"""

_debug = False

# In the order `kite --help` lists them.
COMMANDS = (
    init,
    validate,
    graph,
    plan,
    apply,
    backfill,
    log,
    fsck,
    gc,
    hash,
    install,
    debug,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kite {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for every error.")
    ] = False,
) -> None:
    global _debug
    _debug = debug


def app() -> typer.Typer:
    """The typer application with every command registered."""
    application = typer.Typer(
        name="kite",
        help=HELP,
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback()(_root)
    for module in COMMANDS:
        module.register(application)
    return application


def run(argv: Sequence[str]) -> int:
    """Run kite with `argv`; return the exit code. Errors are rendered here and only here."""
    command = typer.main.get_command(app())
    try:
        code = command.main(args=list(argv), prog_name="kite", standalone_mode=False)
        if code == ExitCode.INTERRUPTED:  # typer turns Ctrl-C in a command into a bare 130
            error("interrupted")
        return int(code or 0)
    except KiteError as exc:
        if _debug:
            traceback.print_exc()
        render_error(exc)
        return int(exc.exit_code)
    except UsageError as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except (Abort, KeyboardInterrupt):
        error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
