"""A TCP proxy in front of a real server that can cut the line: an outage, for tests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class Line:
    """Forwards 127.0.0.1:`port` to `target`; `cut()` closes every connection and refuses new
    ones until `mend()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.down.set()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def mend(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                if self.down.is_set():
                    client.close()
                    continue
                server = socket.create_connection(self.target)
                for a, b in ((client, server), (server, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with self._lock:
            self._open |= {source, sink}
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            self._open -= {source, sink}


@contextlib.contextmanager
def line_to(url: str) -> Iterator[Line]:
    """A Line in front of the server at `url` (http://host:port) for the block."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    line = Line((host, int(port)))
    try:
        yield line
    finally:
        line.close()
