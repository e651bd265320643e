"""`status`: the node-agent DaemonSet and its pod on each node with each agent's istiod
(xDS) connection, the enrolled namespaces, and the pods the agent has marked
`kmesh.net/redirection: enabled`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from kmeshctl.config_dump import XDS_PATH
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient
from kmeshctl.params import INSTALL_HINT
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
    def problems(self) -> list[str]:
        """Why the mesh is not healthy, one phrase each (empty: healthy)."""
        if self.daemonset is None:
            return [f"DaemonSet {DAEMONSET_NAME} not found in {self.namespace} ({INSTALL_HINT})"]
        ds = self.daemonset
        found = []
        if ds["desired"] == 0:
            found.append("the DaemonSet wants 0 pods (no node matches its nodeSelector / tolerations)")
        elif ds["ready"] < ds["desired"]:
            found.append(f"{ds['ready']}/{ds['desired']} agent pods ready")
        if ds["updated"] < ds["desired"]:
            found.append(f"{ds['updated']}/{ds['desired']} agent pods run the current template")
        found += [f"pod {p.name} on {p.node or '?'} not ready ({p.reason or p.phase})" for p in self.pods if not p.ready]
        found += [f"agent {a.pod} not connected to istiod ({a.error or (a.xds or {}).get('lastError') or 'disconnected'})"
                  for a in self.agents if not a.connected]
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "namespace": self.namespace, "installed": self.daemonset is not None, "healthy": self.healthy,
            "problems": self.problems,
            "daemonset": self.daemonset, "pods": [p.to_dict() for p in self.pods],
            "enrolledNamespaces": self.enrolled_namespaces, "redirectedPods": self.redirected_pods,
            "agents": [a.to_dict() for a in self.agents],
        }


def daemonset_summary(ds: dict) -> dict:
    status = ds.get("status") or {}
    containers = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
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
