"""Datum tables in shards: a checkpoint writes the shards that changed, and only those."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from kitecli.history import ledger, tables
from kitecli.history.state import DatumRecord, EnvState, StageState
from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import FileEntry
from kitecli.store import open_repo
from kitecli.store.repo import Repo


def record(n: int, run: str = "r1") -> DatumRecord:
    out = f"clean/{n}.csv"
    return DatumRecord(
        key={"n": str(n)},
        fingerprint=digest_bytes(f"{run}/{n}".encode()),
        status="succeeded" if n % 10 else "failed",
        inputs={f"raw/{n}.csv": digest_bytes(str(n).encode())},
        outputs={out: FileEntry(digest_bytes(out.encode()), 12)},
        run=run,
    )


def state_of(datums: dict[str, DatumRecord] | tables.Table) -> EnvState:
    return EnvState(env="prod", stages={"clean": StageState(definition="d", datums=datums)})


def objects(repo_dir: Path) -> dict[Path, int]:
    """Every object file of the repo and its modification time (ns)."""
    return {p: p.stat().st_mtime_ns for p in (repo_dir / "objects").glob("*/*")}


def watch_puts(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bytes of every object `repo` is asked to store from now on (stored as ever)."""
    asked: list[bytes] = []
    real = repo.put

    def put(data: bytes) -> str:
        asked.append(data)
        return real(data)

    monkeypatch.setattr(repo, "put", put)
    return asked


def commit(repo: Repo, state: EnvState) -> None:
    ledger.commit(
        repo,
        env="prod",
        expected=repo.ref("prod"),
        state=state,
        run=None,
        pipeline=digest_bytes(b"p"),
        user="someone",
        message="checkpoint",
    )


def test_a_checkpoint_writes_only_the_shard_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = open_repo(str(tmp_path / "meta"))
    datums = {f"n={n}": record(n) for n in range(5000)}
    commit(repo, state_of(datums))
    state, _ref = ledger.read_state(repo, "prod")
    table = state.stages["clean"].datums
    assert isinstance(table, tables.Table)
    assert len(table.shards) == 8
    before = objects(tmp_path / "meta")
    asked = watch_puts(repo, monkeypatch)
    changed = tables.updated(table, "n=17", record(17, run="r2"))
    commit(repo, dataclasses.replace(state, stages={"clean": StageState("d", datums=changed)}))
    after = objects(tmp_path / "meta")
    assert {p: t for p, t in after.items() if p in before} == before  # none rewritten
    assert len(after.keys() - before.keys()) == 3  # the changed shard, the state, the commit
    shard = tables.as_table(changed).shards[tables.shard_of("n=17", 8)]
    assert [digest_bytes(data) for data in asked[:-2]] == [shard.digest]  # no other shard
    again, _ref = ledger.read_state(repo, "prod")
    assert again.stages["clean"].datums["n=17"] == record(17, run="r2")
    assert table["n=17"] == record(17)  # the table it was made from is unchanged
    assert dict(again.stages["clean"].datums) == {**datums, "n=17": record(17, run="r2")}


def test_checkpoints_of_an_unchanged_table_write_no_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = open_repo(str(tmp_path / "meta"))
    first = state_of(tables.as_table({f"n={n}": record(n) for n in range(3000)}))
    commit(repo, first)
    asked = watch_puts(repo, monkeypatch)
    commit(repo, first)  # as the runner's next checkpoint: the shards are known stored
    read, _ref = ledger.read_state(repo, "prod")
    commit(repo, read)  # as the next apply: the shards were read
    kinds = [json.loads(data).get("kind") for data in asked]
    assert kinds == ["state", "commit", "state", "commit"]


def test_a_table_written_as_one_object_is_still_read(tmp_path: Path) -> None:
    """Older versions stored each stage's table as one object under `datums`."""
    repo = open_repo(str(tmp_path / "meta"))
    datums = {f"n={n}": record(n) for n in range(2500)}
    table = repo.put(tables.dumps({k: tables.datum_json(r) for k, r in datums.items()}))
    entry = {"definition": "d", "parts": {}, "datums": table}
    top = repo.put(tables.dumps({"kind": "state", "stages": {"clean": entry}}))
    body = {
        "kind": "commit",
        **dict.fromkeys(("parent", "run"), None),
        **{"env": "prod", "pipeline": digest_bytes(b"p"), "state": top, "time": 0.0},
        **{"user": "someone", "message": "old"},
    }
    repo.set_ref("prod", repo.put(tables.dumps(body)), expected=repo.ref("prod"))
    state, _ref = ledger.read_state(repo, "prod")
    assert dict(state.stages["clean"].datums) == datums
    # and the next checkpoint writes it in shards
    commit(repo, state)
    top_now = tables.load_json(repo, ledger.read_commit(repo, str(repo.ref("prod").commit)).state)
    assert len(top_now["stages"]["clean"]["shards"]) == tables.shard_count(2500) == 4


def test_a_growing_table_is_sharded_anew_and_loses_nothing() -> None:
    table = tables.as_table({})
    for n in range(2100):
        table = table.updated(f"n={n}", record(n))
    assert len(table.shards) == tables.shard_count(2100) == 4
    assert sorted(table) == sorted(f"n={n}" for n in range(2100))
    assert all(table[f"n={n}"] == record(n) for n in range(0, 2100, 97))
    for n in range(2100):
        assert tables.shard_of(f"n={n}", 4) == next(
            i for i, s in enumerate(table.shards) if f"n={n}" in s.raw
        )
    smaller = table.updated("n=5", None)
    assert "n=5" not in smaller
    assert "n=5" in table
    assert len(smaller) == 2099
    assert tables.counts(smaller) == {"failed": 210, "succeeded": 1889}


def test_a_key_from_a_name_that_is_not_utf8_finds_its_shard() -> None:
    kid = "n=caf\udce9"  # a file name's byte 0xe9, as Python reads it
    table = tables.as_table({f"n={n}": record(n) for n in range(1500)}).updated(kid, record(7))
    assert table[kid] == record(7)
    assert kid in table.raw
