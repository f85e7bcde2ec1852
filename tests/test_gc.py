"""`kite gc` on real projects: history and the run cache survive, what no commit needs goes
(after the grace period), a dry run removes nothing, a held lease refuses; S3 and GCS too."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kitecli.history import ledger
from kitecli.history.gc import garbage, hold_leases
from kitecli.history.state import RunCacheEntry
from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import FileEntry
from kitecli.spec import loader
from kitecli.store import open_repo
from kitecli.store.blobs import Blob
from kitecli.store.cas import LocalCAS
from kitecli.store.remote_cas import RemoteCAS
from tests.e2e import DataDir, Site, make_project
from tests.helpers import Result, kite, write


def ok(result: Result) -> Result:
    assert result.code == 0, result.stderr
    return result


def stored(cache: Path) -> set[str]:
    """Every file under the local store, relative to it."""
    return {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()}


def orphan(cas: LocalCAS | RemoteCAS, folder: Path, text: str) -> str:
    """A blob as an interrupted apply leaves it: ingested, named by no commit."""
    path = folder / f"orphan-{digest_bytes(text.encode())[3:11]}"
    path.write_text(text)
    return cas.ingest(path).digest


def applied_twice(root: Path) -> Path:
    """The e2e project applied, one input changed, applied again; returns its store."""
    make_project(root)
    ok(kite("apply", cwd=root, env={"CALLS_LOG": str(root / "calls.log")}))
    DataDir(root, "./data").write("raw/2024-01-01.csv", "day,2024-01-01,changed\n")
    ok(kite("apply", cwd=root, env={"CALLS_LOG": str(root / "calls.log")}))
    return root / "cache"


def test_gc_keeps_history_and_the_run_cache_and_removes_the_rest(tmp_path: Path) -> None:
    cache = applied_twice(tmp_path)
    cas = LocalCAS(cache)
    old_output = cas.path_of(digest_bytes(b"DAY,2024-01-01\n"))
    assert old_output.is_file()  # referenced only by the first commit now
    lost = orphan(cas, tmp_path, "written by an apply that never committed")
    cached = orphan(cas, tmp_path, "named by a run-cache entry only")
    entry = RunCacheEntry(digest_bytes(b"some fingerprint"), {"out": {"x": FileEntry(cached, 31)}})
    ledger.cache_put(open_repo(str(tmp_path / "meta")), entry)
    leftover = cas.path_of(lost).parent / ".kite-interrupted"
    leftover.write_text("half a copy")
    before = stored(cache)

    dry = ok(kite("gc", "--dry-run", "--grace", "0", cwd=tmp_path))
    assert "would remove 2 blobs" in dry.stdout
    assert stored(cache) == before

    young = json.loads(ok(kite("gc", "--json", cwd=tmp_path)).stdout)
    assert [(s["removed"], s["young"]) for s in young] == [(0, 2)]
    assert stored(cache) == before

    done = json.loads(ok(kite("gc", "--grace", "0", "--json", cwd=tmp_path)).stdout)
    assert len(done) == 1
    assert done[0]["removed"] == 2
    assert done[0]["bytes"] == len("written by an apply that never committed") + len("half a copy")
    assert lost in done[0]["digests"]
    assert not cas.has(lost)
    assert not leftover.exists()
    assert cas.has(cached)
    assert old_output.is_file()
    assert stored(cache) == before - {
        cas.path_of(lost).relative_to(cache).as_posix(),
        leftover.relative_to(cache).as_posix(),
    }

    plan = ok(kite("plan", cwd=tmp_path))
    assert "0 to run" in plan.stdout
    ok(kite("fsck", cwd=tmp_path))
    again = ok(kite("gc", "--grace", "0", cwd=tmp_path))
    assert "removed 0 blobs" in again.stdout


def test_gc_refuses_while_an_apply_holds_a_lease(tmp_path: Path) -> None:
    make_project(tmp_path)
    cas = LocalCAS(tmp_path / "cache")
    lost = orphan(cas, tmp_path, "garbage")
    repo = open_repo(str(tmp_path / "meta"))
    lease = repo.acquire("dev", holder="an apply", ttl=60)

    busy = kite("gc", "--grace", "0", cwd=tmp_path)
    assert busy.code == 5
    assert "is being applied by an apply" in busy.stderr
    preview = ok(kite("gc", "--grace", "0", "--dry-run", cwd=tmp_path))  # takes no lease
    assert "would remove 1 blobs" in preview.stdout
    skipped = ok(kite("gc", "--grace", "0", "--if-busy", "skip", cwd=tmp_path))
    assert "skipped" in skipped.stderr
    assert cas.has(lost)

    repo.release(lease)
    ok(kite("gc", "--grace", "0", cwd=tmp_path))
    assert not cas.has(lost)
    assert repo.lease_holder("dev") is None  # gc released what it took


def test_gc_rejects_an_unknown_environment_and_a_bad_grace(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert kite("gc", "--env", "nope", cwd=tmp_path).code == 64
    assert kite("gc", "--grace", "soon", cwd=tmp_path).code == 64


def test_garbage_needs_unreferenced_and_older_than_the_cutoff() -> None:
    digest = digest_bytes(b"x")
    blobs = [
        Blob("a/1", digest, 1, 10.0),  # referenced
        Blob("a/2", digest_bytes(b"y"), 2, 10.0),  # old garbage
        Blob("a/3", digest_bytes(b"z"), 3, 100.0),  # young
        Blob("a/4", digest_bytes(b"w"), 4, None),  # age unknown: kept
        Blob("a/.kite-x", None, 5, 10.0),  # old temporary file
    ]
    doomed, kept, young = garbage(blobs, keep={digest}, cutoff=50.0)
    assert [b.key for b in doomed] == ["a/2", "a/.kite-x"]
    assert (kept, young) == (1, 2)


def test_gc_on_an_object_store(bucket_site: Site, tmp_path: Path) -> None:
    site = bucket_site
    site.project(tmp_path)
    ok(kite("apply", cwd=tmp_path, env={"CALLS_LOG": str(tmp_path / "calls.log")}))
    cas = RemoteCAS(site.cache)
    kept = {b.digest for b in cas.blobs()}
    assert kept
    lost = orphan(cas, tmp_path, "uploaded by an apply that never committed")

    done = json.loads(ok(kite("gc", "--grace", "0", "--json", cwd=tmp_path)).stdout)
    assert [(s["removed"], s["kept"]) for s in done] == [(1, len(kept))]
    assert not cas.has(lost)
    assert {b.digest for b in cas.blobs()} == kept
    ok(kite("fsck", cwd=tmp_path))


def test_gc_takes_every_lease_or_none(tmp_path: Path) -> None:
    make_project(tmp_path)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(
        pipeline.read_text().replace(
            "  dev: {", "  prod: {data: ./pdata, metadata: ./meta, cache: ./cache}\n  dev: {"
        )
    )
    repo = open_repo(str(tmp_path / "meta"))
    lease = repo.acquire("prod", holder="an apply", ttl=60)
    assert kite("gc", cwd=tmp_path).code == 5
    assert repo.lease_holder("dev") is None  # the free one was not kept
    repo.release(lease)

    envs = list(loader.load(pipeline).environments.values())
    with hold_leases(envs, if_busy="fail", say=print) as held:
        assert held
        holders = [repo.lease_holder(name) for name in ("dev", "prod")]
        assert [h.holder if h else None for h in holders] == ["kite gc", "kite gc"]
        assert kite("apply", "--env", "dev", "--if-busy", "fail", cwd=tmp_path).code == 5
    assert repo.lease_holder("dev") is None
    assert repo.lease_holder("prod") is None


GATED = """\
kite: 1
name: gated
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  upper:
    inputs: {raw: {path: raw/, each: "{name}.txt"}}
    command: ["PYTHON", "-c", "COPY", "{{ inputs.raw }}", "{{ outputs.out }}"]
    outputs:
      out: {path: upper/, accept: {max_bytes: 10}}
"""
COPY = (
    "import sys, pathlib; s, o = map(pathlib.Path, sys.argv[1:3]); "
    "[(o / p.name).write_text(p.read_text().upper()) for p in s.iterdir()]"
)


def test_gc_removes_the_outputs_a_gate_rejected(tmp_path: Path) -> None:
    """Outputs a gate rejects are in the store (ingested before the gate), in no commit and
    no run-cache entry: garbage. Those of the accepted run before stay."""
    text = GATED.replace("PYTHON", sys.executable).replace("COPY", COPY)
    write(tmp_path, {"pipeline.yaml": text, "data/raw/a.txt": "small\n"})
    ok(kite("apply", cwd=tmp_path))
    (tmp_path / "data/raw/a.txt").write_text("far too large for the gate\n")
    assert kite("apply", cwd=tmp_path).code == 1
    cas = LocalCAS(tmp_path / "cache")
    rejected = digest_bytes(b"FAR TOO LARGE FOR THE GATE\n")
    accepted = digest_bytes(b"SMALL\n")
    assert cas.has(rejected)
    assert cas.has(accepted)

    done = json.loads(ok(kite("gc", "--grace", "0", "--json", cwd=tmp_path)).stdout)
    assert done[0]["digests"] == [rejected]
    assert not cas.has(rejected)
    assert cas.has(accepted)
    ok(kite("fsck", cwd=tmp_path))


def test_gc_removes_nothing_when_history_cannot_be_read(tmp_path: Path) -> None:
    make_project(tmp_path)
    ok(kite("apply", cwd=tmp_path, env={"CALLS_LOG": str(tmp_path / "calls.log")}))
    lost = orphan(LocalCAS(tmp_path / "cache"), tmp_path, "garbage")
    head = (tmp_path / "meta/refs/dev").read_text().strip().removeprefix("b3:")
    damaged = tmp_path / "meta/objects" / head[:2] / head[2:]
    damaged.chmod(0o644)
    damaged.write_text("{}")
    failed = kite("gc", "--grace", "0", cwd=tmp_path)
    assert failed.code == 3
    assert "is corrupt" in failed.stderr
    assert LocalCAS(tmp_path / "cache").has(lost)
