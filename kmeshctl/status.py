"""`status`: the node-agent DaemonSet and its pod on each node with each agent's istiod
(xDS) connection, the enrolled namespaces, and the pods the agent has marked
`kmesh.net/redirection: enabled`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from kmeshctl.config_dump import XDS_PATH
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient
from kmeshctl.namespaces import REDIRECTION_ANNOTATION, enrolled_namespaces
from kmeshctl.render import ADMIN_PORT, DAEMONSET_NAME
from kmeshctl.rollout import PodState, daemonset_pods

# (admin path, pod, namespace, port) -> the agent's JSON answer; raises KmeshctlError.
AdminFetch = Callable[[str, str, str, int], dict]


@dataclass(frozen=True)
class AgentXds:
    """One node agent's istiod connection as its admin endpoint `/debug/xds` reports it
    (``xds``), or why it could not be asked (``error``)."""

    pod: str
    node: str
    xds: Optional[dict]
    error: str = ""

    @property
    def connected(self) -> bool:
        return bool(self.xds and self.xds.get("connected"))

    def to_dict(self) -> dict:
        return {"pod": self.pod, "node": self.node, "connected": self.connected, "xds": self.xds,
                "error": self.error}


@dataclass
class MeshStatus:
    namespace: str
    daemonset: Optional[dict]  # desired / updated / ready / image, None when not installed
    pods: list[PodState] = field(default_factory=list)
    enrolled_namespaces: list[str] = field(default_factory=list)
    redirected_pods: list[str] = field(default_factory=list)  # namespace/name
    agents: list[AgentXds] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.daemonset is not None and all(p.ready for p in self.pods) and (
            self.daemonset["ready"] == self.daemonset["desired"]
        ) and all(a.connected for a in self.agents)

    def to_dict(self) -> dict:
        return {
            "namespace": self.namespace, "installed": self.daemonset is not None, "healthy": self.healthy,
            "daemonset": self.daemonset, "pods": [p.to_dict() for p in self.pods],
            "enrolledNamespaces": self.enrolled_namespaces, "redirectedPods": self.redirected_pods,
            "agents": [a.to_dict() for a in self.agents],
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


def agent_xds(pods: list[PodState], namespace: str, fetch: AdminFetch,
              admin_port: int = ADMIN_PORT) -> list[AgentXds]:
    """Ask each running agent pod for its istiod connection (port-forward to its admin port)."""
    agents = []
    for pod in pods:
        if pod.phase != "Running":
            agents.append(AgentXds(pod.name, pod.node, None, f"pod is {pod.phase}"))
            continue
        try:
            agents.append(AgentXds(pod.name, pod.node, fetch(XDS_PATH, pod.name, namespace, admin_port)))
        except KmeshctlError as err:
            agents.append(AgentXds(pod.name, pod.node, None, str(err)))
    return agents


def mesh_status(client: KubeClient, namespace: str, fetch: Optional[AdminFetch] = None) -> MeshStatus:
    """The mesh as the API server and, with ``fetch``, each agent's admin endpoint see it."""
    ds = client.get("apps/v1", "DaemonSet", DAEMONSET_NAME, namespace)
    pods = daemonset_pods(client, ds) if ds else []
    return MeshStatus(
        namespace=namespace,
        daemonset=daemonset_summary(ds) if ds else None,
        pods=pods,
        enrolled_namespaces=enrolled_namespaces(client),
        redirected_pods=redirected_pods(client),
        agents=agent_xds(pods, namespace, fetch) if fetch else [],
    )
