"""A stage's datums: `each` matches, `by:` groups, joins, broadcasts, crosses, generators.

Files that match a stage's `each` pattern (spec/patterns.py) and share a key form one datum.
This module is pure: manifests and values in, datums out.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from kitecli.errors import KiteError
from kitecli.history.state import key_id
from kitecli.scan.ignore import exclude
from kitecli.scan.manifest import EMPTY, FileEntry, Manifest
from kitecli.spec.model import CelList, DateRange, Generator, Input, Stage, ValueList
from kitecli.spec.patterns import compile_pattern, datum_fields
from kitecli.spec.timefmt import iso

ONE_FILE = ""  # the path, in a datum's files, of an input that is one file
CROSS_WARN = 10_000  # a cross product of more datums than this is worth a warning
MAX_GENERATED = 1_000_000  # a generator giving more keys than this is a mistake

# ------------------------------------------------------------------------------ datums


@dataclass(frozen=True)
class Datum:
    """One unit of work: its key, and per input what it sees.

    `files`: per keyed input, its files (input-dir-relative path → entry);
    `roots`: per whole-directory input, the root digest of that directory.
    """

    key: Mapping[str, str]
    files: Mapping[str, Mapping[str, FileEntry]] = field(default_factory=dict)
    roots: Mapping[str, str] = field(default_factory=dict)

    id: str = field(default="", repr=False, compare=False)  # key_id(key), computed if not given

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", key_id(self.key))


@dataclass(frozen=True)
class DatumSet:
    """A stage's datums, sorted by key, and what is worth telling the user about them."""

    datums: tuple[Datum, ...]
    warnings: tuple[str, ...] = ()


_Part = tuple[dict[str, str], dict[str, dict[str, FileEntry]]]  # key, files per input


def stage_datums(
    stage: Stage,
    data: Manifest,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    params: Mapping[str, Any] | None = None,
    env: str = "",
) -> DatumSet:
    """The datums of `stage` over the data root's manifest (or its generators, for a source)."""
    if stage.is_source:
        return generate(stage, today=today, now=now, params=params or {}, env=env)
    manifests: dict[str, Manifest | None] = {}
    filtered: set[str] = set()
    for inp in stage.inputs:
        if inp.path in data.files:  # one file: the datum sees it, at the path "" (views.py)
            entry = data.files[inp.path]
            manifests[inp.name] = Manifest(entry.digest, {ONE_FILE: entry})
            filtered.add(inp.name)
            continue
        if not _present(data, inp.path):
            manifests[inp.name] = None
            continue
        whole = data.subtree(inp.path)
        manifests[inp.name], left_out = exclude(whole, inp.exclude)
        if left_out or whole.hidden:  # its view must not be a link to the whole folder
            filtered.add(inp.name)
    return of_inputs(stage, manifests, filtered=filtered)


def _present(data: Manifest, path: str) -> bool:
    return path in ("", ".") or path in data.trees


def of_inputs(
    stage: Stage, manifests: Mapping[str, Manifest | None], *, filtered: Set[str] = frozenset()
) -> DatumSet:
    """Datums from the manifests of the stage's input directories (None: no such directory).

    A whole-directory input in `filtered` had files excluded: every datum also lists its
    files, so that its view holds those files only (not a link to the whole directory).
    """
    warnings: list[str] = []
    keyed = [i for i in stage.inputs if i.keyed]
    whole = [i for i in stage.inputs if not i.keyed]
    roots = {i.name: (manifests[i.name] or EMPTY).digest for i in whole}
    seen = {i.name: dict((manifests[i.name] or EMPTY).files) for i in whole if i.name in filtered}
    if not keyed:
        if not any(manifests[i.name] is not None for i in whole):
            return DatumSet(())
        return DatumSet((Datum({}, seen, roots),))
    parts, fields = _groups(stage, keyed[0], manifests[keyed[0].name], warnings)
    for inp in keyed[1:]:
        right, right_fields = _groups(stage, inp, manifests[inp.name], warnings)
        parts = _join_parts(stage, parts, fields, right, right_fields, inp.name, warnings)
        fields = fields + tuple(f for f in right_fields if f not in fields)
    ided = sorted(((key_id(key), key, files) for key, files in parts), key=itemgetter(0))
    datums = [Datum(key, {**files, **seen}, roots, kid) for kid, key, files in ided]
    return DatumSet(tuple(datums), tuple(warnings))


def input_fields(inp: Input) -> tuple[str, ...]:
    """The key fields an input contributes: its `by` fields, else its pattern's fields."""
    if inp.each is None:
        return ()
    return tuple(inp.by) if inp.by else compile_pattern(inp.each).fields


def _groups(
    stage: Stage, inp: Input, manifest: Manifest | None, warnings: list[str]
) -> tuple[list[_Part], tuple[str, ...]]:
    """The input's files grouped by key: one part per key."""
    assert inp.each is not None
    pattern = compile_pattern(inp.each)
    by = tuple(inp.by) if inp.by else None
    derive = by is not None and any(f not in pattern.fields for f in by)
    groups: dict[tuple[str, ...], dict[str, FileEntry]] = {}
    undated = 0
    fullmatch = pattern.regex.fullmatch
    for rel, entry in (manifest.files if manifest else {}).items():
        match = fullmatch(rel)
        if match is None:
            continue
        if by is None:
            group = match.groups()  # the pattern's fields, in order (its only groups)
        else:
            found = match.groupdict()
            values = datum_fields(found) if derive else found
            if any(f not in values for f in by):
                undated += 1
                continue
            group = tuple(values[f] for f in by)
        files = groups.get(group)
        if files is None:
            files = groups[group] = {}
        files[rel] = entry
    if undated:
        missing = ", ".join(f for f in by or () if f not in pattern.fields)
        warnings.append(
            f"stage {stage.name}: {undated} files of input {inp.name} match {inp.each!r} "
            f"but have no date to derive {missing} from"
        )
    names = by or pattern.fields
    parts = [
        (dict(zip(names, group, strict=True)), {inp.name: files}) for group, files in groups.items()
    ]
    return parts, input_fields(inp)


def _join_parts(
    stage: Stage,
    left: list[_Part],
    left_fields: tuple[str, ...],
    right: list[_Part],
    right_fields: tuple[str, ...],
    right_name: str,
    warnings: list[str],
) -> list[_Part]:
    """Inner join on the common fields; a cross product when there are none."""
    common = tuple(f for f in left_fields if f in right_fields)
    if not common:
        count = len(left) * len(right)
        if count > CROSS_WARN:
            warnings.append(
                f"stage {stage.name}: input {right_name} shares no field with the inputs "
                f"before it: {len(left)} x {len(right)} keys are crossed into {count} datums"
            )
        return [
            ({**lk, **rk}, {**lf, **rf}) for (lk, lf), (rk, rf) in itertools.product(left, right)
        ]
    index: dict[tuple[str, ...], list[_Part]] = {}
    for part in right:
        index.setdefault(tuple(part[0][f] for f in common), []).append(part)
    joined: list[_Part] = []
    matched: set[tuple[str, ...]] = set()
    unmatched = 0
    for lk, lf in left:
        at = tuple(lk[f] for f in common)
        found = index.get(at, [])
        if not found:
            unmatched += 1
            continue
        matched.add(at)
        joined.extend(({**lk, **rk}, {**lf, **rf}) for rk, rf in found)
    unmatched += sum(len(parts) for at, parts in index.items() if at not in matched)
    if unmatched:
        keys = "1 key" if unmatched == 1 else f"{unmatched} keys"
        warnings.append(
            f"stage {stage.name}: joining input {right_name} on {', '.join(common)}: "
            f"{keys} without a partner in the other inputs, so no datum"
        )
    return joined


# -------------------------------------------------------------------------- generators


def generate(
    stage: Stage,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    params: Mapping[str, Any],
    env: str,
) -> DatumSet:
    """A source stage's datums: the cross product of its generated fields (none: one datum)."""
    names = list(stage.datums)
    columns = [
        _values(stage, name, stage.datums[name], today=today, now=now, params=params, env=env)
        for name in names
    ]
    keys = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns)]
    return DatumSet(tuple(sorted((Datum(k) for k in keys), key=lambda d: d.id)))


def _values(
    stage: Stage,
    name: str,
    gen: Generator,
    *,
    today: dt.date,
    now: dt.datetime | None,
    params: Mapping[str, Any],
    env: str,
) -> list[str]:
    if isinstance(gen, ValueList):
        values = list(gen.values)
    elif isinstance(gen, DateRange):
        values = date_range(gen, today=today, now=now)
    else:
        values = _cel_values(stage, name, gen, params=params, env=env)
    return list(dict.fromkeys(values))


def date_range(gen: DateRange, *, today: dt.date, now: dt.datetime | None = None) -> list[str]:
    """The keys of a date range, both ends inclusive; an open end is today (or now)."""
    start: dt.date | dt.datetime = gen.start
    day = dt.timedelta(days=1)
    timed = isinstance(start, dt.datetime) or gen.every % day != dt.timedelta(0)
    if timed:
        begin = _as_datetime(start)
        end = _as_datetime(gen.end) if gen.end is not None else (now or _as_datetime(today))
        if begin.tzinfo is not None and end.tzinfo is None:
            end = end.replace(tzinfo=begin.tzinfo)
        elif begin.tzinfo is None and end.tzinfo is not None:
            end = end.replace(tzinfo=None)
        return _steps(begin, end, gen.every)
    last = gen.end if gen.end is not None else today
    if isinstance(last, dt.datetime):
        last = last.date()
    return _steps(start, last, gen.every)


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time.min)


def _steps(start: Any, end: Any, every: dt.timedelta) -> list[str]:
    if start > end:
        return []
    count = (end - start) // every + 1
    if count > MAX_GENERATED:
        raise KiteError(
            f"a date range from {iso(start)} to {iso(end)} every {every} gives {count} datums",
            hint="use a larger `every:` or a later `from:`",
        )
    return [iso(start + every * n) for n in range(count)]


def _cel_values(
    stage: Stage, name: str, gen: CelList, *, params: Mapping[str, Any], env: str
) -> list[str]:
    from kitecli.spec import expr

    where = f"stage {stage.name}: datums.{name}"
    try:
        value = expr.evaluate(gen.expr, {"params": dict(params), "env": env})
    except expr.ExprEvalError as exc:
        raise KiteError(
            f"{where}: {gen.expr!r} failed: {exc}",
            hint="the expression sees `params` and `env`, e.g. params.stations",
        ) from exc
    if not isinstance(value, list | tuple):
        raise KiteError(
            f"{where}: {gen.expr!r} gave {type(value).__name__}, not a list",
            hint="write an expression that is a list, e.g. ['a', 'b'] or params.stations",
        )
    return [_text(v) for v in value]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
