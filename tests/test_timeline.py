"""`kite timeline`: the HTML page of a real run, opened in a real headless Chromium, shows a
bar per attempt in its outcome's colour, the datum on hover, the critical path, and fetches
nothing; a run of 10,000 attempts folds into columns; runs on S3 work the same."""

from __future__ import annotations

import json
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import browser
from tests.e2e import Site
from tests.helpers import Result, kite, start, write

PIPELINE = """\
kite: 1
name: timeline
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  work:
    inputs:
      raw: {path: raw/, each: "{name}.txt"}
    retries: {limit: 1}
    command: [sh, -c, 'SCRIPT', sh, "{{ datum.name }}", "{{ inputs.raw }}", "{{ outputs.out }}"]
    outputs:
      out: {path: out/, accept: {rules: ["files.all(f, f.size > 2)"]}}
"""
# $1 the datum's name, $2 its input view, $3 its output; TRIES: a folder outside the data
SCRIPT = (
    'echo "working on $1"; case "$1" in '
    'bad) echo "bad input: cannot parse line 7" >&2; exit 3;; '
    'flaky) if [ ! -e TRIES/flaky ]; then touch TRIES/flaky; echo "flaky: first try" >&2; '
    "exit 1; fi;; "
    'tiny) echo x > "$3/$1.txt"; exit 0;; '
    "esac; "
    'cat "$2"/* > "$3/$1.txt"'
)
CHAIN = """\
kite: 1
name: chain
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  first:
    inputs:
      raw: {path: raw/, each: "{name}.txt"}
    command: [sh, -c, 'sleep "$(cat "$1"/*)"; cp "$1"/* "$2"/', sh, "{{ inputs.raw }}",
              "{{ outputs.out }}"]
    outputs: {out: first/}
  second:
    inputs: {first: first/}
    command: [sh, -c, 'cat "$1"/* > "$2"/all.txt', sh, "{{ inputs.first }}", "{{ outputs.out }}"]
    outputs: {out: second/}
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[browser.Browser]:
    reason = browser.missing()
    if reason is not None:
        pytest.skip(f"no headless browser: {reason}")
    started = browser.Browser.start()
    yield started
    started.close()


def ok(result: Result) -> Result:
    assert result.code == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def mixed_project(root: Path) -> str:
    """A run of datums that succeed, fail, fail once and are retried, or are rejected; its id."""
    (root / "tries").mkdir(parents=True)
    script = SCRIPT.replace("TRIES", str(root / "tries"))
    files = {f"data/raw/{name}.txt": f"{name} data\n" for name in ("a", "b", "bad", "flaky")}
    write(root, {"pipeline.yaml": PIPELINE.replace("SCRIPT", script), **files})
    write(root, {"data/raw/tiny.txt": "tiny\n"})
    assert kite("apply", cwd=root).code == 1
    return str(show(root)["id"])


def show(root: Path, run: str = "last") -> dict[str, Any]:
    found: dict[str, Any] = json.loads(ok(kite("show", run, "--json", cwd=root)).stdout)
    return found


def timeline(root: Path, *args: str) -> Path:
    """`kite timeline ARGS`; the file it says it wrote."""
    written = ok(kite("timeline", *args, cwd=root)).stdout.strip().splitlines()[-1]
    path = Path(written) if Path(written).is_absolute() else root / written
    assert path.is_file(), written
    return path


def colour_of(page: browser.Page, selector: str) -> str:
    return str(page.evaluate(f"getComputedStyle(document.querySelector({selector!r})).fill"))


def legend(page: browser.Page) -> dict[str, str]:
    """Each outcome's colour, as the legend shows it."""
    found: dict[str, str] = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.legend span')].map(s => "
        "[s.textContent, getComputedStyle(s.querySelector('i')).backgroundColor]))"
    )
    return found


def test_every_attempt_is_a_bar_in_its_outcome_colour(
    chromium: browser.Browser, tmp_path: Path
) -> None:
    run = mixed_project(tmp_path)
    attempts = show(tmp_path)["attempts"]
    page = chromium.page(timeline(tmp_path).as_uri())
    bars = page.evaluate(
        "[...document.querySelectorAll('.bar')].map(b => "
        "[Number(b.dataset.i), b.dataset.outcome, getComputedStyle(b).fill])"
    )
    assert sorted(i for i, _, _ in bars) == list(range(len(attempts)))
    colours = legend(page)
    outcome = {i: o for i, o, _ in bars}
    for i, found, fill in bars:
        assert fill == colours[found], (attempts[i], found)
    by_name = {(a["key"]["name"], a["attempt"]): outcome[n] for n, a in enumerate(attempts)}
    assert by_name[("a", 1)] == "succeeded"
    assert by_name[("bad", 1)] == "retried"  # tried again, and failed again
    assert by_name[("bad", 2)] == "failed"
    assert by_name[("flaky", 1)] == "retried"
    assert by_name[("flaky", 2)] == "succeeded"
    assert by_name[("tiny", 1)] == "rejected"
    assert len({colours[o] for o in ("succeeded", "retried", "failed", "rejected")}) == 4
    summary = page.evaluate("document.querySelector('table.summary').innerText")
    assert summary.splitlines()[1].split()[:2] == ["work", "7"], summary
    assert "rejected" in summary
    assert run in page.evaluate("document.querySelector('h1').textContent")


def test_hover_shows_the_datum_its_exit_code_and_its_log(
    chromium: browser.Browser, tmp_path: Path
) -> None:
    run = mixed_project(tmp_path)
    page = chromium.page(timeline(tmp_path, run).as_uri())
    assert page.evaluate("document.getElementById('tip').hidden") is True
    box = page.evaluate(
        "(() => { const b = document.querySelector('.bar[data-outcome=failed]'); "
        "b.scrollIntoView(); const r = b.getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.hover(*box)
    shown = page.evaluate(
        "(() => { const t = document.getElementById('tip'); "
        "return t.hidden ? null : t.innerText; })()"
    )
    assert shown is not None, "hovering over the bar showed nothing"
    assert "work  name=bad" in shown
    assert "attempt 2: failed (exit 3)" in shown
    assert "| bad input: cannot parse line 7" in shown
    assert f"kite logs {run} work --datum name=bad" in shown
    page.hover(2, 2)  # off the chart
    assert page.evaluate("document.getElementById('tip').hidden") is True


def test_the_page_fetches_nothing(chromium: browser.Browser, tmp_path: Path) -> None:
    mixed_project(tmp_path)
    path = timeline(tmp_path, "last", "-o", str(tmp_path / "run.html"))
    page = chromium.page(path.as_uri())
    page.hover(400, 300)
    assert page.evaluate("document.querySelectorAll('.bar').length") == 7
    assert page.requests == [path.as_uri()]
    # and nothing it would fetch were its Content-Security-Policy not there to stop it
    named = re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"'<>)]*", path.read_text())
    assert named == ["http://www.w3.org/2000/svg"]  # the SVG namespace: a name, not a fetch


def test_the_critical_path_is_outlined(chromium: browser.Browser, tmp_path: Path) -> None:
    files = {"data/raw/long.txt": "1.5\n", "data/raw/short.txt": "0.1\n"}
    write(tmp_path, {"pipeline.yaml": CHAIN, **files, "data/raw/mid.txt": "0.3\n"})
    ok(kite("apply", "--parallel", "3", cwd=tmp_path))
    attempts = show(tmp_path)["attempts"]
    page = chromium.page(timeline(tmp_path).as_uri())
    critical = page.evaluate(
        "[...document.querySelectorAll('.bar.critical')].map(b => Number(b.dataset.i))"
    )
    on_path = [(attempts[i]["stage"], attempts[i]["key"].get("name")) for i in critical]
    assert sorted(on_path, key=str) == sorted([("first", "long"), ("second", None)], key=str)
    stroke = page.evaluate("getComputedStyle(document.querySelector('.bar.critical')).strokeWidth")
    assert stroke == "2px"
    assert "first → second" in page.evaluate("document.body.innerText")
    boxes = page.evaluate(
        "[...document.querySelectorAll('g[data-stage=first] .bar')].map(b => { "
        "const r = b.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; })"
    )
    assert len({top for _, _, top, _ in boxes}) == 3  # three at once: three rows
    for n, (left, right, top, bottom) in enumerate(boxes):
        for other in boxes[n + 1 :]:
            apart = right <= other[0] or other[1] <= left or bottom <= other[2] or other[3] <= top
            assert apart, (boxes[n], other)


def test_cached_and_restored_datums_are_markers(chromium: browser.Browser, tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": CHAIN, "data/raw/a.txt": "0\n", "data/raw/b.txt": "0\n"})
    ok(kite("apply", cwd=tmp_path))
    write(tmp_path, {"data/raw/a.txt": "0.0\n"})
    ok(kite("apply", cwd=tmp_path))
    write(tmp_path, {"data/raw/a.txt": "0\n"})
    ok(kite("apply", cwd=tmp_path))  # both stages come back from the run cache
    assert {a["status"] for a in show(tmp_path)["attempts"]} == {"cached"}
    page = chromium.page(timeline(tmp_path).as_uri())
    marks = page.evaluate(
        "[...document.querySelectorAll('.bar')].map(b => [b.tagName, b.dataset.outcome])"
    )
    assert marks == [["polygon", "cached"], ["polygon", "cached"]]
    assert colour_of(page, ".bar") == legend(page)["cached"]
    (tmp_path / "data" / "first" / "b.txt").unlink()
    ok(kite("apply", cwd=tmp_path))  # the deleted output comes back from the cache
    page = chromium.page(timeline(tmp_path).as_uri())
    assert page.evaluate("document.querySelector('.bar').dataset.outcome") == "restored"
    assert colour_of(page, ".bar") == legend(page)["restored"]
    assert legend(page)["restored"] != legend(page)["cached"]


def test_a_run_on_s3_metadata(chromium: browser.Browser, s3_bucket: str, tmp_path: Path) -> None:
    calls = Site.in_bucket(s3_bucket).project(tmp_path)
    ok(kite("apply", cwd=tmp_path, env={"CALLS_LOG": str(calls)}))
    attempts = show(tmp_path)["attempts"]
    page = chromium.page(timeline(tmp_path).as_uri())
    assert page.evaluate("document.querySelectorAll('.bar').length") == len(attempts) == 7
    lanes = page.evaluate("[...document.querySelectorAll('g.stage')].map(g => g.dataset.stage)")
    assert lanes == ["clean", "size", "total"]
    assert page.requests == [page.evaluate("location.href")]


def test_no_run_yet_and_an_unwritable_file_are_errors(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": CHAIN, "data/raw/a.txt": "0\n"})
    none = kite("timeline", cwd=tmp_path)
    assert none.code == 64
    assert "no runs recorded yet" in none.stderr
    assert "Traceback" not in none.stderr
    ok(kite("apply", cwd=tmp_path))
    (tmp_path / "file").write_text("")
    refused = kite("timeline", "-o", "file/inside.html", cwd=tmp_path)
    assert refused.code == 64
    assert "cannot write file/inside.html" in refused.stderr
    assert "hint:" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_show_open_writes_the_timeline_and_opens_it(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": CHAIN, "data/raw/a.txt": "0\n"})
    ok(kite("apply", cwd=tmp_path))
    opener = tmp_path / "opener.sh"
    opener.write_text(f'#!/bin/sh\necho "$1" > {tmp_path}/opened\n')
    opener.chmod(0o755)
    shown = ok(kite("show", "last", "--open", cwd=tmp_path, env={"BROWSER": f"{opener} %s"}))
    run = show(tmp_path)["id"]
    assert f"timeline: .kite/timelines/{run}.html" in shown.stderr
    opened = (tmp_path / "opened").read_text().strip()
    assert opened == (tmp_path / ".kite" / "timelines" / f"{run}.html").as_uri()


def test_ten_thousand_attempts_fold_into_columns(chromium: browser.Browser, tmp_path: Path) -> None:
    from timeline_runs import commit_run

    write(tmp_path, {"pipeline.yaml": CHAIN, "data/raw/a.txt": "0\n"})
    ok(kite("apply", cwd=tmp_path))
    statuses = commit_run(tmp_path / "meta", "dev", attempts=10_000)
    began = time.monotonic()
    path = timeline(tmp_path)
    took = time.monotonic() - began
    assert took < 20, f"kite timeline took {took:.1f} s for 10,000 attempts"
    assert path.stat().st_size < 2_000_000
    page = chromium.page(path.as_uri())
    drawn = page.evaluate("document.querySelectorAll('svg rect, svg polygon').length")
    assert drawn < 3_000, drawn
    started = page.evaluate(
        "[...document.querySelectorAll('.column rect')].map(r => "
        "[r.dataset.outcome, Number(r.dataset.started)])"
    )
    total: Counter[str] = Counter()
    for outcome, count in started:
        total[outcome] += count
    assert (
        sum(total.values())
        + page.evaluate("document.querySelectorAll('.stage:not(:has(.column)) .bar').length")
        == 10_000
    )
    assert total["failed"] == statuses["failed"]
    assert "8,000 attempts, folded" in page.evaluate("document.querySelector('svg').textContent")
    box = page.evaluate(
        "(() => { const c = document.querySelector('.column rect'); c.scrollIntoView(); "
        "const r = c.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.hover(*box)
    shown = page.evaluate("document.getElementById('tip').innerText")
    assert "ran in it: " in shown
    assert "started in it: " in shown


def test_an_interrupted_run_shows_its_cancelled_attempt(
    chromium: browser.Browser, tmp_path: Path
) -> None:
    write(tmp_path, {"pipeline.yaml": CHAIN, "data/raw/a.txt": "0\n", "data/raw/slow.txt": "30\n"})
    running = start("apply", "--parallel", "2", cwd=tmp_path, env={"KITE_CHECKPOINT_SECONDS": "0"})
    deadline = time.monotonic() + 60
    while not (tmp_path / "data" / "first").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    running.signal(signal.SIGINT)
    assert running.result(timeout=60).code == 130
    page = chromium.page(timeline(tmp_path).as_uri())
    bars = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.bar')].map(b => "
        "[b.dataset.outcome, getComputedStyle(b).fill]))"
    )
    assert set(bars) == {"succeeded", "cancelled"}
    assert bars["cancelled"] == legend(page)["cancelled"]
    assert "interrupted" in page.evaluate("document.querySelector('h1').textContent")


def test_a_lost_log_costs_its_excerpt_not_the_page(tmp_path: Path) -> None:
    mixed_project(tmp_path)
    attempts = show(tmp_path)["attempts"]
    bad = next(a for a in attempts if a["key"]["name"] == "bad" and a["attempt"] == 2)
    hexa = bad["log"].removeprefix("b3:")
    (tmp_path / "meta" / "objects" / hexa[:2] / hexa[2:]).unlink()
    page = timeline(tmp_path).read_text()
    assert "(its stored log is missing or damaged: `kite fsck` says more)" in page
    assert "bad input: cannot parse line 7" not in page


def test_a_stage_of_more_than_twelve_at_once_folds(
    chromium: browser.Browser, tmp_path: Path
) -> None:
    files = {f"data/raw/{n:02d}.txt": "2\n" for n in range(14)}  # 14 at once, for 2 s
    write(tmp_path, {"pipeline.yaml": CHAIN, **files})
    ok(kite("apply", "--parallel", "14", cwd=tmp_path))
    page = chromium.page(timeline(tmp_path).as_uri())
    lanes = page.evaluate(
        "[...document.querySelectorAll('g.stage')].map(g => "
        "[g.dataset.stage, g.querySelectorAll('.column').length > 0])"
    )
    assert lanes == [["first", True], ["second", False]]
    assert "14 attempts, folded" in page.evaluate("document.querySelector('svg').textContent")
