"""Decide one stage's datums: `run`, `cached`, `restore`, `delete`, `skip`, `pending`, `wait`
or `unchanged`, each with the reasons that name what changed. Pure: values in, decisions out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from kitecli.errors import KiteError
from kitecli.history.state import (
    DatumRecord,
    DatumStatus,
    Records,
    RunCacheEntry,
    StageState,
    key_id,
)
from kitecli.plan import fingerprint
from kitecli.plan.datums import ONE_FILE, Datum
from kitecli.plan.ready import Readiness
from kitecli.scan.manifest import FileEntry, Manifest
from kitecli.spec.model import Stage
from kitecli.spec.patterns import datum_fields

Action = Literal["run", "cached", "restore", "delete", "skip", "pending", "wait", "unchanged"]
ACTIONS: tuple[Action, ...] = (
    "run",
    "cached",
    "restore",
    "delete",
    "skip",
    "pending",
    "wait",
    "unchanged",
)
CHANGES: frozenset[str] = frozenset({"run", "cached", "restore", "delete", "pending"})
MAX_REASONS = 20  # reasons kept per datum; the rest are counted in a last reason

RunCache = Callable[[str], RunCacheEntry | None]
Force = Callable[[str, Mapping[str, str]], bool]


def no_run_cache(fingerprint: str) -> RunCacheEntry | None:
    """A run cache that holds nothing."""
    return None


@dataclass(frozen=True)
class DatumPlan:
    """The decision for one datum.

    `fingerprint` is None where it is known only after apply (`pending`, `delete`).
    `files`/`roots`: what it reads (as in datums.Datum), for `run`, `cached`, `restore`, `skip`.
    `outputs` (data-root-relative): for `cached` the files to materialise from the run cache,
    for `restore` the files to rematerialise, for `delete` the files to remove.
    `was`: the status committed for it, if any.
    """

    key: Mapping[str, str]
    action: Action
    reasons: tuple[str, ...] = ()
    fingerprint: str | None = None
    files: Mapping[str, Mapping[str, FileEntry]] = field(default_factory=dict)
    roots: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, FileEntry] = field(default_factory=dict)
    was: DatumStatus | None = None

    id: str = field(default="", repr=False, compare=False)  # key_id(key), computed if not given

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", key_id(self.key))

    @property
    def datum(self) -> Datum:
        return Datum(self.key, self.files, self.roots)

    @property
    def changes(self) -> bool:
        """True when applying it changes files or committed state."""
        return self.action in CHANGES or (self.action == "skip" and self.was != "skipped")


def recorded_inputs(stage: Stage, datum: Datum) -> dict[str, str]:
    """What a datum record keeps as its inputs: data-root-relative path → digest.

    A whole-directory input is its path with a trailing "/" → its root digest.
    """
    found: dict[str, str] = {}
    for inp in stage.inputs:
        single = datum.files.get(inp.name, {}).get(ONE_FILE)
        if single is not None:  # an input that is one file
            found[inp.path] = single.digest
        elif inp.keyed:
            for rel, entry in datum.files.get(inp.name, {}).items():
                found[_join(inp.path, rel)] = entry.digest
        elif inp.name in datum.roots:
            found[_join(inp.path, "") + "/"] = datum.roots[inp.name]
    return found


def _join(folder: str, rel: str) -> str:
    folder = "" if folder in ("", ".") else folder
    return f"{folder}/{rel}" if folder and rel else folder or rel


@dataclass(frozen=True)
class Upstream:
    """What the planned upstream work will change: files, and whole directories."""

    changing: AbstractSet[str] = frozenset()  # data-root-relative files
    touched_dir: Callable[[str], bool] = lambda folder: False


@dataclass(frozen=True)
class StageContext:
    """Everything the decisions of one stage read."""

    stage: Stage
    env: str
    params: Mapping[str, Any]  # the pipeline's params (the stage's matrix overrides them)
    data: Manifest
    definition: fingerprint.Definition
    committed: StageState
    run_cache: RunCache = no_run_cache
    force: Force | None = None
    upstream: Upstream = Upstream()


def decide(ctx: StageContext, datums: Sequence[Datum]) -> tuple[DatumPlan, ...]:
    """A decision for each datum, and a `delete` (or `pending`) for each committed one gone."""
    judge = _Judge(ctx)
    decided = [judge.datum(d) for d in datums]
    current = {d.id for d in datums}
    table = ctx.committed.datums
    gone = [judge.gone(table[kid]) for kid in table if kid not in current]
    if gone:  # the datums come sorted by id; the committed ones that are gone go among them
        decided = sorted([*decided, *gone], key=lambda d: d.id)
    return tuple(decided)


class _Judge:
    """Decides the datums of one stage."""

    def __init__(self, ctx: StageContext) -> None:
        stage = ctx.stage
        self.ctx = ctx
        self.stage = stage
        self.changed = _definition_reasons(ctx.committed, ctx.definition)
        self.variables = when_variables(stage, params=ctx.params, env=ctx.env)
        self.per_datum_when = per_datum(stage)
        self.skip_all = stage_skip(stage, params=ctx.params, env=ctx.env)
        self.dir_touched = [
            f"{_join(i.path, '')}/"
            for i in stage.inputs
            if not i.keyed and ctx.upstream.touched_dir(i.path)
        ]
        self.ready = Readiness(stage, ctx.data)
        table = ctx.committed.datums
        plain = not (self.skip_all or self.per_datum_when or self.dir_touched or self.ready)
        plain = plain and ctx.force is None and not ctx.upstream.changing
        # where no rule before `unchanged` can apply, an unchanged datum is told from the
        # committed record as read, without building it (see state.Records)
        self.raw = table.raw if plain and isinstance(table, Records) else None
        self.files = ctx.data.files

    def datum(self, datum: Datum) -> DatumPlan:
        fp = fingerprint.datum_fingerprint(self.ctx.definition.fingerprint, datum)
        if self.raw is not None:
            found = self.raw.get(datum.id)
            if found is not None and found["fingerprint"] == fp and found["status"] == "succeeded":
                files = self.files
                for path, (digest, _) in found["outputs"].items():
                    entry = files.get(path)
                    if entry is None or entry.digest != digest:
                        break
                else:
                    return DatumPlan(
                        datum.key, "unchanged", (), fp, _NONE, _NONE, _NONE, "succeeded", datum.id
                    )
        return self._decide(datum, fp)

    def _decide(self, datum: Datum, fp: str) -> DatumPlan:
        record = self.ctx.committed.datums.get(datum.id)
        was = record.status if record else None
        skip = self.skip_all or self._datum_when(datum)
        if skip:
            return DatumPlan(
                datum.key, "skip", (skip,), fp, datum.files, datum.roots, was=was, id=datum.id
            )
        touched = self._touched(datum, record)
        if touched:
            pending = _cap([f"known after apply: {p}" for p in touched])
            return DatumPlan(datum.key, "pending", pending, was=was, id=datum.id)
        waits = self.ready.waits_for(datum) if self.ready else None
        if waits:
            return DatumPlan(datum.key, "wait", _cap(waits), was=was, id=datum.id)
        if self.ctx.force is not None and self.ctx.force(self.stage.name, datum.key):
            return DatumPlan(
                datum.key, "run", ("forced",), fp, datum.files, datum.roots, was=was, id=datum.id
            )
        if record is not None and record.fingerprint == fp and record.status == "succeeded":
            return self._up_to_date(datum, record, fp)
        reasons = self._why(datum, record, fp)
        entry = self.ctx.run_cache(fp)
        outputs = _cached_outputs(self.stage, entry) if entry is not None else None
        if outputs is not None:
            return DatumPlan(
                datum.key, "cached", reasons, fp, datum.files, datum.roots, outputs, was
            )
        return DatumPlan(
            datum.key, "run", reasons, fp, datum.files, datum.roots, was=was, id=datum.id
        )

    def gone(self, record: DatumRecord) -> DatumPlan:
        """A committed datum whose key no longer comes out of the inputs."""
        touched = [
            p
            for p in sorted(record.inputs)
            if p in self.ctx.upstream.changing
            or (p.endswith("/") and self.ctx.upstream.touched_dir(p[:-1]))
        ]
        if touched:
            pending = _cap([f"known after apply: {p}" for p in touched])
            return DatumPlan(record.key, "pending", pending, was=record.status)
        data = self.ctx.data
        removed = [
            p
            for p in sorted(record.inputs)
            if (p[:-1] not in data.trees if p.endswith("/") else p not in data.files)
        ]
        reasons = [f"input removed: {p}" for p in removed] or ["no input matches its key any more"]
        if not record.inputs and self.stage.is_source:
            reasons = ["no longer generated"]
        return DatumPlan(
            record.key, "delete", _cap(reasons), outputs=record.outputs, was=record.status
        )

    def _touched(self, datum: Datum, record: DatumRecord | None) -> list[str]:
        """What upstream work will change among the files this datum reads or last read."""
        changing = self.ctx.upstream.changing
        if not changing:
            return list(self.dir_touched)
        hits = {
            path
            for inp in self.stage.inputs
            for rel in datum.files.get(inp.name, {})
            if (path := _join(inp.path, rel)) in changing
        }
        if record is not None:
            hits.update(p for p in record.inputs if p in changing)
        return [*self.dir_touched, *sorted(hits)]

    def _up_to_date(self, datum: Datum, record: DatumRecord, fp: str) -> DatumPlan:
        files = self.ctx.data.files
        differ = [
            path
            for path, entry in record.outputs.items()
            if (now := files.get(path)) is None or now.digest != entry.digest
        ]
        if not differ:
            return DatumPlan(datum.key, "unchanged", (), fp, was=record.status, id=datum.id)
        problems = [
            f"outputs {'missing' if path not in files else 'modified'} on disk: {path}"
            for path in sorted(differ)
        ]
        return DatumPlan(
            datum.key,
            "restore",
            _cap(problems),
            fp,
            datum.files,
            datum.roots,
            record.outputs,
            record.status,
            id=datum.id,
        )

    def _why(self, datum: Datum, record: DatumRecord | None, fp: str) -> tuple[str, ...]:
        if record is None:
            seen = recorded_inputs(self.stage, datum)
            new = sorted(p for p in seen if not p.endswith("/")) or sorted(seen)
            return _cap([f"new input: {p}" for p in new] or ["new datum"])
        reasons: list[str] = []
        if record.fingerprint != fp:
            reasons += self.changed
            reasons += _input_reasons(record.inputs, recorded_inputs(self.stage, datum))
            if not reasons:
                reasons.append("fingerprint changed")
        reasons += _STATUS_REASONS.get(record.status, [])
        return _cap(reasons)

    def _datum_when(self, datum: Datum) -> str | None:
        if not self.per_datum_when:
            return None
        variables = {**self.variables, "datum": datum_fields(datum.key)}
        return _when_false(self.stage, variables, datum.key)


_NONE: Mapping[str, Any] = MappingProxyType({})  # shared by the many unchanged datums

_STATUS_REASONS = {
    "failed": ["last attempt failed"],
    "rejected": ["last attempt rejected"],
    "skipped": ["last attempt was skipped"],
}


def _definition_reasons(committed: StageState, definition: fingerprint.Definition) -> list[str]:
    if not committed.definition or committed.definition == definition.fingerprint:
        return []
    if not committed.parts:
        return ["stage definition changed"]
    names = fingerprint.changed_parts(committed.parts, definition.parts)
    return [_part_reason(n) for n in names] or ["stage definition changed"]


def _part_reason(name: str) -> str:
    if name.startswith("params."):
        return f"param changed: {name.removeprefix('params.')}"
    if name.startswith("code:"):
        return f"code changed: {name.removeprefix('code:')}"
    if name.startswith("schema:"):
        return f"accept schema changed: {name.removeprefix('schema:')}"
    if name == "accept":
        return "acceptance checks changed"
    if name == "exclude":
        return "exclusions changed: exclude:"
    if name.startswith("ignore:"):
        return f"exclusions changed: {name.removeprefix('ignore:')}"
    return f"stage definition changed: {name}"


def _input_reasons(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    changed = [f"input changed: {p}" for p in sorted(new) if p in old and old[p] != new[p]]
    added = [f"new input: {p}" for p in sorted(new) if p not in old]
    removed = [f"input removed: {p}" for p in sorted(old) if p not in new]
    return changed + added + removed


def _cached_outputs(stage: Stage, entry: RunCacheEntry) -> dict[str, FileEntry] | None:
    """The run cache entry's files at this stage's output paths (None: they do not fit)."""
    folders = {o.name: o.path for o in stage.outputs}
    if any(name not in folders for name in entry.outputs):
        return None
    return {
        _join(folders[name], rel): found
        for name, files in entry.outputs.items()
        for rel, found in files.items()
    }


def _cap(reasons: Sequence[str]) -> tuple[str, ...]:
    if len(reasons) <= MAX_REASONS:
        return tuple(reasons)
    return (*reasons[:MAX_REASONS], f"and {len(reasons) - MAX_REASONS} more")


def when_variables(stage: Stage, *, params: Mapping[str, Any], env: str) -> dict[str, Any]:
    """What a stage's `when:` sees besides `datum`: its params (the pipeline's, overridden
    by its matrix values), its matrix values and the environment's name."""
    return {"params": {**params, **stage.matrix}, "matrix": dict(stage.matrix), "env": env}


def per_datum(stage: Stage) -> bool:
    """True when the stage's `when:` is decided per datum (it mentions `datum`)."""
    from kitecli.spec import expr

    return stage.when is not None and expr.mentions(stage.when, "datum")


def stage_skip(stage: Stage, *, params: Mapping[str, Any], env: str) -> str | None:
    """Why the whole stage is skipped (its `when:` is false without looking at datums)."""
    if not stage.when or per_datum(stage):
        return None
    return _when_false(stage, when_variables(stage, params=params, env=env))


def _when_false(
    stage: Stage, variables: Mapping[str, Any], key: Mapping[str, str] | None = None
) -> str | None:
    """None when the stage's `when:` holds (or it has none), else the skip reason."""
    if not stage.when:
        return None
    from kitecli.spec import expr

    try:
        value = expr.condition(stage.when, variables)
    except expr.ExprEvalError as exc:
        where = f"stage {stage.name}" if key is None else f"stage {stage.name}, datum {_shown(key)}"
        raise KiteError(
            f"{where}: `when: {stage.when}` failed: {exc}",
            hint="`when:` sees params, matrix, env and datum (its key's fields), "
            "e.g. params.min_temp_c < 0 && datum.station != 'X'; has(params.x) tests a key",
        ) from exc
    return None if value else f"when {stage.when} is false"


def _shown(key: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(key.items())) or "(whole)"
