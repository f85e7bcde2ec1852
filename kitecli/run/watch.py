"""`kite watch`: apply, wait for the input folders to change, apply again: one run record
per round. A round starts once the folders have been quiet for `debounce` seconds after a
change, and at least every `every` seconds anyway (for `trigger:` deadlines, and for a
round skipped because another run held the lease).

SIGINT and SIGTERM stop it: between rounds at once (exit 0); during a round as they stop
`kite apply` (attempts in flight cancelled, what finished committed, exit 130)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kitecli.errors import ExitCode, KiteError
from kitecli.history.project import Project
from kitecli.history.records import RunRecord
from kitecli.plan.plan import select, sources
from kitecli.plan.planning import scan_project
from kitecli.run.changes import Inotify, Polling, Unwatchable
from kitecli.run.signals import SIGNALLED, on_signals
from kitecli.spec.build import is_url
from kitecli.spec.graph import overlaps

QUIET_AT_MOST = 10.0  # a folder that keeps changing starts a round after this anyway
LOCAL_POLL = 2.0  # seconds between scans of local folders inotify cannot watch


@dataclass(frozen=True)
class WatchOptions:
    debounce: float = 1.0  # seconds of quiet after a change before a round starts
    every: float = 600.0  # a round at least this often
    poll: float = 30.0  # seconds between scans of input folders on an object store
    stages: tuple[str, ...] = ()
    downstream: bool = False
    pipeline: Path = Path("pipeline.yaml")  # watched when it cannot be read


def watch(
    open_project: Callable[[], Project],
    one_round: Callable[[Project], RunRecord | None],
    options: WatchOptions,
    *,
    say: Callable[[str], None],
    failed: Callable[[KiteError], None],
) -> ExitCode:
    """Rounds until a signal; the exit code (0 when stopped between rounds, or at the end
    of a round that a signal came too late to interrupt). `failed` shows a round's error."""
    busy = False
    with _stopping(say):
        try:
            while True:
                busy = True
                SIGNALLED.clear()
                record, changes = _round(open_project, one_round, options, say, failed)
                try:
                    busy = False
                    if record is not None and record.status == "interrupted":
                        return ExitCode.INTERRUPTED
                    if SIGNALLED.is_set():
                        say("kite watch: stopped")
                        return ExitCode.OK
                    _until_changed(changes, options)
                finally:
                    changes.close()
        except KeyboardInterrupt:
            say("kite watch: stopped" if not busy else "kite watch: stopped during a round")
            return ExitCode.INTERRUPTED if busy else ExitCode.OK


def _round(
    open_project: Callable[[], Project],
    one_round: Callable[[Project], RunRecord | None],
    options: WatchOptions,
    say: Callable[[str], None],
    failed: Callable[[KiteError], None],
) -> tuple[RunRecord | None, Inotify | Polling]:
    """One round, and what tells of the next change. The watch starts before the round:
    a file that lands while the round runs (after its scan) or just after it starts the
    next round, instead of being taken into the first look of the watch and missed."""
    before = _stat(options.pipeline)
    try:
        project = open_project()
    except KiteError as exc:  # e.g. pipeline.yaml half-edited: say it, go on
        failed(exc)
        say("kite watch: the next change starts another round")
        return None, Polling(lambda: (_stat(options.pipeline),), LOCAL_POLL, last=(before,))
    changes = _changes(project, options, say)
    try:
        return one_round(project), changes
    except KiteError as exc:
        failed(exc)
        say("kite watch: the next change starts another round")
        return None, changes
    except BaseException:
        changes.close()
        raise


def _until_changed(changes: Inotify | Polling, options: WatchOptions) -> None:
    """Wait for a change under the input folders (debounced), or for `every` seconds."""
    if changes.wait(options.every):
        waited = 0.0
        while waited < QUIET_AT_MOST and changes.wait(options.debounce):
            waited += options.debounce


def _changes(
    project: Project, options: WatchOptions, say: Callable[[str], None]
) -> Inotify | Polling:
    pipeline, env = project.pipeline, project.env
    names = select(pipeline, options.stages, downstream=options.downstream)
    if not is_url(env.data):
        root = Path(env.data)
        folders = [root / f for f in _sources(project, names) if (root / f).is_dir()]
        outputs = [root / o.path for s in pipeline.stages.values() for o in s.outputs]
        try:
            return Inotify(
                folders,
                {pipeline.root: frozenset({pipeline.path.name})},
                ignored=[*outputs, pipeline.root / ".kite"],
            )
        except Unwatchable as exc:
            say(f"kite watch: {exc.strerror or exc}; scanning every {LOCAL_POLL:g} s instead")
    every = LOCAL_POLL if not is_url(env.data) else options.poll

    def signature() -> object:
        data = scan_project(project, options.stages, downstream=options.downstream)
        return sources(pipeline, names, data), pipeline.path.stat().st_mtime_ns

    return Polling(signature, every)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


def _sources(project: Project, names: Sequence[str]) -> list[str]:
    """The input folders of the stages that no stage writes (data-root-relative)."""
    written = [o.path for s in project.pipeline.stages.values() for o in s.outputs]
    found = {i.path for n in names for i in project.pipeline.stages[n].inputs}
    return sorted(f for f in found if not any(overlaps(f, w) for w in written))


@contextlib.contextmanager
def _stopping(say: Callable[[str], None]) -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt here (a round's runner routes them to
    its own handler while it runs, and hands them back after)."""

    def handler(signum: int) -> None:
        say(f"\nkite watch: {signal.Signals(signum).name}: stopping")
        raise KeyboardInterrupt

    with on_signals(handler):
        yield
