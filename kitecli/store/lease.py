"""The apply lease of one environment: taken create-if-absent, taken over by compare-and-swap.

`leases/<env>` holds a small JSON record (holder, host, pid, expiry, a random nonce). A live
record refuses other appliers; an expired or released one is replaced by compare-and-swap on
the version that was read, so two appliers racing for an expired lease cannot both win.
Released leases are overwritten with a released record rather than deleted, so that every
change of the lease is a conditional write. Expiry is wall-clock time: hosts sharing a
repo need clocks within a small fraction of the lease's ttl.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from kitecli.errors import LeaseBusy, ProjectError, StalePlanError
from kitecli.store.backend import Backend, Versioned

ATTEMPTS = 8


def ttl() -> float:
    """How long a lease lasts unless renewed, in seconds: `KITE_LEASE_TTL`, else 120."""
    return float(os.environ.get("KITE_LEASE_TTL", "120"))


@dataclass(frozen=True)
class Lease:
    """A held lease: who holds it, until when, and the store version that proves it."""

    env: str
    holder: str
    host: str
    pid: int
    expires: float
    token: str


def lease_key(env: str) -> str:
    return f"leases/{env}"


def _record(env: str, holder: str, ttl: float, *, released: bool = False) -> dict[str, Any]:
    import secrets  # with socket, ~10 ms that only a command taking the lease should pay
    import socket

    now = time.time()
    return {
        "kite_lease": 1,
        "env": env,
        "holder": holder,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "acquired": now,
        "expires": now if released else now + ttl,
        "released": released,
        "nonce": secrets.token_hex(8),
    }


def _encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True).encode() + b"\n"


def _decode(found: Versioned, env: str) -> dict[str, Any]:
    try:
        record = json.loads(found.data)
        float(record["expires"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProjectError(
            f"the lease of environment {env!r} is unreadable",
            hint=f"delete {lease_key(env)} in the metadata repo if no apply is running",
        ) from exc
    return dict(record)


def _live(record: dict[str, Any], now: float) -> bool:
    return not record.get("released") and float(record["expires"]) > now


def _lease(record: dict[str, Any], token: str) -> Lease:
    return Lease(
        env=str(record["env"]),
        holder=str(record["holder"]),
        host=str(record["host"]),
        pid=int(record["pid"]),
        expires=float(record["expires"]),
        token=token,
    )


def busy_error(record: dict[str, Any], env: str) -> LeaseBusy:
    """LeaseBusy naming the holder, its host and pid, and when the lease expires."""
    expires = float(record["expires"])
    when = dt.datetime.fromtimestamp(expires).astimezone().isoformat(timespec="seconds")
    left = max(0.0, expires - time.time())
    return LeaseBusy(
        f"environment {env!r} is being applied by {record['holder']} on {record['host']} "
        f"(pid {record['pid']}); its lease expires at {when} (in {left:.0f} s)",
        hint="wait for that apply to finish (or use --if-busy wait); if it is gone, "
        "the lease is taken over once it expires",
    )


def acquire(backend: Backend, env: str, *, holder: str, ttl: float) -> Lease:
    """Take the lease, or raise LeaseBusy naming whoever holds it."""
    key = lease_key(env)
    for _ in range(ATTEMPTS):
        record = _record(env, holder, ttl)
        data = _encode(record)
        current = backend.read(key)
        if current is None:
            token = backend.create(key, data)
        else:
            found = _decode(current, env)
            if _live(found, time.time()):
                raise busy_error(found, env)
            token = backend.swap(key, data, token=current.token)
        if token is not None:
            return _lease(record, token)
        mine = _ours(backend, key, env, record)
        if mine is not None:
            return mine
    raise LeaseBusy(
        f"could not take the lease of environment {env!r}: it kept changing hands",
        hint="another apply is starting at the same time; try again",
    )


def _ours(backend: Backend, key: str, env: str, record: dict[str, Any]) -> Lease | None:
    """After a write reported lost: the lease if the write landed after all (a retried
    request whose first try succeeded), else None."""
    current = backend.read(key)
    if current is not None and _decode(current, env).get("nonce") == record["nonce"]:
        return _lease(record, current.token)
    return None


def renew(backend: Backend, lease: Lease, *, ttl: float) -> Lease:
    """Extend a held lease; StalePlanError or LeaseBusy if it was taken over meanwhile."""
    key = lease_key(lease.env)
    record = _record(lease.env, lease.holder, ttl)
    token = backend.swap(key, _encode(record), token=lease.token)
    if token is not None:
        return _lease(record, token)
    mine = _ours(backend, key, lease.env, record)
    if mine is not None:
        return mine
    current = backend.read(key)
    if current is not None:
        found = _decode(current, lease.env)
        if _live(found, time.time()):
            raise busy_error(found, lease.env)
    raise StalePlanError(
        f"the lease of environment {lease.env!r} expired and was taken over during this apply",
        hint="re-plan and apply again; give long applies a chance to renew the lease",
    )


def release(backend: Backend, lease: Lease) -> None:
    """Give the lease up; a lease already taken over by someone else is left alone."""
    record = _record(lease.env, lease.holder, 0.0, released=True)
    backend.swap(lease_key(lease.env), _encode(record), token=lease.token)


def holder(backend: Backend, env: str) -> Lease | None:
    """The live lease of `env`, if any (for `kite log`-style status and waiting)."""
    current = backend.read(lease_key(env))
    if current is None:
        return None
    found = _decode(current, env)
    return _lease(found, current.token) if _live(found, time.time()) else None
