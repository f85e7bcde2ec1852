"""Projects whose data, metadata and cache are in an S3 or GCS bucket: several machines see
one state, `kite fsck` checks the buckets, and racing applies stay consistent."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote

from cloud import CountingProxy

from kitecli.scan.hashing import digest_bytes
from kitecli.store.objcache import SqliteDigestCache
from tests import helpers
from tests.e2e import DAYS, DataDir, Site, calls

WORKERS = 8
ROUNDS = 3


def machine(folder: Path, like: Path) -> Path:
    """Another machine: a folder with only the pipeline and its code, nothing of kite's."""
    folder.mkdir()
    for name in ("pipeline.yaml", "step.py"):
        shutil.copy(like / name, folder / name)
    return folder


def ok(result: helpers.Result) -> helpers.Result:
    assert result.code == 0, result.stderr
    return result


def run_ids(root: Path) -> list[str]:
    return [r["id"] for r in json.loads(ok(helpers.kite("log", "--json", cwd=root)).stdout)]


def test_a_second_machine_sees_the_same_state(bucket_site: Site, tmp_path: Path) -> None:
    first = tmp_path / "first"
    log = bucket_site.project(first)
    ok(helpers.kite("apply", cwd=first, env={"CALLS_LOG": str(log)}))
    assert len(calls(log)) == 7
    second = machine(tmp_path / "second", like=first)
    planned = helpers.kite("plan", "--detailed-exitcode", cwd=second)
    assert planned.code == 0, planned.stdout + planned.stderr
    assert "No changes" in planned.stdout
    assert run_ids(second) == run_ids(first)

    DataDir(second, bucket_site.data).write("raw/2024-01-02.csv", "day,2024-01-02,later\n")
    ok(helpers.kite("apply", cwd=second, env={"CALLS_LOG": str(log)}))
    ran = calls(log)
    assert [line for line in ran if line.startswith("clean ")] == ["clean 2024-01-02.csv"]
    assert ok(helpers.kite("plan", "--detailed-exitcode", cwd=first)).code == 0
    ids = run_ids(first)
    assert len(ids) == 2
    assert ids == run_ids(second)
    # the first machine's kite.lock names the older commit: not damage
    assert ok(helpers.kite("fsck", cwd=first)).stdout.strip() == "dev: ok"


def test_fsck_finds_a_missing_blob_and_a_modified_object(gcs_bucket: str, tmp_path: Path) -> None:
    """On GCS only, to save time (the second-machine test runs fsck on S3 too)."""
    bucket_site = Site.in_bucket(gcs_bucket)
    log = bucket_site.project(tmp_path)
    ok(helpers.kite("apply", cwd=tmp_path, env={"CALLS_LOG": str(log)}))
    assert ok(helpers.kite("fsck", cwd=tmp_path)).stdout.strip() == "dev: ok"
    data = DataDir(tmp_path, bucket_site.data)
    cache = DataDir(tmp_path, bucket_site.cache)
    total = data.read("total/all.txt")
    blob = next(name for name in cache.names("") if _holds(cache, name, total))
    cache.delete(blob)
    data.write("clean/2024-01-01.csv", "tampered\n")
    found = helpers.kite("fsck", cwd=tmp_path)
    assert found.code == 1
    assert f"cache: blob b3:{blob.replace('/', '')} of total/all.txt is missing" in found.stdout
    assert "data: clean/2024-01-01.csv (clean day=2024-01-01) is modified" in found.stdout


def _holds(cache: DataDir, name: str, text: str) -> bool:
    return cache.read(name) == text


class Race:
    """WORKERS machines apply to one environment. Round 0: each adds a file (odd ones also
    save a plan) and all apply at once, odd ones their saved plan, with --if-busy fail.
    Round 1: even ones add another file and apply at once, with --if-busy wait. Round 2: odd
    ones apply their saved plan again (--if-busy fail), which another apply has made stale
    by then."""

    def __init__(self, site: Site, folder: Path) -> None:
        self.site = site
        first = folder / "m0"
        self.log = site.project(first, days=())
        self.machines = [first] + [machine(folder / f"m{n}", like=first) for n in range(1, WORKERS)]
        self.times = folder / "times"
        self.env = {"CALLS_LOG": str(self.log), "STEP_TIMES": str(self.times)}
        self.gate = threading.Barrier(WORKERS)
        self.results: list[tuple[int, int, helpers.Result]] = []

    def run(self) -> list[tuple[int, int, helpers.Result]]:
        threads = [threading.Thread(target=self.worker, args=(n,)) for n in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.results

    @staticmethod
    def plays(n: int, round_: int) -> bool:
        return round_ == 0 or n % 2 == round_ - 1

    def files(self) -> list[str]:
        """The raw files the workers add."""
        return [f"w{n}-{r}.csv" for r in (0, 1) for n in range(WORKERS) if self.plays(n, r)]

    @staticmethod
    def if_busy(round_: int) -> str:
        """Rounds 0 and 2 give up at once on a busy lease (exit 5); round 1 waits for it."""
        return "wait" if round_ == 1 else "fail"

    def worker(self, n: int) -> None:
        root = self.machines[n]
        saved: list[str] = []
        for round_ in range(ROUNDS):
            if f"w{n}-{round_}.csv" in self.files():
                DataDir(root, self.site.data).write(f"raw/w{n}-{round_}.csv", f"w{n},{round_}\n")
            if n % 2 and round_ == 0:
                ok(helpers.kite("plan", "--out", "plan.json", cwd=root, env=self.env))
                saved = ["plan.json"]
            self.gate.wait()
            if self.plays(n, round_):
                args = ["apply", "--parallel", "4", "--if-busy", self.if_busy(round_), *saved]
                self.results.append((n, round_, helpers.kite(*args, cwd=root, env=self.env)))
            self.gate.wait()

    def spans(self) -> list[tuple[float, float]]:
        """(first start, last end) of the work of each run, by start."""
        found: dict[str, tuple[float, float]] = {}
        for line in self.times.read_text().splitlines():
            run, began, ended = line.split()
            low, high = found.get(run, (float(began), float(ended)))
            found[run] = (min(low, float(began)), max(high, float(ended)))
        return sorted(found.values())


def outcome(result: helpers.Result) -> str:
    """The run id an apply committed, or how it was cleanly refused; fails on anything else."""
    if result.code == 0:
        found = re.search(r"Run (\S+) succeeded", result.stderr)
        assert found or "No changes" in result.stderr, result.stderr
        return found.group(1) if found else "nothing to do"
    if result.code == 5:
        assert "is being applied by" in result.stderr, result.stderr
        return "busy"
    assert result.code == 3, result.stderr
    assert "kite plan" in result.stderr, result.stderr
    return "stale"


def test_racing_applies_keep_one_holder_and_one_history(bucket_site: Site, tmp_path: Path) -> None:
    """One lease holder at a time, every apply committed or cleanly refused (exit 5 with
    --if-busy fail, or 3 for a saved plan that went stale; with --if-busy wait, committed
    after the others), one linear history, no file or object lost."""
    race = Race(bucket_site, tmp_path)
    outcomes = {(n, r): outcome(result) for n, r, result in race.run()}
    assert len(outcomes) == WORKERS * 2
    assert "busy" not in {outcomes[n, 1] for n in range(0, WORKERS, 2)}  # they waited
    assert {outcomes[n, 2] for n in range(1, WORKERS, 2)} - {"busy"} == {"stale"}  # exit 3
    committed = set(outcomes.values()) - {"busy", "stale", "nothing to do"}
    assert len(committed) >= 2  # the first lease holder of rounds 0 and 1 had work
    spans = race.spans()
    assert len(spans) == len(committed)
    for (_, ended), (began, _) in itertools.pairwise(spans):
        assert began >= ended, "two applies ran work at the same time"

    fresh = machine(tmp_path / "fresh", like=race.machines[0])
    assert set(run_ids(fresh)) == committed  # every commit on the one chain of parents
    ok(helpers.kite("apply", cwd=fresh, env=race.env))  # what the last round left, if any
    data = DataDir(fresh, bucket_site.data)
    assert data.names("clean") == sorted(race.files())
    assert data.read("clean/w4-1.csv") == "W4,1\n"
    assert ok(helpers.kite("fsck", cwd=fresh)).stdout.strip() == "dev: ok"


def test_a_nothing_changed_plan_over_10000_s3_objects_only_lists(
    s3_bucket: str, moto_server: str, tmp_path: Path
) -> None:
    """A data root of 10,000 objects more than the pipeline's datums use, seeded in moto's
    memory with the digest cache a first look would leave (one HEAD or download per object,
    minutes on moto): after an apply, `kite plan` lists them and downloads nothing, not even
    a HEAD."""
    site = Site.in_bucket(s3_bucket)
    names = [f"raw/archive/{n // 100:03}/{n:05}.dat" for n in range(10_000)]
    _seed_s3(s3_bucket, site.data, names, tmp_path / ".kite" / "state.db")
    log = site.project(tmp_path)
    count = len(names) + len(DAYS)
    _plans_by_listing_only(tmp_path, site, moto_server, "AWS_ENDPOINT_URL", count, log)


def test_a_nothing_changed_plan_over_many_gcs_objects_only_lists(
    gcs_bucket: str, gcs_server: str, tmp_path: Path
) -> None:
    """The same on GCS with 300 objects that kite's first look hashes itself (one download
    each): fake-gcs-server takes a time that grows with the square of the objects it holds
    to store one (10,000 take minutes)."""
    site = Site.in_bucket(gcs_bucket)
    names = [f"raw/archive/{n:05}.dat" for n in range(300)]
    _upload_gcs(site.data, names, tmp_path / "upload")
    log = site.project(tmp_path)
    count = len(names) + len(DAYS)
    _plans_by_listing_only(tmp_path, site, gcs_server, "STORAGE_EMULATOR_HOST", count, log)


def _plans_by_listing_only(
    root: Path, site: Site, server: str, variable: str, count: int, log: Path
) -> None:
    """Apply, then a nothing-changed `kite plan` through a counting proxy: it reads no data
    object (no GET, no HEAD) and lists data/raw/ in one request per 1,000 objects."""
    ok(helpers.kite("apply", cwd=root, env={"CALLS_LOG": str(log), variable: server}))
    assert len(calls(log)) == 7
    with CountingProxy(server) as proxy:
        planned = ok(helpers.kite("plan", cwd=root, env={variable: proxy.url}))
    assert "No changes" in planned.stdout
    paths = [unquote(path).partition("?") for _, path in proxy.requests]
    name = site.data.partition("://")[2].partition("/")[0]
    object_key = f"/{name}/data/" if site.name == "s3" else f"/b/{name}/o/data/"
    assert [p for p, _, _ in paths if object_key in p] == []  # no data object read, no HEAD
    pages = [q for _, _, q in paths if "prefix=data/raw/" in q]
    assert len(pages) == count // 1_000 + 1  # one listing request per 1,000 objects


def _seed_s3(bucket: str, root: str, names: list[str], state_db: Path) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    store = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    prefix = root.partition("://")[2].partition("/")[2]
    cache = SqliteDigestCache(state_db)
    rows = []
    for name in names:
        body = f"{name}\n".encode()
        fake = store.put_object(bucket.removeprefix("s3://"), f"{prefix}/{name}", body)
        rows.append((f"{root}/{name}", fake.etag, len(body), digest_bytes(body)))
    cache.put_many(rows)
    cache.close()


def _upload_gcs(root: str, names: list[str], folder: Path) -> None:
    from kitecli.store import open_backend

    backend = open_backend(root)
    folder.mkdir()
    local = [str(folder / f"{n}.dat") for n in range(len(names))]
    for path, name in zip(local, names, strict=True):
        Path(path).write_text(f"{name}\n")
    where = root.partition("://")[2]
    backend.fs.put(local, [f"{where}/{name}" for name in names])  # type: ignore[attr-defined]
    shutil.rmtree(folder)
