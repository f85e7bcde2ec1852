"""Slots: how many commands run at once, in all (`--parallel`) and per stage (`concurrency`).

A slot holds a command only, from its start to its end. The unit around it is taken in
hand earlier (its working folder prepared, its views linked: `AHEAD` units per slot may be
in hand) and settled after it has given its slot back (outputs collected, the folder
emptied), so kite's own work for one datum runs while the commands of others do, as a make
job's bookkeeping does not hold a job slot either.

Slots go in the order units were taken in hand (their tickets), so the order a run starts
its datums in (a backfill's `--order`, the plan's) is kept: the first ticket not yet served
whose stage has room is served next, although the unit of an earlier ticket may still be
preparing. A retry or a later iteration of a unit queues again in its unit's place.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from kitecli.spec.model import Stage

AHEAD = 2  # units in hand per slot: the one running its command, the next one prepared


class Slots:
    """The run's `parallel` slots and each stage's `concurrency` (default: `parallel`)."""

    def __init__(self, parallel: int) -> None:
        self.parallel = max(parallel, 1)
        self._turns = threading.Condition()
        self._next = 0
        self._pending: dict[int, Stage] = {}  # tickets not served yet
        self._busy: Counter[str] = Counter()  # commands running, per stage
        self._running = 0
        self._mine = threading.local()  # the ticket of the unit this thread runs

    def limit(self, stage: Stage) -> int:
        """How many commands of `stage` may run at once."""
        return stage.concurrency or self.parallel

    def ticket(self, stage: Stage) -> int:
        """A place in the queue for a unit of `stage` taken in hand now."""
        with self._turns:
            number = self._next
            self._next += 1
            self._pending[number] = stage
            return number

    @contextmanager
    def turn(self, ticket: int) -> Iterator[None]:
        """This thread runs the unit of `ticket`; a ticket it did not use is given up."""
        self._mine.ticket = ticket
        try:
            yield
        finally:
            self._mine.ticket = None
            with self._turns:
                if self._pending.pop(ticket, None) is not None:
                    self._turns.notify_all()

    @contextmanager
    def held(self, stage: Stage) -> Iterator[None]:
        """A slot of the stage's and one of the run's, for as long as a command runs."""
        ticket = getattr(self._mine, "ticket", None)
        if ticket is None:  # not within a unit's turn: at the end of the queue
            ticket = self.ticket(stage)
        with self._turns:
            self._pending[ticket] = stage  # a retry, an iteration: in its unit's place again
            self._turns.wait_for(lambda: self._served() == ticket)
            del self._pending[ticket]
            self._running += 1
            self._busy[stage.name] += 1
            self._turns.notify_all()  # a later ticket may have room too
        try:
            yield
        finally:
            with self._turns:
                self._running -= 1
                self._busy[stage.name] -= 1
                self._turns.notify_all()

    def _served(self) -> int | None:
        """The ticket to serve now: the first whose stage has room, if a slot is free."""
        if self._running >= self.parallel:
            return None
        for number in sorted(self._pending):
            stage = self._pending[number]
            if self._busy[stage.name] < self.limit(stage):
                return number
        return None
