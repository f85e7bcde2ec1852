"""What a stage planned early sees of the stages before it that have not had their turn
either: the committed files and records with the results their early datums hold put in,
as merging them would put them, and input views that show those results from the content
store, where they already are.

So datums flow more than one stage deep: a datum of c starts on what b's early datums made
while a still runs (local commands only: a pod sees the data root, not kite's store). It is
held like every early datum and adopted at its stage's turn only if the plan made then, on
the committed data, gives it the same fingerprint; a held result that its own stage's turn
dropped costs the work done on it, never a result.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kitecli.history import tables
from kitecli.history.state import EnvState, StageState
from kitecli.run.jobs import Done
from kitecli.run.merging import placed_by, record
from kitecli.run.views import Source
from kitecli.scan import manifest
from kitecli.scan.listing import Listing
from kitecli.scan.manifest import FileEntry
from kitecli.spec.model import Stage
from kitecli.store.blobs import CAS


@dataclass
class Overlay:
    """The held results laid over the committed state (`build`)."""

    state: EnvState
    data: manifest.Manifest
    files: dict[str, FileEntry] = field(default_factory=dict)  # what the held results place

    def under(self, folder: str) -> bool:
        """Whether a held result places a file in `folder` (a data-root path)."""
        prefix = "" if folder in ("", ".") else folder.rstrip("/") + "/"
        return any(path.startswith(prefix) for path in self.files)


def build(
    state: EnvState,
    files: Listing,
    like: manifest.Manifest,
    held: Iterable[Done],
    run: str,
    cas: CAS,
) -> Overlay | None:
    """The committed `state` and `files` with the `held` results merged in, or None when
    there are none, or a blob of one is not on this machine (a remote content store: a view
    cannot link to it)."""
    results = [d for d in held if d.outputs is not None]
    if not results:
        return None
    stages = dict(state.stages)
    seen = Listing(files)
    put: dict[str, FileEntry] = {}
    for done in results:
        job, now = done.job, placed_by(done)
        if any(cas.local_path(e.digest) is None for e in now.values()):
            return None
        current = stages.get(job.stage.name, StageState(definition=""))
        previous = current.datums.get(job.plan.id)
        for path in set(previous.outputs if previous else ()) - set(now):
            seen.pop(path, None)
            put.pop(path, None)
        for path, entry in now.items():
            seen[path] = entry
        put.update(now)
        datums = tables.updated(current.datums, job.plan.id, record(job, "succeeded", now, run))
        stages[job.stage.name] = dataclasses.replace(current, datums=datums)
    return Overlay(dataclasses.replace(state, stages=stages), seen.manifest(like=like), put)


def whole_inputs_held(stage: Stage, files: Mapping[str, object], overlay: Overlay) -> bool:
    """Whether a whole-directory input of a datum (one with no file list of its own) would
    show a held result: its view is one link to the data root's folder, which holds the
    committed files only."""
    return any(inp.name not in files and overlay.under(inp.path) for inp in stage.inputs)


@dataclass(frozen=True)
class HeldSource:
    """Input views from the data root, and from the content store for the files a held
    result places (`files`: data-root path → entry)."""

    root: Source
    files: Mapping[str, FileEntry]
    cas: CAS

    def view(self, folder: str, dest: Path, files: Mapping[str, FileEntry] | None) -> None:
        if files is None:  # a whole folder holds no held result (`whole_inputs_held`)
            self.root.view(folder, dest, None)
            return
        held = {
            rel: entry
            for rel, entry in files.items()
            if self.files.get(_join(folder, rel)) == entry
        }
        if not held:
            self.root.view(folder, dest, files)
            return
        rest = {rel: entry for rel, entry in files.items() if rel not in held}
        if rest or "" not in held:
            self.root.view(folder, dest, rest)
        for rel, entry in held.items():
            blob = self.cas.local_path(entry.digest)
            assert blob is not None  # `build` saw every blob on this machine
            link = dest / rel if rel else dest
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(blob, link)


def _join(folder: str, rel: str) -> str:
    if folder in ("", "."):
        return rel
    return posixpath.join(folder, rel) if rel else folder
