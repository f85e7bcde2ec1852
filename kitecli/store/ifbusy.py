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

from kitecli.errors import KiteError, LeaseBusy, ProjectError, StoreError, UsageError

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


class Tenure:
    """What `held` yields: true while the lease is held; `lost` says why it stopped being
    held during the block (taken over, or not renewed in time), and `on_lost` callbacks
    are called once, from the renewing thread, when that happens."""

    def __init__(self, held: bool) -> None:
        self.held = held
        self.lost: KiteError | None = None
        self.taken = False  # lost to another run, which may be writing now
        self._lock = threading.Lock()
        self._listeners: list[Callable[[KiteError], None]] = []

    def __bool__(self) -> bool:
        return self.held

    def on_lost(self, listener: Callable[[KiteError], None]) -> None:
        with self._lock:
            lost = self.lost
            if lost is None:
                self._listeners.append(listener)
        if lost is not None:
            listener(lost)

    def lose(self, error: KiteError) -> None:
        with self._lock:
            self.lost, listeners = error, list(self._listeners)
        for listener in listeners:
            listener(error)


@contextmanager
def held(
    acquire: Callable[[], T],
    *,
    renew: Callable[[T], T],
    release: Callable[[T], None],
    ttl: float,
    if_busy: IfBusy,
    say: Callable[[str], None],
) -> Iterator[Tenure]:
    """Hold what `acquire()` takes (per `if_busy`, as `take`) for the block, renewing it
    every ttl/4 seconds in the background and releasing it at the end; yields a false
    Tenure, holding nothing, when `skip` gave up.

    A renewal that fails (a store that does not answer) is tried again at the next tick,
    saying so; when the lease would expire before the tick after, or it was taken over,
    the tenure is lost (StoreError, exit 4) and renewing stops."""
    taken = take(acquire, if_busy=if_busy, say=say)
    if taken is None:
        yield Tenure(False)
        return
    lease, tenure = taken, Tenure(True)
    stop, every = threading.Event(), ttl / 4

    def keep() -> None:
        nonlocal lease
        renewed = time.monotonic()
        while not stop.wait(every):
            try:
                lease = renew(lease)
                renewed = time.monotonic()
            except (LeaseBusy, ProjectError) as taken_over:
                tenure.taken = True
                return tenure.lose(_lost(taken_over.message))
            except (StoreError, OSError) as exc:
                left = ttl - (time.monotonic() - renewed)
                if left <= every:
                    return tenure.lose(
                        _lost(f"it could not be renewed for {ttl - left:.0f}s: {exc}")
                    )
                say(f"kite: could not renew the lease ({exc}); trying again ({left:.0f}s left)")

    keeper = threading.Thread(target=keep, name="kite-lease", daemon=True)
    keeper.start()
    try:
        yield tenure
    finally:
        stop.set()
        keeper.join()
        if tenure.lost is None:
            release(lease)


def _lost(why: str) -> StoreError:
    return StoreError(
        f"the lease was lost during this run: {why}",
        hint="the run stopped; what had finished is committed unless another run took the "
        "lease over; check the metadata store is reachable, then apply again",
    )
