"""`--if-busy wait|skip|fail`: what a run does when another one holds the environment's lease.

The run strategy for cron and Kubernetes CronJobs (docs/environments.md): `wait` retries until the
lease is free (a holder that died is taken over once its lease expires; the store does
that), saying every NOTICE_EVERY seconds who holds it; `skip` gives up at once and exits 0
(first-only); `fail` raises LeaseBusy (exit 5).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, TypeVar

from kitecli.errors import LeaseBusy, UsageError

IfBusy = Literal["wait", "skip", "fail"]
POLICIES: tuple[IfBusy, ...] = ("wait", "skip", "fail")
NOTICE_EVERY = 30.0  # seconds between "still waiting" messages
POLL = 1.0  # seconds between tries while waiting

T = TypeVar("T")


def policy(name: str) -> IfBusy:
    """The policy named `name`, or a usage error."""
    for known in POLICIES:
        if known == name:
            return known
    raise UsageError(f"--if-busy {name}: no such policy", hint="use wait, skip or fail")


def take(
    acquire: Callable[[], T],
    *,
    if_busy: IfBusy,
    say: Callable[[str], None],
    notice_every: float = NOTICE_EVERY,
    poll: float = POLL,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T | None:
    """What `acquire()` returns, once it stops raising LeaseBusy; None when `skip` gave up.

    `fail` lets the first LeaseBusy through. `wait` tries every `poll` seconds, forever
    (Ctrl-C or SIGTERM end it; nothing is held meanwhile).
    """
    noticed: float | None = None
    waited = False
    while True:
        try:
            held = acquire()
        except LeaseBusy as busy:
            if if_busy == "fail":
                raise
            if if_busy == "skip":
                say(f"kite: skipped (--if-busy skip): another run holds the lease: {busy.message}")
                return None
            now = clock()
            if noticed is None or now - noticed >= notice_every:
                say(f"kite: waiting for the lease (--if-busy wait): {busy.message}")
                noticed = now
            waited = True
            sleep(poll)
            continue
        if waited:
            say("kite: the lease is free; starting")
        return held


@contextmanager
def held(
    acquire: Callable[[], T],
    *,
    renew: Callable[[T], T],
    release: Callable[[T], None],
    every: float,
    if_busy: IfBusy,
    say: Callable[[str], None],
) -> Iterator[bool]:
    """Hold what `acquire()` takes (per `if_busy`, as `take`) for the block, renewing it
    every `every` seconds in the background and releasing it at the end; yields False,
    holding nothing, when `skip` gave up."""
    taken = take(acquire, if_busy=if_busy, say=say)
    if taken is None:
        yield False
        return
    lease = taken
    stop = threading.Event()

    def keep() -> None:
        nonlocal lease
        while not stop.wait(every):
            lease = renew(lease)

    keeper = threading.Thread(target=keep, name="kite-lease", daemon=True)
    keeper.start()
    try:
        yield True
    finally:
        stop.set()
        keeper.join()
        release(lease)
