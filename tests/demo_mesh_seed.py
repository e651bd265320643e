"""What the cluster demo checks before it applies anything (kmeshctl.demo_cluster.
split_needs_error), seeded into a stand-in API server: the kmesh DaemonSet (ready or
not) in kmesh-system, and the waypoint the fortio Service names (a Gateway of class
istio-waypoint, programmed by istiod or not). The stand-in runs no agent: the objects
carry the status a real cluster's controllers would give them."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Optional

import yaml

from kmeshctl.params import DEFAULT_NAMESPACE
from kmeshctl.render import COMMON_LABELS, DAEMONSET_NAME
from kmeshctl.waypoint.deploy import GATEWAY_API, GATEWAY_CLASS
from standin import StandinApiServer, istio_crds, namespace, node

WAYPOINT_ADDRESS = "10.96.0.250"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "fortio"


def gateway_crd() -> dict:
    """The Gateway API's Gateway CRD, as the stand-in needs it to serve the kind."""
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gateways.gateway.networking.k8s.io"},
            "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
                     "names": {"plural": "gateways", "singular": "gateway", "kind": "Gateway",
                               "listKind": "GatewayList"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def kmesh_daemonset(ready: bool = True, ns: str = DEFAULT_NAMESPACE) -> dict:
    """The DaemonSet `kmeshctl install` makes, with the status of one node's agent."""
    labels = {"app": "kmesh"}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": DAEMONSET_NAME, "namespace": ns, "labels": dict(COMMON_LABELS)},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "kmesh", "image": "kmesh:test"}]}}},
            "status": {"desiredNumberScheduled": 1, "updatedNumberScheduled": 1, "numberReady": 1 if ready else 0}}


def waypoint_gateway(name: str = "waypoint", ns: str = "default", programmed: bool = True) -> dict:
    """A waypoint's Gateway; ``programmed``: istiod gave it an address (what `waypoint
    apply --wait` waits for)."""
    status = {"addresses": [{"type": "IPAddress", "value": WAYPOINT_ADDRESS}],
              "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed"}]} if programmed else {
        "conditions": [{"type": "Programmed", "status": "False", "reason": "Pending"}]}
    return {"apiVersion": GATEWAY_API, "kind": "Gateway", "metadata": {"name": name, "namespace": ns},
            "spec": {"gatewayClassName": GATEWAY_CLASS,
                     "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]},
            "status": status}


def seed_mesh(server: StandinApiServer, kmesh: Optional[str] = "ready", waypoint: Optional[str] = "programmed",
              gateway_api: bool = True) -> None:
    """kmesh: "ready" | "not-ready" | None (not installed); waypoint: "programmed" |
    "pending" | None (no Gateway); gateway_api: whether the cluster serves Gateway."""
    if kmesh is not None:
        server.put(namespace(DEFAULT_NAMESPACE))
        server.put(kmesh_daemonset(ready=kmesh == "ready"))
    if gateway_api:
        server.put(gateway_crd())
    if gateway_api and waypoint is not None:
        server.put(waypoint_gateway(programmed=waypoint == "programmed"))


def fortio_docs() -> list[dict]:
    """Every document of examples/fortio/*.yaml, in file order: what the demo applies."""
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


@contextlib.contextmanager
def standin_mesh(waypoint: Optional[str] = "programmed") -> Iterator[StandinApiServer]:
    """A started stand-in API server (Deployments made ready at once) with namespace
    default, one node and seed_mesh(waypoint=...); stopped at the end."""
    api = StandinApiServer(crds=istio_crds())
    api.deployment_controller = "ready"
    api.controller_delay = 0.05
    api.put(namespace("default"))
    api.put(node("node-a"))
    seed_mesh(api, waypoint=waypoint)
    api.start()
    try:
        yield api
    finally:
        api.stop()
