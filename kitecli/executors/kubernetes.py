"""The cluster through the official client: the only module that imports it.

`ClusterApi` turns the client's calls into plain dicts and kite's errors, retrying 429 and
5xx with backoff. `KubernetesExecutor` is the pod executor (pods.py) connected through it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from kitecli.errors import StoreError
from kitecli.executors.pods import AlreadyExists, Busy, KubernetesOptions, PodExecutor, Rejected
from kitecli.executors.podwatch import Pod, WatchBroken, WatchExpired
from kitecli.executors.preflight import probe_pod

T = TypeVar("T")
RETRY_STATUSES = (0, 429, 500, 502, 503, 504)
IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class ClusterApi:
    """The few calls kite makes, with plain-dict results and retries."""

    def __init__(self, api_client: Any, options: KubernetesOptions, *, namespace: str) -> None:
        from kubernetes import client

        self.client = api_client
        self.core: Any = client.CoreV1Api(api_client)  # called with _preload_content=False
        self.options = options
        self.namespace = namespace  # the context's (or the pod's own) namespace
        self.host: str = getattr(api_client.configuration, "host", "") or "the configured server"

    @classmethod
    def connect(cls, options: KubernetesOptions) -> ClusterApi:
        """Load kubeconfig (or in-cluster config) and return a connected API."""
        from kubernetes import client
        from kubernetes import config as typed_config

        config: Any = typed_config  # partly untyped
        cfg = client.Configuration()
        namespace = "default"
        kubeconfig = options.kubeconfig or os.environ.get("KUBECONFIG") or None
        in_cluster = options.in_cluster
        if in_cluster is None:
            default = os.path.expanduser("~/.kube/config")
            in_cluster = (
                not kubeconfig
                and not os.path.exists(default)
                and "KUBERNETES_SERVICE_HOST" in os.environ
            )
        try:
            if in_cluster:
                config.load_incluster_config(client_configuration=cfg)
                if os.path.exists(IN_CLUSTER_NAMESPACE):
                    with open(IN_CLUSTER_NAMESPACE) as handle:
                        namespace = handle.read().strip() or namespace
            else:
                config.load_kube_config(
                    config_file=kubeconfig,
                    context=options.context,
                    client_configuration=cfg,
                    persist_config=False,
                )
                _, active = config.list_kube_config_contexts(kubeconfig)
                if options.context is None:
                    namespace = (active or {}).get("context", {}).get("namespace") or namespace
        except (config.ConfigException, OSError, ValueError) as exc:
            raise StoreError(
                f"cannot load the Kubernetes configuration: {exc}",
                hint="set KUBECONFIG (or run inside the cluster); `kubectl get pods` should work",
            ) from exc
        cfg.connection_pool_maxsize = 32
        return cls(client.ApiClient(cfg), options, namespace=namespace)

    def close(self) -> None:
        self.client.close()

    # -- calls ---------------------------------------------------------------------------
    def _call(
        self,
        what: str,
        fn: Callable[..., T],
        *args: Any,
        retries: int | None = None,
        reach: int | None = None,
        **kwargs: Any,
    ) -> T:
        """`fn(*args, **kwargs)`, retrying 429, 5xx and broken connections with backoff
        (`retries` times, or `reach` times when the server cannot be reached at all)."""
        import urllib3
        from kubernetes.client import ApiException

        delay = self.options.backoff
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except ApiException as exc:
                if exc.status not in RETRY_STATUSES:
                    raise
                problem = f"answered {exc.status} {exc.reason or ''}".strip()
                wait = _retry_after(exc.headers) or delay
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                problem, wait = f"cannot be reached at {self.host} ({_cause(exc)})", delay
                retries = reach if reach is not None else retries
            attempt += 1
            if attempt > (self.options.retries if retries is None else retries):
                raise StoreError(
                    f"the Kubernetes API {problem} ({what}, {attempt} tries)",
                    hint="check the cluster with `kubectl get pods`; kite retries with backoff",
                )
            time.sleep(min(wait, self.options.backoff_cap))
            delay = min(delay * 2, self.options.backoff_cap)

    def _json(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Pod:
        response = self._call(what, fn, *args, _preload_content=False, **kwargs)
        data: Pod = json.loads(response.data)
        return data

    def create_pod(self, namespace: str, pod: Pod) -> Pod:
        from kubernetes.client import ApiException

        try:
            return self._json(
                "create pod",
                self.core.create_namespaced_pod,
                namespace,
                pod,
                retries=min(self.options.retries, 2),  # then Busy: kite creates it later
            )
        except StoreError as exc:  # 429, 5xx or no connection, a few times over
            raise Busy(exc.message) from None
        except ApiException as exc:
            message = _message(exc)
            if exc.status == 403 and "exceeded quota" in message:
                raise Busy(message) from None
            if exc.status == 409:
                raise AlreadyExists(message) from None
            if exc.status in (400, 422):
                raise Rejected(message) from None
            raise _refused(exc, message, namespace) from None

    def read(self, kind: str, namespace: str, name: str) -> Pod | None:
        """A pod, service account or namespace; None when it does not exist."""
        from kubernetes.client import ApiException

        fn: Callable[..., Any] = {
            "pod": self.core.read_namespaced_pod,
            "serviceaccount": self.core.read_namespaced_service_account,
        }.get(kind, self.core.read_namespace)
        args = (name,) if kind == "namespace" else (name, namespace)
        try:
            return self._json(f"read {kind}", fn, *args)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _refused(exc, _message(exc), namespace) from None

    def write(self, kind: str, namespace: str, body: Pod, *, replace: bool = False) -> Pod:
        """Create (or replace) a namespace or service account."""
        from kubernetes.client import ApiException

        name = body["metadata"]["name"]
        calls: dict[tuple[str, bool], tuple[Callable[..., Any], tuple[Any, ...]]] = {
            ("namespace", False): (self.core.create_namespace, (body,)),
            ("serviceaccount", False): (
                self.core.create_namespaced_service_account,
                (namespace, body),
            ),
            ("serviceaccount", True): (
                self.core.replace_namespaced_service_account,
                (name, namespace, body),
            ),
        }
        fn, args = calls[(kind, replace)]
        try:
            return self._json(f"write {kind}", fn, *args)
        except ApiException as exc:
            if exc.status == 409 and not replace:
                raise AlreadyExists(_message(exc)) from None
            raise _refused(exc, _message(exc), namespace) from None

    def delete_pod(self, namespace: str, name: str, *, grace: int | None = None) -> None:
        from kubernetes.client import ApiException

        try:
            self._call(
                "delete pod",
                self.core.delete_namespaced_pod,
                name,
                namespace,
                grace_period_seconds=grace,
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise _refused(exc, _message(exc), namespace) from None

    def pod_log(self, namespace: str, name: str, container: str) -> bytes:
        """The container's log; empty when it has none (never started, pod gone)."""
        from kubernetes.client import ApiException

        try:
            response = self._call(
                "read log",
                self.core.read_namespaced_pod_log,
                name,
                namespace,
                retries=min(self.options.retries, 3),  # then a note in its place
                container=container,
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status in (400, 404):
                return b""
            raise _refused(exc, _message(exc), namespace) from None
        data: bytes = response.data
        return data

    def pod_events(self, namespace: str, name: str) -> list[str]:
        """The pod's warning events, oldest first, as "Reason: message"; a note if kite may
        not read them."""
        from kubernetes.client import ApiException

        try:
            data = self._json(
                "list events",
                self.core.list_namespaced_event,
                namespace,
                field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}",
                retries=1,
            )
        except ApiException as exc:
            return [f"(its events could not be read: {_message(exc)})"]
        except StoreError as exc:
            return [f"(its events could not be read: {exc.message})"]
        items = sorted(
            (e for e in data.get("items") or [] if e.get("type") == "Warning"),
            key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""),
        )
        return [f"{e.get('reason', '')}: {e.get('message', '')}".strip() for e in items]

    # -- PodApi (for the watcher) --------------------------------------------------------
    def list_pods(self, namespace: str, selector: str) -> tuple[list[Pod], str]:
        from kubernetes.client import ApiException

        try:
            data = self._json(
                "list pods", self.core.list_namespaced_pod, namespace, label_selector=selector
            )
        except ApiException as exc:
            raise _refused(exc, _message(exc), namespace, verb="list") from None
        return list(data.get("items") or []), str(data["metadata"].get("resourceVersion", ""))

    def watch_pods(
        self, namespace: str, selector: str, resource_version: str, timeout: int
    ) -> Iterator[tuple[str, Pod]]:
        import urllib3
        from kubernetes.client import ApiException

        try:
            response = self._call(
                "watch pods",
                self.core.list_namespaced_pod,
                namespace,
                label_selector=selector,
                watch=True,
                resource_version=resource_version,
                timeout_seconds=timeout,
                allow_watch_bookmarks=True,
                _preload_content=False,
                _request_timeout=(10, timeout + 30),
            )
        except ApiException as exc:
            if exc.status == 410:
                raise WatchExpired(_message(exc)) from None
            if exc.status in (401, 403):
                raise _refused(exc, _message(exc), namespace, verb="watch") from None
            raise WatchBroken(_message(exc)) from None
        except StoreError as exc:
            raise WatchBroken(exc.message) from None
        try:
            for line in _lines(response):
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        raise WatchExpired(obj.get("message", "410 Gone"))
                    raise WatchBroken(obj.get("message", "watch error"))
                yield event["type"], obj
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise WatchBroken(str(exc)) from exc
        finally:
            response.release_conn()

    # -- what kite may do (preflight) ------------------------------------------------------
    def allowed(self, namespace: str, verb: str, resource: str) -> bool:
        """Whether the user may `verb` `resource` ("pods", "pods/log") in `namespace`.

        The first call kite makes: an API server that cannot be reached fails it in seconds.
        """
        from kubernetes import client
        from kubernetes.client import ApiException

        kind, _, sub = resource.partition("/")
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "resource": kind,
                    "subresource": sub,
                }
            },
        }
        api = client.AuthorizationV1Api(self.client)
        try:
            response: Any = self._call(
                "check access",
                api.create_self_subject_access_review,
                review,
                reach=min(self.options.retries, 2),
                _preload_content=False,
                _request_timeout=(5, 30),
            )
        except ApiException as exc:
            raise _refused(exc, _message(exc), namespace, verb=verb) from None
        return bool(json.loads(response.data).get("status", {}).get("allowed"))

    def account_missing(self, namespace: str, account: str) -> str | None:
        """Why a pod of `account` would be refused for want of its service account, if it
        would: a dry-run create, which needs no more rights than creating pods."""
        from kubernetes.client import ApiException

        try:
            self._call(
                "check service account",
                self.core.create_namespaced_pod,
                namespace,
                probe_pod(account),
                dry_run="All",
                _preload_content=False,
            )
        except ApiException as exc:
            message = _message(exc)
            if exc.status == 403 and "service account" in message and "not found" in message:
                return message
            if exc.status in (401, 404):
                raise _refused(exc, message, namespace) from None
        return None  # any other refusal is the real pod's to meet, and to report


def _cause(exc: BaseException) -> str:
    """The root of a connection error in a few words ("Connection refused")."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    if found:
        return found.group(1).strip().lower()
    return str(getattr(exc, "reason", None) or exc)[:200]


def _lines(response: Any) -> Iterator[bytes]:
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from (line for line in lines if line.strip())
    if buffer.strip():
        yield buffer


def _message(exc: Any) -> str:
    try:
        return str(json.loads(exc.body)["message"])
    except (TypeError, ValueError, KeyError):
        return f"{exc.status} {exc.reason}"


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers["Retry-After"]) if headers and "Retry-After" in headers else None
    except ValueError:
        return None


def _refused(exc: Any, message: str, namespace: str, *, verb: str = "create") -> StoreError:
    can_i = f"`kubectl auth can-i {verb} pods -n {namespace}`"
    rbac = f"kite needs the Role of docs/kubernetes.md (RBAC) in {namespace!r}; check with {can_i}"
    hints = {
        401: "your Kubernetes credentials were refused; check `kubectl auth whoami`",
        403: rbac
        if verb != "create"
        else "run `kite install --env ENV` to create the namespace and service accounts, "
        f"and check that you may create pods in {namespace!r} ({can_i})",
        404: f"create the namespace {namespace!r}, or run `kite install --env ENV`",
    }
    return StoreError(
        f"the Kubernetes API refused: {message}",
        hint=hints.get(exc.status, "check the cluster with `kubectl get pods`"),
    )


class KubernetesExecutor(PodExecutor):
    """Runs each task attempt (or batch of datums) as one bare pod; see pods.PodExecutor."""

    def __init__(
        self,
        options: KubernetesOptions | None = None,
        *,
        api: ClusterApi | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        options = options or KubernetesOptions()
        super().__init__(api or ClusterApi.connect(options), options, say=say)


__all__ = ["AlreadyExists", "ClusterApi", "KubernetesExecutor", "KubernetesOptions", "Rejected"]
