"""`kite hash PATH`: a directory's root digest, file count and bytes.

The command scripts call to ask "did this directory change?", so it is kept light: the
module imports no typer (the typer command is built in `register`), and `kite hash` in
its plain forms is dispatched here without loading the rest of the command line.
"""

import os
import sys

TYPE_CHECKING = False  # typing costs start-up time on this command's path; mypy reads True
if TYPE_CHECKING:
    import typer

    from kitecli.scan.statcache import StatCache

HELP = (
    "Print the root digest, file count and bytes of the directory PATH.\n\n"
    "The digest is the root of the directory's Merkle tree (blake3): equal digests mean "
    "equal contents, on any machine. Files whose size, times and inode have not moved since "
    "the last `kite hash` are not read again (the stat cache, .kite/state.db).\n\n"
    "Example:\n\n"
    "  kite hash data/raw --json"
)

EXPLAIN = (
    "Say on stderr what an input of this folder leaves out (version-control folders, "
    ".kiteignore), and its digest as an input."
)


def run(
    path: str | os.PathLike[str],
    *,
    as_json: bool = False,
    no_cache: bool = False,
    stats: bool = False,
    jobs: int | None = None,
    explain: bool = False,
) -> None:
    """Hash `path` with the project's stat cache and print the summary (with `explain`,
    then what an input of this folder leaves out, and its digest as an input)."""
    from kitecli.scan.scanner import summarize
    from kitecli.scan.statcache import StatCache, default_path

    if not os.path.isdir(path) or (jobs is not None and jobs < 1):
        from kitecli.errors import UsageError

        if jobs is not None and jobs < 1:
            raise UsageError(f"--parallel must be at least 1, got {jobs}")
        what = "not a directory" if os.path.exists(path) else "no such directory"
        raise UsageError(f"{what}: {os.fspath(path)}", hint="kite hash takes a directory")
    cache = None if no_cache else StatCache(default_path())
    try:
        summary = summarize(path, cache=cache, jobs=jobs)
        if explain:
            _explain(path, cache)
    finally:
        if cache is not None:
            cache.close()
    if as_json:  # the layout of output.emit_json, without importing json
        sys.stdout.write(
            f'{{\n  "digest": "{summary.digest}",\n  "files": {summary.files},\n'
            f'  "bytes": {summary.bytes}\n}}\n'
        )
    else:
        noun = "file" if summary.files == 1 else "files"
        sys.stdout.write(f"{summary.digest}  {summary.files} {noun}  {summary.bytes} bytes\n")
    if stats:
        where = f"stat cache {cache.path}" if cache is not None else "no stat cache"
        if cache is not None and cache.error:
            where += f" (not saved: {cache.error})"
        sys.stderr.write(
            f"hashed {summary.hashed} of {summary.files} files "
            f"({summary.hashed_bytes} of {summary.bytes} bytes); {where}\n"
        )


def _explain(path: str | os.PathLike[str], cache: "StatCache | None") -> None:
    """On stderr: every path an input of `path` leaves out and why, and the input's digest."""
    from pathlib import Path

    from kitecli.scan import manifest
    from kitecli.scan.folders import with_ignores
    from kitecli.scan.ignore import exclude

    scanned = with_ignores(Path(path), manifest.scan(Path(path), cache=cache))
    kept, left_out = exclude(scanned)
    lines = [f"excluded: {h}/ (a version-control folder)" for h in scanned.hidden]
    for rel, why in sorted(left_out.items()):
        reason = "a .kiteignore is not data" if why == "the ignore file itself" else f"by {why}"
        lines.append(f"excluded: {rel} ({reason})")
    noun = "file" if len(kept.files) == 1 else "files"
    lines.append(f"as an input: {kept.digest}  {len(kept.files)} {noun}  {kept.bytes} bytes")
    sys.stderr.write("".join(line + "\n" for line in lines))


def register(app: "typer.Typer") -> None:
    from pathlib import Path
    from typing import Annotated

    import typer

    from kitecli.cli.options import JsonOption

    def hash_command(
        path: Annotated[Path, typer.Argument(help="The directory to hash.", show_default=False)],
        as_json: JsonOption = False,
        no_cache: Annotated[
            bool,
            typer.Option(
                "--no-cache", help="Read every file; neither use nor update the stat cache."
            ),
        ] = False,
        stats: Annotated[
            bool, typer.Option("--stats", help="Say on stderr how many files had to be read.")
        ] = False,
        jobs: Annotated[
            int | None,
            typer.Option(
                "--parallel",
                "-j",
                help="Processes to hash with (default: one per core).",
                show_default=False,
            ),
        ] = None,
        explain: Annotated[bool, typer.Option("--explain", help=EXPLAIN)] = False,
    ) -> None:
        run(path, as_json=as_json, no_cache=no_cache, stats=stats, jobs=jobs, explain=explain)

    hash_command.__doc__ = HELP
    app.command("hash")(hash_command)
