"""`kmeshctl sandbox up | down | status | exec`: the orchestration. The pieces live in
their own modules (manifests, pods, containers, waypoint, controlplane, agent); this
module puts them in order, records every step on disk, and undoes them."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.podnet import NETNS_DIR, Pod, join_cgroup, kill_cgroup_tree, remove_cgroup_tree
from kmeshctl.sandbox import agent as agent_mod
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox.controlplane import wait_sockets
from kmeshctl.sandbox.envoy_config import route_cluster_keys, route_name
from kmeshctl.sandbox.pods import (
    PodPlan,
    add_pod,
    plan_pods,
    plan_vips,
    pod_network,
    pod_of,
    start_process,
    wait_listening,
)
from kmeshctl.sandbox.state import (
    PHASE_READY,
    ProcessRecord,
    SandboxState,
    new_state,
)
from kmeshctl.sandbox.topology import Topology, WaypointInfo, check_no_name_clash
from kmeshctl.sandbox.waypoint import (
    EnvoyAdmin,
    envoy_binary,
    route_weights,
    start_envoy,
    wait_ready,
    write_bootstrap,
)

Progress = Callable[[str], None]
READY_TIMEOUT_S = 30.0


def _quiet(_: str) -> None:
    pass


def require_root() -> None:
    if os.geteuid() != 0:
        raise KmeshctlError("the sandbox needs root (network namespaces, cgroups, eBPF): "
                            "run it with sudo")


# ---------------------------------------------------------------- up


def up(name: str, files: Sequence[Path], progress: Progress = _quiet) -> SandboxState:
    """Create the sandbox. Everything is validated first; on failure what was made is removed."""
    require_root()
    manifests = manifests_mod.load(files)
    check_no_name_clash(manifests)
    plans = plan_pods(manifests)
    vips = plan_vips(manifests)
    envoy_binary()
    agent_mod.preflight()
    _refuse_existing(name)
    state = new_state(name)
    state.vips = vips
    state.save()
    state.manifests_file.write_text(yaml.safe_dump_all(manifests.documents, sort_keys=False))
    try:
        _create(state, plans, progress)
    except BaseException:
        progress("sandbox up failed: removing what was created")
        teardown(state, _quiet)
        raise
    state.phase = PHASE_READY
    state.save()
    return state


def _refuse_existing(name: str) -> None:
    state = SandboxState.load(name)
    if state is None and not _leftovers(SandboxState(name=name)):
        return
    if state is not None and state.phase == PHASE_READY:
        raise KmeshctlError(f"sandbox {name} is already up (see `kmeshctl sandbox status`); "
                            "run `kmeshctl sandbox down` first")
    if state is not None and state.up_is_running():
        raise KmeshctlError(f"sandbox {name} is being created by pid {state.up_pid}; "
                            "wait for it, or run `kmeshctl sandbox down`")
    raise KmeshctlError(f"a previous `sandbox up` of {name} did not finish: "
                        "run `kmeshctl sandbox down` to clean it up, then up again")


def _create(state: SandboxState, plans: list[PodPlan], progress: Progress) -> None:
    for cgroup in (state.cgroup, state.pods_cgroup, state.system_cgroup):
        cgroup.mkdir(exist_ok=True)
    network = pod_network(state)
    network.create()
    progress(f"pod network {network.subnet} (bridge in netns {network.router_netns})")
    pods: dict[str, Pod] = {}
    for plan in plans:
        pods[plan.name] = add_pod(network, state, plan)
        progress(f"pod {plan.namespace}/{plan.name}: {pods[plan.name].ip}")
        if plan.waypoint:
            state.waypoints.append(vars(WaypointInfo(plan.deployment, plan.namespace, plan.name,
                                                     str(pods[plan.name].ip))))
    state.save()
    _start_control_plane(state, progress)
    agent_mod.start(state, start_daemon, progress)
    agent_mod.enroll_mesh_pods(state, progress)
    for plan in plans:
        if not plan.waypoint:
            _start_containers(state, plan, pods[plan.name], progress)
    for waypoint in state.waypoint_infos():
        _start_waypoint(state, waypoint, pods[waypoint.pod], progress)


def start_daemon(state: SandboxState, role: str, argv: list[str]) -> subprocess.Popen:
    """A host-side process of the sandbox, in a cgroup under the sandbox's (so `down`
    finds it even if the record is lost)."""
    cgroup = state.system_cgroup / role
    cgroup.mkdir(exist_ok=True)
    log = state.logs_dir / f"{role}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=lambda: join_cgroup(cgroup))
    state.processes.append(ProcessRecord(role, process.pid, "", str(log)))
    state.save()
    return process


def _start_control_plane(state: SandboxState, progress: Progress) -> None:
    process = start_daemon(state, "controlplane",
                           [sys.executable, "-m", "kmeshctl.sandbox.controlplane", "--name", state.name])
    sockets = [state.xds_socket] + [state.waypoint_xds_socket(w) for w in state.waypoint_infos()]
    wait_sockets(sockets, lambda: process.poll() is None, READY_TIMEOUT_S,
                 state.logs_dir / "controlplane.log")
    progress(f"control plane: delta ADS on unix:{state.xds_socket} (pid {process.pid})")


def _start_containers(state: SandboxState, plan: PodPlan, pod: Pod, progress: Progress) -> None:
    log = state.logs_dir / f"{plan.name}.log"
    workdir = state.dir / "pods" / plan.name
    workdir.mkdir(parents=True, exist_ok=True)
    for spec in plan.processes:
        process = start_process(pod, spec.argv, log, cwd=workdir)
        state.processes.append(ProcessRecord("container", process.pid, plan.name, str(log)))
        state.save()
        for port in spec.ports:
            wait_listening(pod, port, process, READY_TIMEOUT_S, log)
        progress(f"pod {plan.name}: {spec.implementation} running"
                 + (f", listening on {', '.join(map(str, spec.ports))}" if spec.ports else ""))


def _start_waypoint(state: SandboxState, waypoint: WaypointInfo, pod: Pod, progress: Progress) -> None:
    workdir = state.dir / "pods" / waypoint.pod
    workdir.mkdir(parents=True, exist_ok=True)
    bootstrap = workdir / "envoy-bootstrap.json"
    admin_socket = state.envoy_admin_socket(waypoint)
    write_bootstrap(bootstrap, waypoint, state.waypoint_xds_socket(waypoint), admin_socket)
    log = state.logs_dir / f"{waypoint.pod}.log"
    process = start_envoy(pod, bootstrap, log, workdir)
    state.processes.append(ProcessRecord("waypoint", process.pid, waypoint.pod, str(log)))
    state.save()
    wait_ready(EnvoyAdmin(admin_socket), process, READY_TIMEOUT_S, log)
    progress(f"waypoint {waypoint.namespace}/{waypoint.name}: Envoy ready on "
             f"{waypoint.ip}:{waypoint.port} (PROXY protocol), admin unix:{admin_socket}")


# ---------------------------------------------------------------- down


def down(name: str, progress: Progress = _quiet) -> bool:
    """Remove the sandbox; False when there was nothing to remove."""
    require_root()
    state = SandboxState.load(name) or SandboxState(name=name)
    if not state.dir.exists() and not _leftovers(state):
        return False
    teardown(state, progress)
    return True


def _leftovers(state: SandboxState) -> list[str]:
    found = [str(p) for p in (state.cgroup, state.bpffs, state.dir) if p.exists()]
    if NETNS_DIR.is_dir():
        found += [n.name for n in NETNS_DIR.iterdir() if n.name.startswith(f"{state.netns_prefix}-")]
    return found


def teardown(state: SandboxState, progress: Progress) -> None:
    """Processes first (one kill of the whole cgroup tree), then BPF objects, pods,
    cgroups and the record. Safe to repeat; every step tolerates a half-made sandbox."""
    _stop_up_process(state)
    killed = kill_cgroup_tree(state.cgroup)
    progress(f"stopped {killed} processes")
    agent_mod.cleanup(state, progress)
    pod_network(state).destroy()
    progress("removed pods and the pod network")
    remove_cgroup_tree(state.cgroup)
    shutil.rmtree(state.dir, ignore_errors=True)
    remaining = _leftovers(state)
    if remaining:
        raise KmeshctlError(f"sandbox {state.name}: could not remove {', '.join(remaining)}; "
                            "run `kmeshctl sandbox down` again")


def _stop_up_process(state: SandboxState) -> None:
    """A `sandbox up` still creating this sandbox (not us) is stopped first."""
    if state.phase != PHASE_READY and state.up_pid != os.getpid() and state.up_is_running():
        try:
            os.kill(state.up_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- status


def loaded_state(name: str) -> SandboxState:
    state = SandboxState.load(name)
    if state is None:
        raise KmeshctlError(f"sandbox {name} is not up: run `kmeshctl sandbox up`")
    return state


def status(name: str) -> dict[str, Any]:
    require_root()
    state = loaded_state(name)
    topology = state.topology() if state.manifests_file.exists() else None
    enrolled = agent_mod.enrolled_pods(state)
    return {
        "name": state.name,
        "phase": state.phase,
        "pods": [_pod_status(state, p.name, enrolled) for p in state.pods],
        "services": [_service_status(topology, s) for s in
                     (topology.manifests.services if topology else [])],
        "waypoints": [_waypoint_status(state, w) for w in state.waypoint_infos()],
        "controlplane": _daemon_status(state, "controlplane"),
        "agent": agent_mod.status(state),
    }


def _pod_status(state: SandboxState, pod_name: str, enrolled: set[str] | None) -> dict[str, Any]:
    record = state.pod(pod_name)
    assert record is not None
    expected = [p for p in state.processes if p.pod == pod_name]
    alive = [p for p in expected if _alive_in(p.pid, Path(record.cgroup))]
    running = bool(expected) and len(alive) == len(expected)
    return {
        "name": record.name,
        "namespace": record.namespace,
        "ip": record.ip,
        "state": "Running" if running else ("Pending" if not expected else "Failed"),
        "enrolled": None if enrolled is None else record.name in enrolled,
        "waypoint": record.waypoint,
    }


def _alive_in(pid: int, cgroup: Path) -> bool:
    try:
        return str(pid) in (cgroup / "cgroup.procs").read_text().split()
    except OSError:
        return False


def _service_status(topology: Topology, service: manifests_mod.Service) -> dict[str, Any]:
    waypoint = topology.waypoint_of(service)
    return {
        "name": service.name,
        "namespace": service.namespace,
        "vip": topology.vip(service),
        "ports": [f"{p.port}->{p.target_port}" for p in service.ports],
        "waypoint": f"{waypoint.namespace}/{waypoint.name}" if waypoint else None,
    }


def _waypoint_status(state: SandboxState, waypoint: WaypointInfo) -> dict[str, Any]:
    admin = EnvoyAdmin(state.envoy_admin_socket(waypoint), timeout=2.0)
    ready = admin.ready()
    result: dict[str, Any] = {
        "name": f"{waypoint.namespace}/{waypoint.name}",
        "pod": waypoint.pod,
        "address": f"{waypoint.ip}:{waypoint.port}",
        "ready": ready,
        "admin": f"unix:{state.envoy_admin_socket(waypoint)}",
    }
    if ready:
        stats = admin.stats(r"^(listener_manager\.total_listeners_active|cluster_manager\.active_clusters)$")
        result["listeners"] = stats.get("listener_manager.total_listeners_active", 0)
        result["clusters"] = stats.get("cluster_manager.active_clusters", 0)
    return result


def _daemon_status(state: SandboxState, role: str) -> dict[str, Any]:
    records = state.processes_of(role)
    if not records:
        return {"running": False}
    pid = records[-1].pid
    return {"running": _alive_in(pid, state.system_cgroup / role), "pid": pid,
            "log": records[-1].log}


# ---------------------------------------------------------------- exec


def find_pod(state: SandboxState, name: str) -> Pod:
    """A pod by name, or the first pod of a Deployment (`netutils` -> `netutils-0`)."""
    record = state.pod(name) or next((p for p in state.pods if p.deployment == name
                                      and not p.waypoint), None)
    if record is None:
        known = ", ".join(p.name for p in state.pods)
        raise UsageError(f"no pod {name} in sandbox {state.name} (pods: {known})")
    return pod_of(record)


def exec_in_pod(name: str, pod_name: str, argv: Sequence[str]) -> int:
    """Run a command inside a pod (its cgroup, then its netns), with our stdin/stdout."""
    require_root()
    if not argv:
        raise UsageError("give the command to run after `--`")
    pod = find_pod(loaded_state(name), pod_name)
    try:
        process = pod.popen(list(argv))
    except FileNotFoundError as err:
        raise UsageError(f"command {argv[0]} not found on this host") from err
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()


# ---------------------------------------------------------------- live changes


def set_route_weights(name: str, vs_namespace: str, vs_name: str, weights: list[int],
                      timeout: float = 10.0) -> None:
    """Change a VirtualService's weights (first http route, in order) and wait until the
    waypoint's Envoy routes with them; no restart of anything."""
    state = loaded_state(name)
    documents = list(yaml.safe_load_all(state.manifests_file.read_text()))
    doc = _find_document(documents, "VirtualService", vs_namespace, vs_name)
    current = _virtual_service(manifests_mod.from_documents(documents), vs_namespace, vs_name)
    manifests_mod.with_weights(current, weights)  # wrong count or sum: UsageError, nothing changed
    updated = copy.deepcopy(doc)
    for route, weight in zip(updated["spec"]["http"][0]["route"], weights):
        route["weight"] = weight
    documents[documents.index(doc)] = updated
    manifests = manifests_mod.from_documents(documents)
    vs = _virtual_service(manifests, vs_namespace, vs_name)
    tmp = state.manifests_file.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    tmp.replace(state.manifests_file)
    _signal_control_plane(state, signal.SIGHUP)
    _wait_envoy_weights(state, manifests, vs, weights, timeout)


def _virtual_service(manifests: manifests_mod.Manifests, namespace: str, name: str
                     ) -> manifests_mod.VirtualService:
    return next(v for v in manifests.virtual_services if (v.namespace, v.name) == (namespace, name))


def _find_document(documents: list[dict], kind: str, namespace: str, name: str) -> dict:
    for doc in documents:
        meta = doc.get("metadata") or {}
        if doc.get("kind") == kind and meta.get("name") == name and \
                (meta.get("namespace") or manifests_mod.DEFAULT_NAMESPACE) == namespace:
            return doc
    raise UsageError(f"no {kind} {namespace}/{name} in the sandbox")


def _signal_control_plane(state: SandboxState, sig: signal.Signals) -> None:
    records = state.processes_of("controlplane")
    if not records or not _alive_in(records[-1].pid, state.system_cgroup / "controlplane"):
        raise KmeshctlError(f"the control plane of sandbox {state.name} is not running: "
                            "run `kmeshctl sandbox down` and up again")
    os.kill(records[-1].pid, sig)


def _wait_envoy_weights(state: SandboxState, manifests: manifests_mod.Manifests,
                        vs: manifests_mod.VirtualService, weights: list[int], timeout: float) -> None:
    current = state.topology()
    topology = Topology(manifests, current.pods, current.vips, current.waypoints)
    service = manifests.service_for_host(vs.hosts[0], vs.namespace)
    assert service is not None
    waypoint = topology.waypoint_of(service)
    if waypoint is None:
        return
    port = service.ports[0]
    plan = route_cluster_keys(topology, service, port)
    expected = {key.name: weight for weight, key in plan[0][1] if weight > 0}
    if len(expected) == 1:
        expected = {name: 100 for name in expected}
    admin = EnvoyAdmin(state.envoy_admin_socket(waypoint))
    wanted_route = route_name(service, port)
    deadline = time.monotonic() + timeout
    while True:
        configs = {c["name"]: c for c in admin.route_configs()}
        if wanted_route in configs and route_weights(configs[wanted_route]) == expected:
            return
        if time.monotonic() > deadline:
            raise KmeshctlError(f"the waypoint did not receive weights {weights} within "
                                f"{timeout:.0f}s: see {state.logs_dir / 'controlplane.log'}")
        time.sleep(0.05)
