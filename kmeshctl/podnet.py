"""Pods without a container engine: one network namespace plus one cgroup v2 per pod.

A `PodNetwork` is a private layer-2 segment: a bridge living in a network namespace of
its own (the "router" namespace, no uplink, no forwarding), and one veth per pod into
it. Nothing is added to the host's network namespace, so nothing inside can reach
outside. Every pod process is put into the pod's cgroup before it enters the pod's
network namespace: cgroup-attached BPF programs then see it, and we never need
`ip netns exec` (which remounts /sys and hides the cgroup v2 tree). Both steps happen
between fork and exec without Python (`entering`): Python code in a forked child of a
threaded process (a `preexec_fn`) is not safe, and gRPC's fork handlers abort such a
child about once in a hundred forks.

Teardown is derived from names alone (netns prefix, cgroup parent), so a crashed
creator can be cleaned up by a new `PodNetwork` with the same prefix.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from kmeshctl.errors import KmeshctlError
from kmeshctl.params import CGROUP_JOIN_TIMEOUT_S

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
SO_NETNS_COOKIE = 71
BRIDGE = "br0"
POD_IFACE = "eth0"
POD_CGROUP_PREFIX = "pod-"

_libc = ctypes.CDLL(None, use_errno=True)


class PodNetError(KmeshctlError):
    """A netns / link / cgroup operation failed."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PodNetError(f"'ip {' '.join(args)}' failed: {result.stderr.strip()}")


def enter_netns(netns_path: Path) -> None:
    """Move the calling thread (or forked child) into a network namespace."""
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({netns_path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def join_cgroup(cgroup: Path, pid: int = 0) -> None:
    """Move a process (0: the caller) into a cgroup v2 directory."""
    (cgroup / "cgroup.procs").write_text(f"{pid or os.getpid()}\n")


def entering(argv: Sequence[str], cgroup: Path | None = None,
             netns: Path | None = None) -> list[str]:
    """`argv` wrapped so its process first enters `netns` (a netns path), then joins
    `cgroup` (a cgroup v2 directory), then execs `argv` under the same pid: `nsenter --net`
    execs `/bin/sh`, which writes its own pid to cgroup.procs and execs `argv`. A process
    seen in the cgroup is thus already in the netns (find_pod_netns relies on it). A
    command that cannot be run exits 126/127 with the shell's message."""
    command = list(argv)
    if cgroup is not None:
        # "$0" is the first argument after the script: the cgroup.procs file.
        command = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup / "cgroup.procs"),
                   *command]
    if netns is not None:
        command = [shutil.which("nsenter") or "/usr/bin/nsenter", f"--net={netns}", "--", *command]
    return command


def popen_entering(argv: Sequence[str], cgroup: Path, netns: Path | None = None,
                   **kwargs: Any) -> subprocess.Popen:
    """Start `argv` through `entering` and return once the process is in `cgroup` (or has
    already exited), so a caller that kills the cgroup right after never misses it.
    Raises PodNetError if it is not there within CGROUP_JOIN_TIMEOUT_S."""
    process = subprocess.Popen(entering(argv, cgroup=cgroup, netns=netns), **kwargs)
    deadline = time.monotonic() + CGROUP_JOIN_TIMEOUT_S
    while process.poll() is None and not in_cgroup(process.pid, cgroup):
        if time.monotonic() > deadline:
            process.kill()
            raise PodNetError(f"process {argv[0]} did not join cgroup {cgroup} within "
                              f"{CGROUP_JOIN_TIMEOUT_S:g}s")
        time.sleep(0.001)
    return process


def in_cgroup(pid: int, cgroup: Path) -> bool:
    """Whether process `pid` is directly in cgroup v2 directory `cgroup` (False if unreadable)."""
    try:
        return str(pid) in (cgroup / "cgroup.procs").read_text().split()
    except OSError:
        return False


def netns_cookie(netns_path: Path) -> int:
    """The kernel's cookie of a network namespace (what BPF's bpf_get_netns_cookie returns)."""
    result: dict[str, Any] = {}

    def probe() -> None:
        try:
            enter_netns(netns_path)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                raw = sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8)
            result["cookie"] = int.from_bytes(raw, "little")
        except OSError as err:
            result["error"] = err

    # setns() changes only the calling thread; a short-lived thread keeps the caller where it is.
    thread = threading.Thread(target=probe, name="netns-cookie")
    thread.start()
    thread.join()
    if "error" in result:
        raise PodNetError(f"cannot read the netns cookie of {netns_path}: {result['error']}")
    return int(result["cookie"])


@dataclass
class Pod:
    """A pod: a named network namespace with one address, and a cgroup for its processes."""

    name: str
    netns: str
    ip: ipaddress.IPv4Address
    cgroup: Path

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` as run inside the pod: in its cgroup first, then its netns."""
        return entering(argv, cgroup=self.cgroup, netns=self.netns_path)

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Start a process inside the pod (its cgroup first, then its netns); the
        Popen's pid is the command's own."""
        if "preexec_fn" in kwargs:
            raise ValueError("Pod.popen must not run Python in the child: no preexec_fn")
        return popen_entering(argv, self.cgroup, self.netns_path, **kwargs)

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 30.0,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Run a command inside the pod and capture its output (text)."""
        result = subprocess.run(
            self.command(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and result.returncode != 0:
            raise PodNetError(
                f"command {list(argv)} in pod {self.name} exited {result.returncode}: "
                f"{result.stderr.strip()[:500]}"
            )
        return result

    def netns_cookie(self) -> int:
        return netns_cookie(self.netns_path)


@dataclass
class PodNetwork:
    """A bridge in a private netns plus pods attached to it (see the module docstring)."""

    prefix: str
    subnet: ipaddress.IPv4Network
    cgroup_parent: Path
    pods: dict[str, Pod] = field(default_factory=dict)
    _next_host: int = 2
    _next_veth: int = 0

    def __post_init__(self) -> None:
        self.subnet = ipaddress.IPv4Network(self.subnet)
        self.cgroup_parent = Path(self.cgroup_parent)

    @property
    def router_netns(self) -> str:
        return f"{self.prefix}-net"

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.subnet.network_address + 1

    def __enter__(self) -> "PodNetwork":
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def create(self) -> None:
        """Make the router netns with its bridge, and the cgroup parent."""
        self.cgroup_parent.mkdir(parents=True, exist_ok=True)
        _ip("netns", "add", self.router_netns)
        ns = self.router_netns
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", ns, "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", BRIDGE)
        _ip("-n", ns, "link", "set", BRIDGE, "up")

    def _allocate_ip(self) -> ipaddress.IPv4Address:
        taken = {pod.ip for pod in self.pods.values()}
        while True:
            candidate = self.subnet.network_address + self._next_host
            self._next_host += 1
            if candidate not in self.subnet or candidate == self.subnet.broadcast_address:
                raise PodNetError(f"pod range {self.subnet} is full: use a larger subnet")
            if candidate not in taken:
                return candidate

    def add_pod(self, name: str, ip: ipaddress.IPv4Address | str | None = None) -> Pod:
        """Create a pod's netns, veth into the bridge, address, default route and cgroup."""
        if name in self.pods:
            raise PodNetError(f"pod {name} already exists in network {self.prefix}")
        address = ipaddress.IPv4Address(ip) if ip is not None else self._allocate_ip()
        pod = Pod(
            name=name,
            netns=f"{self.prefix}-{name}",
            ip=address,
            cgroup=self.cgroup_parent / f"{POD_CGROUP_PREFIX}{name}",
        )
        veth = f"veth{self._next_veth}"
        self._next_veth += 1
        _ip("netns", "add", pod.netns)
        self.pods[name] = pod
        _ip("-n", self.router_netns, "link", "add", veth, "type", "veth",
            "peer", "name", POD_IFACE, "netns", pod.netns)
        _ip("-n", self.router_netns, "link", "set", veth, "master", BRIDGE, "up")
        _ip("-n", pod.netns, "link", "set", "lo", "up")
        _ip("-n", pod.netns, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", POD_IFACE)
        _ip("-n", pod.netns, "link", "set", POD_IFACE, "up")
        _ip("-n", pod.netns, "route", "add", "default", "via", str(self.gateway))
        pod.cgroup.mkdir(exist_ok=True)
        return pod

    def remove_pod(self, name: str) -> None:
        pod = self.pods.pop(name)
        _kill_cgroup(pod.cgroup)
        _delete_netns(pod.netns)

    def destroy(self) -> None:
        """Remove every process, cgroup and netns of this network; safe to repeat."""
        for cgroup in self._pod_cgroups():
            _kill_cgroup(cgroup)
        for netns in self._owned_netns():
            _delete_netns(netns)
        self.pods.clear()

    def _pod_cgroups(self) -> Iterator[Path]:
        if not self.cgroup_parent.is_dir():
            return iter(())
        return (p for p in self.cgroup_parent.iterdir()
                if p.is_dir() and p.name.startswith(POD_CGROUP_PREFIX))

    def _owned_netns(self) -> list[str]:
        if not NETNS_DIR.is_dir():
            return []
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(f"{self.prefix}-"))


def _kill_cgroup(cgroup: Path) -> None:
    """Kill every process in a pod's cgroup and remove it."""
    kill_cgroup_tree(cgroup)
    remove_cgroup_tree(cgroup)


def cgroup_tree_pids(cgroup: Path) -> list[int]:
    """Processes in a cgroup and all its descendants."""
    pids: list[int] = []
    for procs in cgroup.rglob("cgroup.procs"):
        try:
            pids += [int(line) for line in procs.read_text().split()]
        except (FileNotFoundError, ValueError):
            pass
    return pids


def kill_cgroup_tree(cgroup: Path, timeout: float = 10.0) -> int:
    """SIGKILL every process in a cgroup and its descendants and wait until the kernel
    calls the tree empty. Returns how many processes there were."""
    if not cgroup.is_dir():
        return 0
    pids = cgroup_tree_pids(cgroup)
    kill_file = cgroup / "cgroup.kill"
    if kill_file.exists():
        kill_file.write_text("1\n")
    else:
        for pid in pids:
            _signal_quietly(pid, signal.SIGKILL)
    _wait_unpopulated(cgroup, timeout)
    return len(pids)


def _wait_unpopulated(cgroup: Path, timeout: float) -> None:
    # A dying task leaves cgroup.procs before the kernel releases it; until then the
    # cgroup stays populated and rmdir fails with EBUSY. cgroup.events tells the truth.
    deadline = time.monotonic() + timeout
    while _populated(cgroup):
        if time.monotonic() > deadline:
            raise PodNetError(f"processes in {cgroup} survive SIGKILL: check "
                              f"`cat {cgroup}/cgroup.procs` and its sub-cgroups")
        time.sleep(0.02)


def _populated(cgroup: Path) -> bool:
    try:
        return "populated 1" in (cgroup / "cgroup.events").read_text().splitlines()
    except FileNotFoundError:
        return False


def remove_cgroup_tree(cgroup: Path) -> None:
    """Remove an empty cgroup and its descendants, deepest first."""
    if not cgroup.is_dir():
        return
    children = sorted((p for p in cgroup.rglob("*") if p.is_dir()),
                      key=lambda p: len(p.parts), reverse=True)
    try:
        for child in children:
            child.rmdir()
        cgroup.rmdir()
    except OSError as err:
        raise PodNetError(f"cannot remove cgroup {cgroup}: {err}") from err


def _signal_quietly(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _delete_netns(name: str) -> None:
    if (NETNS_DIR / name).exists():
        _ip("netns", "del", name)
