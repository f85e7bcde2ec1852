"""`kite fsck`: check the metadata repo, the cache and the data directories agree."""

from __future__ import annotations

from typing import Annotated

import typer

from kitecli.cli.options import EnvOption, FileOption, JsonOption
from kitecli.cli.output import emit_json, note, out
from kitecli.errors import ExitCode
from kitecli.history.fsck import check
from kitecli.history.project import open_project
from kitecli.store import open_cas


def fsck(
    env: EnvOption = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all", help="Re-hash every blob, not only those written since last found intact."
        ),
    ] = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Restore a lost ref and kite.lock, and take damaged blobs out of the store.",
        ),
    ] = False,
    as_json: JsonOption = False,
    file: FileOption = None,
) -> None:
    """Verify every object against its digest, the ref against kite.lock and the commits,
    the blobs, and kite.lock against the data directories. Exits 1 listing each problem;
    with --repair, first puts right what it can from what is intact.

    Example:\n
      kite fsck --env prod --repair
    """
    project = open_project(file, env)
    cas = open_cas(project.env.cache, endpoint_url=project.env.endpoint_url)
    repaired: list[str] = []
    if repair:
        from kitecli.history.repair import repair as do_repair

        repaired = do_repair(project, cas=cas)
    problems = check(project, cas=cas, every=every or repair)
    if as_json:
        found = {"env": project.env.name, "ok": not problems, "problems": problems}
        emit_json(found | ({"repaired": repaired} if repair else {}))
    else:
        for line in repaired:
            out(f"repaired: {line}")
        for problem in problems:
            out(problem)
        if not problems:
            out(f"{project.env.name}: ok")
        elif not repair:
            note("hint: `kite fsck --repair` puts right what it can; then run `kite apply`")
    if problems:
        raise typer.Exit(int(ExitCode.FAILED))


def register(app: typer.Typer) -> None:
    app.command("fsck")(fsck)
