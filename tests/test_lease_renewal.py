"""An apply whose lease cannot be renewed stops before the lease expires (exit 4), instead
of running on without it; a renewal that fails once is tried again."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from kitecli.errors import LeaseBusy, StoreError
from kitecli.store.ifbusy import held
from tests import helpers
from tests.e2e import calls, make_project
from tests.outage import line_to


def _started(log: Path) -> None:
    """Wait (a minute at most) until the first step of the apply has started."""
    deadline = time.monotonic() + 60
    while not log.exists():
        assert time.monotonic() < deadline, "the first step never started"
        time.sleep(0.05)


def test_a_failed_renewal_is_retried_and_a_lasting_one_loses_the_lease() -> None:
    tries: list[str] = []
    answers = iter(["ok", "fail", "ok", "fail", "fail", "fail", "fail", "fail"])
    released: list[str] = []
    said: list[str] = []
    lost = threading.Event()

    def renew(lease: str) -> str:
        answer = next(answers)
        tries.append(answer)
        if answer == "fail":
            raise StoreError("S3 could not be reached")
        return lease

    with held(
        lambda: "lease",
        renew=renew,
        release=released.append,
        ttl=0.4,
        if_busy="fail",
        say=said.append,
    ) as tenure:
        assert tenure
        tenure.on_lost(lambda _error: lost.set())
        assert lost.wait(5), "a lease that could not be renewed for its whole ttl was kept"
    assert tries[:3] == ["ok", "fail", "ok"]  # the first failure was tried again
    assert tenure.lost is not None
    assert "the lease was lost during this run" in tenure.lost.message
    assert "S3 could not be reached" in tenure.lost.message
    assert any("could not renew the lease" in line for line in said)
    assert released == []  # a lost lease is not released: it may be someone else's now


def test_a_lease_taken_over_is_lost_at_once() -> None:
    def renew(_lease: str) -> str:
        raise LeaseBusy("held by run 2026-12-07-other")

    with held(
        lambda: "lease",
        renew=renew,
        release=lambda _l: None,
        ttl=0.2,
        if_busy="fail",
        say=lambda _m: None,
    ) as tenure:
        deadline = time.monotonic() + 5
        while tenure.lost is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert tenure.lost is not None
    assert "held by run 2026-12-07-other" in tenure.lost.message


@pytest.mark.timeout(120)
def test_an_apply_whose_metadata_store_goes_away_stops_with_exit_4(
    s3_bucket: str, moto_server: str, tmp_path
) -> None:
    """The metadata repo on (moto's) S3 behind a line that is cut while a step runs."""
    log = make_project(tmp_path, metadata=f"{s3_bucket}/meta")
    with line_to(moto_server) as line:
        env = {
            "CALLS_LOG": str(log),
            "STEP_SLEEP": "30",
            "KITE_LEASE_TTL": "6",
            "AWS_ENDPOINT_URL": line.url,
            "AWS_MAX_ATTEMPTS": "1",
        }
        apply = helpers.start("apply", "-j", "1", cwd=tmp_path, env=env)
        try:
            _started(log)
            line.cut()
            cut = time.monotonic()
            done = apply.result(timeout=60)
        finally:
            apply.stop()
    assert done.code == 4, done.stderr
    assert time.monotonic() - cut < 20, "the apply ran on long after its lease lapsed"
    assert "could not renew the lease" in done.stderr
    assert "the lease was lost during this run" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(calls(log)) == 1  # nothing started after the line was cut


def test_an_apply_whose_lease_is_taken_over_stops_and_commits_nothing_more(tmp_path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log), "STEP_SLEEP": "30", "KITE_LEASE_TTL": "4"}
    apply = helpers.start("apply", "-j", "1", cwd=tmp_path, env=env)
    try:
        _started(log)
        lease = tmp_path / "meta/leases/dev"
        record = json.loads(lease.read_text())
        now = time.time()
        record |= {"holder": "20261207-000000-other", "nonce": "0" * 16, "pid": 1}
        record |= {"acquired": now, "expires": now + 600}
        lease.write_text(json.dumps(record))  # what a run that took over would have written
        done = apply.result(timeout=60)
    finally:
        apply.stop()
    assert done.code == 4, done.stderr
    assert "the lease was lost during this run" in done.stderr
    assert "20261207-000000-other" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "meta/refs/dev").exists()  # the environment is the other run's now
    assert json.loads(lease.read_text())["holder"] == "20261207-000000-other"  # left alone
