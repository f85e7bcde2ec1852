"""The fake API server's storage: objects, resource versions, a watchable event log."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Key = tuple[str, str, str]  # (resource, namespace, name); namespaces have namespace ""


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A metav1.Status body, as the real API server sends with every error."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """An error answer: HTTP status and its Status body."""

    def __init__(self, code: int, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.body = status(code, reason, message, **details)


@dataclass(frozen=True)
class Event:
    rv: int
    resource: str
    namespace: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: dict[str, Any]


class Store:
    """Thread-safe objects with a global resourceVersion and a compactable event history."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.rv = 0
        self.objects: dict[Key, dict[str, Any]] = {}
        self.events: list[Event] = []
        self.compacted = 0  # events at or below this resourceVersion are forgotten
        self.listeners: list[Callable[[Event], None]] = []

    def _emit(self, key: Key, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        event = Event(self.rv, key[0], key[1], kind, copy.deepcopy(obj))
        self.events.append(event)
        self.cond.notify_all()
        for listener in self.listeners:
            listener(event)
        return copy.deepcopy(obj)

    def create(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        with self.cond:
            key = (resource, namespace, name)
            if key in self.objects:
                kind = resource if resource != "pods" else "pods"
                raise ApiError(
                    409, "AlreadyExists", f'{kind} "{name}" already exists', name=name, kind=kind
                )
            obj = copy.deepcopy(obj)
            meta = obj["metadata"]
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now())
            if namespace:
                meta["namespace"] = namespace
            self.objects[key] = obj
            return self._emit(key, "ADDED", obj)

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        with self.cond:
            obj = self.objects.get((resource, namespace, name))
            if obj is None:
                raise ApiError(
                    404, "NotFound", f'{resource} "{name}" not found', name=name, kind=resource
                )
            return copy.deepcopy(obj)

    def update(
        self, resource: str, namespace: str, name: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Apply `change` to the stored object in place and emit MODIFIED."""
        with self.cond:
            key = (resource, namespace, name)
            obj = self.objects.get(key)
            if obj is None:
                raise ApiError(404, "NotFound", f'{resource} "{name}" not found', name=name)
            change(obj)
            return self._emit(key, "MODIFIED", obj)

    def replace(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        with self.cond:
            key = (resource, namespace, name)
            old = self.objects.get(key)
            if old is None:
                raise ApiError(404, "NotFound", f'{resource} "{name}" not found', name=name)
            given = obj["metadata"].get("resourceVersion")
            if given and given != old["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {resource} "{name}": the object has '
                    "been modified; please apply your changes to the latest version and try again",
                )
            obj = copy.deepcopy(obj)
            for field in ("uid", "creationTimestamp"):
                obj["metadata"][field] = old["metadata"][field]
            self.objects[key] = obj
            return self._emit(key, "MODIFIED", obj)

    def delete(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        with self.cond:
            key = (resource, namespace, name)
            obj = self.objects.pop(key, None)
            if obj is None:
                raise ApiError(404, "NotFound", f'{resource} "{name}" not found', name=name)
            return self._emit(key, "DELETED", obj)

    def list(
        self, resource: str, namespace: str | None, match: Callable[[dict[str, Any]], bool]
    ) -> tuple[list[dict[str, Any]], int]:
        with self.cond:
            items = [
                copy.deepcopy(obj)
                for (res, ns, _), obj in sorted(self.objects.items())
                if res == resource and (namespace is None or ns == namespace) and match(obj)
            ]
            return items, self.rv

    def compact(self) -> None:
        """Forget the history so far: watches from an older resourceVersion get 410 Gone."""
        with self.cond:
            self.rv += 1  # as if something else changed too: every older version is gone
            self.compacted = self.rv
            self.events.clear()
            self.cond.notify_all()
