"""A real control plane for tests: etcd, kube-apiserver, kube-scheduler, controller-manager.

The binaries come from build.sh (KITE_TEST_CONTROLPLANE names their folder). Everything
lives under one folder: certificates, etcd's data, the components' logs and kubeconfigs for
an administrator (admin.kubeconfig) and for kite (kite.kubeconfig: the user `kite`, who has
only the RBAC docs/kubernetes.md asks for, granted per namespace by `grant_kite`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.k8s.controlplane.certs import Authority, signing_key

STARTUP = 90.0  # seconds the whole control plane may take to come up
SERVICES = "10.0.0.0/24"  # cluster IPs are allocated, never reached


@dataclass
class ControlPlane:
    """A running control plane; `stop()` ends its processes."""

    root: Path
    binaries: Path  # the folder of the programs build.sh made (kubectl too)
    ca: Authority
    server: str
    admin: Path  # kubeconfig of system:masters
    kite: Path  # kubeconfig of the limited user `kite`
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.root / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def control_plane(binaries: Path, root: Path) -> Iterator[ControlPlane]:
    """Start the four components under `root`; yield once the API server is ready."""
    ca = Authority(root / "pki")
    port = free_port()
    server = f"https://127.0.0.1:{port}"
    plane = ControlPlane(
        root,
        binaries,
        ca,
        server,
        _kubeconfig(root, ca, server, "admin", "kite-admin", ("system:masters",)),
        _kubeconfig(root, ca, server, "kite", "kite", ()),
    )
    try:
        _start(plane, binaries, port)
        yield plane
    finally:
        plane.stop()


def _start(plane: ControlPlane, binaries: Path, port: int) -> None:
    began = time.monotonic()
    etcd = _etcd(plane, binaries)
    wait_for(plane, "etcd", "etcd to answer /health", lambda: _etcd_healthy(etcd), began)
    _apiserver(plane, binaries, port, etcd)
    wait_for(plane, "kube-apiserver", "kube-apiserver /readyz", lambda: _ready(plane), began)
    for component in ("kube-scheduler", "kube-controller-manager"):
        _component(plane, binaries, component)
    wait_for(
        plane,
        "kube-controller-manager",
        "the controller-manager to make the default service account",
        lambda: _has_default_account(plane),
        began,
    )


def wait_for(
    plane: ControlPlane, name: str, what: str, check: Callable[[], bool], began: float
) -> None:
    """Poll `check` until it holds; fail with `name`'s log tail after STARTUP seconds."""
    while not check():
        for component, process in plane.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{component} exited ({process.returncode}) while waiting for {what}:\n"
                    + plane.log_tail(component)
                )
        if time.monotonic() - began > STARTUP:
            raise RuntimeError(
                f"waited {STARTUP:.0f} s for {what}; {name}'s log ends:\n" + plane.log_tail(name)
            )
        time.sleep(0.2)


def _spawn(plane: ControlPlane, name: str, argv: list[str]) -> None:
    with open(plane.root / f"{name}.log", "wb") as log:
        plane.processes[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def _etcd(plane: ControlPlane, binaries: Path) -> str:
    client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    _spawn(
        plane,
        "etcd",
        [
            str(binaries / "etcd"),
            f"--data-dir={plane.root / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
    )
    return client


def _etcd_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return b'"true"' in response.read()
    except OSError:
        return False


def _apiserver(plane: ControlPlane, binaries: Path, port: int, etcd: str) -> None:
    pki = plane.ca.folder
    serving = plane.ca.issue("apiserver", "kube-apiserver", ips=("127.0.0.1", "10.0.0.1"))
    kubelet_client = plane.ca.issue(
        "apiserver-kubelet", "kube-apiserver", groups=("system:masters",)
    )
    sa_key, sa_pub = signing_key(pki)
    _spawn(
        plane,
        "kube-apiserver",
        [
            str(binaries / "kube-apiserver"),
            f"--etcd-servers={etcd}",
            f"--secure-port={port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={serving[0]}",
            f"--tls-private-key-file={serving[1]}",
            f"--client-ca-file={plane.ca.path}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction,PodSecurity,ResourceQuota,ServiceAccount",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            f"--service-cluster-ip-range={SERVICES}",
            f"--kubelet-certificate-authority={plane.ca.path}",
            f"--kubelet-client-certificate={kubelet_client[0]}",
            f"--kubelet-client-key={kubelet_client[1]}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--cert-dir={pki}",
            "--profiling=false",
        ],
    )


def _component(plane: ControlPlane, binaries: Path, name: str) -> None:
    argv = [
        str(binaries / name),
        f"--kubeconfig={plane.admin}",
        "--leader-elect=false",
        "--secure-port=0",
    ]
    if name == "kube-controller-manager":
        argv += [
            f"--service-account-private-key-file={plane.ca.folder / 'sa.key'}",
            f"--root-ca-file={plane.ca.path}",
            "--controllers=*,-node-lifecycle-controller",
        ]
    _spawn(plane, name, argv)


def _ready(plane: ControlPlane) -> bool:
    context = ssl.create_default_context(cafile=str(plane.ca.path))
    crt, key = plane.ca.folder / "admin.crt", plane.ca.folder / "admin.key"
    context.load_cert_chain(str(crt), str(key))
    try:
        with urllib.request.urlopen(f"{plane.server}/readyz", timeout=2, context=context) as r:
            return r.status == 200
    except OSError:
        return False


def _has_default_account(plane: ControlPlane) -> bool:
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(plane.admin)))
    try:
        api.read_namespaced_service_account("default", "default")
        return True
    except client.ApiException:
        return False
    finally:
        api.api_client.close()


def _kubeconfig(
    root: Path, ca: Authority, server: str, stem: str, user: str, groups: tuple[str, ...]
) -> Path:
    crt, key = ca.issue(stem, user, groups=groups)
    path = root / f"{stem}.kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: test, cluster: {{server: '{server}', "
        f"certificate-authority: '{ca.path}'}}}}]\n"
        f"users: [{{name: {user}, user: {{client-certificate: '{crt}', client-key: '{key}'}}}}]\n"
        f"contexts: [{{name: test, context: {{cluster: test, user: {user}}}}}]\n"
        "current-context: test\n"
    )
    os.chmod(path, 0o600)
    return path
