"""The committed state of one environment: per stage, what each datum was made from and made.

`kite apply` writes it (as objects in the metadata repo, summarised in kite.lock);
`kite plan` compares the pipeline and the data directories against it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kitecli.scan.manifest import FileEntry

DatumStatus = Literal["succeeded", "failed", "skipped", "rejected"]


def key_id(key: Mapping[str, str]) -> str:
    """A datum key as one stable string: `date=2024-01-01,station=A` (`{}` → ``)."""
    if len(key) == 1:  # most keys: no sorting, no list
        for name in key:
            return name + "=" + key[name]
    return ",".join([k + "=" + key[k] for k in sorted(key)])


@dataclass(frozen=True)
class DatumRecord:
    """The last committed attempt of one datum of one stage."""

    key: Mapping[str, str]
    fingerprint: str
    status: DatumStatus
    # input files seen, data-root-relative path → digest (for "input changed: raw/x.csv");
    # a whole-directory input is its path with a trailing "/" → its root digest
    # (`plan.recorded_inputs` builds this mapping)
    inputs: Mapping[str, str] = field(default_factory=dict)
    # output files it owns, data-root-relative path → entry (for restore and delete)
    outputs: Mapping[str, FileEntry] = field(default_factory=dict)
    run: str | None = None  # id of the run that committed it


@dataclass(frozen=True)
class StageState:
    """A stage's definition when last applied, and its datum table."""

    definition: str  # the stage definition fingerprint
    # what the definition was made of, for reasons ("stage definition changed: command"):
    # keys like "command", "image", "env", "version", "params.NAME", "code:steps/x.py"
    parts: Mapping[str, str] = field(default_factory=dict)
    datums: Mapping[str, DatumRecord] = field(default_factory=dict)  # key_id → record
    # since when (epoch seconds) its `trigger:` has held new datums back; None: none held
    waiting_since: float | None = None


@dataclass(frozen=True)
class EnvState:
    """Everything committed for one environment; empty before the first apply."""

    env: str
    commit: str | None = None  # digest of the commit this state was read from
    pipeline: str | None = None  # pipeline digest at that commit
    stages: Mapping[str, StageState] = field(default_factory=dict)

    def datum(self, stage: str, key: Mapping[str, str]) -> DatumRecord | None:
        found = self.stages.get(stage)
        return found.datums.get(key_id(key)) if found else None


@dataclass(frozen=True)
class RunCacheEntry:
    """What an earlier datum with this fingerprint produced, in any environment or data root.

    `outputs`: output name → output-dir-relative path → entry, so the files can be
    materialised under whatever path that output has where they are reused.
    """

    fingerprint: str
    outputs: Mapping[str, Mapping[str, FileEntry]] = field(default_factory=dict)
    run: str | None = None  # id of the run that produced it


def to_json(state: EnvState) -> dict[str, Any]:
    """A JSON-ready form with sorted keys, so equal states serialise to equal bytes."""
    return {
        "env": state.env,
        "commit": state.commit,
        "pipeline": state.pipeline,
        "stages": {name: _stage_json(stage) for name, stage in sorted(state.stages.items())},
    }


def _stage_json(stage: StageState) -> dict[str, Any]:
    datums = {kid: datum_json(rec) for kid, rec in sorted(stage.datums.items())}
    return {**stage_header(stage), "datums": datums}


def stage_header(stage: StageState) -> dict[str, Any]:
    """A stage's entry in JSON without its datum table."""
    found: dict[str, Any] = {
        "definition": stage.definition,
        "parts": dict(sorted(stage.parts.items())),
    }
    if stage.waiting_since is not None:  # only then: other states keep their bytes
        found["waiting_since"] = stage.waiting_since
    return found


def datum_json(rec: DatumRecord) -> dict[str, Any]:
    return {
        "key": dict(sorted(rec.key.items())),
        "fingerprint": rec.fingerprint,
        "status": rec.status,
        "inputs": dict(sorted(rec.inputs.items())),
        "outputs": {p: [e.digest, e.size] for p, e in sorted(rec.outputs.items())},
        "run": rec.run,
    }


def from_json(data: Mapping[str, Any]) -> EnvState:
    """The inverse of to_json. Datum records are decoded when first looked up (`Records`)."""
    return EnvState(
        env=data["env"],
        commit=data.get("commit"),
        pipeline=data.get("pipeline"),
        stages={
            name: StageState(
                definition=stage["definition"],
                parts=stage.get("parts", {}),
                datums=_records(stage["datums"]),
                waiting_since=stage.get("waiting_since"),
            )
            for name, stage in data.get("stages", {}).items()
        },
    )


def _records(datums: Mapping[str, Any]) -> Records:
    return datums if isinstance(datums, Records) else Records(datums)


class Records(Mapping[str, DatumRecord]):
    """A stage's datum table as read from JSON: key_id → DatumRecord, each record built on
    first lookup. `raw` holds what an unchanged datum needs without building its record,
    which is most of the cost of reading a large state that nothing changed in."""

    __slots__ = ("_built", "_raw")

    def __init__(self, raw: Mapping[str, Mapping[str, Any]]) -> None:
        self._raw = raw
        self._built: dict[str, DatumRecord] = {}

    def __getitem__(self, kid: str) -> DatumRecord:
        found = self._built.get(kid)
        if found is None:
            found = self._built[kid] = _record(self._raw[kid])
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, kid: object) -> bool:
        return kid in self._raw

    @property
    def raw(self) -> Mapping[str, Mapping[str, Any]]:
        """The records as read: key_id → the JSON object of `to_json` (do not change it)."""
        return self._raw


def _record(rec: Mapping[str, Any]) -> DatumRecord:
    return DatumRecord(
        key=rec["key"],
        fingerprint=rec["fingerprint"],
        status=rec["status"],
        inputs=rec.get("inputs", {}),
        outputs={p: FileEntry(d, s) for p, (d, s) in rec["outputs"].items()},
        run=rec.get("run"),
    )
