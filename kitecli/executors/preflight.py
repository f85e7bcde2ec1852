"""Before anything runs: may kite do what it needs with pods, and does each stage's service
account exist? Otherwise one error names everything that is missing (exit 4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kitecli.errors import StoreError

# what kite does with pods: create, follow (get, list, watch), stop (delete), read logs
RIGHTS = (
    ("create", "pods"),
    ("get", "pods"),
    ("list", "pods"),
    ("watch", "pods"),
    ("delete", "pods"),
    ("get", "pods/log"),
)


class Access(Protocol):
    def allowed(self, namespace: str, verb: str, resource: str) -> bool: ...

    def account_missing(self, namespace: str, account: str) -> str | None: ...


def check(api: Access, namespace: str, accounts: Sequence[str], *, env: str) -> None:
    """Raise StoreError naming the rights kite lacks in `namespace`, or the missing accounts."""
    denied = [
        f"{verb} {resource}"
        for verb, resource in RIGHTS
        if not api.allowed(namespace, verb, resource)
    ]
    if denied:
        verb, resource = denied[0].split(" ")
        raise StoreError(
            f"kite may not {', '.join(denied)} in namespace {namespace!r}",
            hint="grant the user kite runs as the Role of docs/kubernetes.md (pods: create, get, "
            f"list, watch, delete; pods/log: get); check with `kubectl auth can-i {verb} "
            f"{resource} -n {namespace}`",
        )
    missing = [a for a in dict.fromkeys(accounts) if api.account_missing(namespace, a)]
    if missing:
        some = "s" if len(missing) > 1 else ""
        raise StoreError(
            f"the service account{some} {', '.join(missing)} of the stages to run "
            f"{'do' if some else 'does'} not exist in namespace {namespace!r}",
            hint=f"run `kite install --env {env}` as a user who may create service accounts",
        )


def probe_pod(account: str) -> dict[str, Any]:
    """The smallest pod the restricted profile admits, run as `account` (never created)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "kite-preflight-"},
        "spec": {
            "serviceAccountName": account,
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "check",
                    "image": "kite-preflight",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
