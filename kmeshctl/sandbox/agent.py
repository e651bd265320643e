"""The node agent in the sandbox: `kmeshctl node run` against the sandbox control plane
(plaintext delta ADS over a unix socket), its eBPF programs attached at the sandbox's
cgroup and its maps pinned under the sandbox's own bpffs directory. It enrolls pods
through its CNI plugin, as on a cluster node: at start it installs the plugin into the
sandbox's CNI bin dir and chains it into the sandbox's CNI config list; the sandbox's CNI
runtime then runs that list for each pod, and the agent decides each ADD with the Kmesh
rules (`kmeshctl.enrollment`) from the pod and namespace objects the sandbox writes (there
is no Kubernetes API here: `--local-pods`)."""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from kmeshctl import enrollment, nodecheck
from kmeshctl.cni.install import PLUGIN_TYPE
from kmeshctl.cni.localpods import LocalPods
from kmeshctl.node import loader
from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import DataplaneMaps
from kmeshctl.podnet import NETNS_DIR, netns_cookie
from kmeshctl.sandbox.manifests import Manifests
from kmeshctl.sandbox.state import SandboxState
from kmeshctl.sandbox.topology import SANDBOX_NODE

READY_TIMEOUT_S = 90.0  # bcc compiles the programs at start
HTTP_TIMEOUT_S = 5.0
Progress = Callable[[str], None]


def preflight() -> None:
    """What the data path needs (BPF, cgroup v2, bpffs mounted, bcc, headers). The host's
    bpffs and cgroup2 hidden from here (`ip netns exec`) are said whole, never mounted anew:
    pins in another namespace's bpffs would go with it."""
    nodecheck.check_host_mounts_seen("the host's bpf and cgroup2 filesystems, where a sandbox's pins and "
                                     "processes live,", hidden="they are")
    failed = [r for r in nodecheck.run_preflight(mount_missing=True) if not r.ok]
    if failed:
        raise KmeshctlError(f"the sandbox's data path cannot run: {failed[0].name}: {failed[0].detail}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def agent_argv(state: SandboxState, admin_port: int, metrics_port: int) -> list[str]:
    return [
        sys.executable, "-m", "kmeshctl", "node", "run",
        "--mode", "dual-engine",
        "--xds-address", f"unix:{state.xds_socket}",
        "--xds-insecure",
        "--bpf-fs", str(state.bpffs),
        "--cgroup2-path", str(state.cgroup),
        "--admin-port", str(admin_port),
        "--admin-socket", str(admin_socket(state)),
        "--metrics-port", str(metrics_port),
        "--enrollment", "local",
        "--pod-name", f"kmesh-sandbox-{state.name}",
        "--node-name", SANDBOX_NODE,
        "--instance-ip", "127.0.0.1",
        "--proc-root", "/proc",
        "--cni-conf-dir", str(state.cni_conf_dir),
        "--cni-bin-dir", str(state.cni_bin_dir),
        "--cni-socket", str(state.cni_socket),
        "--local-pods", str(state.local_pods_dir),
    ]


def start(state: SandboxState, start_daemon: Callable[[SandboxState, str, list[str]], Any],
          progress: Progress, check: Callable[[], None] = lambda: None) -> None:
    """Start the agent and wait until its CNI plugin is installed (pods can be created);
    `check` raises when another component of the sandbox died meanwhile."""
    admin_port, metrics_port = _free_port(), _free_port()
    state.agent = {"admin": f"127.0.0.1:{admin_port}", "metrics": f"127.0.0.1:{metrics_port}",
                   "enrolled": []}
    state.save()
    progress("starting the node agent: bcc compiles the eBPF programs (usually 20-60 s)")
    process = start_daemon(state, "agent", agent_argv(state, admin_port, metrics_port))
    log = state.logs_dir / "agent.log"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not cni_installed(state, log):
        check()
        if process.poll() is not None:
            raise KmeshctlError(f"the node agent exited ({process.returncode}): see {log}")
        if time.monotonic() > deadline:
            raise KmeshctlError(f"the node agent did not install its CNI plugin within {READY_TIMEOUT_S:.0f}s: "
                                f"see {log}")
        time.sleep(0.2)
    progress(f"node agent running (pid {process.pid}): programs at {state.cgroup}, "
             f"maps in {state.bpffs}, admin http://{state.agent['admin']}; CNI plugin {PLUGIN_TYPE} "
             f"chained into {state.cni_conf_dir}")


def cni_installed(state: SandboxState, log: Path) -> bool:
    """Whether the agent runs with its plugin chained last. Its admin port opens only after
    the data path is loaded and the CNI socket serves and the plugin is installed, so an
    answer there with no plugin chained means the agent did not install it: raises."""
    try:
        status, _ = _request(state, "GET", "/debug/live")
    except (OSError, ValueError):
        return False
    if status != 200:
        return False
    if not _chained(state):
        raise KmeshctlError(f"the node agent runs but did not chain its CNI plugin into {state.cni_conf_dir}: "
                            f"see {log} (event=cni_*)")
    return True


def _chained(state: SandboxState) -> bool:
    try:
        conf = json.loads(next(state.cni_conf_dir.glob("*.conflist")).read_text())
    except (StopIteration, OSError, ValueError):
        return False
    plugins = conf.get("plugins") or []
    return bool(plugins) and plugins[-1].get("type") == PLUGIN_TYPE


def wait_synced(state: SandboxState, pods: dict[str, str], check: Callable[[], None],
                timeout: float = READY_TIMEOUT_S) -> None:
    """Until the agent's cache holds every pod's Workload (workload uid -> IP in ``pods``),
    the response that brought them is ACKed (so it went through the maps) and the agent
    is ready. ``check`` raises when a component died meanwhile."""
    deadline = time.monotonic() + timeout
    while not _synced(state, pods):
        check()
        if time.monotonic() > deadline:
            raise KmeshctlError(f"the node agent did not receive every pod's workload within {timeout:.0f}s: "
                                f"see {state.logs_dir / 'agent.log'} and {state.logs_dir / 'controlplane.log'}")
        time.sleep(0.1)


def _synced(state: SandboxState, pods: dict[str, str]) -> bool:
    try:
        _, dump = _request(state, "GET", "/debug/config_dump/dual-engine")
        have = {w.get("uid"): w.get("addresses") or [] for w in (dump or {}).get("workloads", [])}
        if any(ip not in have.get(uid, []) for uid, ip in pods.items()):
            return False
        status, xds = _request(state, "GET", "/debug/xds")  # after the dump: what it showed is acked
    except (OSError, ValueError):
        return False
    answered = sum((xds.get("acks") or {}).values()) + sum((xds.get("nacksByType") or {}).values())
    return status == 200 and answered == sum((xds.get("responses") or {}).values()) and ready(state)


def admin_socket(state: SandboxState) -> Path:
    """The agent's root-only admin socket (enrollment goes there: the port is read-only)."""
    return state.dir / "admin" / "admin.sock"


def _admin_url(state: SandboxState, path: str) -> str:
    return f"http://{state.agent['admin']}{path}"


def _request(state: SandboxState, method: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(_admin_url(state, path), method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def ready(state: SandboxState) -> bool:
    if not state.agent.get("admin"):
        return False
    try:
        status, _ = _request(state, "GET", "/debug/ready")
    except (OSError, ValueError):
        return False
    return status == 200


def decision(manifests: Manifests, namespace: str, name: str, labels: dict[str, str]) -> enrollment.Decision:
    """What the agent decides for a pod (the same rules; for the sandbox's own messages)."""
    view = enrollment.PodView(name=name, namespace=namespace, labels=labels)
    return enrollment.decide(view, manifests.namespace(namespace).labels, enable_bypass=False)


def is_enrolled(state: SandboxState, netns: Path) -> bool:
    """Whether the netns's cookie is in the kernel's km_manage map now."""
    with DataplaneMaps(state.bpffs) as maps:
        return maps.is_enrolled(netns_cookie(netns))


def enrolled_by(state: SandboxState) -> dict[str, str]:
    """Pod name -> the path that enrolled it (the ``kmesh.net/enrolled-by`` annotation the
    agent wrote into the pod's object)."""
    pods = LocalPods(state.local_pods_dir)
    found = {}
    for record in state.pods:
        try:
            annotations = (pods.pod(record.namespace, record.name).get("metadata") or {}).get("annotations") or {}
        except KmeshctlError:
            continue
        if annotations.get(enrollment.ENROLLED_BY_ANNOTATION):
            found[record.name] = annotations[enrollment.ENROLLED_BY_ANNOTATION]
    return found


def enrolled_pods(state: SandboxState) -> set[str] | None:
    """Pods whose netns cookie is in the kernel's km_manage map (None: no maps)."""
    if not (state.bpffs / "km_manage").exists():
        return None
    with DataplaneMaps(state.bpffs) as maps:
        cookies = set(maps.enrolled())
    enrolled = set()
    for pod in state.pods:
        try:
            if netns_cookie(NETNS_DIR / pod.netns) in cookies:
                enrolled.add(pod.name)
        except KmeshctlError:
            pass
    return enrolled


def status(state: SandboxState) -> dict[str, Any]:
    records = state.processes_of("agent")
    if not records:
        return {"running": False}
    cgroup = state.system_cgroup / "agent"
    try:
        running = str(records[-1].pid) in (cgroup / "cgroup.procs").read_text().split()
    except OSError:
        running = False
    return {"running": running, "pid": records[-1].pid, "ready": running and ready(state),
            "admin": f"http://{state.agent.get('admin', '')}", "log": records[-1].log}


def cleanup(state: SandboxState, progress: Progress) -> None:
    """Detach and unpin the data path (after the agent was stopped)."""
    if not state.bpffs.exists():
        return
    done = loader.cleanup(state.bpffs, state.cgroup if state.cgroup.exists() else None)
    if state.bpffs.exists():  # anything else pinned in our private directory is ours too
        for leftover in sorted(state.bpffs.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            leftover.rmdir() if leftover.is_dir() else leftover.unlink()
        state.bpffs.rmdir()
    steps = f" ({len(done)} step{'' if len(done) == 1 else 's'})" if done else ""
    progress(f"removed the data path{steps} from {state.bpffs}")

