"""Which pods the agent enrolls (redirects through the eBPF data path).

Pure functions over a small view of a pod; the pod watcher feeds them Kubernetes
objects, the tests feed them literals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

MODE_LABEL = "istio.io/dataplane-mode"
MODE_KMESH = "kmesh"
MODE_NONE = "none"
REDIRECTION_ANNOTATION = "kmesh.net/redirection"
REDIRECTION_ENABLED = "enabled"
# Which path enrolled the pod: "cni" (the CNI plugin, as the runtime created its netns) or
# "watch" (the agent's pod watch: pods older than the agent, or created while it was away).
ENROLLED_BY_ANNOTATION = "kmesh.net/enrolled-by"
ENROLLED_BY_CNI = "cni"
ENROLLED_BY_WATCH = "watch"
BYPASS_LABEL = "kmesh.net/bypass"
WAYPOINT_LABEL = "gateway.istio.io/managed"
WAYPOINT_VALUE = "istio.io-mesh-controller"
SIDECAR_ANNOTATION = "sidecar.istio.io/status"
SIDECAR_CONTAINER = "istio-proxy"


@dataclass(frozen=True)
class PodView:
    name: str
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    containers: tuple[str, ...] = ()
    host_network: bool = False
    node_name: str = ""
    uid: str = ""
    phase: str = ""
    pod_ip: str = ""

    @classmethod
    def from_k8s(cls, pod: Any) -> "PodView":
        """From a kubernetes client V1Pod or the API's JSON (dict)."""
        if isinstance(pod, Mapping):
            meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status") or {}
            containers = spec.get("containers") or []
            init = spec.get("initContainers") or []
            return cls(name=meta.get("name", ""), namespace=meta.get("namespace", ""),
                       labels=dict(meta.get("labels") or {}),
                       annotations=dict(meta.get("annotations") or {}),
                       containers=tuple(c.get("name", "") for c in containers + init),
                       host_network=bool(spec.get("hostNetwork")), node_name=spec.get("nodeName") or "",
                       uid=meta.get("uid") or "", phase=status.get("phase") or "",
                       pod_ip=status.get("podIP") or "")
        meta, spec, status = pod.metadata, pod.spec, pod.status
        containers = list(spec.containers or []) + list(spec.init_containers or [])
        return cls(name=meta.name or "", namespace=meta.namespace or "",
                   labels=dict(meta.labels or {}), annotations=dict(meta.annotations or {}),
                   containers=tuple(c.name for c in containers), host_network=bool(spec.host_network),
                   node_name=spec.node_name or "", uid=meta.uid or "",
                   phase=(status.phase if status else "") or "", pod_ip=(status.pod_ip if status else "") or "")


@dataclass(frozen=True)
class Decision:
    enroll: bool
    reason: str


def has_sidecar(pod: PodView) -> bool:
    return SIDECAR_ANNOTATION in pod.annotations or SIDECAR_CONTAINER in pod.containers


def is_waypoint(pod: PodView) -> bool:
    return pod.labels.get(WAYPOINT_LABEL) == WAYPOINT_VALUE


def is_bypassed(pod: PodView, enable_bypass: bool) -> bool:
    return enable_bypass and pod.labels.get(BYPASS_LABEL) == "enabled"


def mode_of(labels: Mapping[str, str]) -> str | None:
    value = labels.get(MODE_LABEL)
    return value.lower() if value is not None else None


def namespace_enabled(namespace_labels: Mapping[str, str]) -> bool:
    return mode_of(namespace_labels) == MODE_KMESH


def decide(pod: PodView, namespace_labels: Mapping[str, str], enable_bypass: bool) -> Decision:
    """Whether ``pod`` belongs in the Kmesh data path, and why."""
    if pod.host_network:
        return Decision(False, "hostNetwork pod")
    if has_sidecar(pod):
        return Decision(False, "pod has an Istio sidecar")
    if is_waypoint(pod):
        return Decision(False, "waypoint pod")
    if is_bypassed(pod, enable_bypass):
        return Decision(False, f"pod labelled {BYPASS_LABEL}=enabled")
    pod_mode = mode_of(pod.labels)
    if pod_mode == MODE_KMESH:
        return Decision(True, f"pod labelled {MODE_LABEL}=Kmesh")
    if pod_mode == MODE_NONE:
        return Decision(False, f"pod opted out with {MODE_LABEL}=none")
    if pod_mode is not None:
        return Decision(False, f"pod labelled {MODE_LABEL}={pod.labels[MODE_LABEL]} (another data plane)")
    if namespace_enabled(namespace_labels):
        return Decision(True, f"namespace labelled {MODE_LABEL}=Kmesh")
    return Decision(False, "neither pod nor namespace labelled for Kmesh")


def is_annotated(pod: PodView) -> bool:
    return pod.annotations.get(REDIRECTION_ANNOTATION) == REDIRECTION_ENABLED
