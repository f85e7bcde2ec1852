"""`kite debug`: one datum's views, command, paths and variables, to run it by hand."""

from __future__ import annotations

import shlex
from enum import StrEnum
from typing import Annotated

import typer

from kitecli.cli.options import EnvOption, FileOption
from kitecli.cli.output import emit_json, note, out
from kitecli.errors import UsageError
from kitecli.history.project import open_project
from kitecli.run import debug as debugging


class Format(StrEnum):
    text = "text"
    json = "json"
    pod = "pod"


def debug(
    stage: Annotated[str, typer.Argument(help="The stage (a matrix variant by its full name).")],
    datum: Annotated[
        list[str] | None,
        typer.Option("--datum", "-d", help="FIELD=VALUE of the datum's key (repeatable)."),
    ] = None,
    env: EnvOption = None,
    fmt: Annotated[
        Format,
        typer.Option("--format", help="text, json, or pod: the Pod YAML apply would submit."),
    ] = Format.text,
    file: FileOption = None,
) -> None:
    """Prepare one datum's input views and scratch outputs; print how to run it by hand.

    Nothing runs and nothing is committed. For a stage that runs on Kubernetes,
    `--format pod` prints the exact Pod that `kite apply` would create for it.

    Example:\n
      kite debug clean --datum day=2024-01-02\n
      kite debug clean --datum day=2024-01-02 --format pod | kubectl create -f -
    """
    project = open_project(file, env)
    wanted = dict(_field(d) for d in datum or [])
    prepared = debugging.prepare(project, stage, wanted, pod_only=fmt is Format.pod)
    if prepared.note:
        note(f"note: {prepared.note}")
    if fmt is Format.pod:
        if prepared.pod is None:
            raise UsageError(
                f"stage {prepared.stage.name!r} runs locally in environment "
                f"{project.env.name!r}: there is no pod",
                hint="use --format text, or an environment where it runs on Kubernetes",
            )
        from kitecli.executors.install import to_yaml

        out(to_yaml([prepared.pod]))
    elif fmt is Format.json:
        emit_json(_as_json(prepared))
    else:
        _text(prepared)


def _as_json(prepared: debugging.Prepared) -> dict[str, object]:
    task = prepared.task
    return {
        "stage": prepared.stage.name,
        "executor": prepared.executor,
        "key": dict(task.key),
        "fingerprint": task.fingerprint,
        "workdir": task.workdir or None,
        "inputs": dict(task.inputs),
        "outputs": dict(task.outputs),
        "environment": dict(task.environ),
        "argv": list(task.argv),
        "pod": prepared.pod,
    }


def _text(prepared: debugging.Prepared) -> None:
    task = prepared.task
    rows = [
        ("stage", f"{prepared.stage.name} (executor: {prepared.executor})"),
        ("datum", ",".join(f"{k}={v}" for k, v in sorted(task.key.items())) or "(whole)"),
        ("fingerprint", task.fingerprint),
        ("workdir", task.workdir or "(the image's working directory)"),
    ]
    if prepared.pod is not None:
        meta, spec = prepared.pod["metadata"], prepared.pod["spec"]
        where = f"{meta['name']} in namespace {meta['namespace']}"
        rows.append(("pod", f"{where}, service account {spec['serviceAccountName']}"))
    for name, value in rows:
        out(f"{name:<12} {value}")
    files = {n: len(f) for n, f in prepared.decision.files.items()}
    out("inputs")
    for name, path in task.inputs.items():
        count = f"  ({_files(files[name])})" if name in files else "  (whole directory)"
        out(f"  {name:<10} {path}{count}")
    out("outputs")
    for name, path in task.outputs.items():
        out(f"  {name:<10} {path}")
    out("variables")
    for name, value in sorted(task.environ.items()):
        out(f"  {name}={value}")
    out("command")
    start = f"cd {shlex.quote(task.workdir)} && " if task.workdir else ""
    variables = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(task.environ.items()))
    out(f"  {start}env {variables} {shlex.join(task.argv)}")


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(f"--datum {text!r} is not FIELD=VALUE", hint="e.g. --datum day=2024-01-02")
    return name, value


def register(app: typer.Typer) -> None:
    app.command("debug")(debug)
