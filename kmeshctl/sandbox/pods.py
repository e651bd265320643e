"""Pods of the sandbox, made the way a container runtime makes them: the pod's object in
the sandbox's pod store (`kmeshctl.cni.localpods`, what the node agent decides from), a
fresh network namespace and cgroup, then the node's CNI config list run for it
(`kmeshctl.cni.runtime`): Debian's reference plugins (bridge + host-local, loopback) and
the kmesh plugin the node agent chained last, which enrolls the pod before any of its
processes exists. `sandbox down` runs DEL the same way. Service VIPs come from the
service range and exist only as keys the data path knows; no interface carries them.

The bridge lives in the sandbox's own node namespace (no uplink, nothing in the host's
network namespace), host-local keeps its reservations under the sandbox's record, so two
sandboxes never share a name, an address file or a cache entry."""

from __future__ import annotations

import ipaddress
import json
import secrets
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kmeshctl.cni.localpods import LocalPods
from kmeshctl.cni.runtime import REFERENCE_BIN_DIR, CniError, CniPod, CniRuntime, missing_reference_plugins
from kmeshctl.cni.install import write_atomic
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.podnet import NETNS_DIR, POD_CGROUP_PREFIX, Pod, PodNetwork, enter_netns
from kmeshctl.sandbox.containers import ProcessSpec, process_for
from kmeshctl.sandbox.manifests import USE_WAYPOINT_LABEL, Manifests
from kmeshctl.sandbox.state import (
    FIRST_VIP_OFFSET,
    POD_SUBNET,
    SERVICE_SUBNET,
    PodRecord,
    SandboxState,
)
from kmeshctl.sandbox.topology import (
    SANDBOX_NODE,
    WAYPOINT_MANAGED_LABEL,
    WAYPOINT_MANAGED_VALUE,
    waypoint_keys,
)

# The bridge the bridge plugin makes in the sandbox's node namespace (private to the
# sandbox, so the name never meets another sandbox's).
BRIDGE = "kmbr0"
NETWORK_NAME = "kmesh-sandbox"
CONF_NAME = "10-kmesh-sandbox.conflist"
WAYPOINT_CONTAINER = "waypoint"
SLOW_DEL_S = 1.0  # a CNI DEL that took this long says so (a node agent that answers late)

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
    containers: tuple[str, ...] = ()  # container names, as the pod object lists them


def plan_pods(manifests: Manifests) -> list[PodPlan]:
    """Every pod `up` will create, validated (images, unique names) before anything exists."""
    plans: list[PodPlan] = []
    for deployment in manifests.deployments:
        try:
            processes = tuple(process_for(c, deployment) for c in deployment.containers)
        except UsageError as err:  # `-f FILE: Deployment NAME: container ...`, as every file error
            raise UsageError(f"{manifests.source('Deployment', deployment.namespace, deployment.name)}{err}") \
                from None
        for index in range(deployment.replicas):
            plans.append(PodPlan(f"{deployment.name}-{index}", deployment.namespace,
                                 deployment.name, dict(deployment.pod_labels), processes,
                                 containers=tuple(c.name for c in deployment.containers)))
    plans = _waypoint_plans(manifests, {p.name for p in plans}) + plans  # waypoints first, as ever
    _check_unique_names(plans)
    return plans


def _waypoint_plans(manifests: Manifests, taken: set[str]) -> list[PodPlan]:
    keys = waypoint_keys(manifests)
    return [PodPlan(waypoint_pod_name(keys, namespace, name, taken), namespace, name,
                    {WAYPOINT_MANAGED_LABEL: WAYPOINT_MANAGED_VALUE, WAYPOINT_NAME_LABEL: name},
                    (), waypoint=True, containers=(WAYPOINT_CONTAINER,))
            for namespace, name in keys]


def waypoint_pod_name(keys: list[tuple[str, str]], namespace: str, name: str, taken: set[str]) -> str:
    """The waypoint's name, or NAME-NAMESPACE when another namespace's waypoint has that
    name too (each namespace may have its `waypoint`, as in Kubernetes) or a Deployment's
    pod does: the sandbox's pod names are unique across namespaces (its netns, cgroup,
    log and `sandbox exec POD` go by them). The waypoint keeps its name for routing."""
    shared = sum(1 for _, other in keys if other == name) > 1
    return f"{name}-{namespace}" if shared or name in taken else name


def _check_unique_names(plans: list[PodPlan]) -> None:
    seen: dict[str, PodPlan] = {}
    for plan in plans:
        first = seen.setdefault(plan.name, plan)
        if first is not plan:
            raise UsageError(f"two pods would be named {plan.name} ({_made_by(first)} and {_made_by(plan)}): "
                             "pod names must be unique across namespaces in the sandbox; rename one of them")


def _made_by(plan: PodPlan) -> str:
    if plan.waypoint:
        return f"the waypoint {plan.namespace}/{plan.deployment}, named by an {USE_WAYPOINT_LABEL} label"
    return f"Deployment {plan.namespace}/{plan.deployment}"


def plan_vips(manifests: Manifests) -> dict[str, str]:
    """Service VIPs in file order, from the service range."""
    network = ipaddress.IPv4Network(SERVICE_SUBNET)
    if len(manifests.services) > network.num_addresses - FIRST_VIP_OFFSET - 1:
        raise UsageError(f"too many Services for the sandbox's range {SERVICE_SUBNET}")
    return {f"{s.namespace}/{s.name}": str(network.network_address + FIRST_VIP_OFFSET + i)
            for i, s in enumerate(manifests.services)}


def check_cni_plugins(bin_dir: Path = REFERENCE_BIN_DIR) -> None:
    """The reference plugins the sandbox's pods are made with; one line naming the fix."""
    missing = missing_reference_plugins(bin_dir)
    if missing:
        raise KmeshctlError(f"the sandbox creates its pods with the CNI reference plugins, and "
                            f"{', '.join(str(bin_dir / m) for m in missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} missing: run scripts/setup.sh "
                            "(or apt-get install containernetworking-plugins)")


def network_config(state: SandboxState) -> dict:
    """The node's CNI config list before the agent chains its plugin: a bridge in the
    node namespace, the pod's gateway on it, addresses from host-local (dataDir: ours)."""
    subnet = ipaddress.IPv4Network(POD_SUBNET)
    ipam = {"type": "host-local", "dataDir": str(state.cni_ipam_dir),
            "ranges": [[{"subnet": str(subnet), "gateway": str(subnet.network_address + 1)}]],
            "routes": [{"dst": "0.0.0.0/0"}]}
    return {"cniVersion": "1.0.0", "name": NETWORK_NAME, "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "ipam": ipam}]}


def create_node(state: SandboxState, manifests: Manifests) -> Path:
    """The node namespace, the CNI config the runtime reads (the agent chains into it) and
    the namespace objects. Returns the config's path."""
    for directory in (state.cni_conf_dir, state.cni_bin_dir, state.cni_ipam_dir, state.cni_cache_dir):
        directory.mkdir(parents=True, exist_ok=True)
    _ip("netns", "add", state.node_netns)
    _ip("-n", state.node_netns, "link", "set", "lo", "up")
    conf = state.cni_conf_dir / CONF_NAME
    write_atomic(conf, (json.dumps(network_config(state), indent=2) + "\n").encode())
    pods = LocalPods(state.local_pods_dir)
    namespaces = {d.namespace for d in manifests.deployments} | {ns for ns, _ in waypoint_keys(manifests)}
    for namespace in sorted(namespaces):
        pods.put_namespace(namespace, manifests.namespace(namespace).labels)
    return conf


def cni_runtime(state: SandboxState) -> CniRuntime:
    """The runtime side: the node's config list, our bin dir (the kmesh plugin) before the
    reference plugins, the runtime's cache, plugins run in the node namespace."""
    return CniRuntime(state.cni_conf_dir, [state.cni_bin_dir, REFERENCE_BIN_DIR], state.cni_cache_dir,
                      NETNS_DIR / state.node_netns)


def cni_pod(record: PodRecord) -> CniPod:
    return CniPod(record.container_id, str(NETNS_DIR / record.netns), record.namespace, record.name, record.uid)


def add_pod(state: SandboxState, plan: PodPlan, runtime: CniRuntime) -> Pod:
    """Create the pod as a runtime does (module docstring), recorded before anything exists
    so `down` finds what a crash left; ADD then CHECK. Raises CniError (the ADD undone)."""
    record = PodRecord(plan.name, plan.namespace, plan.deployment, plan.labels, "",
                       f"{state.netns_prefix}-{plan.name}",
                       str(state.pods_cgroup / f"{POD_CGROUP_PREFIX}{plan.name}"), plan.waypoint,
                       container_id=secrets.token_hex(32), uid=str(uuid.uuid4()))
    LocalPods(state.local_pods_dir).put_pod(plan.namespace, plan.name, record.uid, plan.labels,
                                            list(plan.containers), SANDBOX_NODE)
    state.pods.append(record)
    state.save()
    _ip("netns", "add", record.netns)
    Path(record.cgroup).mkdir(exist_ok=True)
    results = runtime.add(cni_pod(record))
    runtime.check(cni_pod(record))
    record.ip = _pod_address(results[-1], plan.name)
    state.save()
    return pod_of(record)


def _pod_address(result: dict, name: str) -> str:
    for ip in result.get("ips") or []:
        address = ipaddress.ip_interface(ip.get("address", "0.0.0.0/0"))
        if address.version == 4:
            return str(address.ip)
    raise CniError(f"CNI ADD of pod {name} gave no IPv4 address: {json.dumps(result)[:300]}")


def remove_pods(state: SandboxState, progress: Callable[[str], None]) -> None:
    """DEL of every pod the runtime's cache knows (ADD begun), while the node agent still
    runs: the kmesh plugin releases the pod, host-local its address, the bridge its veth.
    Then the pod objects and network namespaces go. A failed DEL is reported and the
    rest goes on: deleting the netns and the record removes what it left."""
    runtime = cni_runtime(state)
    pods = LocalPods(state.local_pods_dir)
    created = [r.container_id for r in state.pods]
    last_first = sorted(runtime.cached_pods(), key=lambda p: -created.index(p.container_id)
                        if p.container_id in created else 1)
    for pod in last_first:
        result = runtime.result(pod)
        address = _pod_address(result, pod.name) if result else ""
        began = time.monotonic()
        try:
            runtime.delete(pod)
        except CniError as err:
            progress(f"pod {pod.namespace}/{pod.name}: {err} (its netns and the record go anyway)")
        else:
            took = time.monotonic() - began
            slow = f", after {took:.1f}s" if took >= SLOW_DEL_S else ""
            freed = f"{address} released" if address else "it had no address yet"
            progress(f"pod {pod.namespace}/{pod.name}: CNI DEL done ({freed}{slow})")
    for record in state.pods:
        try:
            pods.delete_pod(record.namespace, record.name)
        except KmeshctlError:
            pass
        _delete_netns(record.netns)


def destroy_network(state: SandboxState) -> None:
    """Whatever is left, found by name alone (pod cgroups, every netns of the sandbox)."""
    PodNetwork(state.netns_prefix, ipaddress.IPv4Network(POD_SUBNET), state.pods_cgroup).destroy()


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise KmeshctlError(f"'ip {' '.join(args)}' failed: {result.stderr.strip()}")


def _delete_netns(name: str) -> None:
    if (NETNS_DIR / name).exists():
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def pod_of(record: PodRecord) -> Pod:
    """The pod of ``record``. Raises KmeshctlError when it has no IP yet: its `sandbox up`
    records it before the CNI ADD that gives it one (or stopped in between)."""
    if not record.ip:
        raise KmeshctlError(f"pod {record.namespace}/{record.name} has no IP yet (its `sandbox up` has not added it "
                            f"to the pod network); see `kmeshctl sandbox list`")
    return Pod(record.name, record.netns, ipaddress.IPv4Address(record.ip), Path(record.cgroup))


def start_process(pod: Pod, argv: tuple[str, ...] | list[str], log: Path,
                  cwd: Path | None = None) -> subprocess.Popen:
    """A long-lived process in the pod, detached from the caller (survives `up` exiting)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return pod.popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)


TCP_LISTEN = "0A"  # the state column of /proc/net/tcp for LISTEN


def _proc_address(hex_address: str, byteorder: str | None = None) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/tcp{,6}: the kernel prints the address's bytes as 32-bit words,
    each read in the host's byte order (``byteorder``, default sys.byteorder) and shown in
    hex (`0100007F` is 127.0.0.1 on x86, `7F000001` on s390x): each word's bytes are its
    value in that order."""
    order = byteorder or sys.byteorder
    words = [int(hex_address[i:i + 8], 16).to_bytes(4, order)  # type: ignore[arg-type]
             for i in range(0, len(hex_address), 8)]
    return ipaddress.ip_address(b"".join(words))


def listens_in(proc_net_tcp: str, ip: ipaddress.IPv4Address, port: int) -> bool:
    """Whether /proc/net/tcp or tcp6 text ``proc_net_tcp`` has a LISTEN socket that accepts
    connections to ``ip``:``port`` (bound to it, to the wildcard, or to ``ip`` v4-mapped)."""
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != TCP_LISTEN:
            continue
        hex_address, _, hex_port = fields[1].partition(":")
        try:
            address = _proc_address(hex_address)
        except ValueError:
            continue
        if int(hex_port, 16) != port:
            continue
        mapped = getattr(address, "ipv4_mapped", None)
        if address.is_unspecified or address == ip or mapped == ip:
            return True
    return False


def tcp_open(pod: Pod, port: int) -> bool:
    """Whether a process of the pod listens on pod_ip:port: a LISTEN socket in the pod's
    network namespace, not a connection, which the data path would subject to the pod's
    AuthorizationPolicies (kubelet's probes are not)."""
    result: dict[str, bool] = {}

    def probe() -> None:
        try:
            enter_netns(pod.netns_path)
            # /proc/thread-self/net: the netns of this thread, the one setns() moved
            texts = [Path(f"/proc/thread-self/net/{f}").read_text() for f in ("tcp", "tcp6")
                     if Path(f"/proc/thread-self/net/{f}").exists()]
            result["open"] = any(listens_in(text, pod.ip, port) for text in texts)
        except OSError:
            result["open"] = False

    # setns() affects only the calling thread; a short-lived thread keeps us in our netns.
    thread = threading.Thread(target=probe, name=f"probe-{pod.name}")
    thread.start()
    thread.join()
    return result.get("open", False)
