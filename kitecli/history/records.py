"""Run and attempt records, as `kite log` and `kite show` list them: what ran, where, how
long, and how it ended."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RunStatus = Literal["running", "succeeded", "failed", "interrupted", "paused"]


@dataclass(frozen=True)
class Attempt:
    """One attempt of one datum."""

    stage: str
    key: Mapping[str, str]
    fingerprint: str
    attempt: int
    executor: str
    status: str  # succeeded, failed, rejected, cancelled, cached, restored, deleted
    started: float
    ended: float
    exit_code: int | None = None
    reason: str | None = None
    where: str = ""  # pid or pod
    node: str = ""
    image: str | None = None
    image_digest: str | None = None
    identity: str | None = None
    log: str | None = None  # digest of the compressed log object
    outputs: str | None = None  # digest of the datum's outputs tree
    params: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, str] = field(default_factory=dict)  # what it asked for
    retry: str | None = None  # whether it was retried, and why: `retry 1 of 2: ... holds`
    iteration: int | None = None  # `repeat:`: which iteration (1 is the first)
    until: bool | None = None  # `repeat:`: whether `until` held on its output
    kept: str | None = None  # `--keep-failed`: its kept working folder, project-relative

    @property
    def runtime(self) -> float:
        return max(self.ended - self.started, 0.0)


@dataclass(frozen=True)
class RunRecord:
    """One `kite apply` or `kite backfill`."""

    id: str
    env: str
    user: str
    host: str
    argv: tuple[str, ...]
    started: float
    ended: float | None
    status: RunStatus
    plan: str | None = None  # digest of the plan it executed
    counts: Mapping[str, int] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # range, order, mode, ...
    attempts: tuple[Attempt, ...] = ()
    paused: str | None = None  # where a breakpoint paused it: `before stage size`

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else max(self.ended - self.started, 0.0)


def run_to_json(run: RunRecord) -> dict[str, Any]:
    data = dataclasses.asdict(run)
    data["argv"] = list(run.argv)
    return data


def run_from_json(data: Mapping[str, Any]) -> RunRecord:
    """A run record as stored; fields this kite does not know (a record written by a
    newer one) are left out, so history stays readable across versions."""
    attempts = tuple(Attempt(**_known(Attempt, a)) for a in data.get("attempts", ()))
    fields = _known(RunRecord, data)
    fields.pop("attempts", None)
    fields["argv"] = tuple(fields.get("argv", ()))
    return RunRecord(**fields, attempts=attempts)


def _known(kind: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(kind)}
    return {k: v for k, v in data.items() if k in names}


def summary(run: RunRecord) -> dict[str, Any]:
    """The line `kite log` shows for a run."""
    return {
        "id": run.id,
        "env": run.env,
        "user": run.user,
        "started": run.started,
        "duration": run.duration,
        "status": run.status,
        "counts": dict(run.counts),
    }


def find_run(runs: list[RunRecord], wanted: str) -> RunRecord:
    """The run named by `last` or by a unique prefix of its id."""
    from kitecli.errors import UsageError

    if not runs:
        raise UsageError("no runs recorded yet", hint="run `kite apply` first")
    if wanted == "last":
        return runs[0]
    matches = [r for r in runs if r.id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no run {wanted!r}", hint="`kite log` lists the runs")
    shown = ", ".join(r.id for r in matches[:5])
    raise UsageError(f"{wanted!r} names several runs: {shown}", hint="give more of the id")


def key_matches(key: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """True when the datum key has every field=value of `wanted`."""
    return all(key.get(k) == v for k, v in wanted.items())
