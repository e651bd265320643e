"""Removing what `install` created: delete in reverse apply order, waiting for each object
to be gone before the next (the EnvoyFilters first, the namespace last), idempotently.

The DaemonSet goes with foreground propagation, so it is gone only once every node agent
pod has finished: each agent sees its DaemonSet being deleted at SIGTERM and removes its
node's data path and annotations (kmeshctl.lifecycle) while its ServiceAccount and RBAC
still exist. Each node's agent pod is reported."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient, object_ref
from kmeshctl.params import PLACEHOLDER_XDS_ADDRESS, InstallParams
from kmeshctl.render import render_manifests

Outcome = Literal["deleted", "not found", "kind not served", "stopped"]
# Only the names of the rendered objects matter here; this value never reaches the cluster.
_PLACEHOLDER_CLUSTER = "uninstall"


@dataclass(frozen=True)
class DeleteResult:
    ref: str
    outcome: Outcome


def installed_objects(namespace: str, istio_namespace: str) -> list[dict]:
    """The objects install creates for these namespaces, in apply order (names and kinds are
    what matter; they do not depend on the other install parameters)."""
    params = InstallParams(PLACEHOLDER_XDS_ADDRESS, _PLACEHOLDER_CLUSTER, namespace=namespace,
                           istio_namespace=istio_namespace)
    return render_manifests(params)


def delete_one(client: KubeClient, obj: dict) -> DeleteResult:
    if not client.is_served(obj["apiVersion"], obj["kind"]):
        return DeleteResult(object_ref(obj), "kind not served")
    meta = obj["metadata"]
    propagation = "Foreground" if obj["kind"] == "DaemonSet" else "Background"
    deleted = client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"), propagation)
    return DeleteResult(object_ref(obj), "deleted" if deleted else "not found")


def agent_pods(client: KubeClient, ds: dict) -> list[tuple[str, str]]:
    """(node, pod name) of each pod the DaemonSet ``ds`` (a rendered object) runs now."""
    meta = ds["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in ds["spec"]["selector"]["matchLabels"].items())
    pods = client.list("v1", "Pod", meta.get("namespace"), label_selector=selector)
    return sorted((p.get("spec", {}).get("nodeName") or "(unscheduled)", p["metadata"]["name"]) for p in pods)


def wait_gone(client: KubeClient, obj: dict, deadline: float, poll: float = 0.5) -> None:
    meta = obj["metadata"]
    while client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")) is not None:
        if time.monotonic() >= deadline:
            raise KmeshctlError(
                f"{object_ref(obj)} still exists after the time limit (finalizers?); "
                "fix: check it with kubectl describe, then re-run uninstall (it is safe to repeat)"
            )
        time.sleep(poll)


def uninstall(
    client: KubeClient,
    objs: list[dict],
    timeout: float,
    on_result: Callable[[DeleteResult], None] = lambda r: None,
) -> list[DeleteResult]:
    """Delete `objs` in reverse order, each gone before the next; all within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    results = []
    for obj in reversed(objs):
        pods = agent_pods(client, obj) if obj["kind"] == "DaemonSet" and client.is_served("v1", "Pod") else []
        result = delete_one(client, obj)
        if result.outcome == "deleted":
            wait_gone(client, obj, deadline)
        on_result(result)
        results.append(result)
        for node, pod in pods if result.outcome == "deleted" else []:
            stopped = DeleteResult(f"node {node}: agent pod {obj['metadata']['namespace']}/{pod}", "stopped")
            on_result(stopped)
            results.append(stopped)
    return results
