"""A run laid out on a time axis, for `kite timeline`: each attempt's outcome, its lane and
row, the critical path, and lanes too crowded for bars folded into columns (pure)."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kitecli.history.records import Attempt, RunRecord

# What a bar's colour says, in the order the legend and the summary list them.
OUTCOMES = (
    "succeeded",
    "retried",
    "failed",
    "rejected",
    "cancelled",
    "cached",
    "restored",
    "other",
)
INSTANT = frozenset({"cached", "restored", "deleted", "skipped"})  # no command ran: a marker
MAX_ROWS = 12  # a lane needing more rows than this (attempts at once) is drawn as columns
MAX_BARS = 600  # and so is one of more attempts than this: 2 px each on the axis
COLUMNS = 200  # columns across the axis of a folded lane
EPSILON = 1e-3  # seconds: an attempt that starts this soon after another ended followed it


@dataclass(frozen=True)
class Bar:
    """One attempt: its place in the run's attempts, its row in the lane, and its times in
    seconds from the start of the timeline."""

    index: int
    row: int
    start: float
    end: float
    outcome: str
    critical: bool


@dataclass(frozen=True)
class Column:
    """A slice of the axis of a folded lane: the attempts running in it, and those that
    started in it, by outcome."""

    start: float
    end: float
    running: Mapping[str, int]
    started: Mapping[str, int]
    example: int  # the index of one attempt that started in it, or -1


@dataclass(frozen=True)
class Lane:
    """One stage: its bars on `rows` rows, or, when folded, its columns and the bars of the
    critical path drawn over them."""

    stage: str
    attempts: int
    rows: int
    bars: tuple[Bar, ...]
    columns: tuple[Column, ...] = ()

    @property
    def folded(self) -> bool:
        return bool(self.columns)


@dataclass(frozen=True)
class Timeline:
    run: RunRecord
    origin: float  # the epoch time at x = 0
    span: float  # seconds from the origin to the end of the axis
    outcomes: tuple[str, ...]  # per attempt of the run, in order
    critical: tuple[int, ...]  # the critical path's attempts, first to last
    lanes: tuple[Lane, ...]


def outcomes(attempts: Sequence[Attempt]) -> tuple[str, ...]:
    """What each attempt's colour says: a failed attempt of a datum that was tried again is
    `retried`; deleted, skipped and not-run attempts are `other`."""
    last: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for attempt in attempts:
        name = (attempt.stage, tuple(sorted(attempt.key.items())))
        last[name] = max(last.get(name, 0), attempt.attempt)
    found = []
    for attempt in attempts:
        name = (attempt.stage, tuple(sorted(attempt.key.items())))
        status = attempt.status
        if status == "failed" and attempt.attempt < last[name]:
            status = "retried"
        found.append(status if status in OUTCOMES else "other")
    return tuple(found)


def critical_path(attempts: Sequence[Attempt]) -> tuple[int, ...]:
    """The chain of attempts that decided when the run ended: from the attempt that ended
    last, back through what each one waited for (the datum's previous attempt, else the
    attempt that ended last before it started), to one that waited for nothing."""
    ran = [n for n, a in enumerate(attempts) if a.status not in INSTANT]
    if not ran:
        return ()
    ran.sort(key=lambda n: attempts[n].ended)
    ends = [attempts[n].ended for n in ran]
    previous = _previous_attempts(attempts)
    path, seen = [ran[-1]], {ran[-1]}
    while True:
        current = attempts[path[-1]]
        before = previous.get(path[-1])
        if before is None:
            position = bisect.bisect_right(ends, current.started + EPSILON)
            near = ran[max(position - 2, 0) : position]  # it may be one of them (runtime ~0)
            before = next((n for n in reversed(near) if n != path[-1]), None)
        if before is None or before in seen:
            break
        path.append(before)
        seen.add(before)
    return tuple(reversed(path))


def _previous_attempts(attempts: Sequence[Attempt]) -> dict[int, int]:
    """For each attempt, the position of the same datum's attempt before it, if any."""
    seen: dict[tuple[str, tuple[tuple[str, str], ...], int], int] = {}
    for n, attempt in enumerate(attempts):
        seen[(attempt.stage, tuple(sorted(attempt.key.items())), attempt.attempt)] = n
    found = {}
    for n, attempt in enumerate(attempts):
        name = (attempt.stage, tuple(sorted(attempt.key.items())), attempt.attempt - 1)
        if name in seen and attempt.status not in INSTANT:
            found[n] = seen[name]
    return found


def layout(run: RunRecord) -> Timeline:
    """The run's timeline: one lane per stage, in the order the stages first ran."""
    attempts = run.attempts
    starts = [a.started for a in attempts]
    origin = min([run.started, *starts])
    ends = [a.ended for a in attempts]
    end = max([run.ended or run.started, *ends])
    span = max(end - origin, 1e-3)
    found = outcomes(attempts)
    critical = critical_path(attempts)
    stages: dict[str, list[int]] = {}
    for n, attempt in enumerate(attempts):
        stages.setdefault(attempt.stage, []).append(n)
    on_path = set(critical)
    lanes = tuple(
        _lane(stage, members, attempts, found, on_path, origin, span)
        for stage, members in stages.items()
    )
    return Timeline(run, origin, span, found, critical, lanes)


def _lane(
    stage: str,
    members: list[int],
    attempts: Sequence[Attempt],
    found: Sequence[str],
    on_path: set[int],
    origin: float,
    span: float,
) -> Lane:
    rows, placed = _rows(members, attempts)
    bars = tuple(
        Bar(
            n,
            placed[n],
            attempts[n].started - origin,
            attempts[n].ended - origin,
            found[n],
            n in on_path,
        )
        for n in members
    )
    if rows <= MAX_ROWS and len(members) <= MAX_BARS:
        return Lane(stage, len(bars), rows, bars)
    columns = _columns(bars, span)
    return Lane(stage, len(bars), 1, tuple(b for b in bars if b.critical), columns)


def _rows(members: list[int], attempts: Sequence[Attempt]) -> tuple[int, dict[int, int]]:
    """Rows for the attempts of one lane so that no two overlap in one row (first fit, in
    order of start); markers of attempts no command ran for go on the first row."""
    free: list[float] = []  # per row, when its last attempt ended
    placed = {}
    for n in sorted(members, key=lambda n: attempts[n].started):
        attempt = attempts[n]
        if attempt.status in INSTANT:
            placed[n] = 0
            continue
        row = next((r for r, ended in enumerate(free) if ended <= attempt.started), len(free))
        if row == len(free):
            free.append(attempt.ended)
        free[row] = attempt.ended
        placed[n] = row
    return max(len(free), 1), placed


def _columns(bars: Sequence[Bar], span: float) -> tuple[Column, ...]:
    width = span / COLUMNS
    running = [Counter[str]() for _ in range(COLUMNS)]
    started = [Counter[str]() for _ in range(COLUMNS)]
    example = [-1] * COLUMNS
    for bar in bars:
        first = min(int(bar.start / width), COLUMNS - 1)
        last = min(int(bar.end / width), COLUMNS - 1)
        for column in range(first, last + 1):
            running[column][bar.outcome] += 1
        started[first][bar.outcome] += 1
        if example[first] < 0 or bar.outcome not in ("succeeded", "cached"):
            example[first] = bar.index
    return tuple(
        Column(c * width, (c + 1) * width, dict(running[c]), dict(started[c]), example[c])
        for c in range(COLUMNS)
        if running[c]
    )


def stage_summary(timeline: Timeline) -> dict[str, Counter[str]]:
    """Per stage, how many attempts had each outcome."""
    found: dict[str, Counter[str]] = {}
    for attempt, outcome in zip(timeline.run.attempts, timeline.outcomes, strict=True):
        found.setdefault(attempt.stage, Counter())[outcome] += 1
    return found
