"""The node agent's HTTPS server: the kubelet endpoint the API server reads pod logs from."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.k8s.controlplane.certs import Authority


def log_path(folder: Path, namespace: str, pod: str, container: str) -> Path:
    return folder / f"{namespace}_{pod}_{container}.log"


class LogServer:
    """Serves GET /containerLogs/<ns>/<pod>/<container> over TLS to clients of the CA."""

    def __init__(self, ca: Authority, folder: Path, node: str) -> None:
        crt, key = ca.issue(f"kubelet-{node}", f"system:node:{node}", ips=("127.0.0.1",))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(crt), str(key))
        context.load_verify_locations(str(ca.path))
        context.verify_mode = ssl.CERT_REQUIRED  # only the API server's client certificate
        handler = type("Handler", (_Handler,), {"folder": folder})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    folder: Path

    def do_GET(self) -> None:
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return self._answer(404, b"not found\n")
        path = log_path(self.folder, parts[1], parts[2], parts[3])
        if not path.exists():
            return self._answer(404, f"no log of container {parts[3]}\n".encode())
        self._answer(200, path.read_bytes())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
