"""`status`: the node-agent DaemonSet and its pod on each node, the enrolled namespaces,
and the pods the agent has marked `kmesh.net/redirection: enabled`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from kmeshctl.kube import KubeClient
from kmeshctl.namespaces import REDIRECTION_ANNOTATION, enrolled_namespaces
from kmeshctl.render import DAEMONSET_NAME
from kmeshctl.rollout import PodState, daemonset_pods


@dataclass
class MeshStatus:
    namespace: str
    daemonset: Optional[dict]  # desired / updated / ready / image, None when not installed
    pods: list[PodState] = field(default_factory=list)
    enrolled_namespaces: list[str] = field(default_factory=list)
    redirected_pods: list[str] = field(default_factory=list)  # namespace/name

    @property
    def healthy(self) -> bool:
        return self.daemonset is not None and all(p.ready for p in self.pods) and (
            self.daemonset["ready"] == self.daemonset["desired"]
        )

    def to_dict(self) -> dict:
        return {
            "namespace": self.namespace, "installed": self.daemonset is not None, "healthy": self.healthy,
            "daemonset": self.daemonset, "pods": [p.to_dict() for p in self.pods],
            "enrolledNamespaces": self.enrolled_namespaces, "redirectedPods": self.redirected_pods,
        }


def daemonset_summary(ds: dict) -> dict:
    status = ds.get("status", {})
    containers = ds["spec"]["template"]["spec"].get("containers", [])
    return {
        "name": ds["metadata"]["name"],
        "desired": int(status.get("desiredNumberScheduled", 0)),
        "updated": int(status.get("updatedNumberScheduled", 0)),
        "ready": int(status.get("numberReady", 0)),
        "image": ", ".join(c.get("image", "") for c in containers),
    }


def redirected_pods(client: KubeClient) -> list[str]:
    # Annotations are not selectable: list every pod and filter here.
    return sorted(
        f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        for pod in client.list("v1", "Pod")
        if (pod["metadata"].get("annotations") or {}).get(REDIRECTION_ANNOTATION) == "enabled"
    )


def mesh_status(client: KubeClient, namespace: str) -> MeshStatus:
    ds = client.get("apps/v1", "DaemonSet", DAEMONSET_NAME, namespace)
    return MeshStatus(
        namespace=namespace,
        daemonset=daemonset_summary(ds) if ds else None,
        pods=daemonset_pods(client, ds) if ds else [],
        enrolled_namespaces=enrolled_namespaces(client),
        redirected_pods=redirected_pods(client),
    )
