"""tests/helpers.py: a command forked from the preloaded server reads the settings kite takes
from the environment with its own environment, not the server's."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests import helpers
from tests.e2e import make_project


def test_a_forked_apply_takes_its_lease_ttl_from_its_own_environment(tmp_path: Path) -> None:
    log = make_project(tmp_path, days=("2024-01-01",))
    env = {"CALLS_LOG": str(log), "STEP_SLEEP": "2"}
    first = helpers.start("apply", cwd=tmp_path, env={**env, "KITE_LEASE_TTL": "900"})
    deadline = time.monotonic() + 60
    while not log.exists():  # a step has started: the first apply holds the lease
        assert time.monotonic() < deadline, "the first apply never ran a step"
        time.sleep(0.05)
    busy = helpers.kite("apply", "--if-busy", "fail", cwd=tmp_path, env=env)
    assert busy.code == 5, busy.stderr
    left = re.search(r"\(in (\d+) s\)", busy.stderr)
    assert left is not None, busy.stderr
    assert 800 < int(left.group(1)) <= 900  # not the default of 120 s
    done = first.result()
    assert done.code == 0, done.stderr
