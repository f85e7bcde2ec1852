"""A plan as JSON (schemas/plan.schema.json): what `kite plan --json` prints and `--out` saves.

`to_json(plan, full=…, details=…)` is pure. A saved plan is `to_json(plan, full=True,
details=True)`: every datum, with what `kite apply FILE` needs (fingerprints, input files,
outputs, stage definitions); `from_json` turns it back into the same Plan value.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from kitecli.errors import ProjectError
from kitecli.plan.decide import DatumPlan
from kitecli.plan.plan import Plan, StagePlan
from kitecli.scan.hashing import hash_file
from kitecli.scan.manifest import FileEntry

FORMAT = 1


def to_json(plan: Plan, *, full: bool = False, details: bool = False) -> dict[str, Any]:
    """The plan as JSON data; unchanged datums only with `full`, apply's needs with `details`."""
    data: dict[str, Any] = {
        "kite_plan": FORMAT,
        "env": plan.env,
        "base": plan.base,
        "pipeline": plan.pipeline,
    }
    if details:
        data["today"] = plan.today
        data["sources"] = dict(sorted(plan.sources.items()))
    if plan.params:
        data["params"] = dict(plan.params)
    data["summary"] = plan.summary
    data["warnings"] = list(plan.warnings)
    data["stages"] = [_stage(s, full=full, details=details) for s in plan.stages]
    return data


def _stage(stage: StagePlan, *, full: bool, details: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"name": stage.name, "summary": stage.summary}
    data["known_after_apply"] = list(stage.known_after_apply)
    if stage.skip is not None:
        data["skip"] = stage.skip
    if stage.gates:
        data["gates"] = list(stage.gates)
    if details:
        data["definition"] = stage.definition
        data["parts"] = dict(sorted(stage.parts.items()))
    data["datums"] = [
        _datum(d, details=details) for d in stage.datums if full or d.action != "unchanged"
    ]
    return data


def _datum(datum: DatumPlan, *, details: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": dict(datum.key),
        "action": datum.action,
        "reasons": list(datum.reasons),
    }
    if details:
        data["fingerprint"] = datum.fingerprint
        data["was"] = datum.was
        if datum.files:
            data["files"] = {name: _entries(files) for name, files in datum.files.items()}
        if datum.roots:
            data["roots"] = dict(datum.roots)
        if datum.outputs:
            data["outputs"] = _entries(datum.outputs)
    return data


def _entries(files: Mapping[str, FileEntry]) -> dict[str, list[Any]]:
    return {path: [entry.digest, entry.size] for path, entry in files.items()}


def from_json(data: Mapping[str, Any]) -> Plan:
    """The Plan a saved plan holds (validate it first: see `load`)."""
    return Plan(
        env=data["env"],
        base=data["base"],
        pipeline=data["pipeline"],
        today=data["today"],
        stages=tuple(
            StagePlan(
                name=s["name"],
                definition=s["definition"],
                parts=s["parts"],
                datums=tuple(_datum_from(d) for d in s["datums"]),
                known_after_apply=tuple(s.get("known_after_apply", ())),
                skip=s.get("skip"),
                gates=tuple(s.get("gates", ())),
            )
            for s in data["stages"]
        ),
        warnings=tuple(data.get("warnings", ())),
        params=data.get("params", {}),
        sources=data.get("sources", {}),
    )


def _datum_from(data: Mapping[str, Any]) -> DatumPlan:
    return DatumPlan(
        key=data["key"],
        action=data["action"],
        reasons=tuple(data["reasons"]),
        fingerprint=data.get("fingerprint"),
        files={name: _entries_from(files) for name, files in data.get("files", {}).items()},
        roots=data.get("roots", {}),
        outputs=_entries_from(data.get("outputs", {})),
        was=data.get("was"),
    )


def _entries_from(files: Mapping[str, list[Any]]) -> dict[str, FileEntry]:
    return {path: FileEntry(digest, size) for path, (digest, size) in files.items()}


@cache
def schema() -> dict[str, Any]:
    """The plan JSON Schema shipped inside the package."""
    text = resources.files("kitecli").joinpath("schemas/plan.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def problems(data: Any) -> list[str]:
    """Every way `data` breaks the plan schema, as `where: what` lines."""
    from jsonschema import Draft202012Validator

    found = Draft202012Validator(schema()).iter_errors(data)
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in sorted(found, key=lambda e: list(map(str, e.absolute_path)))
    ]


def save(plan: Plan, path: Path) -> None:
    """Write the plan with everything apply needs; the file appears whole or not at all."""
    text = json.dumps(to_json(plan, full=True, details=True), separators=(",", ":"))
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise ProjectError(
            f"cannot write the plan to {path}: {exc.strerror}",
            hint="give --out a file in a folder that exists and that you can write to",
        ) from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load(path: Path) -> Plan:
    """Read and check a saved plan; raises ProjectError saying what is wrong with it."""
    hint = "make a new one with `kite plan --out FILE`"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read the plan {path}: {exc}", hint=hint) from exc
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{path} is not a plan: {exc}", hint=hint) from exc
    if not isinstance(data, dict) or "kite_plan" not in data:
        raise ProjectError(f"{path} is not a kite plan", hint=hint)
    if data["kite_plan"] != FORMAT:
        raise ProjectError(
            f"{path} is a plan of format {data['kite_plan']!r}; this kite reads format {FORMAT}",
            hint=hint,
        )
    found = problems(data)
    if found:
        shown = "; ".join(found[:3]) + (f" (and {len(found) - 3} more)" if len(found) > 3 else "")
        raise ProjectError(f"{path} is not a valid plan: {shown}", hint=hint)
    if "today" not in data or any("definition" not in s for s in data["stages"]):
        raise ProjectError(
            f"{path} holds a plan as printed by --json, without what apply needs", hint=hint
        )
    return from_json(data)


def digest(path: Path) -> str:
    """The digest of a saved plan file, as the run record names it."""
    return hash_file(path)[0]
