"""A stage's datum table stored as shards by key hash, so a checkpoint rewrites only the
shards that changed since the table was read or last written.

A table of n datums has `shard_count(n)` shards (a power of two, about `SHARD_SIZE` datums
each); datum `kid` lives in shard `crc32(kid) mod count`. A shard is one object of the
metadata repo: key_id → the record's JSON, the same form as the single-object table of
older versions, which is still read (`load`). See docs/history.md, "Datum tables".
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kitecli.history.state import DatumRecord, Records, datum_json

__all__ = [
    "Table",
    "counts",
    "datum_json",
    "digests",
    "dumps",
    "load",
    "load_json",
    "store",
    "updated",
]

if TYPE_CHECKING:
    from kitecli.store.repo import Repo

SHARD_SIZE = 1024  # datums per shard, on average, at most

Raw = Mapping[str, Any]  # one record's JSON, as `state.datum_json` gives it


def dumps(value: Any) -> bytes:
    """Canonical JSON: the same value always gives the same bytes (and digest)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def load_json(repo: Repo, digest: str) -> Any:
    return json.loads(repo.get(digest))


def shard_count(datums: int) -> int:
    """The number of shards of a table of `datums` datums: a power of two."""
    count = 1
    while count * SHARD_SIZE < datums:
        count *= 2
    return count


def shard_of(kid: str, count: int) -> int:
    return _crc(kid) & (count - 1)


def _crc(kid: str) -> int:
    # a key from a file name holds the name's bytes as surrogates: hash those bytes
    return zlib.crc32(kid.encode("utf-8", "surrogateescape"))


class Shard:
    """Some of a table's records, key_id → JSON; `digest` is the object it is stored as,
    None until it is written. Never changed once made: an update makes a new shard."""

    __slots__ = ("_counts", "digest", "raw")

    def __init__(self, raw: dict[str, Raw], digest: str | None = None) -> None:
        self.raw = raw
        self.digest = digest
        self._counts: dict[str, int] | None = None

    def counts(self) -> dict[str, int]:
        """Its records by status (computed once: the shard does not change)."""
        if self._counts is None:
            found: dict[str, int] = {}
            for rec in self.raw.values():
                found[rec["status"]] = found.get(rec["status"], 0) + 1
            self._counts = found
        return self._counts


class _Raw(Mapping[str, Raw]):
    """The records' JSON of all shards as one mapping (what `Records.raw` promises)."""

    __slots__ = ("_len", "_mask", "_shards")

    def __init__(self, shards: list[Shard]) -> None:
        self._shards = shards
        self._mask = len(shards) - 1
        self._len = sum(len(s.raw) for s in shards)

    def __getitem__(self, kid: str) -> Raw:
        return self._shards[zlib.crc32(kid.encode("utf-8", "surrogateescape")) & self._mask].raw[
            kid
        ]

    def get(self, kid: str, default: Any = None) -> Any:
        return self._shards[
            zlib.crc32(kid.encode("utf-8", "surrogateescape")) & self._mask
        ].raw.get(kid, default)

    def __contains__(self, kid: object) -> bool:
        return isinstance(kid, str) and kid in self._shards[shard_of(kid, self._mask + 1)].raw

    def __iter__(self) -> Iterator[str]:
        for shard in self._shards:
            yield from shard.raw

    def __len__(self) -> int:
        return self._len


class Table(Records):
    """A datum table in shards: a `Records` whose update copies one shard, not the table."""

    __slots__ = ("shards",)

    def __init__(self, shards: list[Shard]) -> None:
        super().__init__(_Raw(shards))
        self.shards = shards

    @classmethod
    def from_raw(cls, raw: Mapping[str, Raw]) -> Table:
        count = shard_count(len(raw))
        parts: list[dict[str, Raw]] = [{} for _ in range(count)]
        for kid, rec in raw.items():
            parts[shard_of(kid, count)][kid] = rec
        return cls([Shard(part) for part in parts])

    def updated(self, kid: str, record: DatumRecord | None) -> Table:
        """This table with `kid` set to `record` (None: removed); it shares every shard
        but the one `kid` is in, unless the new size asks for another number of shards."""
        count = len(self.shards)
        old = self.shards[shard_of(kid, count)]
        size = len(self) + (record is not None) - (kid in old.raw)
        if shard_count(size) != count:
            raw = dict(self.raw)
            _set(raw, kid, record)
            return Table.from_raw(raw)
        part = dict(old.raw)
        _set(part, kid, record)
        shards = list(self.shards)
        shards[shard_of(kid, count)] = Shard(part)
        table = Table(shards)
        if record is not None:
            table._built[kid] = record
        return table


def _set(raw: dict[str, Raw], kid: str, record: DatumRecord | None) -> None:
    if record is None:
        raw.pop(kid, None)
    else:
        raw[kid] = datum_json(record)


def as_table(datums: Mapping[str, DatumRecord]) -> Table:
    """`datums` as a Table (itself if it is one)."""
    if isinstance(datums, Table):
        return datums
    if isinstance(datums, Records):
        return Table.from_raw(datums.raw)
    return Table.from_raw({kid: datum_json(rec) for kid, rec in datums.items()})


def updated(
    datums: Mapping[str, DatumRecord], kid: str, record: DatumRecord | None
) -> Mapping[str, DatumRecord]:
    """`datums` with `kid` set to `record` (None: removed); `datums` is not changed."""
    return as_table(datums).updated(kid, record)


def counts(datums: Mapping[str, DatumRecord]) -> dict[str, int]:
    """How many datums have each status, without building their records."""
    found: dict[str, int] = {}
    for shard in as_table(datums).shards:
        for status, n in shard.counts().items():
            found[status] = found.get(status, 0) + n
    return found


def store(repo: Repo, datums: Mapping[str, DatumRecord]) -> list[str]:
    """Write the shards not yet stored; the digests of all, in shard order."""
    table = as_table(datums)
    for shard in table.shards:
        if shard.digest is None:
            shard.digest = repo.put(dumps(shard.raw))
    return [s.digest for s in table.shards if s.digest is not None]


def load(repo: Repo, entry: Mapping[str, Any]) -> Table:
    """The datum table of a stage entry of a state object: its `shards`, or the single
    object `datums` older versions wrote."""
    if "shards" in entry:
        shards = [Shard(load_json(repo, d), d) for d in entry["shards"]]
        if len(shards) & (len(shards) - 1) == 0:
            return Table(shards)
        return Table.from_raw({k: r for s in shards for k, r in s.raw.items()})
    raw = load_json(repo, entry["datums"])
    if shard_count(len(raw)) == 1:  # the same bytes as one shard: it is one
        return Table([Shard(raw, entry["datums"])])
    return Table.from_raw(raw)


def digests(entry: Mapping[str, Any]) -> list[str]:
    """The objects that hold a stage entry's datum table (for fsck and gc)."""
    return list(entry["shards"]) if "shards" in entry else [entry["datums"]]
