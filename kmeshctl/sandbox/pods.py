"""Pods of the sandbox: one network namespace + one cgroup per replica (via
`kmeshctl.podnet`), addresses from the pod range, Service VIPs from the service range.
The VIPs exist only as keys the data path knows; no interface carries them."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from kmeshctl.errors import UsageError
from kmeshctl.podnet import Pod, PodNetwork, enter_netns
from kmeshctl.sandbox.containers import ProcessSpec, process_for
from kmeshctl.sandbox.manifests import Manifests
from kmeshctl.sandbox.state import (
    FIRST_VIP_OFFSET,
    POD_SUBNET,
    SERVICE_SUBNET,
    PodRecord,
    SandboxState,
)
from kmeshctl.sandbox.topology import (
    WAYPOINT_MANAGED_LABEL,
    WAYPOINT_MANAGED_VALUE,
    waypoint_keys,
)

WAYPOINT_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"


@dataclass(frozen=True)
class PodPlan:
    """A pod to create: its identity and the processes of its containers."""

    name: str
    namespace: str
    deployment: str
    labels: dict[str, str]
    processes: tuple[ProcessSpec, ...]
    waypoint: bool = False


def plan_pods(manifests: Manifests) -> list[PodPlan]:
    """Every pod `up` will create, validated (images, unique names) before anything exists."""
    plans = [PodPlan(name, namespace, name,
                     {WAYPOINT_MANAGED_LABEL: WAYPOINT_MANAGED_VALUE, WAYPOINT_NAME_LABEL: name},
                     (), waypoint=True)
             for namespace, name in waypoint_keys(manifests)]
    for deployment in manifests.deployments:
        processes = tuple(process_for(c, deployment) for c in deployment.containers)
        for index in range(deployment.replicas):
            plans.append(PodPlan(f"{deployment.name}-{index}", deployment.namespace,
                                 deployment.name, dict(deployment.pod_labels), processes))
    seen: set[str] = set()
    for plan in plans:
        if plan.name in seen:
            raise UsageError(f"two pods would be named {plan.name}: pod names must be unique "
                             "across namespaces in the sandbox; rename a Deployment")
        seen.add(plan.name)
    return plans


def plan_vips(manifests: Manifests) -> dict[str, str]:
    """Service VIPs in file order, from the service range."""
    network = ipaddress.IPv4Network(SERVICE_SUBNET)
    if len(manifests.services) > network.num_addresses - FIRST_VIP_OFFSET - 1:
        raise UsageError(f"too many Services for the sandbox's range {SERVICE_SUBNET}")
    return {f"{s.namespace}/{s.name}": str(network.network_address + FIRST_VIP_OFFSET + i)
            for i, s in enumerate(manifests.services)}


def pod_network(state: SandboxState) -> PodNetwork:
    return PodNetwork(state.netns_prefix, ipaddress.IPv4Network(POD_SUBNET), state.pods_cgroup)


def add_pod(network: PodNetwork, state: SandboxState, plan: PodPlan) -> Pod:
    """Create the pod and record it right away, so a crash leaves it findable."""
    pod = network.add_pod(plan.name)
    state.pods.append(PodRecord(plan.name, plan.namespace, plan.deployment, plan.labels,
                                str(pod.ip), pod.netns, str(pod.cgroup), plan.waypoint))
    state.save()
    return pod


def pod_of(record: PodRecord) -> Pod:
    return Pod(record.name, record.netns, ipaddress.IPv4Address(record.ip), Path(record.cgroup))


def start_process(pod: Pod, argv: tuple[str, ...] | list[str], log: Path,
                  cwd: Path | None = None) -> subprocess.Popen:
    """A long-lived process in the pod, detached from the caller (survives `up` exiting)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return pod.popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)


def tcp_open(pod: Pod, port: int) -> bool:
    """Whether something accepts connections on pod_ip:port, tried from inside the pod."""
    result: dict[str, bool] = {}

    def probe() -> None:
        try:
            enter_netns(pod.netns_path)
            with socket.create_connection((str(pod.ip), port), timeout=0.5):
                result["open"] = True
        except OSError:
            result["open"] = False

    # setns() affects only the calling thread; a short-lived thread keeps us in our netns.
    thread = threading.Thread(target=probe, name=f"probe-{pod.name}")
    thread.start()
    thread.join()
    return result.get("open", False)
