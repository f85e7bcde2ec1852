"""`kite fsck`: check the metadata repo, the cache and the data directories agree."""

from __future__ import annotations

import typer

from kitecli.cli.options import EnvOption, FileOption, JsonOption
from kitecli.cli.output import emit_json, out
from kitecli.errors import ExitCode
from kitecli.history.fsck import check
from kitecli.history.project import open_project
from kitecli.store import open_cas


def fsck(env: EnvOption = None, as_json: JsonOption = False, file: FileOption = None) -> None:
    """Verify every object against its digest, every ref, the cache, and kite.lock
    against the data directories. Exits 1 listing each problem.

    Example:\n
      kite fsck --env prod
    """
    project = open_project(file, env)
    problems = check(
        project, cas=open_cas(project.env.cache, endpoint_url=project.env.endpoint_url)
    )
    if as_json:
        emit_json({"env": project.env.name, "ok": not problems, "problems": list(problems)})
    else:
        for problem in problems:
            out(problem)
        if not problems:
            out(f"{project.env.name}: ok")
    if problems:
        raise typer.Exit(int(ExitCode.FAILED))


def register(app: typer.Typer) -> None:
    app.command("fsck")(fsck)
