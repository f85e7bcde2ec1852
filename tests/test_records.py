"""Run records stay readable across kite versions."""

from __future__ import annotations

from kitecli.history.records import Attempt, RunRecord, run_from_json, run_to_json


def test_fields_a_newer_kite_wrote_are_left_out() -> None:
    attempt = Attempt("clean", {"day": "1"}, "f" * 64, 1, "local", "succeeded", 1.0, 2.0)
    run = RunRecord("r1", "dev", "ana", "h", ("kite", "apply"), 1.0, 2.0, "succeeded")
    run = RunRecord(**{**run.__dict__, "attempts": (attempt,)})
    data = run_to_json(run)
    data["added_later"] = {"before": "daily"}
    data["attempts"][0]["added_later"] = 3
    assert run_from_json(data) == run
