"""The node agent's HTTPS server: the kubelet endpoint the API server reads pod logs from.

GET /containerLogs/<ns>/<pod>/<container> answers the container's log file; with
`?follow=true` it streams the file as it grows (chunked, each piece flushed as it is read)
and ends the stream once the container has ended and everything it wrote was sent, as a
kubelet does. podrun.py marks a container's end with the file `ended_path` names. The
logs of a pod in `lost` (its node is lost: node_agent.lose) are not served: a request gets
no answer and a followed stream is cut.
"""

from __future__ import annotations

import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.k8s.controlplane.certs import Authority

POLL = 0.05  # seconds between two looks at a followed log that did not grow
CHUNK = 1 << 16


def log_path(folder: Path, namespace: str, pod: str, container: str) -> Path:
    return folder / f"{namespace}_{pod}_{container}.log"


def ended_path(log: Path) -> Path:
    """The mark that the container writing `log` has ended: nothing more will be added."""
    return log.with_name(log.name + ".ended")


class LogServer:
    """Serves GET /containerLogs/<ns>/<pod>/<container> over TLS to clients of the CA."""

    def __init__(self, ca: Authority, folder: Path, node: str) -> None:
        crt, key = ca.issue(f"kubelet-{node}", f"system:node:{node}", ips=("127.0.0.1",))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(crt), str(key))
        context.load_verify_locations(str(ca.path))
        context.verify_mode = ssl.CERT_REQUIRED  # only the API server's client certificate
        self.stopping = threading.Event()
        self.lost: set[str] = set()  # pods whose node does not answer
        attributes = {"folder": folder, "stopping": self.stopping, "lost": self.lost}
        handler = type("Handler", (_Handler,), attributes)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()  # followed streams end
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    folder: Path
    stopping: threading.Event
    lost: set[str]
    protocol_version = "HTTP/1.1"  # chunked transfer encoding needs it

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return self._answer(404, b"not found\n")
        if parts[2] in self.lost:
            self.close_connection = True  # no answer at all
            return None
        path = log_path(self.folder, parts[1], parts[2], parts[3])
        if not path.exists():
            return self._answer(404, f"no log of container {parts[3]}\n".encode())
        if parse_qs(url.query).get("follow", [""])[0] in ("true", "1"):
            return self._follow(path, parts[2])
        self._answer(200, path.read_bytes())

    def _follow(self, path: Path, pod: str) -> None:
        """Send the log as it grows, until its container has ended and all of it was sent
        (or its node is lost: the stream is cut)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            with open(path, "rb") as log:
                while not self.stopping.is_set():
                    if pod in self.lost:
                        self.close_connection = True
                        return
                    ended = ended_path(path).exists()  # looked at before the last read
                    chunk = log.read(CHUNK)
                    if chunk:
                        self._chunk(chunk)
                    elif ended:
                        break
                    else:
                        time.sleep(POLL)
            self._chunk(b"")  # the last chunk: the stream ends
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the reader went away
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
