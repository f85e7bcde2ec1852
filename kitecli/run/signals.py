"""SIGINT and SIGTERM during a run: who takes them, and putting back who did before."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALLED = threading.Event()  # a SIGINT or SIGTERM reached a run (see interruptible)


@contextmanager
def interruptible(on_signal: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to `on_signal` for the block (main thread only); each
    also sets SIGNALLED, for a caller that runs applies in a loop (`kite watch`)."""

    def handler(signum: int) -> None:
        print(
            f"\nkite: {signal.Signals(signum).name}: cancelling attempts in flight, "
            "committing what finished",
            file=sys.stderr,
        )
        SIGNALLED.set()
        on_signal()

    with on_signals(handler):
        yield


@contextmanager
def on_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Call `handler` with the signal's number on SIGINT or SIGTERM during the block, then
    put back the handlers there were; off the main thread, where Python cannot take
    signals, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        s: signal.signal(s, lambda signum, _frame: handler(signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
