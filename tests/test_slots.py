"""Slots (kitecli/run/slots.py): commands at once, in the order units were taken in hand."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from kitecli.run.slots import Slots


def stage(name: str, concurrency: int | None = None) -> Any:
    return SimpleNamespace(name=name, concurrency=concurrency)


def run_all(slots: Slots, units: list[tuple[Any, float]], hold: float = 0.05) -> list[str]:
    """Each unit on a thread of its own: it waits `delay` (preparing), then holds a slot."""
    started: list[str] = []
    lock = threading.Lock()
    tickets = [slots.ticket(s) for s, _ in units]

    def unit(ticket: int, s: Any, delay: float, label: str) -> None:
        with slots.turn(ticket):
            time.sleep(delay)
            with slots.held(s):
                with lock:
                    started.append(label)
                time.sleep(hold)

    threads = [
        threading.Thread(target=unit, args=(t, s, d, f"{s.name}{i}"))
        for i, (t, (s, d)) in enumerate(zip(tickets, units, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return started


def test_slots_go_in_ticket_order_although_an_earlier_unit_prepares_longer() -> None:
    a = stage("a")
    started = run_all(Slots(1), [(a, 0.0), (a, 0.15), (a, 0.0), (a, 0.0)])
    assert started == ["a0", "a1", "a2", "a3"]


def test_a_full_stage_does_not_hold_back_another_stages_units() -> None:
    one, other = stage("one", concurrency=1), stage("other")
    seen: list[int] = []
    slots = Slots(2)
    counting = threading.Lock()
    running = {"one": 0}

    t1, t2, t3 = slots.ticket(one), slots.ticket(one), slots.ticket(other)
    order: list[str] = []

    def unit(ticket: int, s: Any, label: str) -> None:
        with slots.turn(ticket), slots.held(s):
            with counting:
                order.append(label)
                running[s.name] = running.get(s.name, 0) + 1
                seen.append(running.get("one", 0))
            time.sleep(0.1)
            with counting:
                running[s.name] -= 1

    threads = [
        threading.Thread(target=unit, args=args)
        for args in ((t1, one, "one0"), (t2, one, "one1"), (t3, other, "other2"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order[:2] == ["one0", "other2"]  # one1 waits for its stage, other2 does not
    assert max(seen) == 1  # never two commands of `one` at once


def test_a_ticket_given_up_unused_holds_nothing_back() -> None:
    a = stage("a")
    slots = Slots(1)
    unused = slots.ticket(a)
    later = slots.ticket(a)
    with slots.turn(unused):
        pass  # the unit failed before its command (its folder could not be made)
    done = threading.Event()

    def unit() -> None:
        with slots.turn(later), slots.held(a):
            done.set()

    thread = threading.Thread(target=unit)
    thread.start()
    assert done.wait(5)
    thread.join(5)


def test_never_more_commands_than_slots() -> None:
    a = stage("a")
    slots = Slots(2)
    at_once = {"now": 0, "most": 0}
    lock = threading.Lock()
    tickets = [slots.ticket(a) for _ in range(8)]

    def unit(ticket: int) -> None:
        with slots.turn(ticket), slots.held(a):
            with lock:
                at_once["now"] += 1
                at_once["most"] = max(at_once["most"], at_once["now"])
            time.sleep(0.02)
            with lock:
                at_once["now"] -= 1

    threads = [threading.Thread(target=unit, args=(t,)) for t in tickets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert at_once["most"] == 2


def test_a_retry_takes_its_units_place_again_before_later_units() -> None:
    a = stage("a")
    slots = Slots(1)
    first, blocker, second = slots.ticket(a), slots.ticket(a), slots.ticket(a)
    order: list[str] = []
    ran_once = threading.Event()

    def retrying() -> None:
        with slots.turn(first):
            with slots.held(a):
                order.append("first, attempt 1")
            ran_once.set()
            time.sleep(0.05)  # settling: the blocker has the slot meanwhile
            with slots.held(a):
                order.append("first, attempt 2")

    def holding(ticket: int, label: str, hold: float) -> None:
        if label == "blocker":
            ran_once.wait(5)
        with slots.turn(ticket), slots.held(a):
            order.append(label)
            time.sleep(hold)

    threads = [
        threading.Thread(target=retrying),
        threading.Thread(target=holding, args=(blocker, "blocker", 0.3)),
        threading.Thread(target=holding, args=(second, "second", 0.0)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # the retry and `second` both waited for the blocker: the retry, an earlier unit's, went first
    assert order == ["first, attempt 1", "blocker", "first, attempt 2", "second"]
