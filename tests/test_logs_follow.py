"""`kite logs -f` through `kite`: a slow datum's lines arrive while it runs, the follower
ends when the run ends, and the attempts it did not see running get their stored output."""

from __future__ import annotations

import time
from pathlib import Path

from tests.helpers import Running, start, write

PIPELINE = """\
kite: 1
name: slow
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  tick:
    inputs:
      raw: {path: raw/, each: "{name}.txt"}
    command: [sh, ticks.sh, "{{ datum.name }}", "{{ outputs.out }}"]
    outputs: {out: out/}
"""
# "quick" ends at once; "slow" prints a line every half second, then leaves a mark
TICKS = """\
if [ "$1" = quick ]; then echo "quick done"; echo quick > "$2/quick.txt"; exit 0; fi
for n in 1 2 3 4 5 6 7 8; do echo "tick $n"; sleep 0.5; done
echo slow > "$2/slow.txt"
touch "$MARK"
"""


def _until(what: str, check, *, within: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"waited {within:g} s for {what}"
        time.sleep(0.05)


def _stdout(running: Running) -> str:
    return running.out.read_text() if running.out.exists() else ""


def test_follow_shows_lines_while_the_datum_runs_then_how_it_ended(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.yaml": PIPELINE,
            "ticks.sh": TICKS,
            "data/raw/quick.txt": "q\n",
            "data/raw/slow.txt": "s\n",
        },
    )
    mark = tmp_path / "slow-ended"
    env = {"MARK": str(mark)}
    apply = start("apply", "-j", "1", cwd=tmp_path, env=env)
    try:
        live = tmp_path / ".kite/live"
        _until("the slow datum to start", lambda: any(live.glob("*/tick/name=slow/*")))
        follower = start("logs", "-f", "last", cwd=tmp_path)
        try:
            _until("the follower to print a tick", lambda: "tick " in _stdout(follower))
            assert not mark.exists()  # the datum still runs
            assert not apply.done()
            assert "==> tick name=slow attempt 1 (running) <==" in _stdout(follower)
            followed = follower.result(timeout=60)
        finally:
            follower.stop()
        assert mark.exists()  # it ended with the run, not before
        applied = apply.result(timeout=60)
    finally:
        apply.stop()
    assert applied.code == 0, applied.stderr
    assert followed.code == 0, followed.stderr
    assert "following run " in followed.stderr
    assert "until the run ends" in followed.stderr
    text = followed.stdout
    ticks = [line for line in text.splitlines() if line.startswith("tick ")]
    assert ticks == [f"tick {n}" for n in range(1, 9)]  # each line once, in order
    assert "==> tick name=slow attempt 1 (ended: succeeded, exit 0) <==" in text
    # the quick datum ended before the follower started: its stored output, once
    assert "==> tick name=quick attempt 1 (succeeded) <==\nquick done\n" in text
    assert text.count("quick done") == 1
    assert not live.exists() or not any(live.iterdir())  # nothing left behind


def test_follow_of_a_run_that_ended_prints_its_stored_logs(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE, "ticks.sh": TICKS, "data/raw/quick.txt": "q\n"})
    assert start("apply", cwd=tmp_path).result().code == 0
    shown = start("logs", "-f", "last", "--datum", "name=quick", cwd=tmp_path).result(30)
    assert shown.code == 0, shown.stderr
    assert "quick done" in shown.stdout
    assert "following" not in shown.stderr
