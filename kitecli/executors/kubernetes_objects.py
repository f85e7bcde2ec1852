"""The objects `kite install`, `uninstall` and `status` handle, through the official client.

Reads, creates, replaces, lists and deletes namespaced ServiceAccounts, Roles, RoleBindings,
CronJobs, Jobs and PersistentVolumeClaims as plain dicts, with ClusterApi's retries and
errors.
"""

from __future__ import annotations

from typing import Any

from kitecli.errors import StoreError
from kitecli.executors.kubernetes import ClusterApi, _message
from kitecli.executors.pods import AlreadyExists

Manifest = dict[str, Any]
# kind → (client API class, the method suffix of its namespaced calls)
KINDS = {
    "Namespace": ("CoreV1Api", "namespace"),
    "ServiceAccount": ("CoreV1Api", "namespaced_service_account"),
    "PersistentVolumeClaim": ("CoreV1Api", "namespaced_persistent_volume_claim"),
    "Role": ("RbacAuthorizationV1Api", "namespaced_role"),
    "RoleBinding": ("RbacAuthorizationV1Api", "namespaced_role_binding"),
    "CronJob": ("BatchV1Api", "namespaced_cron_job"),
    "Job": ("BatchV1Api", "namespaced_job"),
}


class Objects:
    """Namespaced objects of the kinds in KINDS on the cluster `api` is connected to."""

    def __init__(self, api: ClusterApi) -> None:
        from kubernetes import client

        self.api = api
        self.apis = {name: getattr(client, name)(api.client) for name, _ in KINDS.values()}

    def _fn(self, verb: str, kind: str) -> Any:
        api, suffix = KINDS[kind]
        return getattr(self.apis[api], f"{verb}_{suffix}")

    def _run(
        self, what: str, namespace: str, fn: Any, *args: Any, absent: bool = False, **kwargs: Any
    ) -> Manifest:
        """`fn(*args)` as a dict; with `absent`, a 404 raises LookupError (the object is not
        there), else it is an error like any refusal (a namespace or an API that is not)."""
        from kubernetes.client import ApiException

        try:
            return self.api._json(what, fn, *args, **kwargs)
        except ApiException as exc:
            if exc.status == 409:
                raise AlreadyExists(_message(exc)) from None
            if exc.status == 404 and absent:
                raise LookupError(_message(exc)) from None
            raise StoreError(
                f"the Kubernetes API refused to {what} in namespace {namespace!r}: {_message(exc)}",
                hint="`kite install` and `kite uninstall` are for a cluster administrator "
                "(namespaces, service accounts, roles, CronJobs)",
            ) from None

    def read(self, kind: str, namespace: str, name: str) -> Manifest | None:
        where = () if kind == "Namespace" else (namespace,)
        try:
            fn = self._fn("read", kind)
            return self._run(f"read {kind} {name}", namespace, fn, name, *where, absent=True)
        except LookupError:
            return None

    def create(self, kind: str, namespace: str, body: Manifest) -> Manifest:
        where = () if kind == "Namespace" else (namespace,)
        return self._run(f"create {kind}", namespace, self._fn("create", kind), *where, body)

    def replace(self, kind: str, namespace: str, body: Manifest) -> Manifest:
        name = body["metadata"]["name"]
        fn = self._fn("replace", kind)
        return self._run(f"replace {kind} {name}", namespace, fn, name, namespace, body)

    def list(self, kind: str, namespace: str, selector: str) -> list[Manifest]:
        fn = self._fn("list", kind)
        found = self._run(f"list {kind}", namespace, fn, namespace, label_selector=selector)
        items: list[Manifest] = found.get("items", [])
        return items

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Delete (its Jobs and pods go with it); False when it was gone already."""
        body = {"propagationPolicy": "Background"}
        try:
            self._run(
                f"delete {kind} {name}",
                namespace,
                self._fn("delete", kind),
                name,
                namespace,
                body=body,
                absent=True,
            )
        except LookupError:
            return False
        return True
