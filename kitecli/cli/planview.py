"""`kite plan`: the command's body and its terraform-style text (its options are in
kitecli/cli/plan.py; `kite backfill --dry-run` prints plans with the same text)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kitecli.cli.output import emit_json, note, out, style
from kitecli.errors import ExitCode
from kitecli.plan.plan import REPEAT, DatumPlan, Plan, StagePlan, waiting

SHOWN = 20  # datums listed per stage without --full

_MARKS = {
    "run": ("~", "33"),
    "cached": ("=", "36"),
    "restore": ("<", "36"),
    "delete": ("-", "31"),
    "skip": ("/", "2"),
    "pending": ("?", "2"),
    "wait": ("…", "33"),
    "unchanged": (" ", "2"),
}
_PHRASES = {
    "run": "to run",
    "cached": "from cache",
    "restore": "to restore",
    "delete": "to delete",
    "skip": "skipped",
    "pending": "pending",
    "wait": "waiting",
    "unchanged": "unchanged",
}


def execute(
    *,
    file: Path | None = None,
    env: str | None = None,
    stages: Sequence[str] = (),
    downstream: bool = False,
    full: bool = False,
    as_json: bool = False,
    save: Path | None = None,
    detailed_exitcode: bool = False,
    params: Sequence[str] = (),
    now: bool = False,
) -> int:
    """Plan, print (text or JSON), save with `save`; the exit code (2: changes, if asked)."""
    from kitecli.history.project import open_project
    from kitecli.plan.planning import plan_project

    with _no_cyclic_gc():
        project = open_project(file, env, params=params)
        state, _ref = project.committed()
        result = plan_project(
            project, state, stages=stages, downstream=downstream, triggers=not now
        )
    for warning in result.warnings:
        note(style("warning:", "1;33", sys.stderr) + " " + warning)
    if save is not None:
        from kitecli.plan import planfile

        planfile.save(result, save)
    if as_json:
        from kitecli.plan import planfile

        emit_json(planfile.to_json(result, full=full))
    else:
        out(render(result, full=full, saved=save))
    if detailed_exitcode and result.changes:
        return int(ExitCode.CHANGES)
    return int(ExitCode.OK)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Planning allocates many small objects and frees few: the cyclic collector only costs
    time there (a quarter of it on 10,000 datums), so it is paused while planning. What was
    allocated is then frozen (gc.freeze): the plan lives until the command ends, and the
    first collection after re-enabling would otherwise walk every object of it (~50 ms)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()


def render(result: Plan, *, full: bool = False, saved: Path | None = None) -> str:
    """The plan as terraform-style text: per stage its counts and datums, then a footer."""
    lines = [*body(result, full=full), "", footer(result)]
    if not result.changes:
        held = waiting(result)
        done = f"No changes: {held}." if held else "No changes: the data is up to date."
        lines.insert(-1, done)
    elif saved is not None:
        lines += [
            "",
            f"Saved the plan to {saved}. Apply exactly this plan with: kite apply {saved}",
        ]
    else:
        lines += [
            "",
            "Note: this plan was not saved, so `kite apply` will plan again before it runs.",
            "To apply exactly this plan: kite plan --out plan.json, then kite apply plan.json",
        ]
    return "\n".join(lines)


def body(result: Plan, *, full: bool = False) -> Iterator[str]:
    """Per stage: its counts, then its datums (in the plan's order) with their reasons."""
    for stage in result.stages:
        yield from _stage(stage, full=full)


def footer(result: Plan) -> str:
    """`Plan: 4 to run, 2 from cache, 1 to delete, 997 unchanged.` (others when not zero)."""
    counts = result.summary
    always = ("run", "cached", "delete", "unchanged")
    parts = [
        f"{counts[action]} {_PHRASES[action]}"
        for action in counts
        if action in always or counts[action]
    ]
    return f"Plan: {', '.join(parts)}."


def _stage(stage: StagePlan, *, full: bool) -> Iterator[str]:
    counts = stage.summary
    summary = ", ".join(f"{n} {_PHRASES[a]}" for a, n in counts.items() if n)
    if stage.known_after_apply:
        why = ", ".join(stage.known_after_apply)
        summary += f"; more known after apply ({why})" if summary else f"known after apply ({why})"
    summary = summary or "no datums"
    yield f"{style(stage.name, '1', sys.stdout)}: {summary}"
    if stage.skip is not None:
        yield f"  skip: {stage.skip}"
    if stage.held is not None:
        yield f"  trigger: {stage.held} (kite apply --now runs them now)"
    if counts["run"] or counts["pending"] or stage.known_after_apply:
        for gate in stage.gates:
            yield f"  {gate}" if gate.startswith(REPEAT) else f"  gate {gate}"
    listed = [d for d in stage.datums if full or d.action != "unchanged"]
    for datum in listed if full else listed[:SHOWN]:
        yield from _datum(datum)
    if not full and len(listed) > SHOWN:
        yield f"  ... and {len(listed) - SHOWN} more (kite plan --full lists them all)"


def _datum(datum: DatumPlan) -> Iterator[str]:
    mark, colour = _MARKS[datum.action]
    if datum.action == "run" and datum.was is None:
        mark, colour = "+", "32"
    key = " ".join(f"{k}={v}" for k, v in datum.key.items()) or "(whole)"
    yield f"  {style(f'{mark} {datum.action:<9}', colour, sys.stdout)} {key}"
    for reason in datum.reasons:
        yield f"      {reason}"
