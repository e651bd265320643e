"""Pods, processes and the five paths of the data-plane benchmark.

Three pods on one private bridge: ``client`` (wrk), ``server`` (nginx) and ``waypoint``
(the waypoint Envoy). Every proxy any path needs is started once and stays up; a path is
switched on before its runs and off after (nftables capture tables, enrollment of the
client's netns), so all paths share the same pods, server, client and load, and the
proxies that are not on a path only idle.

The ztunnel stand-ins run inside the client and server pods' network namespaces, the way
Istio ambient's in-pod redirection places ztunnel's sockets in each pod's netns.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kmeshctl.asciinum import parse_int
from kmeshctl.bench import kmesh
from kmeshctl.bench.capture import (InboundCapture, OutboundCapture, apply_capture,
                                    flush_connections, remove_capture)
from kmeshctl.bench.envoy import EnvoyProxy, EnvoyRole, start_envoy, wait_ready
from kmeshctl.bench.nginx import SERVER_PORT, start_nginx
from kmeshctl.bench.procs import (BENCH_NICE, PROXY_UID, BenchError, BenchProcess, require_tool,
                                  tcp_port_open, wait_until)
from kmeshctl.podnet import Pod, PodNetwork

POD_SUBNET = "10.244.0.0/24"  # private: the bridge lives in the bench's own netns
VIP_L4 = ipaddress.IPv4Address("10.96.0.10")  # Service without a waypoint
VIP_MESH = ipaddress.IPv4Address("10.96.0.11")  # Service with a waypoint
SERVICE_PORT = 80
WAYPOINT_PORT = 15088
ZTUNNEL_OUT_PORT = 15101
ZTUNNEL_IN_PORT = 15106
SIDECAR_OUT_PORT = 15001
SIDECAR_IN_PORT = 15006
# Everything a run creates is named from this and the run id: netns kmdp<id>-<pod>,
# cgroup <cgroup2>/kmdp-<id>, bpffs /sys/fs/bpf/kmdp-<id>, files /tmp/kmdp-<id>-*.
NAME_PREFIX = "kmdp"
BPFFS_ROOT = Path("/sys/fs/bpf")


@dataclass(frozen=True)
class CpuPlan:
    """taskset CPU lists: the load generator on one core, server and proxies on another."""

    client: str = "0"
    mesh: str = "1"

    def describe(self) -> str:
        return (f"wrk pinned to CPU {self.client}; nginx and every Envoy pinned to CPU "
                f"{self.mesh} (taskset, inherited by all threads); all of them at nice "
                f"{BENCH_NICE}, each in its own session and autogroup")


def parse_cpu_list(text: str) -> set[int]:
    """CPUs of a taskset list ("1", "0,2", "0-3"); a one-line error when malformed."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            first, last = parse_int(low.strip()), parse_int((high if dash else low).strip())
            if first > last:
                raise BenchError(f"CPU range {part.strip()} runs backwards; write the lower CPU first, "
                                 f"e.g. {last}-{first}", exit_code=2)
            cpus.update(range(first, last + 1))
    except ValueError:
        raise BenchError(f"CPU list {text!r} is not like 1, 0,2 or 0-3", exit_code=2) from None
    return cpus


def cpu_list_text(cpus: set[int]) -> str:
    """CPUs as a taskset list: {0, 1, 2, 5} -> `0-2,5`."""
    runs: list[list[int]] = []
    for cpu in sorted(cpus):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(f"{low}" if low == high else f"{low}-{high}" for low, high in runs)


def check_cpu_plan(plan: CpuPlan) -> None:
    usable = os.sched_getaffinity(0)
    for what, text in (("--client-cpus", plan.client), ("--mesh-cpus", plan.mesh)):
        missing = parse_cpu_list(text) - usable
        if missing:
            many = "s" if len(missing) > 1 else ""
            raise BenchError(f"{what} {text}: CPU{many} {cpu_list_text(missing)} not available here; use CPUs "
                             f"of {cpu_list_text(usable)}, e.g. {what} {min(usable)}", exit_code=2)


def default_cpu_plan() -> CpuPlan:
    return CpuPlan("0", "1") if (os.cpu_count() or 1) >= 2 else CpuPlan("0", "0")


@dataclass(frozen=True)
class PathSpec:
    name: str
    description: str
    target: str  # "server" (pod IP), "vip-l4" or "vip-mesh"
    proxies: tuple[str, ...] = ()  # roles crossed, in order
    captures: tuple[tuple[str, OutboundCapture | InboundCapture], ...] = ()  # (pod, rule)
    enroll_client: bool = False

    @property
    def needs_kmesh(self) -> bool:
        return self.target == "vip-l4" or self.enroll_client


PATHS: dict[str, PathSpec] = {p.name: p for p in (
    PathSpec("direct", "unenrolled client -> server pod IP", "server"),
    PathSpec("kmesh-l4", "enrolled client -> Service VIP, eBPF connect-time balancing -> pod",
             "vip-l4", enroll_client=True),
    PathSpec("kmesh-waypoint", "enrolled client -> VIP, eBPF -> waypoint Envoy (L7, PROXY v2) "
             "-> pod", "vip-mesh", ("waypoint",), enroll_client=True),
    PathSpec("ambient-style", "client -> Envoy TCP proxy (ztunnel stand-in, in-pod) -> waypoint "
             "Envoy (L7) -> Envoy TCP proxy (ztunnel stand-in, in-pod) -> pod", "vip-mesh",
             ("ztunnel-client", "waypoint", "ztunnel-server"),
             (("client", OutboundCapture(str(VIP_MESH), SERVICE_PORT, ZTUNNEL_OUT_PORT)),
              ("server", InboundCapture(SERVICE_PORT, ZTUNNEL_IN_PORT)))),
    PathSpec("sidecar-style", "client -> Envoy sidecar (L7, client pod) -> Envoy sidecar (L7, "
             "server pod) -> app; nftables REDIRECT in both pods", "vip-mesh",
             ("sidecar-client", "sidecar-server"),
             (("client", OutboundCapture(str(VIP_MESH), SERVICE_PORT, SIDECAR_OUT_PORT)),
              ("server", InboundCapture(SERVICE_PORT, SIDECAR_IN_PORT)))),
)}


def envoy_roles(server_ip: str, waypoint_ip: str) -> dict[str, tuple[str, EnvoyRole]]:
    """Every proxy role, with the pod it runs in."""
    local = "127.0.0.1"
    return {
        "waypoint": ("waypoint", EnvoyRole("waypoint", WAYPOINT_PORT, server_ip, SERVER_PORT,
                                           http=True, reads_proxy_v2=True)),
        "ztunnel-client": ("client", EnvoyRole("ztunnel-client", ZTUNNEL_OUT_PORT, waypoint_ip,
                                               WAYPOINT_PORT, http=False, original_dst=True,
                                               sends_proxy_v2=True)),
        "ztunnel-server": ("server", EnvoyRole("ztunnel-server", ZTUNNEL_IN_PORT, local,
                                               SERVER_PORT, http=False, original_dst=True)),
        "sidecar-client": ("client", EnvoyRole("sidecar-client", SIDECAR_OUT_PORT, server_ip,
                                               SERVER_PORT, http=True, original_dst=True)),
        "sidecar-server": ("server", EnvoyRole("sidecar-server", SIDECAR_IN_PORT, local,
                                               SERVER_PORT, http=True, original_dst=True)),
    }


def cgroup2_root() -> Path:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    from kmeshctl import nodecheck

    nodecheck.check_host_mounts_seen("the host's cgroup2 filesystem", nodecheck.host_cgroup2())  # `ip netns exec`
    raise BenchError("cgroup v2 is not mounted: mount -t cgroup2 none /sys/fs/cgroup/unified")


def check_paths(names: list[str]) -> list[PathSpec]:
    """The requested paths, validated (unknown names, missing tools) before any change."""
    unknown = [n for n in names if n not in PATHS]
    if unknown:
        raise BenchError(f"unknown path(s) {', '.join(unknown)}: choose from {', '.join(PATHS)}",
                         exit_code=2)
    if os.geteuid() != 0:
        raise BenchError("the data-plane benchmark needs root (netns, cgroups, BPF): run it "
                         "as root")
    specs = [PATHS[n] for n in names]
    for tool, package in (("nginx", "nginx-light"), ("wrk", "wrk"), ("taskset", "util-linux"),
                          ("setpriv", "util-linux")):
        require_tool(tool, package)
    if any(spec.captures for spec in specs):
        require_tool("nft", "nftables")
    if any(spec.needs_kmesh for spec in specs):  # its pins go on the host's bpffs, which `ip netns exec` hides
        from kmeshctl import nodecheck

        nodecheck.check_host_mounts_seen(f"the host's bpf filesystem ({nodecheck.BPFFS_MOUNT})",
                                         [nodecheck.BPFFS_WANTED])
    reason = kmesh.unavailable_reason()
    if reason and any(spec.needs_kmesh for spec in specs):
        raise BenchError(f"{reason}: leave out kmesh-l4 / kmesh-waypoint with --paths")
    cgroup2_root()
    return specs


@dataclass
class BenchTopology:
    """The bench's pods and processes. ``up`` starts what ``paths`` need; ``down``
    removes everything (processes, netns, cgroups, pinned BPF objects, files)."""

    paths: list[PathSpec]
    cpus: CpuPlan = field(default_factory=default_cpu_plan)
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    network: PodNetwork | None = None
    workdir: Path | None = None
    server: BenchProcess | None = None
    proxies: dict[str, EnvoyProxy] = field(default_factory=dict)
    dataplane: kmesh.BenchDataplane | None = None
    _client_cookie: int = 0

    @property
    def prefix(self) -> str:
        return f"{NAME_PREFIX}{self.run_id}"

    @property
    def cgroup(self) -> Path:
        return cgroup2_root() / f"{NAME_PREFIX}-{self.run_id}"

    @property
    def bpf_fs(self) -> Path:
        return BPFFS_ROOT / f"{NAME_PREFIX}-{self.run_id}"

    def pod(self, name: str) -> Pod:
        assert self.network is not None
        return self.network.pods[name]

    # ------------------------------------------------------------ up

    def up(self) -> None:
        try:
            self._make_pods()
            self._start_server()
            self._start_proxies()
            if any(spec.needs_kmesh for spec in self.paths):
                self._load_dataplane()
        except BaseException:
            self.down()
            raise

    def _make_pods(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{NAME_PREFIX}-{self.run_id}-"))
        os.chown(self.workdir, PROXY_UID, PROXY_UID)  # Envoy (uid 1337) makes its admin socket here
        self.workdir.chmod(0o755)
        self.network = PodNetwork(self.prefix, ipaddress.IPv4Network(POD_SUBNET), self.cgroup)
        self.network.create()
        for name in ("client", "server", "waypoint"):
            self.network.add_pod(name)

    def _start_server(self) -> None:
        assert self.workdir is not None
        server = self.pod("server")
        self.server = start_nginx(server, self.workdir, self.cpus.mesh)
        wait_until(lambda: tcp_port_open(server, SERVER_PORT), 15, "nginx in the server pod",
                   alive=self.server.exit_reason)

    def needed_roles(self) -> list[str]:
        return sorted({role for spec in self.paths for role in spec.proxies})

    def _start_proxies(self) -> None:
        assert self.workdir is not None
        roles = envoy_roles(str(self.pod("server").ip), str(self.pod("waypoint").ip))
        for name in self.needed_roles():
            pod_name, role = roles[name]
            self.proxies[name] = start_envoy(self.pod(pod_name), role, self.workdir, self.cpus.mesh)
        for proxy in self.proxies.values():
            wait_ready(proxy)

    def _load_dataplane(self) -> None:
        self.dataplane = kmesh.BenchDataplane(self.bpf_fs, self.cgroup)
        self.dataplane.load()
        server, waypoint = self.pod("server"), self.pod("waypoint")
        common = dict(port=SERVICE_PORT, target_port=SERVER_PORT,
                      backend_uid=f"bench/{self.prefix}-server", backend_ip=server.ip)
        self.dataplane.add_service(kmesh.BenchService("bench/server-l4", VIP_L4, **common))
        self.dataplane.add_service(kmesh.BenchService(
            "bench/server-mesh", VIP_MESH, waypoint=(waypoint.ip, WAYPOINT_PORT), **common))
        self._client_cookie = self.pod("client").netns_cookie()

    # ------------------------------------------------------------ paths

    def url(self, spec: PathSpec) -> str:
        host = {"server": str(self.pod("server").ip), "vip-l4": str(VIP_L4),
                "vip-mesh": str(VIP_MESH)}[spec.target]
        port = SERVER_PORT if spec.target == "server" else SERVICE_PORT
        return f"http://{host}:{port}/"

    def activate(self, spec: PathSpec) -> None:
        for pod_name, capture in spec.captures:
            apply_capture(self.pod(pod_name), capture)
        if spec.enroll_client:
            assert self.dataplane is not None
            self.dataplane.enroll(self._client_cookie)

    def deactivate(self, spec: PathSpec) -> None:
        """Switch the path off and cut every connection, so the next path starts clean."""
        assert self.network is not None
        for pod in self.network.pods.values():
            flush_connections(pod)
        for pod_name, _ in spec.captures:
            remove_capture(self.pod(pod_name))
        if spec.enroll_client and self.dataplane is not None:
            self.dataplane.unenroll(self._client_cookie)

    def proxy_tx_bytes(self) -> dict[str, int]:
        return {name: proxy.upstream_tx_bytes() for name, proxy in self.proxies.items()}

    def check_alive(self) -> None:
        for proc in [self.server, *(p.process for p in self.proxies.values())]:
            reason = proc.exit_reason() if proc else None
            if reason:
                raise BenchError(reason)

    # ------------------------------------------------------------ down

    def down(self) -> None:
        """Remove everything; every step runs even when an earlier one fails."""
        errors: list[str] = []
        for step in (self._stop_processes, self._unload_dataplane, self._remove_network,
                     self._remove_workdir):
            try:
                step()
            except Exception as err:  # keep cleaning; report at the end
                errors.append(f"{step.__name__}: {err}")
        if errors:
            raise BenchError("cleanup incomplete: " + "; ".join(errors))

    def _stop_processes(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        self.proxies.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _unload_dataplane(self) -> None:
        if self.dataplane is not None:
            self.dataplane.close()
            self.dataplane = None

    def _remove_network(self) -> None:
        if self.network is not None:
            self.network.destroy()
            self.network = None
        if self.cgroup.is_dir():
            self.cgroup.rmdir()

    def _remove_workdir(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


# ---------------------------------------------------------------- after a crash


def leftover_run_ids() -> list[str]:
    """Ids of bench runs that left something behind (killed before their teardown)."""
    pattern = re.compile(rf"^{NAME_PREFIX}-?([0-9a-f]{{6}})(-|$)")
    names = [p.name for p in Path("/run/netns").glob(f"{NAME_PREFIX}*")]
    names += [p.name for p in cgroup2_root().glob(f"{NAME_PREFIX}-*")]
    names += [p.name for p in BPFFS_ROOT.glob(f"{NAME_PREFIX}-*")]
    names += [p.name for p in Path(tempfile.gettempdir()).glob(f"{NAME_PREFIX}-*")]
    return sorted({m.group(1) for m in map(pattern.match, names) if m})


def cleanup_run(run_id: str) -> None:
    """Remove what the run ``run_id`` created; its processes die with its cgroups."""
    topology = BenchTopology([], run_id=run_id)
    topology.network = PodNetwork(topology.prefix, ipaddress.IPv4Network(POD_SUBNET),
                                  topology.cgroup)
    topology.dataplane = kmesh.BenchDataplane(topology.bpf_fs, topology.cgroup)
    try:
        topology.down()
    finally:
        for workdir in Path(tempfile.gettempdir()).glob(f"{NAME_PREFIX}-{run_id}-*"):
            shutil.rmtree(workdir, ignore_errors=True)
