"""Whether a failed attempt is tried again: `retries: {limit, on: CEL}`. Without `on`,
every failure kite judges retryable is retried up to `limit` times; with it, the
condition alone decides (it sees the attempt), and only a cancelled attempt never is."""

from __future__ import annotations

from dataclasses import dataclass

from kitecli.executors.base import Outcome
from kitecli.run.jobs import NOT_RUN
from kitecli.spec import expr
from kitecli.spec.model import Stage
from kitecli.spec.resources import asked, for_attempt

LOG_LINES = 20  # the last lines of its log the condition sees as `log`


@dataclass(frozen=True)
class Verdict:
    retry: bool
    why: str  # why it is retried (kept in the run record), or why not (said, if anything)


def verdict(stage: Stage, number: int, outcome: Outcome) -> Verdict:
    """The verdict on attempt `number` of a datum of `stage`, which failed as `outcome` says."""
    retries = stage.retries
    if outcome.reason in ("cancelled", NOT_RUN) or number > retries.limit:
        return Verdict(False, "")
    count = f"retry {number} of {retries.limit}"
    if retries.on is None:
        return Verdict(outcome.retryable, count if outcome.retryable else "")
    variables = {
        "exit_code": -1 if outcome.exit_code is None else outcome.exit_code,
        "reason": outcome.reason or "",
        "attempt": number,
        "log": "\n".join(outcome.log.decode(errors="replace").splitlines()[-LOG_LINES:]),
    }
    try:
        holds = expr.condition(retries.on, variables)
    except expr.ExprEvalError as exc:
        return Verdict(False, f"not retried: `retries.on: {retries.on}` failed: {exc}")
    if not holds:
        return Verdict(False, f"not retried: `{retries.on}` is false")
    return Verdict(True, f"{count}: `{retries.on}` holds")


def grown(stage: Stage, number: int) -> str:
    """`, with memory 512Mi` when attempt `number` asks for more than the one before."""
    now, before = for_attempt(stage.resources, number), for_attempt(stage.resources, number - 1)
    changed = {k: v for k, v in asked(now).items() if asked(before).get(k) != v}
    return (", with " + ", ".join(f"{k} {v}" for k, v in changed.items())) if changed else ""
