"""Progress of `kite apply` on stderr: a live line per stage on a terminal, plain lines else."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from kitecli.cli.output import color, note, style
from kitecli.history.records import RunRecord

DIM = "2"  # a failed command's own last lines, under its failure


class StageProgress:
    """Shows how many of a stage's datums are done; safe to call from the runner's thread."""

    def __init__(self, stream: TextIO = sys.stderr, *, every: float = 10.0) -> None:
        self.stream = stream
        self.live = color(stream)
        self.every = every
        self._stage = ""
        self._total = 0
        self._done = 0
        self._shown = 0.0
        self._ahead: dict[str, tuple[int, int]] = {}  # stages before their turn: started, ended

    def start(self, stage: str, total: int) -> None:
        self._ahead.pop(stage, None)
        self._stage, self._total, self._done = stage, total, 0
        self._shown = time.monotonic()
        if not self.live:
            self._line(f"{stage}: {total} to do")
        else:
            self._draw()

    def advance(self, stage: str) -> None:
        self._done += 1
        now = time.monotonic()
        if self.live:
            self._draw()
        elif now - self._shown >= self.every:
            self._shown = now
            self._line(f"{stage}: {self._done}/{self._total}")

    def finish(self, stage: str, summary: str) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        self._line(f"{stage}: {summary}")

    def ahead(self, stage: str, started: int, ended: int) -> None:
        """Shown on the live line after the stage whose turn it is (plain lines: not)."""
        self._ahead[stage] = (started, ended)
        if self.live:
            self._draw()

    def note(self, message: str, *, dim: bool = False) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        self._line(style(message, DIM, self.stream) if dim else message)
        if self.live and self._done < self._total:
            self._draw()

    def _draw(self) -> None:
        width = 24
        filled = width * self._done // max(self._total, 1)
        bar = "#" * filled + "." * (width - filled)
        line = f"{self._stage} [{bar}] {self._done}/{self._total}" if self._stage else ""
        for stage, (started, ended) in self._ahead.items():
            line += f"  {stage}: {ended}/{started} ahead"
        self.stream.write(f"\r\033[K{line.strip()}")
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def report(record: RunRecord | None, *, as_json: bool, label: str = "Run") -> None:
    """How a run ended: a line on stderr, and with `as_json` its record on stdout (as
    `kite show --json` prints it; `null` when there was nothing to run)."""
    summary(record, label=label)
    if as_json:
        from kitecli.cli.output import emit_json
        from kitecli.history.records import run_to_json

        emit_json(None if record is None else run_to_json(record))


def summary(record: RunRecord | None, *, label: str = "Run") -> None:
    """Say on stderr how a run ended: `Run ID succeeded: 4 succeeded, 2 cached.`"""
    if record is not None:
        counts = ", ".join(f"{n} {k}" for k, n in record.counts.items()) or "nothing ran"
        note(f"{label} {record.id} {record.status}: {counts}.")
