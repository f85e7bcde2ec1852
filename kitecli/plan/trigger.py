"""A stage's `trigger:` (an accumulation policy): its new datums wait until enough of them
are there, or the oldest has waited long enough. Pure: the plan and a clock in, the held
plan out. The time the wait began is kept in the stage's committed state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

from kitecli.history.state import StageState
from kitecli.plan.decide import DatumPlan
from kitecli.spec.model import Stage

NEW = ("run", "cached")  # what a trigger holds back: new or stale work, not repairs
HELD = "held back by the stage's trigger"  # its datums' first reason; the stage says why


@dataclass(frozen=True)
class Held:
    """The stage's datums with the new ones turned into `wait`, and why."""

    datums: tuple[DatumPlan, ...]
    why: str  # `waiting: 3 of 10 new datums, runs by 2026-12-07 04:00 at the latest`
    since: float  # epoch seconds: when the wait began
    starts_clock: bool  # it begins with this plan (nothing committed says when yet)


def hold(
    stage: Stage, datums: Sequence[DatumPlan], committed: StageState, now: dt.datetime
) -> Held | None:
    """What the stage's trigger holds back now; None when it has none or lets all run."""
    trigger = stage.trigger
    new = [d for d in datums if d.action in NEW]
    if trigger is None or not new:
        return None
    clock = now.timestamp()
    since = committed.waiting_since if committed.waiting_since is not None else clock
    due = None if trigger.max_wait is None else since + trigger.max_wait
    if len(new) >= trigger.min_new or (due is not None and clock >= due):
        return None
    plural = "s" if trigger.min_new != 1 else ""
    why = f"waiting: {len(new)} of {trigger.min_new} new datum{plural}"
    if due is not None:
        why += f", runs by {time.strftime('%Y-%m-%d %H:%M', time.localtime(due))} at the latest"
    held = tuple(
        dataclasses.replace(d, action="wait", reasons=(HELD, *d.reasons)) if d.action in NEW else d
        for d in datums
    )
    return Held(held, why, since, committed.waiting_since is None)
