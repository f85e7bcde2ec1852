"""The CAS and data roots on S3 and GCS: digests as metadata, server-side copies, and
manifests from listings that download nothing that was already hashed (requests counted)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloud import CountingProxy

from kitecli.errors import Damaged
from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import scan
from kitecli.store import open_backend
from kitecli.store.dataroot import DataRoot
from kitecli.store.objcache import MemoryDigestCache, SqliteDigestCache
from kitecli.store.remote_cas import RemoteCAS


@pytest.fixture(params=["s3", "gcs"])
def bucket(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_bucket"))


@pytest.fixture(scope="module")
def proxies() -> Iterator[dict[str, CountingProxy]]:
    """One proxy per server for the module, so clients (costly to create) are reused."""
    made: dict[str, CountingProxy] = {}
    yield made
    for proxy in made.values():
        proxy.__exit__(None, None, None)


@pytest.fixture
def proxy(
    bucket: str, request: pytest.FixtureRequest, proxies: dict[str, CountingProxy]
) -> CountingProxy:
    server = str(
        request.getfixturevalue("moto_server" if bucket.startswith("s3://") else "gcs_server")
    )
    if server not in proxies:
        proxies[server] = CountingProxy(server).__enter__()
    proxies[server].clear()
    return proxies[server]


def downloads(proxy: CountingProxy, bucket: str) -> int:
    """GETs of object bytes (not listings) seen by the proxy."""
    if bucket.startswith("s3://"):
        return sum(
            1
            for m, p in proxy.requests
            if m == "GET" and "list-type" not in p and p.count("/") >= 2 and "location" not in p
        )
    return proxy.count("GET", "alt=media")


def listings(proxy: CountingProxy, bucket: str) -> int:
    if bucket.startswith("s3://"):
        return proxy.count("GET", "list-type=2")
    return sum(1 for m, p in proxy.requests if m == "GET" and p.split("?")[0].endswith("/o"))


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def test_blobs_carry_their_digest_and_are_uploaded_once(bucket: str, tmp_path: Path) -> None:
    cas = RemoteCAS(f"{bucket}/cache")
    source = tmp_path / "a.csv"
    source.write_bytes(b"station,temp\nA,3\n")
    entry = cas.ingest(source)
    assert entry.digest == digest_bytes(source.read_bytes())
    assert cas.url_of(entry.digest) == f"{bucket}/cache/{entry.digest[3:5]}/{entry.digest[5:]}"
    head = cas.backend.head(cas.key_of(entry.digest))
    assert head is not None
    assert head.digest == entry.digest
    assert cas.has(entry.digest)
    assert cas.ingest(source) == entry
    again = cas.backend.head(cas.key_of(entry.digest))
    assert again is not None
    assert again.token == head.token


def test_materialize_into_a_data_root_is_a_server_side_copy(
    bucket: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    source = tmp_path / "x.bin"
    source.write_bytes(os.urandom(4096))
    cas = RemoteCAS(f"{bucket}/cache", endpoint_url=proxy.url)
    entry = cas.ingest(source)
    proxy.clear()
    assert cas.materialize(entry.digest, f"{bucket}/data/out/x.bin") == "server-copy"
    assert downloads(proxy, bucket) == 0
    assert not [r for r in proxy.requests if r[0] == "PUT" and "upload" in r[1]]
    root = DataRoot(f"{bucket}/data", endpoint_url=proxy.url)
    got = tmp_path / "back.bin"
    root.download("out/x.bin", got)
    assert got.read_bytes() == source.read_bytes()
    head = root.backend.head("out/x.bin")
    assert head is not None
    assert head.digest == entry.digest  # the copy keeps the digest metadata


def test_materialize_to_a_local_path_verifies_the_blob(bucket: str, tmp_path: Path) -> None:
    cas = RemoteCAS(f"{bucket}/cache")
    (tmp_path / "f").write_bytes(b"real")
    entry = cas.ingest(tmp_path / "f")
    assert cas.materialize(entry.digest, tmp_path / "out" / "f") == "download"
    assert (tmp_path / "out" / "f").read_bytes() == b"real"
    cas.backend.delete(cas.key_of(entry.digest))
    cas.backend.create(cas.key_of(entry.digest), b"fake", digest=entry.digest)
    with pytest.raises(Damaged, match="corrupt"):
        cas.materialize(entry.digest, tmp_path / "out" / "g")
    assert not (tmp_path / "out" / "g").exists()
    with pytest.raises(Damaged, match="not in the content store"):
        cas.materialize(digest_bytes(b"absent"), tmp_path / "out" / "h")


def test_task_outputs_are_ingested_by_server_side_copy(
    bucket: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    root = DataRoot(f"{bucket}/scratch", endpoint_url=proxy.url)
    root.backend.create("run1/part-0.csv", b"a,b\n1,2\n")  # written by a task, no digest
    entry = root.manifest("run1").files["part-0.csv"]
    cas = RemoteCAS(f"{bucket}/cache", endpoint_url=proxy.url)
    proxy.clear()
    cas.ingest_object(root.url_of("run1/part-0.csv"), entry)
    assert downloads(proxy, bucket) == 0
    head = cas.backend.head(cas.key_of(entry.digest))
    assert head is not None
    assert head.digest == entry.digest


def test_a_listed_manifest_equals_the_scan_of_the_same_files(bucket: str, tmp_path: Path) -> None:
    files = {"2024/a.csv": b"1", "2024/b.csv": b"22", "top.txt": b"", "deep/er/c": b"333"}
    write_tree(tmp_path / "local", files)
    root = DataRoot(f"{bucket}/data")
    for rel, data in files.items():
        root.backend.create(f"clean/{rel}", data)
    root.backend.create("other/z", b"not in clean")
    listed = root.manifest("clean")
    assert listed == scan(tmp_path / "local")
    assert listed.subtree("2024").digest == scan(tmp_path / "local" / "2024").digest


def test_unchanged_objects_are_never_downloaded_to_be_hashed(
    bucket: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    root_url = f"{bucket}/data"
    foreign = open_backend(root_url)  # another tool: no digest metadata
    for n in range(40):
        foreign.create(f"raw/{n:03}.csv", f"row {n}\n".encode())
    cache = SqliteDigestCache(tmp_path / "state.db")
    root = DataRoot(root_url, endpoint_url=proxy.url, cache=cache)
    first = root.manifest("raw")
    assert downloads(proxy, bucket) == 40  # never seen: each hashed once
    proxy.clear()
    again = DataRoot(root_url, endpoint_url=proxy.url, cache=SqliteDigestCache(cache.path))
    assert again.manifest("raw") == first
    assert downloads(proxy, bucket) == 0
    assert proxy.count("HEAD") == 0
    assert listings(proxy, bucket) >= 1
    assert len(proxy.requests) == listings(proxy, bucket)  # listing calls only
    foreign.swap("raw/007.csv", b"changed\n", token=foreign.head("raw/007.csv").token)  # type: ignore[union-attr]
    proxy.clear()
    changed = again.manifest("raw")
    assert downloads(proxy, bucket) == 1
    assert changed.files["007.csv"].digest == digest_bytes(b"changed\n")


def test_objects_written_by_kite_are_not_downloaded_even_on_a_cold_cache(
    bucket: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    write_tree(tmp_path / "out", {f"{n}.txt": f"{n}".encode() for n in range(10)})
    writer = DataRoot(f"{bucket}/data")
    for n in range(10):
        writer.upload(tmp_path / "out" / f"{n}.txt", f"out/{n}.txt")
    cold = DataRoot(f"{bucket}/data", endpoint_url=proxy.url, cache=MemoryDigestCache())
    assert cold.manifest("out") == scan(tmp_path / "out")
    assert downloads(proxy, bucket) == 0
    # GCS listings carry the metadata; S3 needs one HEAD per object, once
    assert proxy.count("HEAD") == (10 if bucket.startswith("s3://") else 0)


def test_a_nothing_changed_listing_of_many_objects_makes_listing_calls_only(
    s3_bucket: str, moto_server: str
) -> None:
    """1,500 objects (moto takes about a second per page of 1,000; bench/remote_listing.py
    runs the same with 10,000)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    count = 1_500
    contents = {f"raw/{n // 100:03}/{n:05}.csv": f"{n}\n".encode() for n in range(count)}
    moto_s3 = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    bucket_name = s3_bucket.removeprefix("s3://")
    cache = MemoryDigestCache()  # as an earlier plan that hashed everything left it
    root_url = f"{s3_bucket}/data"
    for key, data in contents.items():  # seeded in the server's memory, not over HTTP
        fake = moto_s3.put_object(bucket_name, f"data/{key}", data)
        cache.put_many([(f"{root_url}/{key}", fake.etag, len(data), digest_bytes(data))])
    with CountingProxy(moto_server) as proxy:
        root = DataRoot(root_url, endpoint_url=proxy.url, cache=cache)
        listed = root.manifest("raw")
    assert len(listed.files) == count
    assert listed.files["011/01117.csv"].digest == digest_bytes(b"1117\n")
    assert proxy.count("GET", "list-type=2") == 2  # pages of 1,000 keys
    assert len(proxy.requests) == 2


def test_reads_copies_a_blob_from_an_object_store_into_a_local_one(
    bucket: str, tmp_path: Path
) -> None:
    from kitecli.env.reads import FallbackCAS
    from kitecli.store.cas import LocalCAS

    other = RemoteCAS(f"{bucket}/prod-cache")
    source = tmp_path / "a.csv"
    source.write_bytes(b"station,temp\nA,3\n")
    entry = other.ingest(source)
    own = LocalCAS(tmp_path / "own")
    both = FallbackCAS(own, other)
    assert both.has(entry.digest)
    assert not own.has(entry.digest)
    dest = tmp_path / "data" / "a.csv"
    dest.parent.mkdir()
    both.materialize(entry.digest, dest)
    assert dest.read_bytes() == source.read_bytes()
    assert own.has(entry.digest)  # copied in: read there, written here
    assert [b.digest for b in own.blobs()] == [entry.digest]  # no temporary file left
