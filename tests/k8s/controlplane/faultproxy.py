"""Faults in front of the real API server: a TLS proxy that answers 429 and 5xx, expires
watches (410) and cuts them, with the fake server's `Faults` (tests/k8s/fake_apiserver.py).

Everything else is passed on to the API server as the user `kite` (the proxy holds that
user's certificate), streamed, so watches and followed logs work through it; `drop_watches`
cuts both.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.k8s.controlplane.cluster import ControlPlane
from tests.k8s.fake_apiserver import Faults

HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "host"}


class FaultProxy:
    """Start with `start()`; kite reaches it through `kubeconfig`."""

    def __init__(self, plane: ControlPlane, root: Path) -> None:
        self.faults = Faults()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.answers: list[tuple[str, str, int]] = []  # (method, path, status) the server gave
        self.watches: set[socket.socket] = set()  # client connections of open watches
        self.lock = threading.Lock()
        crt, key = plane.ca.issue("proxy", "kite-fault-proxy", ips=("127.0.0.1",))
        serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        serving.load_cert_chain(str(crt), str(key))
        self.upstream = ssl.create_default_context(cafile=str(plane.ca.path))
        pki = plane.ca.folder
        self.upstream.load_cert_chain(str(pki / "kite.crt"), str(pki / "kite.key"))
        self.target = urlsplit(plane.server)
        handler = type("Handler", (_Handler,), {"proxy": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = serving.wrap_socket(self.httpd.socket, server_side=True)
        port = self.httpd.server_address[1]
        text = plane.kite.read_text().replace(plane.server, f"https://127.0.0.1:{port}")
        self.kubeconfig = root / "proxy.kubeconfig"
        self.kubeconfig.write_text(text)

    def start(self) -> FaultProxy:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.drop_watches()
        self.httpd.shutdown()
        self.httpd.server_close()

    def drop_watches(self) -> None:
        """Cut every open watch, as a restarting API server or a load balancer does."""
        with self.lock:
            open_now, self.watches = list(self.watches), set()
        for connection in open_now:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)

    def connect(self) -> http.client.HTTPSConnection:
        host, port = self.target.hostname or "127.0.0.1", self.target.port
        return http.client.HTTPSConnection(host, port, context=self.upstream, timeout=600)


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        proxy = self.proxy
        with proxy.lock:
            proxy.requests.append((self.command, self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        injected = proxy.faults.take(self.command, self.path)
        if injected is not None:
            retry = injected.body.get("details", {}).get("retryAfterSeconds")
            return self._answer(injected.code, injected.body, retry)
        watch = "watch=true" in self.path or "watch=1" in self.path
        if watch and proxy.faults.take_gone():
            gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
            return self._answer(200, {"type": "ERROR", "object": gone}, None)
        self._forward(body, watch or "follow=true" in self.path)

    def _answer(self, code: int, body: dict[str, Any], retry: int | None) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if retry is not None:
            self.send_header("Retry-After", str(retry))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self, body: bytes, watch: bool) -> None:
        upstream = self.proxy.connect()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        response = upstream.getresponse()
        with self.proxy.lock:
            self.proxy.answers.append((self.command, self.path, response.status))
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP:
                self.send_header(key, value)
        if not watch:
            data = response.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return upstream.close()
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._stream(upstream, response)

    def _stream(self, upstream: http.client.HTTPSConnection, response: Any) -> None:
        with self.proxy.lock:
            self.proxy.watches.add(self.connection)
        try:
            while chunk := response.read1(65536):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            pass  # the stream was cut (drop_watches) or its client went away
        finally:
            with self.proxy.lock:
                self.proxy.watches.discard(self.connection)
            upstream.close()
            self.close_connection = True
