"""Queries behind `kite log`, `kite show` and `kite logs`."""

from __future__ import annotations

import shlex
import zlib
from collections.abc import Iterator
from pathlib import Path

from kitecli.errors import UsageError
from kitecli.history import ledger
from kitecli.history.project import open_project
from kitecli.history.records import Attempt, RunRecord, find_run, key_matches


def runs(*, file: Path | None, env: str | None, stage: str | None = None) -> list[RunRecord]:
    """The environment's runs, newest first; with `stage`, those that ran it."""
    project = open_project(file, env)
    project.history()
    found = list(ledger.runs(project.repo, project.env.name))
    if stage is not None:
        names = {s.name for s in project.pipeline.stages.values() if stage in (s.name, s.base)}
        found = [r for r in found if any(a.stage in names for a in r.attempts)]
    return found


def run(*, file: Path | None, env: str | None, wanted: str) -> RunRecord:
    return find_run(runs(file=file, env=env), wanted)


def logs(
    *, file: Path | None, env: str | None, wanted: str, stage: str | None, datum: list[str]
) -> Iterator[tuple[str, bytes]]:
    """(header, log text) of each attempt of the run that matches."""
    project = open_project(file, env)
    project.history()
    record = find_run(list(ledger.runs(project.repo, project.env.name)), wanted)
    fields = dict(field(d) for d in datum)
    for attempt in record.attempts:
        if stage is not None and stage not in (attempt.stage, attempt.stage.split("[")[0]):
            continue
        if not key_matches(attempt.key, fields) or attempt.log is None:
            continue
        key = ",".join(f"{k}={v}" for k, v in sorted(attempt.key.items())) or "(whole)"
        header = f"{attempt.stage} {key} attempt {attempt.attempt} ({attempt.status})"
        yield header, zlib.decompress(project.repo.get(attempt.log))


TAIL = 5  # lines of a failed attempt's output shown with its failure


def tail(log: bytes, lines: int = TAIL) -> list[str]:
    """The last `lines` non-blank lines of an attempt's output, kite's own notes left out."""
    text = log.decode("utf-8", "replace").splitlines()
    kept = [line.rstrip() for line in text if line.strip() and not line.startswith("[kite] ")]
    return kept[-lines:]


def logs_command(run_id: str, attempt: Attempt) -> str:
    """The `kite logs` command line that prints all of an attempt's output."""
    datum = [f"--datum {shlex.quote(f'{k}={v}')}" for k, v in sorted(attempt.key.items())]
    return " ".join(["kite logs", run_id, shlex.quote(attempt.stage), *datum])


def run_with_tails(
    *, file: Path | None, env: str | None, wanted: str
) -> tuple[RunRecord, dict[int, list[str]]]:
    """The run that matches, and the output tail of each of its failed or rejected
    attempts (by position in `attempts`) that has a log."""
    project = open_project(file, env)
    project.history()
    record = find_run(list(ledger.runs(project.repo, project.env.name)), wanted)
    tails = {
        n: tail(zlib.decompress(project.repo.get(a.log)))
        for n, a in enumerate(record.attempts)
        if a.log is not None and a.status in ("failed", "rejected")
    }
    return record, tails


def field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(
            f"--datum {text!r} is not FIELD=VALUE", hint="e.g. --datum station=seattle"
        )
    return name, value
