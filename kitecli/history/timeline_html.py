"""A run's timeline as one self-contained HTML file: the stage summary, then inline SVG
with a bar per attempt (a marker where no command ran), and a few lines of JavaScript that
show an attempt's details on hover. Nothing is fetched from anywhere."""

from __future__ import annotations

import datetime as dt
import html
import math
import zlib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from kitecli.errors import ProjectError, UsageError
from kitecli.history.log import logs_command, tail
from kitecli.history.records import Attempt
from kitecli.history.timeline import (
    INSTANT,
    OUTCOMES,
    Bar,
    Column,
    Lane,
    Timeline,
    layout,
    stage_summary,
)

if TYPE_CHECKING:
    from kitecli.store.repo import Repo

COLOURS = {
    "succeeded": "#2f9e44",
    "retried": "#f59f00",
    "failed": "#e03131",
    "rejected": "#9c36b5",
    "cancelled": "#868e96",
    "cached": "#1c7ed6",
    "restored": "#0c8599",
    "other": "#ced4da",
}
LABEL = 190  # px left of the axis, for the stage names
LABEL_CHARS = 28  # of a stage name shown there (all of it on hover)
AXIS = 1000  # px of the time axis
TOP = 28  # px above the first lane, for the axis labels
ROW = 16  # px per row of bars
PAD = 6  # px above and below the rows of a lane
FOLDED = 64  # px of a folded lane's columns
STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600)


def render(timeline: Timeline, excerpts: Mapping[int, Sequence[str]]) -> str:
    """The whole HTML page; `excerpts`: the last lines of output of some attempts."""
    template = Template(resources.files("kitecli.history").joinpath("timeline.html").read_text())
    return template.substitute(
        title=html.escape(f"kite timeline · run {timeline.run.id}"),
        colours="\n".join(f".o-{name} {{ fill: {c}; }}" for name, c in COLOURS.items()),
        header=_header(timeline),
        summary=_summary(timeline),
        svg=_svg(timeline, excerpts),
    )


def _header(timeline: Timeline) -> str:
    run = timeline.run
    path = timeline.critical
    took = "-" if run.duration is None else took_text(run.duration)
    lines = [
        f"<h1>run {html.escape(run.id)}: {run.status}</h1>",
        f"<p>environment {html.escape(run.env)} · started {_clock(run.started)} · took {took}"
        f" · {len(run.attempts):,} attempts · <code>{html.escape(' '.join(run.argv))}"
        "</code></p>",
    ]
    if path:
        first, last = run.attempts[path[0]], run.attempts[path[-1]]
        stages = html.escape(" → ".join(dict.fromkeys(run.attempts[n].stage for n in path)))
        lines.append(
            f"<p>critical path (outlined): {len(path)} attempts over "
            f"{took_text(last.ended - first.started)}: {stages}</p>"
        )
    legend = "".join(
        f'<span><i style="background:{COLOURS[name]}"></i>{name}</span>' for name in OUTCOMES
    )
    lines.append(f'<p class="legend">{legend}</p>')
    return "\n".join(lines)


def _summary(timeline: Timeline) -> str:
    counts = stage_summary(timeline)
    shown = [o for o in OUTCOMES if any(c[o] for c in counts.values())]
    titles = ["stage", "attempts", *shown, "wall time", "runtime", "longest"]
    rows = ["<tr>" + "".join(f"<th>{title}</th>" for title in titles) + "</tr>"]
    for stage, found in counts.items():
        mine = [a for a in timeline.run.attempts if a.stage == stage]
        wall = max(a.ended for a in mine) - min(a.started for a in mine)
        runtimes = [a.runtime for a in mine]
        cells = [html.escape(stage), f"{sum(found.values()):,}"]
        cells += [f"{found[o]:,}" if found[o] else "" for o in shown]
        cells += [took_text(wall), took_text(sum(runtimes)), took_text(max(runtimes))]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return '<table class="summary">\n' + "\n".join(rows) + "\n</table>"


def _svg(timeline: Timeline, excerpts: Mapping[int, Sequence[str]]) -> str:
    parts: list[str] = []
    y = TOP
    for lane in timeline.lanes:
        height = ROW + FOLDED + 2 * PAD if lane.folded else lane.rows * ROW + 2 * PAD
        parts.append(f'<g class="stage" data-stage="{html.escape(lane.stage)}">')
        parts.append(
            f'<rect class="lane" x="0" y="{y}" width="{LABEL + AXIS}" height="{height - 2}"/>'
        )
        name = lane.stage if len(lane.stage) <= LABEL_CHARS else lane.stage[:LABEL_CHARS] + "…"
        parts.append(
            f'<text x="6" y="{y + 15}" data-tip="{html.escape(lane.stage)}">'
            f"{html.escape(name)}</text>"
        )
        if lane.folded:
            most = max(sum(c.running.values()) for c in lane.columns)
            parts.append(f'<text x="6" y="{y + 30}">{lane.attempts:,} attempts, folded</text>')
            parts.append(f'<text x="6" y="{y + 45}">tallest column: {most} ran</text>')
            parts += _columns(timeline, lane, y + PAD + ROW)
        parts += [_bar(timeline, bar, y + PAD, lane.folded, excerpts) for bar in lane.bars]
        parts.append("</g>")
        y += height
    width = LABEL + AXIS + 20
    return (
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{y + 4}">\n' + "\n".join(_ticks(timeline.span, y) + parts) + "\n</svg>"
    )


def _x(seconds: float, span: float) -> float:
    return LABEL + seconds / span * AXIS


def _bar(
    timeline: Timeline, bar: Bar, top: float, folded: bool, excerpts: Mapping[int, Sequence[str]]
) -> str:
    attempt = timeline.run.attempts[bar.index]
    tip = html.escape(tip_text(timeline, bar, excerpts.get(bar.index, ())))
    classes = f"bar o-{bar.outcome}" + (" critical" if bar.critical else "")
    classes += " over-columns" if folded else ""
    common = f'class="{classes}" data-i="{bar.index}" data-outcome="{bar.outcome}" data-tip="{tip}"'
    y = top + (0 if folded else bar.row * ROW)  # a folded lane's critical path: on top
    x = _x(bar.start, timeline.span)
    if attempt.status in INSTANT:
        cx, cy, r = x, y + ROW / 2 - 1, 5
        points = f"{cx:.1f},{cy - r} {cx + r:.1f},{cy} {cx:.1f},{cy + r} {cx - r:.1f},{cy}"
        return f'<polygon {common} points="{points}"/>'
    width = (bar.end - bar.start) / timeline.span * AXIS
    width = width - 1 if width >= 3 else max(width, 1.5)  # a gap between bars that touch
    return f'<rect {common} x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{ROW - 3}"/>'


def _columns(timeline: Timeline, lane: Lane, top: float) -> list[str]:
    """A folded lane: per column, stacked by outcome, how many attempts ran in it (at any
    moment of it), below the row of its attempts on the critical path."""
    most = max(sum(c.running.values()) for c in lane.columns)
    parts = []
    for column in lane.columns:
        x = _x(column.start, timeline.span)
        width = max((column.end - column.start) / timeline.span * AXIS - 0.5, 0.5)
        tip = html.escape(_column_tip(timeline, lane, column))
        started = sum(column.started.values())
        parts.append(f'<g class="column" data-started="{started}" data-tip="{tip}">')
        bottom = top + FOLDED
        for outcome in OUTCOMES:
            count = column.running.get(outcome, 0)
            if not count:
                continue
            height = count / most * FOLDED
            bottom -= height
            parts.append(
                f'<rect class="o-{outcome}" data-outcome="{outcome}" '
                f'data-started="{column.started.get(outcome, 0)}" x="{x:.1f}" '
                f'y="{bottom:.1f}" width="{width:.1f}" height="{height:.1f}"/>'
            )
        parts.append("</g>")
    return parts


def _column_tip(timeline: Timeline, lane: Lane, column: Column) -> str:
    def counts(found: Mapping[str, int]) -> str:
        return ", ".join(f"{found[o]} {o}" for o in OUTCOMES if found.get(o)) or "none"

    lines = [
        f"{lane.stage}: {_offset(column.start)} to {_offset(column.end)}",
        f"ran in it: {counts(column.running)}",
        f"started in it: {counts(column.started)}",
    ]
    if column.example >= 0:
        example = timeline.run.attempts[column.example]
        lines.append(f"e.g. {key_text(example)} ({timeline.outcomes[column.example]})")
    return "\n".join(lines)


def tip_text(timeline: Timeline, bar: Bar, excerpt: Sequence[str]) -> str:
    """What hovering over an attempt's bar shows."""
    attempt = timeline.run.attempts[bar.index]
    code = "" if attempt.exit_code is None else f" (exit {attempt.exit_code})"
    lines = [
        f"{attempt.stage}  {key_text(attempt)}",
        f"attempt {attempt.attempt}: {bar.outcome}{code}",
        f"runtime {took_text(attempt.runtime)}, started {_clock(attempt.started)}",
    ]
    where = f"pid {attempt.where}" if attempt.where.isdigit() else attempt.where
    place = ", ".join(x for x in (f"node {attempt.node}" if attempt.node else "", where) if x)
    if place:
        lines.append(f"{place} ({attempt.executor})")
    if attempt.reason:
        lines.append(f"reason: {attempt.reason}")
    if bar.critical:
        lines.append("on the critical path")
    lines += [f"| {line}" for line in excerpt]
    if attempt.log is not None:
        lines.append(logs_command(timeline.run.id, attempt))
    return "\n".join(lines)


def key_text(attempt: Attempt) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(attempt.key.items())) or "(whole)"


def _ticks(span: float, bottom: float) -> list[str]:
    step = next((s for s in STEPS if span / s <= 10), STEPS[-1] * math.ceil(span / STEPS[-1] / 10))
    parts = []
    for n in range(int(span / step) + 1):
        x = _x(n * step, span)
        parts.append(f'<line class="tick" x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{bottom}"/>')
        label = _offset(n * step)
        parts.append(f'<text x="{x:.1f}" y="{TOP - 10}" text-anchor="middle">{label}</text>')
    return parts


def _offset(seconds: float) -> str:
    return "+" + took_text(seconds)


def took_text(seconds: float) -> str:
    """A duration as a person reads it: 0.04s, 0.4s, 12s, 3m05s, 2h10m."""
    if seconds < 1:
        return "0s" if seconds <= 0 else f"{seconds:.2f}s"
    if seconds < 10:
        return f"{seconds:.1f}s".replace(".0s", "s")
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes}m{rest:02d}s"
    hours, rest = divmod(round(seconds) // 60, 60)
    return f"{hours}h{rest:02d}m"


def _clock(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


EXCERPTS = 500  # attempts whose output tail is fetched for the hover text, failures first
EXCERPT_LINES = 4


def write(*, file: Path | None, env: str | None, wanted: str, out: Path | None) -> Path:
    """Write the timeline of the run `wanted` to `out` (default: under the project's
    .kite/timelines/) and return where it went."""
    from kitecli.history import ledger
    from kitecli.history.project import open_project
    from kitecli.history.records import find_run

    project = open_project(file, env)
    project.history()
    run = find_run(list(ledger.runs(project.repo, project.env.name)), wanted)
    timeline = layout(run)
    page = render(timeline, _excerpts(project.repo, timeline))
    target = out or project.pipeline.root / ".kite" / "timelines" / f"{run.id}.html"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # names that are not UTF-8 (kept as surrogates) show as U+FFFD, as a browser shows them
        raw = page.encode("utf-8", "surrogateescape")
        target.write_text(raw.decode("utf-8", "replace"), encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {target}: {exc.strerror}", hint="give a writable file with -o FILE"
        ) from exc
    return target


def _excerpts(repo: Repo, timeline: Timeline) -> dict[int, list[str]]:
    """The last lines of output of the attempts that have a log: those that did not succeed
    first, then the others, up to EXCERPTS of them (fetched a few at once)."""
    from concurrent.futures import ThreadPoolExecutor

    logged = [n for n, a in enumerate(timeline.run.attempts) if a.log is not None]
    logged.sort(key=lambda n: timeline.outcomes[n] == "succeeded")
    wanted = logged[:EXCERPTS]

    def fetch(n: int) -> list[str]:
        digest = timeline.run.attempts[n].log
        assert digest is not None
        try:
            return tail(zlib.decompress(repo.get(digest)), EXCERPT_LINES)
        except (zlib.error, ProjectError):  # one lost log costs its excerpt, not the page
            return ["(its stored log is missing or damaged: `kite fsck` says more)"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(wanted, pool.map(fetch, wanted), strict=True))
