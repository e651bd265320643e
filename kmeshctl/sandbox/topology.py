"""The sandbox's cluster as the control plane sees it: the manifests plus what `up`
allocated (pod IPs, Service VIPs, waypoints). Pure data, no side effects; the Envoy and
workload-API builders and `status` all read it."""

from __future__ import annotations

from dataclasses import dataclass
from kmeshctl.errors import UsageError
from kmeshctl.sandbox.manifests import (
    USE_WAYPOINT_LABEL,
    Deployment,
    Manifests,
    Service,
    ServicePort,
    service_hostname,
)

USE_WAYPOINT_NAMESPACE_LABEL = "istio.io/use-waypoint-namespace"
WAYPOINT_MANAGED_LABEL = "gateway.istio.io/managed"
WAYPOINT_MANAGED_VALUE = "istio.io-mesh-controller"
# The port the waypoint listens on for connections carrying a PROXY v2 header; it is
# also what the workload API advertises (GatewayAddress.hbone_mtls_port and the
# waypoint workload's application_tunnel.port).
WAYPOINT_PORT = 15008
SANDBOX_NODE = "sandbox"


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    deployment: str
    labels: dict[str, str]
    ip: str

    @property
    def uid(self) -> str:
        return f"Kubernetes//Pod/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class WaypointInfo:
    name: str
    namespace: str
    pod: str
    ip: str
    port: int = WAYPOINT_PORT

    @property
    def hostname(self) -> str:
        return service_hostname(self.name, self.namespace)


@dataclass
class Topology:
    manifests: Manifests
    pods: list[PodInfo]
    vips: dict[tuple[str, str], str]  # (namespace, service) -> VIP
    waypoints: list[WaypointInfo]

    def vip(self, service: Service) -> str:
        return self.vips[(service.namespace, service.name)]

    def deployment(self, pod: PodInfo) -> Deployment:
        return next(d for d in self.manifests.deployments
                    if (d.namespace, d.name) == (pod.namespace, pod.deployment))

    def pods_matching(self, namespace: str, *selectors: dict[str, str]) -> list[PodInfo]:
        """Pods of a namespace whose labels satisfy every selector (empty selects none)."""
        if not any(selectors):
            return []
        return [p for p in self.pods if p.namespace == namespace
                and all(p.labels.get(k) == v for sel in selectors for k, v in sel.items())]

    def target_port(self, pod: PodInfo, port: ServicePort) -> int | None:
        """A Service port's target on a pod; a named targetPort resolves via container ports."""
        if isinstance(port.target_port, int):
            return port.target_port
        for container in self.deployment(pod).containers:
            for cport in container.ports:
                if cport.name == port.target_port:
                    return cport.port
        return None

    def waypoint_of(self, service: Service) -> WaypointInfo | None:
        key = waypoint_key(self.manifests, service)
        if key is None:
            return None
        # None also while a sandbox is being made (its waypoint not started yet)
        return next((w for w in self.waypoints if (w.namespace, w.name) == key), None)

    def services_of(self, waypoint: WaypointInfo) -> list[Service]:
        return [s for s in self.manifests.services if self.waypoint_of(s) == waypoint]

    def is_waypoint_pod(self, pod_name: str, namespace: str) -> bool:
        return any((w.pod, w.namespace) == (pod_name, namespace) for w in self.waypoints)


def waypoint_key(manifests: Manifests, service: Service) -> tuple[str, str] | None:
    """(namespace, name) of the waypoint a Service uses: its own `istio.io/use-waypoint`
    label, else its namespace's; `none` opts out."""
    labels = service.labels
    if USE_WAYPOINT_LABEL not in labels:
        labels = manifests.namespace(service.namespace).labels
    name = labels.get(USE_WAYPOINT_LABEL)
    if not name or name == "none":
        return None
    return labels.get(USE_WAYPOINT_NAMESPACE_LABEL, service.namespace), name


def waypoint_keys(manifests: Manifests) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for service in manifests.services:
        key = waypoint_key(manifests, service)
        if key and key not in keys:
            keys.append(key)
    return keys


def check_no_name_clash(manifests: Manifests) -> None:
    """A waypoint's pod takes the waypoint's name; no Deployment may already use it."""
    deployments = {(d.namespace, d.name) for d in manifests.deployments}
    for key in waypoint_keys(manifests):
        if key in deployments:
            raise UsageError(f"Deployment {key[0]}/{key[1]} has the name of a waypoint: rename it")
