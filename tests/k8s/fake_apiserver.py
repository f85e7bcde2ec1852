"""An in-process Kubernetes API server over real HTTP, for the official client, with faults.

It keeps pods, namespaces and service accounts; validates pods as a real server does (422,
403 PodSecurity, 409, 404); lists and watches pods by label selector with resourceVersions
(410 Gone once the history is compacted); serves pod logs; and, through `faults`, answers
429 and 500 bursts, cuts watches and expires them. `FakeKubelet` runs the pods.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.k8s.fake_store import ApiError, Event, Store, now, status
from tests.k8s.fake_validation import validate_pod
from tests.k8s.selectors import matches

TOKEN = "fake-token"
_NS = r"/api/v1/namespaces"
_GROUPS = r"/apis/(?:rbac\.authorization\.k8s\.io|batch)/v1/namespaces"
_INSTALLED = "roles|rolebindings|cronjobs|jobs"
_COLLECTION = (("GET", "list"), ("POST", "create"))
_ONE = (("GET", "get"), ("PUT", "replace"), ("DELETE", "delete"))
ROUTES: list[tuple[str, str, str]] = [
    ("GET", rf"^{_NS}$", "list_namespaces"),
    ("POST", rf"^{_NS}$", "create_namespace"),
    ("GET", rf"^{_NS}/(?P<name>[^/]+)$", "get_namespace"),
    ("GET", rf"^{_NS}/(?P<ns>[^/]+)/(?P<res>pods|serviceaccounts|persistentvolumeclaims)$", "list"),
    (
        "POST",
        rf"^{_NS}/(?P<ns>[^/]+)/(?P<res>pods|serviceaccounts|persistentvolumeclaims)$",
        "create",
    ),
    ("GET", rf"^{_NS}/(?P<ns>[^/]+)/(?P<res>pods|serviceaccounts)/(?P<name>[^/]+)$", "get"),
    ("PUT", rf"^{_NS}/(?P<ns>[^/]+)/(?P<res>serviceaccounts)/(?P<name>[^/]+)$", "replace"),
    ("DELETE", rf"^{_NS}/(?P<ns>[^/]+)/(?P<res>pods|serviceaccounts)/(?P<name>[^/]+)$", "delete"),
    ("GET", rf"^{_NS}/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/log$", "log"),
    ("GET", rf"^{_NS}/(?P<ns>[^/]+)/(?P<res>events)$", "list"),
    ("POST", r"^/apis/authorization.k8s.io/v1/selfsubjectaccessreviews$", "review"),
    # what `kite install` makes besides service accounts, stored as they come
    *[(m, rf"^{_GROUPS}/(?P<ns>[^/]+)/(?P<res>{_INSTALLED})$", h) for m, h in _COLLECTION],
    *[(m, rf"^{_GROUPS}/(?P<ns>[^/]+)/(?P<res>{_INSTALLED})/(?P<name>[^/]+)$", h) for m, h in _ONE],
]


@dataclass
class Faults:
    """Misbehaviour to inject: counts of answers to replace, watches to cut or expire."""

    throttled: int = 0  # the next N requests answer 429
    retry_after: int = 0
    failing: int = 0  # the next N requests answer `failure_code`
    failure_code: int = 500
    only: str | None = None  # restrict throttling/failures to this HTTP method
    where: str | None = None  # ... and to request paths (query included) this regex finds
    gone_watches: int = 0  # the next N watches answer 410 Gone at once
    drop_generation: int = 0  # bumped to cut every open watch
    lock: threading.Lock = field(default_factory=threading.Lock)

    def throttle(
        self,
        count: int,
        *,
        retry_after: int = 0,
        method: str | None = None,
        where: str | None = None,
    ) -> None:
        with self.lock:
            self.throttled, self.retry_after, self.only = count, retry_after, method
            self.where = where

    def fail(
        self, count: int, *, code: int = 500, method: str | None = None, where: str | None = None
    ) -> None:
        with self.lock:
            self.failing, self.failure_code, self.only = count, code, method
            self.where = where

    def gone(self, count: int = 1) -> None:
        with self.lock:
            self.gone_watches = count

    def take(self, method: str, path: str = "") -> ApiError | None:
        """The injected error for this request, if one is due."""
        with self.lock:
            if self.only and method != self.only:
                return None
            if self.where and not re.search(self.where, path):
                return None
            if self.throttled > 0:
                self.throttled -= 1
                error = ApiError(429, "TooManyRequests", "Too many requests, please try again")
                error.body["details"] = {"retryAfterSeconds": self.retry_after}
                return error
            if self.failing > 0:
                self.failing -= 1
                return ApiError(self.failure_code, "InternalError", "etcdserver: leader changed")
            return None

    def take_gone(self) -> bool:
        with self.lock:
            if self.gone_watches > 0:
                self.gone_watches -= 1
                return True
            return False


class FakeApiServer:
    """Start with `start()`; point the official client at `kubeconfig(path)`."""

    def __init__(self, *, require_service_accounts: bool = True) -> None:
        self.store = Store()
        self.faults = Faults()
        self.require_service_accounts = require_service_accounts
        self.created: dict[str, int] = {}  # pod name → successful creates
        self.requests: list[tuple[str, str]] = []
        self.logs: Callable[[str, str, str | None], bytes] | None = None  # set by the kubelet
        self.on_delete: Callable[[str, str], bool] | None = None  # kubelet: True if it finishes
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeApiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with self.store.cond:
            self.store.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, path: Path, *, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": TOKEN}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "tester", "namespace": namespace},
                }
            ],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    def add_namespace(self, name: str, *, restricted: bool = True) -> None:
        labels = {"pod-security.kubernetes.io/enforce": "restricted"} if restricted else {}
        self.store.create("namespaces", "", _meta_obj("Namespace", name, labels))

    def add_service_account(self, namespace: str, name: str) -> None:
        self.store.create("serviceaccounts", namespace, _meta_obj("ServiceAccount", name, {}))

    def drop_watches(self) -> None:
        """Cut every open watch connection mid-stream."""
        with self.faults.lock:
            self.faults.drop_generation += 1

    def compact(self) -> None:
        """Forget the event history, as etcd compaction does: old resourceVersions → 410."""
        self.store.compact()

    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.store.list("pods", namespace, lambda _: True)[0]

    # -- the API -------------------------------------------------------------------------
    def list_namespaces(self, query: dict[str, str]) -> dict[str, Any]:
        items, rv = self.store.list("namespaces", "", lambda _: True)
        return _list("NamespaceList", items, rv)

    def create_namespace(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.store.create("namespaces", "", body)

    def get_namespace(self, name: str) -> dict[str, Any]:
        return self.store.get("namespaces", "", name)

    def list(self, ns: str, res: str, query: dict[str, str]) -> dict[str, Any]:
        selector = query.get("labelSelector", "")
        items, rv = self.store.list(res, ns, lambda o: matches(selector, o))
        kind = {"pods": "PodList", "events": "EventList"}.get(res, "ServiceAccountList")
        return _list(kind, items, rv)

    def review(self, body: dict[str, Any]) -> dict[str, Any]:
        """A SelfSubjectAccessReview: the fake's one user may do anything."""
        return {**body, "status": {"allowed": True}}

    def create(
        self, ns: str, res: str, body: dict[str, Any], query: dict[str, str]
    ) -> dict[str, Any]:
        namespace = self.store.get("namespaces", "", ns)
        meta = body.setdefault("metadata", {})
        meta["namespace"] = ns
        meta.setdefault("name", meta.get("generateName", "") + "dry")
        if res == "pods":
            self._admit_pod(ns, body, namespace["metadata"].get("labels", {}))
        if query.get("dryRun"):
            return body
        obj = self.store.create(res, ns, body)
        if res == "pods":
            self.created[obj["metadata"]["name"]] = self.created.get(obj["metadata"]["name"], 0) + 1
        return obj

    def _admit_pod(self, ns: str, body: dict[str, Any], ns_labels: dict[str, str]) -> None:
        validate_pod(body, namespace_labels=ns_labels)
        account = body["spec"].get("serviceAccountName", "default")
        if self.require_service_accounts:
            try:
                self.store.get("serviceaccounts", ns, account)
            except ApiError:
                raise ApiError(
                    403,
                    "Forbidden",
                    f'pods "{body["metadata"]["name"]}" is forbidden: error looking up service '
                    f'account {ns}/{account}: serviceaccount "{account}" not found',
                ) from None
        body["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def get(self, ns: str, res: str, name: str) -> dict[str, Any]:
        return self.store.get(res, ns, name)

    def replace(self, ns: str, res: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.store.replace(res, ns, body)

    def delete(self, ns: str, res: str, name: str) -> dict[str, Any]:
        if res == "pods":
            pod = self.store.get("pods", ns, name)
            if self.on_delete and self.on_delete(ns, name):
                # the kubelet stops the containers, then removes the pod
                stamp = now()
                return self.store.update(
                    "pods", ns, name, lambda p: p["metadata"].update(deletionTimestamp=stamp)
                )
            del pod
        return self.store.delete(res, ns, name)

    def log(self, ns: str, name: str, query: dict[str, str]) -> bytes:
        pod = self.store.get("pods", ns, name)
        names = [
            c["name"] for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
        ]
        container = query.get("container")
        if container is None and len(names) > 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: {names}",
            )
        container = container or names[0]
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        if self.logs is None:
            raise ApiError(
                400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start'
            )
        return self.logs(ns, name, container)

    # -- watch ---------------------------------------------------------------------------
    def watch(self, handler: BaseHTTPRequestHandler, ns: str, query: dict[str, str]) -> None:
        selector = query.get("labelSelector", "")
        since = int(query.get("resourceVersion") or 0)
        timeout = float(query.get("timeoutSeconds") or 300)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        store = self.store
        with store.cond:
            initial = (
                [] if since else self.store.list("pods", ns, lambda o: matches(selector, o))[0]
            )
            since = since or store.rv
            gone = self.faults.take_gone() or (since < store.compacted)
            generation = self.faults.drop_generation
        if gone:
            message = f"too old resource version: {since} ({store.compacted + 1})"
            _chunk(handler, {"type": "ERROR", "object": status(410, "Expired", message)})
            _chunk_end(handler)
            return
        for obj in initial:
            _chunk(handler, {"type": "ADDED", "object": obj})
        deadline = time.monotonic() + timeout
        while not self.stopping.is_set():
            with store.cond:
                fresh = [e for e in store.events if e.rv > since and e.resource == "pods"]
                if not fresh:
                    store.cond.wait(timeout=0.05)
                    fresh = [e for e in store.events if e.rv > since and e.resource == "pods"]
            if self.faults.drop_generation != generation:
                handler.close_connection = True
                return  # cut mid-stream: no terminating chunk
            for event in fresh:
                since = event.rv
                if event.namespace == ns and matches(selector, event.obj):
                    _chunk(handler, {"type": event.type, "object": event.obj})
            if time.monotonic() > deadline:
                break
        _chunk_end(handler)


def _meta_obj(kind: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "labels": labels}}


def _list(kind: str, items: list[dict[str, Any]], rv: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"resourceVersion": str(rv)},
        "items": items,
    }


def _chunk(handler: BaseHTTPRequestHandler, event: dict[str, Any]) -> None:
    data = json.dumps(event).encode() + b"\n"
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def _chunk_end(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


def _handler(server: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            server.requests.append((method, self.path))
            try:
                self._route(method, url.path, query, raw)
            except ApiError as exc:
                self._send(
                    exc.code,
                    exc.body,
                    retry_after=exc.body.get("details", {}).get("retryAfterSeconds"),
                )

        def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            injected = server.faults.take(method, self.path)
            if injected:
                raise injected
            for verb, pattern, action in ROUTES:
                match = re.match(pattern, path)
                if verb != method or not match:
                    continue
                args: dict[str, Any] = match.groupdict()
                if action == "list" and query.get("watch") in ("true", "1"):
                    server.watch(self, args["ns"], query)
                    return
                if method in ("POST", "PUT"):
                    args["body"] = self._body(raw)
                if action in ("list", "list_namespaces", "log", "create"):
                    args["query"] = query
                result = getattr(server, action)(**args)
                if isinstance(result, bytes):
                    self._send(200, result, content_type="text/plain")
                else:
                    self._send(201 if method == "POST" else 200, result)
                return
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

        def _body(self, raw: bytes) -> dict[str, Any]:
            try:
                body: dict[str, Any] = json.loads(raw)
            except ValueError:
                raise ApiError(400, "BadRequest", "the body is not JSON") from None
            return body

        def _send(
            self,
            code: int,
            body: dict[str, Any] | bytes,
            *,
            content_type: str = "application/json",
            retry_after: int | None = None,
        ) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.end_headers()
            self.wfile.write(data)

    return Handler


__all__ = ["ApiError", "Event", "FakeApiServer", "Faults"]
