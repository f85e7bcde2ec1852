"""The node agent's kubelet log endpoint: a followed log streams as the file grows and
ends once its container has ended, as a kubelet's does."""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.controlplane.certs import Authority
from tests.k8s.controlplane.logserver import LogServer, ended_path, log_path

PATH = "/containerLogs/ns/pod-1/datum-0"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LogServer, Authority, Path]]:
    ca = Authority(tmp_path / "pki")
    logs = tmp_path / "logs"
    logs.mkdir()
    server = LogServer(ca, logs, "node-1")
    server.start()
    try:
        yield server, ca, logs
    finally:
        server.stop()


def _connect(server: LogServer, ca: Authority) -> http.client.HTTPSConnection:
    crt, key = ca.issue("reader", "kube-apiserver")
    context = ssl.create_default_context(cafile=str(ca.path))
    context.load_cert_chain(str(crt), str(key))
    return http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)


def test_a_followed_log_streams_as_it_grows_then_ends_with_its_container(
    server: tuple[LogServer, Authority, Path],
) -> None:
    logserver, ca, logs = server
    log = log_path(logs, "ns", "pod-1", "datum-0")
    log.write_bytes(b"first\n")
    connection = _connect(logserver, ca)
    connection.request("GET", PATH + "?follow=true")
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read1(1 << 16) == b"first\n"  # sent before the container ended
    with log.open("ab") as out:
        out.write(b"second\n")
    began = time.monotonic()
    assert response.read1(1 << 16) == b"second\n"  # as it was written
    assert time.monotonic() - began < 2
    with log.open("ab") as out:
        out.write(b"last\n")
    ended_path(log).touch()
    assert response.read() == b"last\n"  # the rest, then the stream ends
    connection.close()


def test_a_log_read_without_follow_is_what_the_file_holds_now(
    server: tuple[LogServer, Authority, Path],
) -> None:
    logserver, ca, logs = server
    log_path(logs, "ns", "pod-1", "datum-0").write_bytes(b"so far\n")
    connection = _connect(logserver, ca)
    connection.request("GET", PATH)
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"so far\n")  # no waiting for the end
    connection.request("GET", "/containerLogs/ns/pod-1/other")
    assert connection.getresponse().status == 404
    connection.close()
