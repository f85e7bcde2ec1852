"""One watch per namespace keeps every pod kite follows up to date (list, then watch).

A broken watch resumes from the last resourceVersion seen; 410 Gone (history compacted)
starts over with a fresh list. Any other error (the list or watch refused, the API server
unreachable after retries) stops the watcher: `failure` holds it, for the waiters to raise.
Client-agnostic: it talks to a `PodApi`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

Pod = dict[str, Any]
log = logging.getLogger(__name__)


class WatchExpired(Exception):
    """The resourceVersion a watch asked for is too old (410 Gone): list again."""


class WatchBroken(Exception):
    """The watch connection failed; resume from the last resourceVersion."""


class PodApi(Protocol):
    def list_pods(self, namespace: str, selector: str) -> tuple[list[Pod], str]:
        """The pods and the list's resourceVersion."""

    def watch_pods(
        self, namespace: str, selector: str, resource_version: str, timeout: int
    ) -> Iterator[tuple[str, Pod]]:
        """(type, object) events; raises WatchExpired or WatchBroken."""


class PodWatcher:
    """Calls `on_pod(type, pod)` for every change of the selected pods in one namespace.

    `on_list(names, resource_version)` follows each full list, so the caller can notice
    pods that vanished while no watch was open.
    """

    def __init__(
        self,
        api: PodApi,
        namespace: str,
        selector: str,
        *,
        on_pod: Callable[[str, Pod], None],
        on_list: Callable[[set[str], str], None],
        timeout: int = 300,
        pause: float = 0.5,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.selector = selector
        self.on_pod = on_pod
        self.on_list = on_list
        self.timeout = timeout
        self.pause = pause
        self.stopped = threading.Event()
        self.listed = threading.Event()  # set once the first list has been dispatched
        self.version: str | None = None  # the last resourceVersion seen
        self.resumes = 0  # watches reopened after a break
        self.relists = 0  # lists after 410 Gone
        self.failure: Exception | None = None  # what stopped the watch for good
        self.thread = threading.Thread(
            target=self._run, name=f"kite-watch-{namespace}", daemon=True
        )

    def start(self) -> PodWatcher:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                if self.version is None:
                    self.version = self._list()
                self._watch(self.version)
            except WatchExpired:
                self.relists += 1
                self.version = None
            except WatchBroken as exc:
                self.resumes += 1
                log.debug("watch of %s broke (%s); resuming", self.namespace, exc)
                self.stopped.wait(self.pause)
            except Exception as exc:  # refused (RBAC), unreachable, or a bug: say it, once
                log.debug("watch of %s failed", self.namespace, exc_info=True)
                self.failure = exc  # every wait on this namespace raises it
                self.stopped.set()
                self.listed.set()

    def _list(self) -> str:
        pods, version = self.api.list_pods(self.namespace, self.selector)
        for pod in pods:
            self.on_pod("LISTED", pod)
        self.on_list({p["metadata"]["name"] for p in pods}, version)
        self.listed.set()
        return version

    def _watch(self, version: str) -> None:
        """Follow events from `version`, remembering the last version seen."""
        events = self.api.watch_pods(self.namespace, self.selector, version, self.timeout)
        for kind, obj in events:
            if self.stopped.is_set():
                break
            self.version = obj.get("metadata", {}).get("resourceVersion") or self.version
            if kind != "BOOKMARK":
                self.on_pod(kind, obj)
