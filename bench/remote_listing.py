"""Manifest of an S3 data root of 10,000 objects with a warm stat cache: requests and time.

Runs against moto's server on 127.0.0.1 (objects seeded in its memory), through the
counting proxy of the tests, and prints how many requests of each kind the listing made.
Usage: python bench/remote_listing.py [COUNT]
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    import boto3
    from cloud import CountingProxy
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    from kitecli.scan.hashing import digest_bytes
    from kitecli.store.dataroot import DataRoot
    from kitecli.store.objcache import MemoryDigestCache

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    moto_s3 = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    cache = MemoryDigestCache()
    for n in range(count):
        data = f"{n}\n".encode()
        fake = moto_s3.put_object("bench", f"data/raw/{n // 100:04}/{n:06}.csv", data)
        url = f"s3://bench/data/raw/{n // 100:04}/{n:06}.csv"
        cache.put_many([(url, fake.etag, len(data), digest_bytes(data))])
    with CountingProxy(endpoint) as proxy:
        root = DataRoot("s3://bench/data", endpoint_url=proxy.url, cache=cache)
        start = time.perf_counter()
        manifest = root.manifest("raw")
        elapsed = time.perf_counter() - start
    kinds = Counter(
        "list" if "list-type=2" in path else f"{method} object" for method, path in proxy.requests
    )
    print(f"{len(manifest.files)} objects, root {manifest.digest[:15]}…, {elapsed:.1f} s")
    print("requests:", dict(kinds))
    server.stop()


if __name__ == "__main__":
    main()
