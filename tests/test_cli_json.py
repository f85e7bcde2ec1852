"""`--json` on the commands that report a run or a check: apply and fsck (backfill's is in
test_backfill.py), as data a script can read."""

from __future__ import annotations

import json

from tests.helpers import kite


def test_apply_prints_its_run_record_and_null_when_nothing_ran(run_kite) -> None:
    assert run_kite("init").code == 0
    first = run_kite("apply", "--json")
    assert first.code == 0, first.stderr
    record = json.loads(first.stdout)
    assert record["status"] == "succeeded"
    assert sum(record["counts"].values()) > 0
    shown = run_kite("show", record["id"], "--json")
    assert json.loads(shown.stdout) == record
    again = run_kite("apply", "--json")
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout) is None
    assert "up to date" in again.stderr


def test_fsck_reports_problems_as_data(run_kite, tmp_path) -> None:
    assert run_kite("init").code == 0
    assert run_kite("apply").code == 0
    clean = run_kite("fsck", "--json")
    assert clean.code == 0, clean.stderr
    assert json.loads(clean.stdout) == {"env": "dev", "ok": True, "problems": []}
    output = tmp_path / "data" / "shouted" / "2024-01-01.txt"  # kite init's last stage writes it
    output.unlink()  # a link to the content store: replaced, not written through
    output.write_text("changed behind kite's back\n")
    broken = kite("fsck", "--json", cwd=tmp_path)
    assert broken.code == 1
    report = json.loads(broken.stdout)
    assert report["ok"] is False
    assert report["problems"]
