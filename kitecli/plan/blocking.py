"""Within one run: which datums must not run because an upstream datum's output was rejected.

A rejected datum keeps its previous outputs in place, so downstream would otherwise run on
data its upstream has since refused. It blocks, downstream: every datum that reads a file
it owns, and every datum that reads a whole directory one of its stage's outputs is in
(such a datum depends on every datum of that stage). A blocked datum blocks its own
downstream the same way, and so does one that is up to date but reads what a rejected
datum owns. Pure bookkeeping: the runner asks before it starts a datum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kitecli.history.state import DatumRecord
from kitecli.plan.decide import DatumPlan
from kitecli.spec.graph import overlaps
from kitecli.spec.model import Stage

BLOCKABLE = ("run", "cached")  # what would write outputs made from the blocked data


@dataclass
class Blocked:
    """Files and folders the datums of this run must not consume, each with why."""

    files: dict[str, str] = field(default_factory=dict)  # data-root-relative file → why
    folders: dict[str, str] = field(default_factory=dict)  # output folder → why

    def add(self, stage: Stage, owned: Iterable[str], why: str) -> None:
        """Block what depends on a datum of `stage` that owns the files `owned`."""
        for path in owned:
            self.files.setdefault(path, why)
        for out in stage.outputs:
            self.folders.setdefault(out.path, why)

    def spread(
        self, stage: Stage, datums: Iterable[DatumPlan], records: Mapping[str, DatumRecord]
    ) -> None:
        """Datums that need not run but read blocked data block their downstream too:
        what they made was made from data upstream has since refused."""
        if not (self.files or self.folders):
            return
        for datum in datums:
            record = records.get(datum.id)
            if datum.action in BLOCKABLE or record is None:
                continue
            found = self._read(record.inputs)
            if found is not None:
                self.add(stage, record.outputs, found)

    def _read(self, inputs: Iterable[str]) -> str | None:
        """Why a datum that read `inputs` (as a DatumRecord keeps them) is blocked."""
        for path in inputs:
            if path.endswith("/"):  # a whole directory
                found = next((w for f, w in self.folders.items() if overlaps(path[:-1], f)), None)
            else:
                found = self.files.get(path)
            if found is not None:
                return found
        return None

    def why(self, stage: Stage, datum: DatumPlan) -> str | None:
        """Why `datum` of `stage` must not run now, or None."""
        if datum.action not in BLOCKABLE or not (self.files or self.folders):
            return None
        for inp in stage.inputs:
            if inp.keyed:
                prefix = "" if inp.path in ("", ".") else inp.path + "/"
                for rel in datum.files.get(inp.name, {}):
                    found = self.files.get(prefix + rel)
                    if found is not None:
                        return found
            else:
                for folder, found in self.folders.items():
                    if overlaps(inp.path, folder):
                        return found
        return None
