"""Restart or uninstall: what a node agent does with the data path when it is stopped.

A stopped agent pod is either being replaced (rolling update, node drain, a crash) or
removed for good (`kmeshctl uninstall`). On a restart the programs and maps must stay,
so enrolled pods keep their traffic until the next agent takes over; on an uninstall
they must go, or enrolled pods keep being sent to waypoints and endpoints nobody updates.
As upstream Kmesh does, the agent tells the two apart by its DaemonSet: still there and
not being deleted means restart; gone or being deleted means uninstall. Its namespace
being deleted (`kubectl delete namespace kmesh-system`) is an uninstall too: the namespace
controller stops the pods before it deletes the DaemonSet, so at SIGTERM the DaemonSet is
still there, yet no replacement will come. When the API
cannot tell (unreachable, refused), it keeps the data path: `kmeshctl node cleanup`
removes it by hand, while a wrongly removed data path would cut live traffic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger("kmeshctl.lifecycle")

ShutdownKind = Literal["restart", "uninstall"]


@dataclass(frozen=True)
class ShutdownDecision:
    kind: ShutdownKind
    reason: str


def _status_of(err: Exception) -> int | None:
    return getattr(err, "status", None)


def owning_daemonset(core_api: Any, pod_name: str, namespace: str) -> Any:
    """The ownerReference of kind DaemonSet on this agent's pod (None if there is none).
    Raises the API's exception when the pod cannot be read."""
    pod = core_api.read_namespaced_pod(pod_name, namespace)
    owners = pod.metadata.owner_references or []
    return next((o for o in owners if o.kind == "DaemonSet"), None)


def namespace_deleted(core_api: Any, namespace: str) -> bool:
    """True when ``namespace`` is being deleted (deletionTimestamp set) or already gone.
    False when it cannot be read: the DaemonSet then decides, as before."""
    try:
        ns = core_api.read_namespace(namespace)
    except Exception as err:  # noqa: BLE001 - any API or transport failure means "cannot tell"
        return _status_of(err) == 404
    return ns.metadata.deletion_timestamp is not None


def decide_shutdown(core_api: Any, apps_api: Any, pod_name: str, namespace: str) -> ShutdownDecision:
    """Restart or uninstall, from the agent's pod (``pod_name`` in ``namespace``) and its
    DaemonSet as the API server reports them now. Never raises."""
    if not pod_name or not namespace:
        return ShutdownDecision("restart", "pod name or namespace unknown (POD_NAME / POD_NAMESPACE unset)")
    try:
        owner = owning_daemonset(core_api, pod_name, namespace)
    except Exception as err:  # noqa: BLE001 - any API or transport failure means "cannot tell"
        return ShutdownDecision("restart", f"cannot read pod {namespace}/{pod_name}: {_describe(err)}")
    if owner is None:
        return ShutdownDecision("restart", "the pod is not run by a DaemonSet")
    if namespace_deleted(core_api, namespace):
        return ShutdownDecision("uninstall", f"namespace {namespace} is being deleted")
    try:
        ds = apps_api.read_namespaced_daemon_set(owner.name, namespace)
    except Exception as err:  # noqa: BLE001
        if _status_of(err) == 404:
            return ShutdownDecision("uninstall", f"DaemonSet {namespace}/{owner.name} is gone")
        return ShutdownDecision("restart", f"cannot read DaemonSet {namespace}/{owner.name}: {_describe(err)}")
    if ds.metadata.deletion_timestamp is not None:
        return ShutdownDecision("uninstall", f"DaemonSet {namespace}/{owner.name} is being deleted")
    return ShutdownDecision("restart", f"DaemonSet {namespace}/{owner.name} is still there")


def _describe(err: Exception) -> str:
    status = _status_of(err)
    reason = getattr(err, "reason", None)
    return f"{status} {reason}" if status else " ".join(str(err).split())[:200]
