"""The sandbox's record on disk, under /run/kmeshctl/sandbox-<name>/.

`up` writes it before creating anything and updates it as it goes, so `down` can remove
everything after `up` crashed or was killed. Every host-side name the sandbox uses
(netns prefix, cgroup, bpffs directory) is derived from the sandbox name alone, so even
a half-written record is enough to find what to remove.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from kmeshctl.errors import UsageError
from kmeshctl.params import DEFAULT_SANDBOX_NAME as DEFAULT_NAME  # noqa: F401  (its importers' name)
from kmeshctl.params import SANDBOX_POD_SUBNET as POD_SUBNET
from kmeshctl.params import SANDBOX_SERVICE_SUBNET as SERVICE_SUBNET
from kmeshctl.params import shown
from kmeshctl.sandbox.manifests import load
from kmeshctl.sandbox.topology import PodInfo, Topology, WaypointInfo

STATE_ROOT = Path("/run/kmeshctl")
BPFFS_ROOT = Path("/sys/fs/bpf")
NAME_ENV = "KMESHCTL_SANDBOX_NAME"
FIRST_VIP_OFFSET = 10  # .1 is the `kubernetes` Service in a real cluster
# At most 16: short host-side names (netns, cgroup, bpffs) and room in the sandbox's unix
# socket paths for the waypoints' namespaces and names; those can still be too long for the
# kernel's sun_path (see SUN_PATH_MAX): sandbox.check_socket_paths refuses them before `up` makes anything.
NAME_MAX = 16
# A unix socket's path is at most 107 bytes: sun_path holds 108, the last one the NUL.
SUN_PATH_MAX = 107
_NAME = re.compile(rf"^(?=.{{1,{NAME_MAX}}}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME_RULE = (f"1-{NAME_MAX} lowercase letters, digits or '-', starting and ending with a letter or digit")

PHASE_CREATING = "creating"
PHASE_READY = "ready"
PHASE_NOT_READY = "not ready"
PHASE_REMOVING = "removing"  # a `sandbox down` started (and, when it stays, did not finish)
# Shown, never recorded: `creating` whose `up` is gone (killed: SIGKILL leaves no word of it).
PHASE_HALF_CREATED = "half-created"


def shown_phase(recorded: str, problems: list[str], up_gone: bool = False) -> str:
    """The phase `sandbox list` and `sandbox status` show (one rule for both): the
    recorded one, but `not ready` for a finished `up` that now has problems, and
    `half-created` for one still `creating` whose `up` is gone (``up_gone``)."""
    if recorded == PHASE_CREATING and up_gone:
        return PHASE_HALF_CREATED
    return PHASE_NOT_READY if problems and recorded == PHASE_READY else recorded


def cgroup2_root() -> Path:
    """Where cgroup v2 is mounted: /sys/fs/cgroup/unified on hybrid hosts, else /sys/fs/cgroup."""
    unified = Path("/sys/fs/cgroup/unified")
    if (unified / "cgroup.controllers").exists():
        return unified
    return Path("/sys/fs/cgroup")


def check_name(name: str, flag: str = "--name") -> str:
    """``name`` when it is a sandbox name; else a UsageError naming ``flag`` (--name or
    --sandbox, as typed)."""
    if not _NAME.match(name):
        raise UsageError(f"{flag} {shown(name)}: not a sandbox name; use {NAME_RULE}, e.g. {flag} demo")
    return name


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
    def controlplane_heartbeat(self) -> Path:
        """Touched by the control plane's loop at least once a second: its mtime says when
        the loop last ran (a reload that hangs stops it, the process still looking alive)."""
        return self.run_dir / "controlplane.heartbeat"

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
        """Write the record whole (a reader sees the old one or the new one); a temporary
        file of its own per call, for `up` and `down` may save at the same moment."""
        tmp = self._written()
        try:
            os.replace(tmp, self.dir / "state.json")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def claim(self) -> bool:
        """Write the record of a new sandbox only if there is none: True when written (the
        name is this `up`'s), False when a record is there (another `up` claimed it first,
        or one that did not finish). Atomic: of two `up`s started at once, one writes it."""
        tmp, linked = self._written(), False
        try:
            os.link(tmp, self.dir / "state.json")  # fails when it exists, as O_EXCL
            linked = True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
            if not linked:  # failed or stopped before it was written: no empty directory left (not another's)
                with contextlib.suppress(OSError):
                    self.dir.rmdir()
        return True

    def _written(self) -> Path:
        """The record in a temporary file of its own beside state.json."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="state.json.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(asdict(self), indent=2))
            os.chmod(tmp, 0o644)  # as readable as the record it replaces (mkstemp makes it 0600)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Path(tmp)

    @classmethod
    def load(cls, name: str) -> "SandboxState | None":
        """The record of sandbox ``name`` for the code that acts on it (None when there is
        none): never an error, for `down` must remove even a record it cannot read. A
        damaged or other version's record gives what of it checks out (see salvage), the
        rest defaults; the names derived from ``name`` still find everything to remove."""
        try:
            raw = json.loads(record_path(name).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return cls(name=name)
        return salvage(name, raw)

    @classmethod
    def read(cls, name: str) -> "SandboxState | None":
        """The record of sandbox ``name``, checked (None when there is none): RecordError
        when it is damaged or another version's (see parse)."""
        path = record_path(name)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise RecordError(f"cannot read {path}: {err.strerror or err}", damaged=True) from None
        try:
            raw = json.loads(text)
        except ValueError as err:
            raise RecordError(f"{path} is not JSON ({err})", damaged=True) from None
        return parse(name, raw, str(path))

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
        return same_process(self.up_pid, self.up_started)


def state_dir(name: str) -> Path:
    return STATE_ROOT / f"sandbox-{name}"


def record_path(name: str) -> Path:
    return state_dir(name) / "state.json"


# ----- the record read back: every field checked against this version's layout ------------


class RecordError(ValueError):
    """A record this version cannot use: ``damaged`` (not JSON, not an object, a field of
    another type, another sandbox's name) or written by another kmeshctl version (the same
    types, but fields missing or unknown: SandboxState.save writes every field at once)."""

    def __init__(self, why: str, damaged: bool) -> None:
        super().__init__(why)
        self.damaged = damaged


def parse(name: str, raw: Any, where: str = "the record") -> SandboxState:
    """``raw`` (state.json as read) as sandbox ``name``'s record; RecordError when it is
    not this version's record of that sandbox."""
    state, errors = _validated(SandboxState, raw)
    problems = [_problem(e) for e in errors if e["type"] != "missing"]
    if not problems and isinstance(raw, dict) and "name" in raw and raw["name"] != name:
        problems.append(f"name is {raw['name']!r}, not {name!r}")
    if not problems and state is not None:
        problems += _meaning_problems(state)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RecordError(f"{where}: {problems[0]}{more}", damaged=True)
    differ = sorted(_layout_differs(raw, SandboxState, ""))
    if differ or state is None:
        raise RecordError(f"{where}: its fields differ: {', '.join(differ)}", damaged=False)
    return state


PHASES = (PHASE_CREATING, PHASE_READY, PHASE_REMOVING)
_AGENT_ADDRESSES = ("admin", "metrics")


def _meaning_problems(state: SandboxState) -> list[str]:
    """What the types allow but the code reading the record does not: an unknown phase,
    an agent address that is no text, a waypoint that is not one."""
    problems = []
    if state.phase not in PHASES:
        problems.append(f"phase is {state.phase!r}, not one of {', '.join(PHASES)}")
    problems += [f"agent.{key} is {_what(state.agent[key])}, not a string" for key in _AGENT_ADDRESSES
                 if key in state.agent and not isinstance(state.agent[key], str)]
    for i, waypoint in enumerate(state.waypoints):
        built, errors = _validated(WaypointInfo, waypoint, ("waypoints", i))
        problems += [_problem(e) for e in errors if e["type"] != "missing"]
        if built is None and not problems:
            problems.append(f"waypoints[{i}] lacks a field of a waypoint (name, namespace, pod, ip)")
    return problems


def salvage(name: str, raw: Any) -> SandboxState:
    """What of ``raw`` fits this version's record of sandbox ``name``: each field that
    checks out (a pod or process only whole), the others at their defaults; the name is
    always ``name`` (the directory's): a record naming another sandbox must not send
    `down` to that one. Driven by where each error is: `pods[2].ip` drops that pod,
    `vips.x` the whole of vips."""
    if not isinstance(raw, dict):
        return SandboxState(name=name)
    _, errors = _validated(SandboxState, raw)
    kept = {k: v for k, v in raw.items() if k != "name"}
    dropped: dict[str, set[int]] = {"pods": set(), "processes": set()}
    for loc in (e["loc"] for e in errors if e["loc"]):
        if loc[0] in dropped and len(loc) > 1 and isinstance(loc[1], int):
            dropped[loc[0]].add(loc[1])
        else:
            kept.pop(loc[0], None)
    for key, indexes in dropped.items():
        if isinstance(kept.get(key), list):
            kept[key] = [item for i, item in enumerate(kept[key]) if i not in indexes]
    state, _ = _validated(SandboxState, {**kept, "name": name})
    state = state or SandboxState(name=name)
    built = (_validated(WaypointInfo, w)[0] for w in state.waypoints)
    state.waypoints = [vars(w) for w in built if w is not None]
    if state.phase not in PHASES:
        state.phase = PHASE_CREATING  # unknown: not ready, and `down` stops no `up` it cannot name
    state.agent = {k: v for k, v in state.agent.items() if k not in _AGENT_ADDRESSES or isinstance(v, str)}
    return state


@functools.cache
def _adapter(cls: type) -> Any:
    from pydantic import TypeAdapter  # here: its import costs every command, only these need it

    return TypeAdapter(cls)


def _validated(cls: type, raw: Any, at: tuple[Any, ...] = ()) -> tuple[Any, list[dict[str, Any]]]:
    """``raw`` as a ``cls`` (a record dataclass), strictly (JSON's types: no "1" for 1,
    no true for 1), unknown fields ignored (see _layout_differs): (the record, []), or
    (None, pydantic's errors, each ``loc`` prefixed with ``at``)."""
    from pydantic import ValidationError

    try:
        return _adapter(cls).validate_json(json.dumps(raw), strict=True), []
    except ValidationError as err:
        return None, [{**e, "loc": at + tuple(e["loc"])} for e in err.errors(include_url=False)]


# The types of pydantic's errors, said as the record's fields are written (its own texts are
# not shown: one wording for every message of kmeshctl).
_WANTED = {"string_type": "a string", "int_type": "an integer", "float_type": "a number",
           "bool_type": "true or false", "list_type": "a list", "dict_type": "an object",
           "dataclass_type": "an object"}


def _problem(error: dict[str, Any]) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    wanted = _WANTED.get(error["type"], "a value of its type")
    return f"{where or 'the record'} is {_what(error.get('input'))}, not {wanted}"


def _what(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:30]!r}"
    return "a list" if isinstance(value, list) else "an object"


def _layout_differs(raw: Any, cls: type, prefix: str) -> set[str]:
    """The fields of ``raw`` this version does not write (`x (unknown)`) or would have
    written (`x (missing)`), its pods', processes' and waypoints' too."""
    if not isinstance(raw, dict):
        return set()
    known = {f.name for f in fields(cls)}
    differ = {f"{prefix}{k} (unknown)" for k in set(raw) - known} | \
        {f"{prefix}{k} (missing)" for k in known - set(raw)}
    if cls is SandboxState:
        for key, item in (("pods", PodRecord), ("processes", ProcessRecord), ("waypoints", WaypointInfo)):
            for value in raw.get(key) if isinstance(raw.get(key), list) else []:
                differ |= _layout_differs(value, item, f"{key}.")
    return differ


def failed_up_logs(name: str) -> Path:
    """Where a failed `up` keeps the logs of what it removed (until the next up or down)."""
    return STATE_ROOT / f"failed-up-{name}"


def new_state(name: str) -> SandboxState:
    pid = os.getpid()
    return SandboxState(name=name, up_pid=pid, up_started=process_start_time(pid),
                        created_at=time.time())


def same_process(pid: int, started: str) -> bool:
    """Whether ``pid`` still runs and is the process that started at ``started`` (its
    /proc start time): False when ``started`` is unknown (''), for a reused pid cannot
    then be told from the process recorded."""
    return pid > 0 and bool(started) and process_start_time(pid) == started


def process_start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat; empty when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def kmeshctl_command(pid: int, fallback: str) -> str:
    """The `kmeshctl ...` line process ``pid`` was started with (its /proc cmdline: `sandbox
    up --name x`, or a demo that makes its own sandbox), for a message quoting what is
    running; ``fallback`` when that cannot be read or is not a kmeshctl run."""
    import shlex

    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return fallback
    for i, word in enumerate(argv[:3]):
        if os.path.basename(word) == "kmeshctl" and (i < 2 or argv[1] == "-m"):  # kmeshctl, python [-m] kmeshctl
            return shlex.join(["kmeshctl", *argv[i + 1:]])
    return fallback
