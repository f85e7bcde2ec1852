"""The fake API server answers the official client as a real one would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from tests.k8s.fake_apiserver import FakeApiServer
from tests.k8s.selectors import matches

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"app": "x"}},
    "spec": {
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    },
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[FakeApiServer, client.CoreV1Api]]:
    server = FakeApiServer(require_service_accounts=False).start()
    server.add_namespace("ns")
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    yield server, client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    server.stop()


def status_of(exc: client.ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=x", True),
        ("app==x,tier=db", False),
        ("app!=y", True),
        ("app", True),
        ("!app", False),
        ("app in (a, x)", True),
        ("app notin (x)", False),
        ("", True),
    ],
)
def test_label_selectors(selector: str, expected: bool) -> None:
    assert matches(selector, POD) is expected


def test_invalid_pods_get_422_with_a_status(api: tuple[FakeApiServer, client.CoreV1Api]) -> None:
    _, core = api
    bad = json.loads(json.dumps(POD))
    bad["metadata"]["name"] = "Not_Valid"
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_pod("ns", bad)
    assert caught.value.status == 422
    assert status_of(caught.value)["reason"] == "Invalid"
    assert "metadata.name" in status_of(caught.value)["message"]


def test_privileged_pods_are_refused_in_a_restricted_namespace(
    api: tuple[FakeApiServer, client.CoreV1Api],
) -> None:
    _, core = api
    bad = json.loads(json.dumps(POD))
    bad["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_pod("ns", bad)
    assert caught.value.status == 403
    assert "violates PodSecurity" in status_of(caught.value)["message"]


def test_duplicates_404_and_401(
    api: tuple[FakeApiServer, client.CoreV1Api], tmp_path: Path
) -> None:
    server, core = api
    core.create_namespaced_pod("ns", POD)
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_pod("ns", POD)
    assert caught.value.status == 409
    with pytest.raises(client.ApiException) as caught:
        core.read_namespaced_pod("nope", "ns")
    assert caught.value.status == 404
    anonymous = client.Configuration()
    anonymous.host = server.url
    with pytest.raises(client.ApiException) as caught:
        client.CoreV1Api(client.ApiClient(anonymous)).list_namespace()
    assert caught.value.status == 401


def test_watch_from_a_compacted_version_is_410(api: tuple[FakeApiServer, client.CoreV1Api]) -> None:
    server, core = api
    version = core.list_namespaced_pod("ns").metadata.resource_version
    core.create_namespaced_pod("ns", POD)
    server.compact()
    with pytest.raises(client.ApiException) as caught:
        for _ in watch.Watch().stream(
            core.list_namespaced_pod, "ns", resource_version=version, timeout_seconds=2
        ):
            pass
    assert caught.value.status == 410


def test_watch_filters_by_label(api: tuple[FakeApiServer, client.CoreV1Api]) -> None:
    _, core = api
    version = core.list_namespaced_pod("ns").metadata.resource_version
    other = json.loads(json.dumps(POD))
    other["metadata"] = {"name": "q", "labels": {"app": "y"}}
    core.create_namespaced_pod("ns", POD)
    core.create_namespaced_pod("ns", other)
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_pod,
            "ns",
            label_selector="app=y",
            resource_version=version,
            timeout_seconds=1,
        )
    ]
    assert seen == [("ADDED", "q")]


def test_throttling_answers_429(api: tuple[FakeApiServer, client.CoreV1Api]) -> None:
    server, core = api
    server.faults.throttle(1, retry_after=3, method="POST")
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_pod("ns", POD)
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "3"
