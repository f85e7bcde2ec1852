"""Test scaffolding for plans: a tiny stand-in for `kite apply` that builds the EnvState values
the planner reads, by running Python functions in place of stage commands (on disk or in memory).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from kitecli.history.state import DatumRecord, EnvState, RunCacheEntry, StageState
from kitecli.plan import plan as planning
from kitecli.scan.hashing import digest_bytes, hash_file
from kitecli.scan.manifest import FileEntry, Manifest, from_files, scan
from kitecli.spec.model import Pipeline, Stage

TODAY = dt.date(2024, 1, 5)

# stage name, datum decision, reads file content (data-root-relative) → output path → bytes
Produce = Callable[[str, planning.DatumPlan, Callable[[str], bytes]], dict[str, bytes]]


@dataclass
class World:
    """A data root (a real folder, or files in memory), its committed state, a CAS, a cache."""

    pipeline: Pipeline
    produce: Produce
    root: Path | None = None
    files: dict[str, FileEntry] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    state: EnvState = field(default_factory=lambda: EnvState(env="prod"))
    cache: dict[str, RunCacheEntry] = field(default_factory=dict)
    code: Mapping[str, str] | None = None

    def manifest(self) -> Manifest:
        if self.root is None:
            return from_files(self.files)
        data = self.root / "data"
        return scan(data) if data.exists() else from_files({})

    def code_digests(self) -> dict[str, str]:
        if self.code is not None:
            return dict(self.code)
        paths = {c for s in self.pipeline.stages.values() for c in s.code}
        return {c: hash_file(self.pipeline.root / c)[0] for c in sorted(paths)}

    def plan(self, **options: object) -> planning.Plan:
        options.setdefault("env", "prod")
        options.setdefault("state", self.state)
        options.setdefault("today", TODAY)
        options.setdefault("run_cache", self.cache.get)
        if "data" not in options:
            options["data"] = self.manifest()
        if "code" not in options:
            options["code"] = self.code_digests()
        return planning.make_plan(self.pipeline, **options)  # type: ignore[arg-type]

    def read(self, path: str) -> bytes:
        if self.root is not None:
            return (self.root / "data" / path).read_bytes()
        return self.blobs[self.files[path].digest]

    def write(self, path: str, content: bytes) -> FileEntry:
        entry = FileEntry(digest_bytes(content), len(content))
        self.blobs[entry.digest] = content
        if self.root is not None:
            target = self.root / "data" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        else:
            self.files[path] = entry
        return entry

    def remove(self, path: str) -> None:
        if self.root is not None:
            (self.root / "data" / path).unlink(missing_ok=True)
        else:
            self.files.pop(path, None)

    def apply(self, limit: int = 10) -> None:
        """Plan and carry out every decision until nothing is left to do."""
        for _ in range(limit):
            current = self.plan()
            if not current.changes:
                return
            self._apply_once(current)
        raise AssertionError("the plan did not settle")

    def _apply_once(self, current: planning.Plan) -> None:
        stages = dict(self.state.stages)
        for stage_plan in current.stages:
            stage = self.pipeline.stages[stage_plan.name]
            old = stages.get(stage.name, StageState(definition=""))
            records = dict(old.datums)
            for d in stage_plan.datums:
                if d.action in ("pending", "unchanged"):
                    continue
                record = records.get(d.id)
                owned = dict(record.outputs) if record else {}
                if d.action == "delete":
                    for path in owned:
                        self.remove(path)
                    records.pop(d.id)
                    continue
                assert d.fingerprint is not None
                if d.action == "skip":
                    records[d.id] = DatumRecord(d.key, d.fingerprint, "skipped")
                    continue
                if d.action == "run":
                    made = self.produce(stage.name, d, self.read)
                    outputs = {p: self.write(p, c) for p, c in made.items()}
                else:  # cached, restore: materialise from the CAS
                    outputs = {p: self.write(p, self.blobs[e.digest]) for p, e in d.outputs.items()}
                for path in set(owned) - set(outputs):
                    self.remove(path)
                inputs = planning.recorded_inputs(stage, d.datum)
                records[d.id] = DatumRecord(d.key, d.fingerprint, "succeeded", inputs, outputs)
                self.cache[d.fingerprint] = _cache_entry(stage, d.fingerprint, outputs)
            stages[stage.name] = StageState(stage_plan.definition, stage_plan.parts, records)
        self.state = replace(self.state, stages=stages, commit=f"c{len(self.cache)}")


def _cache_entry(stage: Stage, fp: str, outputs: Mapping[str, FileEntry]) -> RunCacheEntry:
    by_output: dict[str, dict[str, FileEntry]] = {}
    for out in stage.outputs:
        prefix = out.path + "/"
        by_output[out.name] = {
            p.removeprefix(prefix): e for p, e in outputs.items() if p.startswith(prefix)
        }
    return RunCacheEntry(fp, by_output)


def actions(p: planning.Plan, stage: str) -> dict[str, str]:
    """Datum id → action, for one stage of a plan."""
    return {d.id: d.action for d in p.stage(stage).datums}


def changed(p: planning.Plan) -> dict[str, dict[str, tuple[str, tuple[str, ...]]]]:
    """Per stage, the datums that are not unchanged: id → (action, reasons)."""
    return {
        s.name: {d.id: (d.action, d.reasons) for d in s.datums if d.action != "unchanged"}
        for s in p.stages
    }
