"""The sandbox's record on disk, under /run/kmeshctl/sandbox-<name>/.

`up` writes it before creating anything and updates it as it goes, so `down` can remove
everything after `up` crashed or was killed. Every host-side name the sandbox uses
(netns prefix, cgroup, bpffs directory) is derived from the sandbox name alone, so even
a half-written record is enough to find what to remove.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kmeshctl.errors import UsageError
from kmeshctl.sandbox.manifests import load
from kmeshctl.sandbox.topology import PodInfo, Topology, WaypointInfo

STATE_ROOT = Path("/run/kmeshctl")
BPFFS_ROOT = Path("/sys/fs/bpf")
DEFAULT_NAME = "kmesh"
NAME_ENV = "KMESHCTL_SANDBOX_NAME"
POD_SUBNET = "10.244.0.0/24"
SERVICE_SUBNET = "10.96.0.0/24"
FIRST_VIP_OFFSET = 10  # .1 is the `kubernetes` Service in a real cluster
# At most 16: the sandbox's unix sockets (/run/kmeshctl/sandbox-NAME/envoy-admin-NS-WAYPOINT.sock)
# must fit the kernel's 108-byte sun_path with the waypoints' names too.
NAME_MAX = 16
_NAME = re.compile(rf"^(?=.{{1,{NAME_MAX}}}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME_RULE = (f"1-{NAME_MAX} lowercase letters, digits or '-', starting and ending with a letter or digit")

PHASE_CREATING = "creating"
PHASE_READY = "ready"
PHASE_NOT_READY = "not ready"
PHASE_REMOVING = "removing"  # a `sandbox down` started (and, when it stays, did not finish)


def shown_phase(recorded: str, problems: list[str]) -> str:
    """The phase `sandbox list` and `sandbox status` show (one rule for both): the
    recorded one, but `not ready` for a finished `up` that now has problems."""
    return PHASE_NOT_READY if problems and recorded == PHASE_READY else recorded


def cgroup2_root() -> Path:
    """Where cgroup v2 is mounted: /sys/fs/cgroup/unified on hybrid hosts, else /sys/fs/cgroup."""
    unified = Path("/sys/fs/cgroup/unified")
    if (unified / "cgroup.controllers").exists():
        return unified
    return Path("/sys/fs/cgroup")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        from kmeshctl.params import shown  # the one quoting rule of echoed values

        raise UsageError(f"--name {shown(name)}: not a sandbox name; use {NAME_RULE}, e.g. --name demo")
    return name


def default_name() -> str:
    return check_name(os.environ.get(NAME_ENV) or DEFAULT_NAME)


@dataclass
class PodRecord:
    name: str
    namespace: str
    deployment: str  # the waypoint's name for a waypoint pod
    labels: dict[str, str]
    ip: str
    netns: str
    cgroup: str
    waypoint: bool = False
    container_id: str = ""  # the pod sandbox's id the CNI runtime passes (CNI_CONTAINERID)
    uid: str = ""  # the pod object's metadata.uid (K8S_POD_UID)


@dataclass
class ProcessRecord:
    role: str  # "container" | "waypoint" | "controlplane" | "agent"
    pid: int
    pod: str = ""
    log: str = ""
    exit_file: str = ""  # written by its supervisor when it ends (kmeshctl.sandbox.health)
    component: str = ""  # how messages name it: "the control plane", "pod fortio-v1-0 (fortio)"
    cgroup: str = ""  # the cgroup it runs in (its pid there = still running)
    started_at: float = 0.0  # time.time()


@dataclass
class SandboxState:
    name: str
    up_pid: int = 0
    up_started: str = ""  # /proc/<pid>/stat start time: tells a live `up` from a reused pid
    phase: str = PHASE_CREATING
    created_at: float = 0.0
    pods: list[PodRecord] = field(default_factory=list)
    vips: dict[str, str] = field(default_factory=dict)  # "namespace/service" -> VIP
    waypoints: list[dict[str, Any]] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    agent: dict[str, Any] = field(default_factory=dict)  # how to reach the node agent
    # Every pod has its network (CNI ADD done): the control plane publishes only then.
    pods_ready: bool = False

    # ----- names derived from the sandbox name --------------------------------------

    @property
    def dir(self) -> Path:
        return state_dir(self.name)

    @property
    def netns_prefix(self) -> str:
        """`ksbNAME`, '-' spelled '_': every netns is PREFIX-..., and `down` removes all
        of them by prefix, so sandbox `a` must not own `ksba-b-net` of sandbox `a-b`."""
        return f"ksb{self.name.replace('-', '_')}"

    @property
    def cgroup(self) -> Path:
        return cgroup2_root() / f"kmeshctl-sandbox-{self.name}"

    @property
    def pods_cgroup(self) -> Path:
        return self.cgroup / "pods"

    @property
    def system_cgroup(self) -> Path:
        return self.cgroup / "system"

    @property
    def bpffs(self) -> Path:
        return BPFFS_ROOT / f"kmeshctl-sandbox-{self.name}"

    @property
    def logs_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def run_dir(self) -> Path:
        """The supervisors' pid and exit-status files."""
        return self.dir / "run"

    @property
    def manifests_file(self) -> Path:
        return self.dir / "manifests.yaml"

    @property
    def xds_socket(self) -> Path:
        return self.dir / "xds.sock"

    def waypoint_xds_socket(self, namespace: str, name: str) -> Path:
        return self.dir / f"xds-{namespace}-{name}.sock"

    @property
    def node_netns(self) -> str:
        """The sandbox's node: the network namespace the pod bridge lives in (no uplink)."""
        return f"{self.netns_prefix}-net"

    # ----- the pods' CNI: config, plugins, IPAM, the runtime's cache, the pod objects ------

    @property
    def cni_dir(self) -> Path:
        return self.dir / "cni"

    @property
    def cni_conf_dir(self) -> Path:
        return self.cni_dir / "net.d"

    @property
    def cni_bin_dir(self) -> Path:
        """Where the node agent installs the kmesh plugin (the reference plugins stay in /usr/lib/cni)."""
        return self.cni_dir / "bin"

    @property
    def cni_socket(self) -> Path:
        return self.cni_dir / "run" / "cni.sock"

    @property
    def cni_plugin_log(self) -> Path:
        return self.cni_socket.parent / "plugin.log"

    @property
    def cni_ipam_dir(self) -> Path:
        """host-local's dataDir: one file per reserved address."""
        return self.cni_dir / "ipam"

    @property
    def cni_cache_dir(self) -> Path:
        return self.cni_dir / "cache"

    @property
    def local_pods_dir(self) -> Path:
        """The pod and namespace objects the agent decides CNI requests from."""
        return self.dir / "objects"

    def envoy_admin_socket(self, waypoint: WaypointInfo) -> Path:
        return self.dir / f"envoy-admin-{waypoint.namespace}-{waypoint.name}.sock"

    # ----- persistence ----------------------------------------------------------------

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.dir / "state.json")

    @classmethod
    def load(cls, name: str) -> "SandboxState | None":
        path = state_dir(name) / "state.json"
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return cls(name=name)  # unreadable: the derived names still allow cleanup
        try:
            raw["pods"] = [PodRecord(**p) for p in raw.get("pods", [])]
            raw["processes"] = [ProcessRecord(**p) for p in raw.get("processes", [])]
            return cls(**raw)
        except TypeError:  # another kmeshctl version's fields: the derived names still allow cleanup
            return cls(name=name)

    # ----- views ------------------------------------------------------------------------

    def waypoint_infos(self) -> list[WaypointInfo]:
        return [WaypointInfo(**w) for w in self.waypoints]

    def pod(self, name: str) -> PodRecord | None:
        return next((p for p in self.pods if p.name == name), None)

    def processes_of(self, role: str) -> list[ProcessRecord]:
        return [p for p in self.processes if p.role == role]

    def topology(self) -> Topology:
        manifests = load([self.manifests_file])
        pods = [PodInfo(p.name, p.namespace, p.deployment, p.labels, p.ip)
                for p in self.pods if not p.waypoint]
        vips = {tuple(key.split("/", 1)): vip for key, vip in self.vips.items()}
        return Topology(manifests, pods, vips, self.waypoint_infos())  # type: ignore[arg-type]

    def up_is_running(self) -> bool:
        return self.up_pid > 0 and process_start_time(self.up_pid) == self.up_started


def state_dir(name: str) -> Path:
    return STATE_ROOT / f"sandbox-{name}"


def failed_up_logs(name: str) -> Path:
    """Where a failed `up` keeps the logs of what it removed (until the next up or down)."""
    return STATE_ROOT / f"failed-up-{name}"


def new_state(name: str) -> SandboxState:
    pid = os.getpid()
    return SandboxState(name=name, up_pid=pid, up_started=process_start_time(pid),
                        created_at=time.time())


def process_start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat; empty when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]
