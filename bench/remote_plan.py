"""`kite plan` on a project whose data root is on S3 and holds 10,000 objects: requests and time.

Starts moto's server on 127.0.0.1, seeds the objects in its memory together with the digest
cache a first look would leave in the project's `.kite/state.db` (or, with `--cold`, lets
the first `kite apply` hash them all itself), applies once, then runs a nothing-changed
`kite plan` through the counting proxy of the tests and prints the requests it made.
Usage: python bench/remote_plan.py [COUNT] [--cold]
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]


def kite(*args: str, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kitecli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"kite {' '.join(args)} failed: {done.stderr}")
    return time.perf_counter() - start, done.stdout


def seed(count: int, project: Path, *, cold: bool) -> None:
    """`count` objects under data/raw/archive/ in moto's memory (and their cache rows)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from kitecli.scan.hashing import digest_bytes
    from kitecli.store.objcache import SqliteDigestCache

    store = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    rows = []
    for n in range(count):
        body = f"{n}\n".encode()
        key = f"data/raw/archive/{n // 100:03}/{n:05}.dat"
        fake = store.put_object("bench", key, body)
        rows.append((f"s3://bench/{key}", fake.etag, len(body), digest_bytes(body)))
    if not cold:
        cache = SqliteDigestCache(project / ".kite" / "state.db")
        cache.put_many(rows)
        cache.close()


def kinds(requests: list[tuple[str, str]]) -> Counter[str]:
    def kind(method: str, path: str) -> str:
        where, _, query = unquote(path).partition("?")
        if "list-type=2" in query:
            return f"list {query.split('prefix=')[1].split('&')[0]}"
        return f"{method} {where.split('/')[2]}/" if where.count("/") > 1 else f"{method} bucket"

    return Counter(kind(m, p) for m, p in requests)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 10_000
    cold = "--cold" in sys.argv
    import boto3
    from cloud import CountingProxy, serialize_requests
    from moto.server import ThreadedMotoServer

    from tests.e2e import Site

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    serialize_requests(server)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    with tempfile.TemporaryDirectory(prefix="kite-bench-") as folder:
        project = Path(folder)
        log = Site.in_bucket("s3://bench").project(project)
        seed(count, project, cold=cold)
        env = {**os.environ, "CALLS_LOG": str(log), "NO_COLOR": "1"}
        took, _ = kite("apply", cwd=project, env=env)
        print(
            f"first apply ({'hashing' if cold else 'with a warm cache for'} {count:,} objects):"
            f" {took:.1f} s"
        )
        with CountingProxy(endpoint) as proxy:
            took, out = kite("plan", cwd=project, env={**env, "AWS_ENDPOINT_URL": proxy.url})
        print(out.strip().splitlines()[-1])
        print(f"nothing-changed kite plan over {count + 3:,} objects: {took:.1f} s")
        for what, n in sorted(kinds(proxy.requests).items()):
            print(f"  {n:5}  {what}")
    server.stop()


if __name__ == "__main__":
    main()
