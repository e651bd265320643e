"""The node agent in the sandbox: `kmeshctl node run` against the sandbox control plane
(plaintext delta ADS over a unix socket), its eBPF programs attached at the sandbox's
cgroup and its maps pinned under the sandbox's own bpffs directory, enrolling pods
through its local admin interface (there is no Kubernetes to watch here). Which pods
are enrolled follows the Kmesh rules (`kmeshctl.enrollment`)."""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from kmeshctl import enrollment, nodecheck
from kmeshctl.node import loader
from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import DataplaneMaps
from kmeshctl.podnet import NETNS_DIR, netns_cookie
from kmeshctl import unixsock
from kmeshctl.sandbox.state import PodRecord, SandboxState
from kmeshctl.sandbox.topology import SANDBOX_NODE

READY_TIMEOUT_S = 90.0  # bcc compiles the programs at start
HTTP_TIMEOUT_S = 5.0
Progress = Callable[[str], None]


def preflight() -> None:
    """What the data path needs (BPF, cgroup v2, bpffs mounted, bcc, headers)."""
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
    ]


def start(state: SandboxState, start_daemon: Callable[[SandboxState, str, list[str]], Any],
          progress: Progress, check: Callable[[], None] = lambda: None) -> None:
    """Start the agent and wait until it is ready; `check` raises when another component
    of the sandbox died meanwhile (the agent would then never become ready)."""
    admin_port, metrics_port = _free_port(), _free_port()
    state.agent = {"admin": f"127.0.0.1:{admin_port}", "metrics": f"127.0.0.1:{metrics_port}",
                   "enrolled": []}
    state.save()
    progress("starting the node agent: bcc compiles the eBPF programs (usually 20-60 s)")
    process = start_daemon(state, "agent", agent_argv(state, admin_port, metrics_port))
    log = state.logs_dir / "agent.log"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready(state):
        check()
        if process.poll() is not None:
            raise KmeshctlError(f"the node agent exited ({process.returncode}): see {log}")
        if time.monotonic() > deadline:
            raise KmeshctlError(f"the node agent is not ready after {READY_TIMEOUT_S:.0f}s: see {log}")
        time.sleep(0.2)
    progress(f"node agent ready (pid {process.pid}): programs at {state.cgroup}, "
             f"maps in {state.bpffs}, admin http://{state.agent['admin']}")


def admin_socket(state: SandboxState) -> Path:
    """The agent's root-only admin socket (enrollment goes there: the port is read-only)."""
    return state.dir / "admin" / "admin.sock"


def _post(state: SandboxState, path: str) -> tuple[int, Any]:
    status, body = unixsock.request(admin_socket(state), "POST", path, HTTP_TIMEOUT_S)
    return status, json.loads(body or b"null")


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


def mesh_pods(state: SandboxState) -> list[tuple[PodRecord, enrollment.Decision]]:
    """Every pod with the agent's decision for it (namespace labels from the manifests)."""
    manifests = state.topology().manifests
    result = []
    for pod in state.pods:
        view = enrollment.PodView(name=pod.name, namespace=pod.namespace, labels=pod.labels)
        labels = manifests.namespace(pod.namespace).labels
        result.append((pod, enrollment.decide(view, labels, enable_bypass=False)))
    return result


def enroll_mesh_pods(state: SandboxState, progress: Progress) -> None:
    for pod, decision in mesh_pods(state):
        if not decision.enroll:
            progress(f"pod {pod.name}: not enrolled ({decision.reason})")
            continue
        query = urllib.parse.urlencode({"netns": str(NETNS_DIR / pod.netns),
                                        "pod": f"{pod.namespace}/{pod.name}"})
        status, body = _post(state, f"/enroll?{query}")
        if status != 200:
            raise KmeshctlError(f"the node agent refused to enroll pod {pod.name}: {body}")
        state.agent["enrolled"].append(pod.name)
        state.save()
        progress(f"pod {pod.name}: enrolled ({decision.reason})")


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
    progress(f"removed the data path ({len(done)} step(s)) from {state.bpffs}")

