"""An environment's `schedule:`: built into the model, then checked at the user's line:col.

The cron text is checked field by field (the column points at the wrong field), the time
zone against the zone database, the stages and params against the pipeline.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from typing import Any

from kitecli.errors import Diagnostic
from kitecli.spec import cron
from kitecli.spec.model import Pipeline, Schedule
from kitecli.spec.yamlpos import Locator, PathT

IF_BUSY = ("skip", "wait", "fail")


def build(raw: dict[str, Any] | None, loc: Locator, env: str) -> Schedule | None:
    """The model of a schema-valid `schedule:` mapping (None when there is none)."""
    if raw is None:
        return None
    line, col = loc.at(("environments", env, "schedule", "cron"))
    params = raw.get("params", {})
    return Schedule(
        cron=str(raw["cron"]),
        image=str(raw["image"]),
        timezone=str(raw.get("timezone", "UTC")),
        if_busy=str(raw.get("if_busy", "skip")),
        stages=tuple(raw.get("stages", ())),
        downstream=bool(raw.get("downstream", False)),
        params={k: _text(v) for k, v in params.items()},
        workdir=raw.get("workdir"),
        at=f"{loc.file}:{line}:{col}",
    )


def _text(value: Any) -> str:
    """A param value as `--param NAME=VALUE` gives it (typed again by the pipeline's value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The time zone `name` (ZoneInfo raises for an unknown one)."""
    return zoneinfo.ZoneInfo(name)


def problems(pipeline: Pipeline, loc: Locator) -> Iterator[Diagnostic]:
    """Every problem of every environment's `schedule:`."""
    for env in pipeline.environments.values():
        if env.schedule is None:
            continue
        at: PathT = ("environments", env.name, "schedule")
        yield from _cron((*at, "cron"), env.schedule.cron, loc)
        yield from _zone((*at, "timezone"), env.schedule.timezone, loc)
        bases = {s.base for s in pipeline.stages.values()}
        for index, stage in enumerate(env.schedule.stages):
            if stage not in bases:
                names = ", ".join(sorted(bases))
                yield loc.diag(
                    (*at, "stages", index), f"unknown stage {stage!r}", f"one of: {names}"
                )
        if env.schedule.downstream and not env.schedule.stages:
            yield loc.diag(
                (*at, "downstream"),
                "`downstream` needs `stages`: it adds the stages after the ones named",
                "list where to start under `stages:`, or remove `downstream`",
            )
        for name in env.schedule.params:
            if name not in pipeline.params:
                known = ", ".join(sorted(pipeline.params)) or "none declared"
                yield loc.diag(
                    (*at, "params", name),
                    f"unknown param {name!r}",
                    f"declare it under the top-level `params:` ({known})",
                    key=True,
                )
        if all(pipeline.executor_for(s, env) != "kubernetes" for s in pipeline.stages.values()):
            yield loc.diag(
                at,
                f"environment {env.name!r} has a schedule but runs nothing on Kubernetes",
                "set `executor: kubernetes` on the environment: the schedule is a CronJob",
                key=True,
            )


def _cron(path: PathT, text: str, loc: Locator) -> Iterator[Diagnostic]:
    try:
        cron.parse(text)
    except cron.CronError as exc:
        line, col = loc.inside(path, exc.offset)
        yield Diagnostic(loc.file, line, col, f"schedule: {exc.message}", exc.hint)


def _zone(path: PathT, name: str, loc: Locator) -> Iterator[Diagnostic]:
    try:
        zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        yield loc.diag(
            path,
            f"unknown time zone {name!r}",
            "write an IANA zone name such as UTC, Europe/Berlin or America/New_York",
        )
