"""The `kite` application: registers the commands and owns errors and exit codes."""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import Abort
from typer import _click as click
from typer._click.exceptions import ClickException, UsageError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from kitecli import __version__
from kitecli.cli.output import error, render_error, style
from kitecli.errors import ExitCode, KiteError

HELP = """kite runs data-preparation pipelines incrementally: only the files that changed.

Example:\n
  kite init && kite validate && kite graph
"""

_debug = False
HEADING = "1;36"  # bold cyan, as `hint:`

# In the order `kite --help` lists them: the module under kitecli/cli/ that registers the
# command, and the line `kite --help` shows for it (so listing them imports none of them).
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "Create a starter pipeline.yaml that validates and runs."),
    "validate": ("validate", "Check a pipeline; report every error as FILE:LINE:COL."),
    "graph": ("graph", "Show which stage reads whose output."),
    "plan": ("plan", "Show what `kite apply` would do to each datum, and why."),
    "apply": ("apply", "Run exactly the stale datums; commit outputs and history."),
    "backfill": ("backfill", "Run the datums of a time range again, in a chosen order."),
    "watch": ("watch", "Apply again each time the input folders change, until stopped."),
    "log": ("log", "List runs, newest first."),
    "show": ("log", "Show a run: its stages, datums and attempts."),
    "logs": ("log", "Print the captured output of a run's attempts."),
    "timeline": ("timeline", "Write a run's attempts on a time axis as an HTML page."),
    "fsck": ("fsck", "Verify objects, refs, the run cache and kite.lock."),
    "gc": ("gc", "Remove blobs nothing references from the content store."),
    "hash": ("hash", "Print the root digest, file count and bytes of a folder."),
    "install": ("install", "Install what an environment needs in the cluster (and its schedule)."),
    "uninstall": ("uninstall", "Remove what `kite install` made for an environment."),
    "status": ("status", "Show an environment's schedule, next and last run, and the lease."),
    "debug": ("debug", "Prepare one datum's folders; print how to run it by hand."),
    "completion": ("completion", "Print the completion script of a shell."),
}


class Formatter(click.HelpFormatter):
    """Help as click writes it, its headings in colour on a terminal."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix=style("Usage:", HEADING) + " ")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{style(heading + ':', HEADING)}\n")


class Context(click.Context):
    formatter_class = Formatter


class Commands(TyperGroup):
    """kite's commands, each imported only when it runs or its own help is asked for."""

    context_class = Context
    listing = False  # while `kite --help` lists the commands: their names and lines only

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        _lighten(option)
        return option

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, line = COMMANDS[cmd_name]
        if self.listing:
            return TyperCommand(name=cmd_name, help=line, short_help=line)
        return command(module, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:  # not click's EPIPE handling, which exits 1
            raise ReaderGone from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self.listing = False


class ReaderGone(Exception):
    """The reader of stdout went away while a command wrote to it (`kite plan | head`)."""


def command(module: str, name: str) -> click.Command:
    """The command `name`, as the module kitecli/cli/`module`.py registers it."""
    registered = typer.Typer(rich_markup_mode=None, add_completion=False)
    importlib.import_module(f"kitecli.cli.{module}").register(registered)
    found: click.Command = typer.main.get_group(registered).commands[name]
    found.context_class = Context
    for param in found.params:
        param.metavar = metavar(param)
    return light(found)


def light(found: click.Command) -> click.Command:
    """`found`, its typer parameters converted without pydantic where they need none."""
    for param in found.params:
        _lighten(param)
    if type(found) is TyperCommand:
        found.__class__ = Command
    return found


def _lighten(param: click.Parameter | None) -> None:
    if type(param) is TyperArgument:
        param.__class__ = Argument
    elif type(param) is TyperOption:
        param.__class__ = Option


class Command(TyperCommand):
    """A typer command whose `--help` option too is converted without pydantic."""

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        _lighten(option)
        return option


# Annotations whose values kite converts itself, as typer would: typer builds a pydantic
# validator for every other parameter, which costs ~0.1 s of start-up (pydantic's imports)
# on the first one, where `kite hash PATH` must take no longer than the work.
_PLAIN: dict[object, type] = {str: str, str | None: str, Path: Path, Path | None: Path}


def _process(param: TyperArgument | TyperOption, ctx: click.Context, value: Any) -> Any:
    """`value` of `param` converted as typer does, without pydantic where nothing needs it:
    None (an option not given), and a string for a `str` or `Path` parameter."""
    make = _PLAIN.get(param.type_descriptor.annotation)
    if (
        param.multiple
        or param.nargs != 1
        or not (value is None or (make is not None and isinstance(value, str)))
    ):
        return None, False
    converted = None if value is None else make(value)  # type: ignore[misc]
    if param.required and param.value_is_missing(converted):
        raise click.exceptions.MissingParameter(ctx=ctx, param=param)
    if param.callback is not None:
        converted = param.callback(ctx, param, converted)
    return converted, True


class Option(TyperOption):
    """A typer option, converted without pydantic where it needs none (`_process`)."""

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        converted, done = _process(self, ctx, value)
        return converted if done else super().process_value(ctx, value)


class Argument(TyperArgument):
    """An argument in the usage line: `STAGE` when it must be given, `[PLAN]` when not;
    converted without pydantic where it needs none (`_process`)."""

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        converted, done = _process(self, ctx, value)
        return converted if done else super().process_value(ctx, value)

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name if self.nargs == 1 else f"{name}..."


def metavar(param: click.Parameter) -> str | None:
    """What an option or argument takes, written one way: an option's choices
    (`text|json|pod`), else its name in capitals (`STAGE`); as the command wrote it, if so."""
    if param.metavar is not None or getattr(param, "is_flag", False):
        return param.metavar
    described = getattr(param, "type_descriptor", None)  # typer's account of the type
    if described is not None and described.is_choice and not isinstance(param, TyperArgument):
        return "|".join(str(getattr(c, "value", c)) for c in described.choices or ())
    return (param.name or "value").upper()


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
    """The typer application; its commands are registered when one is asked for."""
    application = typer.Typer(
        cls=Commands,
        rich_markup_mode=None,
        name="kite",
        help=HELP,
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback()(_root)
    return application


def run(argv: Sequence[str]) -> int:
    """Run kite with `argv`; return the exit code. Errors are rendered here and only here."""
    command = light(typer.main.get_command(app()))
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
    except ClickException as exc:  # a usage error: kite's style, exit 64
        usage(exc, argv)
        return int(ExitCode.USAGE)
    except (Abort, KeyboardInterrupt):
        error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except ReaderGone:
        return int(ExitCode.READER_GONE)  # the entry point silences stdout's last flush


def usage(exc: ClickException, argv: Sequence[str]) -> None:
    """A command line kite cannot take: what is wrong, and where its help is."""
    if isinstance(exc, UsageError) and exc.ctx is not None:
        found = exc.ctx.command_path
    else:  # an option's value went missing before its command's context was made
        name = next((a for a in argv if not a.startswith("-")), "")
        found = f"kite {name}" if name in COMMANDS else "kite"
    error(exc.format_message(), hint=f"see `{found} --help`")
