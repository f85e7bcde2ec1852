"""When kite stops waiting for a pod that has not ended, and why, in plain words. Pure.

A pod must start its command within its stage's `start_timeout` (scheduling, image pull,
volumes); the stage's `timeout` counts from that start. An image that cannot be pulled
fails at once when the cause says retrying cannot help. A pod marked for deletion by
someone else that is still there after its grace period and a margin is on a lost node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kitecli.executors.base import Task
from kitecli.executors.podstatus import (
    Ending,
    deletion_deadline,
    started_at,
    stuck,
    unscheduled,
    waiting_reason,
)

Pod = dict[str, Any]
started = started_at


class Limits(Protocol):
    """The executor's options a wait needs (pods.KubernetesOptions)."""

    @property
    def start_timeout(self) -> float: ...
    @property
    def stuck_grace(self) -> float: ...
    @property
    def lost_margin(self) -> float: ...
    @property
    def events_after(self) -> float: ...
    @property
    def grace(self) -> float: ...


@dataclass
class Waits:
    """What kite noticed while waiting for one pod."""

    pending: Pod | None = None  # a pod the cluster could not take yet, to create again
    pending_why: str = ""
    retry_at: float = 0.0
    postponed: int = 0  # creates put off so far
    stuck_since: float | None = None
    causes: dict[str, str] = field(default_factory=dict)  # container → last pull error
    events_read: bool = False
    said: set[str] = field(default_factory=set)  # kinds of message said already


@dataclass(frozen=True)
class Decision:
    """Stop (`ending`), or keep waiting; what to do first outside the lock."""

    ending: Ending | None = None
    wait: bool = True
    events: str | None = None  # "pull" | "start": read the pod's events
    create: bool = False  # create the postponed pod again now
    note: tuple[str, str] | None = None  # (kind, message) to tell the user


def give_up(
    state: Pod | None,
    tasks: Sequence[Task],
    submitted: float,
    waits: Waits,
    options: Limits,
    now: float,
) -> Decision:
    """Whether kite should stop waiting for the pod of `tasks`, and why."""
    stage = tasks[0].stage
    limit = stage.start_timeout or options.start_timeout
    if waits.pending is not None:
        if now - submitted > limit:
            why = (
                f"its pod could not be created within the stage's start_timeout ({limit:g}s): "
                + waits.pending_why
            )
            return Decision(Ending("start-timeout", why, retryable=False), wait=False)
        due = now >= waits.retry_at
        return Decision(wait=not due, create=due)
    if state is None:
        return Decision()
    problem = stuck(state, waits.causes)
    if problem is not None and not problem.known and not waits.events_read:
        return Decision(wait=False, events="pull")
    waits.stuck_since = None if problem is None else waits.stuck_since or now
    if problem is not None and (
        problem.at_once or now - waits.stuck_since > options.stuck_grace  # type: ignore[operator]
    ):
        return Decision(Ending(problem.reason, problem.detail, problem.retryable), wait=False)
    deadline = deletion_deadline(state)
    if deadline is not None and now > deadline + options.lost_margin:
        why = (
            "the pod was marked for deletion, not by kite, and was still there "
            f"{options.lost_margin:g}s after its grace period: its node is lost or does not answer"
        )
        return Decision(Ending("lost", why), wait=False)
    begun = started_at(state)
    if begun is None:
        return _not_started(state, now - submitted, limit, waits, options)
    if stage.timeout and now - begun > stage.timeout * len(tasks) + options.grace:
        why = (
            f"no result within the stage's timeout ({stage.timeout:g}s from the start of its "
            f"command) and {options.grace:g}s of grace; the pod was stopped"
        )
        return Decision(Ending("timeout", why), wait=False)
    return Decision()


def _not_started(
    state: Pod, waited: float, limit: float, waits: Waits, options: Limits
) -> Decision:
    """A pod whose command has not started: is it late, and does the user know why?"""
    scheduler = unscheduled(state)
    if waited > limit:
        if scheduler is not None:
            why = f"the pod was not scheduled within the stage's start_timeout ({limit:g}s): "
            return Decision(Ending("start-timeout", why + scheduler, False), wait=False)
        why = (
            f"the pod did not start its command within the stage's start_timeout ({limit:g}s); "
            f"it was {waiting_reason(state)}"
        )
        return Decision(Ending("start-timeout", why, False), wait=False, events="start")
    if scheduler is not None and "schedule" not in waits.said:
        return Decision(note=("schedule", f"not scheduled yet: {scheduler}"))
    if scheduler is None and waited > options.events_after and not waits.events_read:
        return Decision(wait=False, events="start")
    return Decision()


def pull_cause(events: Sequence[str]) -> str | None:
    """The cause of a failed pull in the pod's events ("Failed: Failed to pull image ...")."""
    for event in reversed(events):
        if "failed to pull" in event.lower():
            return event
    return None
