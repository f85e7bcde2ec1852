"""A container's log as the API server streams it (`follow=true`), for `kite logs -f`:
the client call behind podfollow.py, through a ClusterApi's connection."""

from __future__ import annotations

from collections.abc import Iterator

from kitecli.executors.kubernetes import ClusterApi, _cause, _message, _refused
from kitecli.executors.live import PodRef
from kitecli.executors.pods import KubernetesOptions
from kitecli.executors.podwatch import Pod

QUIET = 120.0  # seconds without a byte after which a stream is opened again


class LogWaiting(Exception):
    """The log cannot be read now (400, 404): the container waits to start, or is gone."""


class LogBroken(Exception):
    """The stream could not be opened, or broke (no connection, 429, 5xx)."""


class ClusterLogs:
    """Pods and their followed logs, on the cluster a pod attempt's record names."""

    def __init__(self, api: ClusterApi) -> None:
        self.api = api
        self.host = api.host

    @classmethod
    def connect(cls, where: PodRef) -> ClusterLogs:
        """Reach the cluster as the apply that runs the pod did (StoreError if it cannot)."""
        options = KubernetesOptions(
            kubeconfig=where.kubeconfig,
            context=where.context,
            in_cluster=where.in_cluster,
            retries=3,
        )
        return cls(ClusterApi.connect(options))

    def read(self, namespace: str, name: str) -> Pod | None:
        return self.api.read("pod", namespace, name)

    def follow_log(
        self, namespace: str, name: str, container: str, *, quiet: float = QUIET
    ) -> Iterator[bytes]:
        """The container's log from its start, each piece as the server sends it, until the
        server ends the stream (the container ended) or sends nothing for `quiet` seconds."""
        import urllib3
        from kubernetes.client import ApiException

        try:
            response = self.api.core.read_namespaced_pod_log(
                name,
                namespace,
                container=container,
                follow=True,
                _preload_content=False,
                _request_timeout=(10, quiet),
            )
        except ApiException as exc:
            if exc.status in (400, 404):
                raise LogWaiting(_message(exc)) from None
            if exc.status in (401, 403):
                raise _refused(exc, _message(exc), namespace, verb="get") from None
            raise LogBroken(f"the API server answered {exc.status}: {_message(exc)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise LogBroken(f"the API server cannot be reached ({_cause(exc)})") from None
        try:
            yield from response.stream(1 << 16, decode_content=False)
        except urllib3.exceptions.ReadTimeoutError:
            return  # quiet: the caller opens it again
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise LogBroken(f"the stream broke ({_cause(exc)})") from None
        finally:
            response.close()
            response.release_conn()

    def close(self) -> None:
        self.api.close()
