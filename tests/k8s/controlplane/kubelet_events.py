"""What the node agent says the way a kubelet does beyond a pod's status: Events, and image
pulls that fail (there are no images: an image under MISSING is one that does not exist)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.k8s.fake_kubelet import _waiting
from tests.k8s.fake_store import now

Pod = dict[str, Any]
MISSING = "registry.invalid/"  # images there "do not exist"
OLD_KUBELET = ":before-1.32"  # such a tag: the back-off names no cause, as kubelets before 1.32


def event(api: Any, pod: Pod, reason: str, message: str, *, node: str) -> None:
    """Record a Warning event about `pod`, as its kubelet would."""
    meta = pod["metadata"]
    stamp = now()
    api.create_namespaced_event(
        meta["namespace"],
        {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:12]}"},
            "involvedObject": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": "kubelet", "host": node},
        },
    )


def missing_image(containers: list[Pod]) -> Pod | None:
    """The first container whose image does not exist, if any."""
    return next((c for c in containers if c["image"].startswith(MISSING)), None)


def pull_failures(container: Pod) -> list[tuple[Pod, str | None]]:
    """The container statuses a kubelet reports for an image that is not found, in order,
    with the cause for the event of each (None: no event)."""
    image = container["image"]
    cause = (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )
    back_off = f'Back-off pulling image "{image}"'
    if image.endswith(OLD_KUBELET):  # the cause is only in the events
        return [(_waiting(container, "ImagePullBackOff", back_off), cause)]
    return [
        (_waiting(container, "ErrImagePull", cause), cause),
        (_waiting(container, "ImagePullBackOff", f"{back_off}: ErrImagePull: {cause}"), None),
    ]
