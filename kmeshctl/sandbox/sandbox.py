"""`kmeshctl sandbox up | down | status | exec`: the orchestration. The pieces live in
their own modules (manifests, pods, containers, waypoint, controlplane, agent); this
module puts them in order, records every step on disk, and undoes them."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import yaml

from kmeshctl import errors
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.podnet import NETNS_DIR, Pod, in_cgroup, kill_cgroup_tree, popen_entering, remove_cgroup_tree
from kmeshctl.sandbox import pods as pods_mod
from kmeshctl.sandbox import agent as agent_mod
from kmeshctl.sandbox import health
from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox import view
from kmeshctl import stopping
from kmeshctl.sandbox.envoy_config import route_cluster_keys, route_name
from kmeshctl.sandbox.health import ComponentFailed, Launched, ProcessHealth, process_stopped
from kmeshctl.sandbox.pods import (
    PodPlan,
    plan_pods,
    plan_vips,
    pod_of,
    start_process,
    tcp_open,
)
from kmeshctl.sandbox.state import (
    PHASE_READY,
    PodRecord,
    ProcessRecord,
    SandboxState,
    failed_up_logs,
    new_state,
)
from kmeshctl.sandbox.topology import Topology, WaypointInfo, check_no_name_clash, waypoint_keys
from kmeshctl.sandbox.waypoint import (
    EnvoyAdmin,
    envoy_binary,
    listener_problem,
    route_weights,
    write_bootstrap,
)
from kmeshctl.cni.plugin import AGENT_TIMEOUT_S
from kmeshctl.waypoint.envoy import ADMIN_ERRORS, envoy_argv

Progress = Callable[[str], None]
READY_TIMEOUT_S = 30.0
EXIT_SETTLE_S = 2.0  # how long a process gone from its cgroup may take to get its exit status written
# `up` succeeds only once every process has run this long: one that dies at once (a bad
# flag, a port already taken) fails `up` instead of leaving a sandbox that looks fine.
STABLE_S = 1.0
# `down` stops a `sandbox up` still creating the sandbox with SIGTERM (it then removes
# what it made and says why), and SIGKILLs it only after this long.
UP_STOP_GRACE_S = 30.0
# The pods' processes (a `sandbox exec` among them) get SIGTERM this long before SIGKILL.
POD_STOP_GRACE_S = 2.0
CONTROL_PLANE = "the control plane"
PINNED_MAP = "km_manage"  # one pin of the agent's data path: gone, the pods are no longer served
NODE_AGENT = "the node agent"


def _quiet(_: str) -> None:
    pass


def require_root() -> None:
    errors.require_root("the sandbox", "network namespaces, cgroups, eBPF")


# ---------------------------------------------------------------- up


@dataclass(frozen=True)
class UpPlan:
    """What `up` will create, validated (check_up), before anything is made."""

    name: str
    manifests: manifests_mod.Manifests
    plans: list[PodPlan]
    vips: dict[str, str]


def check_up(name: str, files: Sequence[Path]) -> UpPlan:
    """Every check of `up` (root, manifests, tools, the kernel, the name free, the socket
    paths), nothing made: a refusal comes before anything says "Creating"; a fix that
    runs `up` again gives it the -f ``files`` (up_line)."""
    require_root()
    manifests = manifests_mod.load(files)
    check_no_name_clash(manifests)
    plans = plan_pods(manifests)
    vips = plan_vips(manifests)
    envoy_binary()
    pods_mod.check_cni_plugins()
    agent_mod.preflight()
    _refuse_existing(name, up_line(name, files))
    check_socket_paths(name, manifests)
    return UpPlan(name, manifests, plans, vips)


def check_socket_paths(name: str, manifests: manifests_mod.Manifests) -> None:
    """UsageError unless every unix socket sandbox ``name`` would bind (the control plane's
    xDS sockets, the waypoints' Envoy admin, the agent's admin and CNI sockets) fits the
    kernel's sun_path: the waypoints' namespaces and names are part of their paths."""
    state = SandboxState(name=name)
    paths = [state.xds_socket, state.cni_socket, agent_mod.admin_socket(state)]
    for namespace, waypoint in waypoint_keys(manifests):
        paths += [state.waypoint_xds_socket(namespace, waypoint),
                  state.envoy_admin_socket(WaypointInfo(waypoint, namespace, waypoint, ""))]
    for path in paths:
        size = len(os.fsencode(str(path)))
        if size > state_mod.SUN_PATH_MAX:
            raise UsageError(f"unix socket {path} would be {size} bytes long, over the kernel's limit of "
                             f"{state_mod.SUN_PATH_MAX}: use a shorter sandbox name, or a shorter waypoint name "
                             "or namespace in the manifests")


def up(name: str, files: Sequence[Path], progress: Progress = _quiet,
       plan: UpPlan | None = None, keep_logs_if_interrupted: bool = True) -> SandboxState:
    """Create the sandbox. Everything is validated first (``plan``: by check_up already);
    on failure what was made is removed, its logs kept (failed_up_logs); interrupted too,
    unless not ``keep_logs_if_interrupted`` (a demo's own sandbox, removed whole)."""
    plan = plan if plan is not None and plan.name == name else check_up(name, files)
    manifests, plans, vips = plan.manifests, plan.plans, plan.vips
    state = new_state(name)
    state.vips = vips
    claimed = False
    # The first stop stops the making; the next one waits for the removal of what was made
    # (a second Ctrl-C, a SIGTERM after it), and only a third leaves it half-made.
    with stopping.finishing(f"removing what sandbox {name} made", lambda: half_made_text(name),
                            armed=False) as cleanup:
        try:  # from the record's first byte: a stop while it is written removes it too (teardown)
            with stopping.held():  # the record written and `claimed` set, or neither
                claimed = _claim(state, files)
            shutil.rmtree(failed_up_logs(name), ignore_errors=True)
            state.manifests_file.write_text(yaml.safe_dump_all(manifests.documents, sort_keys=False))
            _write_sources(state, files)
            _create(state, manifests, plans, progress)
            _check_not_stopped(name)
            state.phase = PHASE_READY
            state.save()  # in the try too: a stop while `up` says ready still removes it
        except BaseException as err:
            if not claimed:  # another `up`'s sandbox: not this one's to remove
                raise
            cleanup.arm()
            _undo_up(state, err, progress, keep_logs_if_interrupted)
            raise
    return state


class NameTaken(KmeshctlError):
    """Another `sandbox up` claimed the name between check_up and up (exit 1)."""


CLAIM_TRIES = 3  # a claim lost to an `up` that is gone by the time it is looked at: tried again


def _claim(state: SandboxState, files: Sequence[Path]) -> bool:
    """Make sandbox ``state``'s name this `up`'s (its record written: state.claim), True;
    NameTaken (nothing made, nothing removed) when another `up` has it, saying what that
    one is doing (`being created by pid N`), as check_up would have."""
    for _ in range(CLAIM_TRIES):
        try:
            if state.claim():
                return True
        except FileNotFoundError:  # the directory removed meanwhile (that other `up` failed): look again
            pass
        try:
            _refuse_existing(state.name, up_line(state.name, files))
        except KmeshctlError as err:
            raise NameTaken(str(err)) from None
    raise NameTaken(f"sandbox {state.name} is being created and removed by other `kmeshctl sandbox up` runs "
                    f"at the same time; wait for them, then run `{up_line(state.name, files)}`")


def _undo_up(state: SandboxState, err: BaseException, progress: Progress, keep_logs_if_interrupted: bool) -> None:
    """What a failed or stopped `up` made, removed (its logs kept, see up)."""
    interrupted = isinstance(err, KeyboardInterrupt)
    remover = lock_mod.removed_by(state.name) if interrupted else None
    # a sandbox its user removed keeps no logs: `sandbox list` would show it as failed
    keep = remover is None and (keep_logs_if_interrupted or not interrupted)
    kept = _keep_logs(state, "interrupted" if interrupted else "failed") if keep else None
    what = "interrupted" if interrupted else "sandbox up failed"
    progress(f"{what}: removing what was created" + (f" (its logs are kept in {kept})" if kept else ""))
    teardown(state, _quiet)
    if kept:
        _point_at_kept_logs(err, state.logs_dir, kept)
    if remover is not None:  # the stop's one line (exit 128 + its signal): why it came
        stopping.say(f"sandbox {state.name} was removed by 'sandbox down' (pid {remover.pid}) while it was "
                     "being created")


def half_made_text(name: str) -> str:
    """What a `sandbox up` whose removal of what it made was cut short left ('' when
    nothing: it had all been removed)."""
    if not leftovers(name):
        return ""
    return f"sandbox {name} is half-created; remove it with `kmeshctl sandbox down --name {name}`"


# ---------------------------------------------------------------- making it again

SOURCES_FILE = "sources.json"  # in the record's directory: the -f paths `up` was given
KEPT_MANIFESTS = "manifests-{name}.yaml"  # beside the records: where a fix copies the record's manifests


def _write_sources(state: SandboxState, files: Sequence[Path]) -> None:
    """What `up` was given, for a fix that makes the sandbox again (remake_steps): the
    -f paths as absolute ones (`-` for stdin), or none for the default manifests."""
    given = [str(p) if str(p) == manifests_mod.STDIN else str(Path(p).absolute()) for p in files]
    default = [str(p) for p in manifests_mod.default_files()]
    (state.dir / SOURCES_FILE).write_text(json.dumps({"files": [] if given == default else given}))


def _sources(name: str, directory: Path | None = None) -> list[str] | None:
    """The -f paths sandbox ``name`` was made from ([] for the default manifests), as its
    record (or ``directory``: the logs a failed `up` kept) says; None when unknown."""
    try:
        where = directory if directory is not None else state_mod.state_dir(name)
        files = json.loads((where / SOURCES_FILE).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    return files if isinstance(files, list) and all(isinstance(f, str) for f in files) else None


def _recorded_documents(name: str, directory: Path | None = None) -> list[Any] | None:
    try:
        where = directory if directory is not None else state_mod.state_dir(name)
        return [d for d in yaml.safe_load_all((where / "manifests.yaml").read_text()) if d]
    except (OSError, yaml.YAMLError):
        return None


def _same_as_recorded(files: list[str], recorded: list[Any] | None) -> bool:
    """Whether ``files`` (no stdin) still hold exactly the objects the sandbox was made
    from (as kept in its record: live changes, e.g. the demo's weights, count too)."""
    if recorded is None or manifests_mod.STDIN in files:
        return False
    paths = [Path(f) for f in files] if files else manifests_mod.default_files()
    try:
        documents = manifests_mod.load(paths).documents
    except (UsageError, OSError):
        return False
    return documents == recorded


def remake_steps(name: str, directory: Path | None = None) -> list[str]:
    """The commands that make sandbox ``name`` again from the objects it was made from
    (`sandbox up` refuses one that exists): `down`, then `up` with the same -f paths while
    they still hold those objects, else with a copy of the record's manifests (made first:
    `down` removes the record), e.g. when they came from stdin. ``directory``: where the
    record's sources and manifests are (default: its record; a failed `up`'s kept logs)."""
    down = f"kmeshctl sandbox down --name {name}"
    up = f"kmeshctl sandbox up --name {name}"
    files, recorded = _sources(name, directory), _recorded_documents(name, directory)
    kept = kept_manifests(name)
    # made from the copy: copied again (fresh, so the `down` keeps it: kept_copy_used)
    if files is not None and files != [str(kept)] and _same_as_recorded(files, recorded):
        return [down, up + "".join(f" -f {shlex.quote(f)}" for f in files)]
    if recorded is None:
        return [down, up]
    where = directory if directory is not None else state_mod.state_dir(name)
    copy = f"cp {shlex.quote(str(where / 'manifests.yaml'))} {shlex.quote(str(kept))}"
    return [copy, down, f"{up} -f {shlex.quote(str(kept))}"]


def failed_up_remake_steps(name: str) -> list[str]:
    """remake_steps of a name whose failed `up` left only its logs (they keep what it was
    given: see _keep_logs): `down` removes the logs, `up` makes it from the same manifests."""
    return remake_steps(name, failed_up_logs(name))


def kept_manifests(name: str) -> Path:
    """Where a fix (remake_steps) copies sandbox ``name``'s manifests before its `down`."""
    return state_mod.STATE_ROOT / KEPT_MANIFESTS.format(name=name)


def kept_copy_used(state: SandboxState) -> Path | None:
    """The copy a fix made (remake_steps) when sandbox ``state`` was made from it, for its
    `down` to remove with the record (None: none, or not that one). Not a copy written
    since the sandbox was created: that is a fix's own `cp`, for the `up` after this
    `down` to read. A failed `up` keeps it: its fix runs that `up` again."""
    kept = kept_manifests(state.name)
    if _sources(state.name) != [str(kept)]:
        return None
    try:
        return kept if kept.stat().st_mtime < state.created_at else None
    except OSError:
        return None


def remake_line(name: str) -> str:
    """remake_steps as one line to paste (`A && B && C`)."""
    return " && ".join(remake_steps(name))


def remake_text(name: str, then: str = "") -> str:
    """remake_line in backticks (then ``then``, the command the user ran, when given),
    saying why a copy is made when that is not plain: the manifests came from stdin, or
    the files changed since."""
    steps = remake_steps(name) + ([then] if then else [])
    why = ""
    if steps[0].startswith("cp "):
        files = _sources(name) or []
        why = (" (its manifests came from stdin: this uses the copy its record keeps)" if manifests_mod.STDIN in files
               else " (this uses the copy of its manifests its record keeps)")
    return f"`{' && '.join(steps)}`{why}"


def _check_not_stopped(name: str) -> None:
    """Before `up` reports success: a signal whose exception was swallowed where it was
    raised (logging's lock release, a __del__) still stops it, and so does a `sandbox
    down` that began removing it meanwhile."""
    stopping.check_not_stopped()
    if lock_mod.removed_by(name) is not None or SandboxState.load(name) is None:
        raise stopping.Stopped(signal.SIGTERM)


UP_END_FILE = "up-ended"  # in the kept logs: `failed` or `interrupted`, for `sandbox list` / `status`
UP_START_FILE = "up-started"  # in the kept logs: when that `up` started (its AGE in `sandbox list`)


def _keep_logs(state: SandboxState, how: str = "failed") -> Path | None:
    """A copy of the logs for the error to point at: `teardown` removes the record;
    ``how`` the `up` ended (`failed`, `interrupted`) is kept beside them."""
    if not state.logs_dir.is_dir():
        return None
    kept = failed_up_logs(state.name)
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(state.logs_dir, kept)
    (kept / UP_END_FILE).write_text(how + "\n")
    (kept / UP_START_FILE).write_text(f"{state.created_at}\n")
    for record in (SOURCES_FILE, "manifests.yaml"):  # for the fix that makes it again (failed_up_remake_steps)
        with contextlib.suppress(OSError):
            shutil.copy(state.dir / record, kept / record)
    if state.cni_plugin_log.exists():
        shutil.copy(state.cni_plugin_log, kept / "cni-plugin.log")
    return kept


def _point_at_kept_logs(err: BaseException, logs: Path, kept: Path) -> None:
    if isinstance(err, ComponentFailed):
        err.log = err.log.replace(str(logs), str(kept))
    elif isinstance(err, KmeshctlError) and err.args:
        err.args = (str(err.args[0]).replace(str(logs), str(kept)), *err.args[1:])


def up_line(name: str, files: Sequence[Path]) -> str:
    """`kmeshctl sandbox up --name NAME -f F...` for ``files`` (none for the default manifests)."""
    given = [str(f) if str(f) == manifests_mod.STDIN else str(Path(f).absolute()) for f in files]
    default = [str(p) for p in manifests_mod.default_files()]
    flags = "".join(f" -f {shlex.quote(f)}" for f in ([] if given == default else given))
    return f"kmeshctl sandbox up --name {name}{flags}"


def _refuse_existing(name: str, up: str) -> None:
    """A sandbox ``name`` that exists refused, its fix ending in the user's own ``up``."""
    state = SandboxState.load(name)
    if state is None and not _leftovers(SandboxState(name=name)):
        return
    if state is not None and state.phase == PHASE_READY:
        raise KmeshctlError(f"sandbox {name} is already up (see `kmeshctl sandbox status --name {name}`); "
                            f"run `kmeshctl sandbox down --name {name}` first")
    raise KmeshctlError(unfinished(state or SandboxState(name=name), up))


def unfinished(state: SandboxState, then: str = "") -> str:
    """Why sandbox ``state`` (not ready: its `up` or `down` did not finish) cannot be used,
    with a fix that works when pasted: a `down` that finishes it, then ``then`` (the
    command the user ran; `sandbox up` first when it needs the sandbox to exist)."""
    name = state.name
    remover = lock_mod.removed_by(name)
    if remover is not None:
        return lock_mod.in_use_text(name, remover)
    if state.phase == PHASE_READY:
        return ""
    if state.phase != state_mod.PHASE_REMOVING and state.up_is_running():
        running = state_mod.kmeshctl_command(state.up_pid, f"kmeshctl sandbox up --name {name}")  # as it was typed
        return (f"sandbox {name} is being created by pid {state.up_pid} (not ready yet): wait for that "
                f"`{running}` to finish, or stop it with `kmeshctl sandbox down --name {name}`")
    what = ("half-removed (a `sandbox down` did not finish)" if state.phase == state_mod.PHASE_REMOVING
            else "half-created (a `sandbox up` did not finish)")
    if _is_up(then):  # the user's own `up`, with the manifests they chose
        return f"sandbox {name} is {what}: {_down_then_up(name, then)}"
    steps = remake_steps(name) + ([then] if then else [])
    return f"sandbox {name} is {what}: run `{' && '.join(steps)}`"


def _is_up(line: str) -> bool:
    words = line.split()
    return "sandbox" in words and words[words.index("sandbox") + 1:][:1] == ["up"]


def _down_then_up(name: str, up: str) -> str:
    """`run `kmeshctl sandbox down --name NAME && UP``; an ``up`` reading stdin (`-f -`)
    cannot follow in one pasted line (the terminal would be its stdin): said in two steps."""
    down = f"kmeshctl sandbox down --name {name}"
    if manifests_mod.STDIN in shlex.split(up):
        return f"run `{down}`, then pipe the manifests to `{up}` again"
    return f"run `{down} && {up}`"


def _create(state: SandboxState, manifests: manifests_mod.Manifests, plans: list[PodPlan],
            progress: Progress) -> None:
    """Create everything, watching every process started so far: the first one that
    ends is what is reported, whatever step was waiting at that moment."""
    try:
        _create_steps(state, manifests, plans, progress)
        _wait_stable(state)
    except ComponentFailed:
        raise
    except Exception as err:
        # e.g. the agent refused a connection because it just died: report the death.
        failure = _first_failure(state, EXIT_SETTLE_S)
        if failure is None:
            raise
        raise ComponentFailed.of(failure) from err


def _create_steps(state: SandboxState, manifests: manifests_mod.Manifests, plans: list[PodPlan],
                  progress: Progress) -> None:
    """The order of a node: the control plane and the node agent (which installs its CNI
    plugin), then each pod through the CNI chain (enrolled before anything runs in it),
    then the control plane publishes the pods and the agent takes them into its maps, then
    the pods' processes and the waypoints' Envoys start."""
    for cgroup in (state.cgroup, state.pods_cgroup, state.system_cgroup):
        cgroup.mkdir(exist_ok=True)
    conf = pods_mod.create_node(state, manifests)
    progress(f"node network: CNI config {conf} (bridge {pods_mod.BRIDGE} in netns {state.node_netns}, "
             f"host-local {state_mod.POD_SUBNET})")
    _start_control_plane(state, progress)
    agent_mod.start(state, start_daemon, progress, check=lambda: check_processes(state))
    pods = _create_pods(state, manifests, plans, progress)
    state.pods_ready = True
    state.save()
    _signal_control_plane(state, signal.SIGHUP)
    workloads = {f"Kubernetes//Pod/{r.namespace}/{r.name}": r.ip for r in state.pods}
    agent_mod.wait_synced(state, workloads, lambda: check_processes(state))
    progress("node agent ready: " + ("no pods to wait for" if not workloads else "the pod's workload is in its BPF "
             "maps" if len(workloads) == 1 else f"the {len(workloads)} pods' workloads are in its BPF maps"))
    for plan in plans:
        if not plan.waypoint:
            _start_containers(state, plan, pods[plan.name], progress)
    for waypoint in state.waypoint_infos():
        _start_waypoint(state, waypoint, pods[waypoint.pod], progress)


def _create_pods(state: SandboxState, manifests: manifests_mod.Manifests, plans: list[PodPlan],
                 progress: Progress) -> dict[str, Pod]:
    """Each pod through the CNI chain; a mesh pod must come out of its ADD enrolled."""
    runtime = pods_mod.cni_runtime(state)
    pods: dict[str, Pod] = {}
    for plan in plans:
        check_processes(state)
        pod = pods[plan.name] = pods_mod.add_pod(state, plan, runtime)
        decision = agent_mod.decision(manifests, plan.namespace, plan.name, plan.labels)
        if decision.enroll and not agent_mod.is_enrolled(state, pod.netns_path):
            raise KmeshctlError(f"pod {plan.name}: the kmesh CNI plugin did not enroll it ({decision.reason}): "
                                f"see {state.cni_plugin_log} and {state.logs_dir / 'agent.log'}")
        verdict = (f"enrolled by the kmesh CNI plugin ({decision.reason})" if decision.enroll
                   else f"not enrolled ({decision.reason})")
        progress(f"pod {plan.namespace}/{plan.name}: {pod.ip} (CNI ADD), {verdict}")
        if plan.waypoint:
            state.waypoints.append(vars(WaypointInfo(plan.deployment, plan.namespace, plan.name, str(pod.ip))))
            state.save()
    return pods


def _launch(state: SandboxState, record: ProcessRecord, argv: list[str],
            popen: Callable[[list[str]], subprocess.Popen]) -> Launched:
    """Start `argv` under its supervisor (`popen` puts it in its cgroup / pod) and record
    it (real pid, exit-status file) before anything waits for it."""
    state.run_dir.mkdir(parents=True, exist_ok=True)
    key = f"{len(state.processes):02d}-{record.role}"
    pid_file, exit_file = state.run_dir / f"{key}.pid", state.run_dir / f"{key}.exit"
    process = health.launched(popen(health.supervised(argv, pid_file, exit_file)), pid_file)
    record.pid, record.exit_file, record.started_at = process.pid, str(exit_file), time.time()
    state.processes.append(record)
    state.save()
    return process


def start_daemon(state: SandboxState, role: str, argv: list[str]) -> Launched:
    """A host-side process of the sandbox, in a cgroup under the sandbox's (so `down`
    finds it even if the record is lost)."""
    cgroup = state.system_cgroup / role
    cgroup.mkdir(exist_ok=True)
    log = state.logs_dir / f"{role}.log"
    log.parent.mkdir(parents=True, exist_ok=True)

    def popen(command: list[str]) -> subprocess.Popen:
        with open(log, "ab") as out:
            return popen_entering(command, cgroup, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    component = {"controlplane": CONTROL_PLANE, "agent": NODE_AGENT}.get(role, f"the {role}")
    record = ProcessRecord(role, 0, "", str(log), component=component, cgroup=str(cgroup))
    return _launch(state, record, argv, popen)


def _start_control_plane(state: SandboxState, progress: Progress) -> None:
    process = start_daemon(state, "controlplane",
                           [sys.executable, "-m", "kmeshctl.sandbox.controlplane", "--name", state.name])
    sockets = _control_plane_sockets(state)
    _wait(state, lambda: all(health.unix_socket_accepts(s) for s in sockets),
          f"is not serving on {', '.join(f'unix:{s}' for s in sockets)} after {READY_TIMEOUT_S:.0f}s")
    progress(f"control plane: delta ADS on unix:{state.xds_socket} (pid {process.pid})")


def _control_plane_sockets(state: SandboxState) -> list[Path]:
    manifests = manifests_mod.load([state.manifests_file])
    return [state.xds_socket] + [state.waypoint_xds_socket(ns, name) for ns, name in waypoint_keys(manifests)]


def _start_containers(state: SandboxState, plan: PodPlan, pod: Pod, progress: Progress) -> None:
    log = state.logs_dir / f"{plan.name}.log"
    workdir = state.dir / "pods" / plan.name
    workdir.mkdir(parents=True, exist_ok=True)
    for index, spec in enumerate(plan.processes):
        component = f"pod {plan.name}: {spec.implementation.split(' (')[0]}"
        if len(plan.processes) > 1:
            component += f" (container {index + 1} of {len(plan.processes)})"
        record = ProcessRecord("container", 0, plan.name, str(log), component=component,
                               cgroup=str(pod.cgroup))
        _launch(state, record, list(spec.argv),
                lambda argv: start_process(pod, argv, log, cwd=workdir))
        for port in spec.ports:
            _wait(state, lambda: tcp_open(pod, port),
                  f"does not listen on {pod.ip}:{port} after {READY_TIMEOUT_S:.0f}s")
        progress(f"pod {plan.name}: {spec.implementation} running"
                 + (f", listening on {', '.join(map(str, spec.ports))}" if spec.ports else ""))


def _start_waypoint(state: SandboxState, waypoint: WaypointInfo, pod: Pod, progress: Progress) -> None:
    workdir = state.dir / "pods" / waypoint.pod
    workdir.mkdir(parents=True, exist_ok=True)
    bootstrap = workdir / "envoy-bootstrap.json"
    admin_socket = state.envoy_admin_socket(waypoint)
    write_bootstrap(bootstrap, waypoint, state.waypoint_xds_socket(waypoint.namespace, waypoint.name),
                    admin_socket)
    log = state.logs_dir / f"{waypoint.pod}.log"
    component = f"waypoint {waypoint.namespace}/{waypoint.name}: Envoy in pod {waypoint.pod}"
    record = ProcessRecord("waypoint", 0, waypoint.pod, str(log), component=component,
                           cgroup=str(pod.cgroup))
    _launch(state, record, envoy_argv(bootstrap, pod.name),
            lambda argv: start_process(pod, argv, log, cwd=workdir))
    admin = EnvoyAdmin(admin_socket)
    _wait(state, admin.ready, f"is not ready after {READY_TIMEOUT_S:.0f}s (admin unix:{admin_socket})")
    _wait_listener(state, waypoint, admin, log)
    progress(f"waypoint {waypoint.namespace}/{waypoint.name}: Envoy ready on "
             f"{waypoint.ip}:{waypoint.port} (PROXY protocol), admin unix:{admin_socket}")


def _wait_listener(state: SandboxState, waypoint: WaypointInfo, admin: EnvoyAdmin, log: Path) -> None:
    """Until the waypoint's Envoy serves the listener the control plane sent: Envoy says
    LIVE even when it rejected it, and then every request through the waypoint fails."""
    found: list[str] = []

    def configured() -> bool:
        try:
            problem = listener_problem(admin)
        except (*ADMIN_ERRORS, KmeshctlError):  # the admin API busy a moment: asked again
            return False
        found[:] = [problem] if problem else []
        return problem is not None

    _wait(state, configured, f"has no listener after {READY_TIMEOUT_S:.0f}s (admin unix:{admin.socket_path}): "
                             f"see {state.logs_dir / 'controlplane.log'}")
    if found:
        raise KmeshctlError(f"waypoint {waypoint.namespace}/{waypoint.name}: {found[0]}: see {log}")


def _wait(state: SandboxState, ready: Callable[[], bool], not_ready: str) -> None:
    """Wait for the last process started to be ready, watching all of them."""
    record = state.processes[-1]
    health.wait_until(ready, lambda: check_processes(state), READY_TIMEOUT_S,
                      lambda: ComponentFailed.of(_process_health(state, record), not_ready))


def _process_health(state: SandboxState, record: ProcessRecord) -> ProcessHealth:
    """How ``record`` is doing; one that ended in a sandbox being removed is `removed`
    (the `sandbox down` stopped it: no crash, no log to read)."""
    cgroup = record.cgroup or _cgroup_of(state, record)  # records written before `cgroup` existed
    found = health.inspect(record.component or record.role, record.pid, record.log,
                           record.exit_file, cgroup)
    found.removed = found.failed and state.phase == state_mod.PHASE_REMOVING
    if found.failed and found.exit_status is None and not found.removed:
        view.check_seen(state)  # not in its cgroup as seen from here: hidden is not ended
    return found


def process_alive(state: SandboxState, record: ProcessRecord) -> bool:
    """Whether the sandbox's process ``record`` still runs."""
    return not _process_health(state, record).failed


def _cgroup_of(state: SandboxState, record: ProcessRecord) -> str:
    pod = state.pod(record.pod) if record.pod else None
    return pod.cgroup if pod else str(state.system_cgroup / record.role)


def _first_failure(state: SandboxState, settle: float = 0.0) -> ProcessHealth | None:
    """The first process of the sandbox that ended. One gone from its cgroup whose exit
    status is not written yet gets `settle` seconds for its supervisor to write it."""
    deadline = time.monotonic() + settle
    while True:
        failure = health.first_failure([_process_health(state, r) for r in state.processes])
        if failure is None or failure.exit_status is not None or time.monotonic() > deadline:
            return failure
        time.sleep(0.02)


def _wait_stable(state: SandboxState) -> None:
    """Until every process has run STABLE_S seconds, checking them all meanwhile."""
    until = max((r.started_at for r in state.processes), default=0.0) + STABLE_S
    while True:
        check_processes(state)
        if time.time() >= until:
            return
        time.sleep(0.05)


def check_processes(state: SandboxState) -> None:
    """ComponentFailed for the first process of the sandbox that ended."""
    failure = _first_failure(state, EXIT_SETTLE_S)
    if failure is not None:
        raise ComponentFailed.of(failure)


# ---------------------------------------------------------------- down


def down(name: str, progress: Progress = _quiet, force: bool = False) -> bool:
    """Remove the sandbox (and the logs a failed `up` of it kept); False when there was
    nothing to remove. Refused (lock.InUse) while another `down` removes it, or a demo
    uses it unless ``force``. A record it cannot read (damaged, another version's) is no
    obstacle: what of it reads is used, the names derived from ``name`` find the rest."""
    require_root()
    taken = lock_mod.acquire(name, lock_mod.DOWN, force)
    try:
        state = SandboxState.load(name) or SandboxState(name=name)
        shutil.rmtree(failed_up_logs(name), ignore_errors=True)
        if not state.dir.exists() and not _leftovers(state):
            return False
        view.check_seen(state)  # what it cannot see it cannot stop or unpin
        copy = kept_copy_used(state)
        teardown(state, progress)
        shutil.rmtree(failed_up_logs(name), ignore_errors=True)  # an `up` it stopped may have kept some
        if copy is not None:
            copy.unlink(missing_ok=True)
        return True
    finally:
        if taken:
            lock_mod.release(name)


def leftovers(name: str) -> list[str]:
    """What of sandbox ``name`` is on this machine (its record, cgroup, bpffs, netns): none
    once a `down` of it finished."""
    return _leftovers(SandboxState(name=name))


def _leftovers(state: SandboxState) -> list[str]:
    found = [str(p) for p in (state.cgroup, state.bpffs, state.dir) if p.exists()]
    if NETNS_DIR.is_dir():
        found += [n.name for n in NETNS_DIR.iterdir() if n.name.startswith(f"{state.netns_prefix}-")]
    return found


def teardown(state: SandboxState, progress: Progress) -> None:
    """Processes first (one kill of the whole cgroup tree), then BPF objects, pods,
    cgroups and the record (state.json last: while anything is left, the sandbox is
    listed). Safe to repeat; every step tolerates a half-made sandbox."""
    if _stop_up_process(state):  # what it recorded meanwhile (pods, processes) is to remove too
        state = SandboxState.load(state.name) or state
    if not _undoing_own_up(state):
        _mark_removing(state)
    # The pods' processes first, then their networks through CNI DEL while the node agent
    # still runs (its plugin releases each pod), as the kubelet stops a pod's containers
    # before StopPodSandbox; then the daemons.
    # Counted as they are stopped: each process seen in the sandbox's cgroups, its
    # supervisor too (those SIGTERM ends are gone before the SIGKILL counts).
    stopped = set(_tree_pids(state.cgroup))
    _terminate_tree(state.pods_cgroup, POD_STOP_GRACE_S, progress)
    stopped |= set(_tree_pids(state.cgroup))
    kill_cgroup_tree(state.pods_cgroup)
    _agent_for_cni_del(state, progress)
    pods_mod.remove_pods(state, progress)
    stopped |= set(_tree_pids(state.cgroup))
    kill_cgroup_tree(state.cgroup)
    progress(f"stopped {len(stopped)} processes")
    agent_mod.cleanup(state, progress)
    pods_mod.destroy_network(state)
    progress("removed pods and the pod network")
    remove_cgroup_tree(state.cgroup)
    _remove_record(state)
    remaining = _leftovers(state)
    if remaining:
        raise KmeshctlError(f"sandbox {state.name}: could not remove {', '.join(remaining)}; "
                            f"run `kmeshctl sandbox down --name {state.name}` again")


def _undoing_own_up(state: SandboxState) -> bool:
    """Whether this is a `sandbox up` of this process removing what it made: cut short,
    that leaves the sandbox half-created (its phase stays `creating`), not half-removed."""
    return state.phase != PHASE_READY and state.up_pid == os.getpid()


def _remove_record(state: SandboxState) -> None:
    """The record's directory, state.json last: a stop in the middle leaves a sandbox that
    `sandbox list` shows and `down` finishes, not files no command names."""
    record = state.dir / "state.json"
    with contextlib.suppress(OSError):
        for path in [p for p in state.dir.iterdir() if p != record]:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        record.unlink(missing_ok=True)
    shutil.rmtree(state.dir, ignore_errors=True)


def _mark_removing(state: SandboxState) -> None:
    """Recorded first, so a `down` that does not finish (killed, power lost) is named as
    such by `sandbox status` / `list`, with the command that finishes it."""
    if (state.dir / "state.json").exists():
        state.phase = state_mod.PHASE_REMOVING
        with contextlib.suppress(OSError):
            state.save()


def _terminate_tree(cgroup: Path, grace: float = POD_STOP_GRACE_S, progress: Progress = _quiet) -> None:
    """SIGTERM every process under ``cgroup`` and give them ``grace`` seconds to end, as
    the kubelet stops a container: a `sandbox exec` command ends by a signal it can
    report, not by a silent SIGKILL. SIGCONT too: a stopped process (SIGSTOP) handles the
    SIGTERM only once continued. Processes still there after a moment: a line says what
    it waits for, and how long."""
    pids = _tree_pids(cgroup)
    for pid in pids:
        for sig in (signal.SIGTERM, signal.SIGCONT):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
    started = time.monotonic()
    said = False
    while pids and _tree_pids(cgroup) and time.monotonic() < started + grace:
        if not said and time.monotonic() > started + min(0.5, grace / 2):
            left = _tree_pids(cgroup)
            progress(f"waiting up to {grace:g}s for {len(left)} pod process{'es' if len(left) != 1 else ''} "
                     "to end after SIGTERM (SIGKILL then)")
            said = True
        time.sleep(0.05)


def _agent_for_cni_del(state: SandboxState, progress: Progress) -> None:
    """The node agent answers each pod's CNI DEL: a stopped one (SIGSTOP) is continued
    (it is removed next), one that does not answer is named, with the wait it costs."""
    agents = state.processes_of("agent")
    if not agents or not state.pods or not process_alive(state, agents[-1]):
        return
    pid = agents[-1].pid
    if process_stopped(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        progress(f"the node agent (pid {pid}) was stopped (SIGSTOP): continued it for the pods' CNI DEL")
    elif not agent_mod.ready(state):
        progress(f"the node agent (pid {pid}) does not answer: each pod's CNI DEL waits up to "
                 f"{AGENT_TIMEOUT_S:g}s for it ({len(state.pods)} pods)")


def _tree_pids(cgroup: Path) -> list[int]:
    if not cgroup.is_dir():
        return []
    pids: list[int] = []
    for procs in cgroup.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in procs.read_text().split()]
    return pids


def _stop_up_process(state: SandboxState, grace: float = UP_STOP_GRACE_S) -> bool:
    """A `sandbox up` still creating this sandbox (not us) is stopped first: SIGTERM, so
    it removes what it made and says why (see up), SIGKILL only after ``grace`` seconds.
    True when there was one (the record on disk is then newer than ``state``)."""
    if state.phase == PHASE_READY or state.up_pid == os.getpid() or not state.up_is_running():
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(state.up_pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while state.up_is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    if state.up_is_running():
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.up_pid, signal.SIGKILL)
    return True


# ---------------------------------------------------------------- status


def loaded_state(name: str) -> SandboxState:
    state = SandboxState.load(name)
    if state is None:
        from kmeshctl.sandboxes import not_found

        raise not_found(name)
    return state


def status(name: str) -> dict[str, Any]:
    """The sandbox component by component. `ready` is true when `up` finished and every
    process runs and answers; `problems` says what is not, one phrase per component
    (which one, how it ended, its log). Each process carries `running`, and once ended
    its `exitStatus`, `reason` and the last lines of its log (`logTail`)."""
    require_root()
    state = loaded_state(name)
    view.check_seen(state)  # before its maps are read: no bpffs here is no pins
    topology = state.topology() if state.manifests_file.exists() else None
    enrolled = agent_mod.enrolled_pods(state)
    enrolled_by = agent_mod.enrolled_by(state)
    processes = [(record, _process_health(state, record)) for record in state.processes]
    waypoints = [_waypoint_status(state, w, processes) for w in state.waypoint_infos()]
    report: dict[str, Any] = {
        "pods": [_pod_status(pod, processes, enrolled, enrolled_by) for pod in state.pods],
        "services": [_service_status(topology, s) for s in
                     (topology.manifests.services if topology else [])],
        "waypoints": waypoints,
        "controlplane": _control_plane_status(state, processes, waypoints),
        "agent": _agent_status(state, processes),
    }
    problems = _problems(state, report, processes)
    phase = state_mod.shown_phase(state.phase, problems, not state.up_is_running())
    notes = [note] if not half_made(phase) and (note := unenrolled_note(state)) else []
    return {"name": state.name, "phase": phase, "ready": not problems,
            "problems": problems, "fix": _fix(state, problems, processes), "notes": notes, **report}


def _fix(state: SandboxState, problems: list[str], processes: Processes) -> str | None:
    """The one line that makes sandbox ``state`` ready again; None when it is ready, or
    when waiting is the fix (an `up` or `down` runs; a daemon runs but does not answer
    yet). Nothing restarts one process that ended: the sandbox is made again."""
    if not problems:
        return None
    if state.phase == state_mod.PHASE_REMOVING:
        return None if lock_mod.removed_by(state.name) else f"kmeshctl sandbox down --name {state.name}"
    if state.phase != PHASE_READY:
        return None if state.up_is_running() else remake_line(state.name)
    ended = any(h.failed for _, h in processes)
    # the problems say it already: the kernel is not asked again (BPF_PROG_QUERY per program)
    if ended or data_path_gone(state) or any(said in p for p in problems for said in REMADE_FOR):
        return remake_line(state.name)
    stopped = [str(h.pid) for _, h in processes if h.stopped]
    return f"kill -CONT {' '.join(stopped)}" if stopped else None


def half_made(phase: str) -> bool:
    """A sandbox half-removed (`down` stopped) or half-created (`up` gone): its Fix line,
    finishing the down, is all status says; notes offering it a demo would be refused."""
    return phase in (state_mod.PHASE_REMOVING, state_mod.PHASE_HALF_CREATED)


def unenrolled_note(state: SandboxState) -> str:
    """One line ('' when none): the pods Kmesh does not enroll cannot reach the Services
    by ClusterIP, since the sandbox has no kube-proxy; the data path balances Service
    traffic for enrolled pods only, as Kmesh does. Not a problem: said, not failed."""
    if not state.manifests_file.exists():
        return ""
    manifests = state.topology().manifests
    services = [f"{s.namespace}/{s.name}" for s in manifests.services]
    pods = [f"{p.namespace}/{p.name}" for p in state.pods
            if not p.waypoint and not agent_mod.decision(manifests, p.namespace, p.name, p.labels).enroll]
    if not pods or not services:
        return ""
    return (f"pods not enrolled in Kmesh ({', '.join(pods)}) cannot reach Services by ClusterIP "
            f"({', '.join(services)}): the sandbox has no kube-proxy and balances Service traffic only for "
            "enrolled pods, as Kmesh does; label their namespace istio.io/dataplane-mode=Kmesh, or reach "
            "pod IPs (see docs/sandbox.md)")


Processes = list[tuple[ProcessRecord, ProcessHealth]]


def _pod_status(record: PodRecord, processes: Processes, enrolled: set[str] | None,
                enrolled_by: dict[str, str]) -> dict[str, Any]:
    mine = [h for r, h in processes if r.pod == record.name]
    state = "Pending" if not mine else ("Failed" if any(h.failed and not h.removed for h in mine) else
                                        "Removed" if any(h.removed for h in mine) else
                                        "Stopped" if any(h.stopped for h in mine) else "Running")
    in_kernel = None if enrolled is None else record.name in enrolled
    return {
        "name": record.name,
        "namespace": record.namespace,
        "ip": record.ip,
        "state": state,
        "enrolled": in_kernel,
        # which path enrolled it: the kmesh.net/enrolled-by annotation of its object ("cni")
        "enrolledBy": enrolled_by.get(record.name) if in_kernel else None,
        "waypoint": record.waypoint,
        "processes": [h.to_dict() for h in mine],
    }


def _daemon(processes: Processes, role: str) -> ProcessHealth | None:
    found = [h for r, h in processes if r.role == role]
    return found[-1] if found else None


def _control_plane_status(state: SandboxState, processes: Processes,
                          waypoints: list[dict[str, Any]]) -> dict[str, Any]:
    """`ready`: it runs, is not stopped, accepts on its sockets, its loop runs and it pushed
    the record's configuration (`notPushed` says why not: _loop_hangs, _pushed_behind)."""
    process = _daemon(processes, "controlplane")
    if process is None:
        return {"running": False, "ready": False}
    # a stopped process's sockets still accept (the kernel queues): not asked
    serving = process.running and not process.stopped and all(
        health.unix_socket_accepts(s) for s in _control_plane_sockets(state))
    checked = serving and state.phase == PHASE_READY
    behind = (_loop_hangs(state) or _pushed_behind(state, waypoints)) if checked else ""
    return {**process.to_dict(), "ready": serving and not behind, **({"notPushed": behind} if behind else {})}


def _agent_status(state: SandboxState, processes: Processes) -> dict[str, Any]:
    process = _daemon(processes, "agent")
    if process is None:
        return {"running": False, "ready": False}
    if process.stopped:  # its admin API would only time out
        return {**process.to_dict(), "admin": f"http://{state.agent.get('admin', '')}", "ready": False}
    agent = agent_mod.status(state)
    return {**agent, **process.to_dict(), "ready": process.running and bool(agent.get("ready"))}


def _problems(state: SandboxState, report: dict[str, Any], processes: Processes) -> list[str]:
    """Why the sandbox is not ready, one phrase each (empty: ready)."""
    found = _process_problems(state, processes) + _stopped(processes)
    if state.phase == PHASE_READY:
        found += _not_answering(state, report)
    return found


# How long a change of the record may take to reach the waypoints (the demo waits as
# long) before `sandbox status` says the control plane did not push it.
PUSH_GRACE_S = 10.0
CONTROL_PLANE_WEDGED = "runs but did not push the sandbox's configuration"
DATA_PATH_DETACHED = "the data path is not attached to the pods' cgroup"
# problems whose fix is to make the sandbox again (_fix)
REMADE_FOR = (CONTROL_PLANE_WEDGED, DATA_PATH_DETACHED)


def _process_problems(state: SandboxState, processes: Processes) -> list[str]:
    """The part of the health check that asks nothing over the network: `up` finished,
    and every process of the sandbox still runs (its pid in its cgroup, no exit status)."""
    found = []
    if state.phase == state_mod.PHASE_REMOVING:
        found.append(_removal_problem(state.name))
    elif state.phase != PHASE_READY:
        found.append(f"`sandbox up` (pid {state.up_pid}) is still creating it" if state.up_is_running()
                     else f"half-created: a `sandbox up` did not finish: run {remake_text(state.name)}")
    found += [f"{h.component} (pid {h.pid}) {h.reason}: see {h.log}" for _, h in processes
              if h.failed and not h.removed]
    ended = {r.pod for r, h in processes if h.failed}  # said above: its netns is no news
    found += [f"pod {p.namespace}/{p.name}: {netns_gone_text(p)}: run {remake_text(state.name)}"
              for p in netns_gone(state) if p.name not in ended]
    if data_path_gone(state):
        found.append(f"the data path is gone: nothing pinned in {state.bpffs} (was `kmeshctl node cleanup` run on "
                     f"it?): run {remake_text(state.name)}")
    elif detached := data_path_detached(state):
        found.append(f"{DATA_PATH_DETACHED} {state.cgroup} ({', '.join(detached)} "
                     f"missing: was another `kmeshctl node run --bpf-fs {state.bpffs}` started?), so the pods' "
                     f"connections bypass it: run {remake_text(state.name)}")
    return found


def data_path_detached(state: SandboxState) -> list[str]:
    """The programs of ready sandbox ``state``'s data path pinned in its bpffs directory but
    not attached at its pods' cgroup (another agent loaded over it and moved them); []
    when all are, or when this user cannot ask the kernel (BPF_PROG_QUERY is root's)."""
    from kmeshctl.node.loader import LoaderError, unattached

    if state.phase != PHASE_READY or not state.processes_of("agent"):
        return []
    try:
        return unattached(state.bpffs, state.cgroup)
    except (OSError, LoaderError):  # LoaderError: a pinned program this user may not open
        return []


def data_path_gone(state: SandboxState) -> bool:
    """Whether ready sandbox ``state`` has lost its pinned data path (e.g. to `node
    cleanup`), its agent running or not (an agent that ended leaves its pins: only the
    removal of the sandbox unpins them). False when this user cannot look (bpffs is root's)."""
    if state.phase != PHASE_READY or not state.processes_of("agent"):
        return False
    try:
        os.stat(state.bpffs / PINNED_MAP)
    except FileNotFoundError:
        view.check_seen(state)  # no bpffs mounted here: hidden is not gone
        return True
    except OSError:
        return False
    return False


def _removal_problem(name: str) -> str:
    """Why a sandbox whose phase is `removing` is not ready: a `sandbox down` removes it now,
    or one did not finish (its fix: `down` again)."""
    remover = lock_mod.removed_by(name)
    if remover is not None:
        return lock_mod.in_use_text(name, remover)
    return f"half-removed: a `sandbox down` did not finish: run `kmeshctl sandbox down --name {name}`"


def process_problems(state: SandboxState) -> list[str]:
    """Cheap form of `status`'s health check for `sandbox list` (no root, no requests):
    why the sandbox is not ready as far as its processes tell (empty: they all run)."""
    return _process_problems(state, [(r, _process_health(state, r)) for r in state.processes])


def _stopped(processes: Processes) -> list[str]:
    """The processes stopped by SIGSTOP, each with the command that resumes it (not among
    process_problems: the demo names a stopped one itself, when it meets it)."""
    return [f"{h.component} (pid {h.pid}) {health.stopped_text(h.pid)}" for _, h in processes if h.stopped]


def stopped_problems(state: SandboxState, roles: tuple[str, ...] = ()) -> list[str]:
    """For `sandbox list`: `the control plane (pid N) is stopped (SIGSTOP): resume it with
    `kill -CONT N`` for each process of the sandbox stopped by SIGSTOP (only those of
    ``roles``, ProcessRecord.role, when given)."""
    return _stopped([(r, _process_health(state, r)) for r in state.processes if not roles or r.role in roles])


def pushed_problems(state: SandboxState) -> list[str]:
    """For `sandbox list` (root only, which may read the Envoys' admin sockets): the
    control plane's problem when a waypoint Envoy does not route with the record's
    weights (see _pushed_behind), as `sandbox status` words it; [] else."""
    records = state.processes_of("controlplane")
    if state.phase != PHASE_READY or not records or os.geteuid() != 0:
        return []
    behind = _loop_hangs(state) or _pushed_behind(state, [{"pod": w.pod, "ready": True}
                                                          for w in state.waypoint_infos()])
    return [f"{CONTROL_PLANE} (pid {records[-1].pid}) {CONTROL_PLANE_WEDGED} ({behind}): see {records[-1].log}"
            ] if behind else []


def _not_answering(state: SandboxState, report: dict[str, Any]) -> list[str]:
    """Components whose process runs but does not do its job (or was never started)."""
    found = []
    control_plane, agent = report["controlplane"], report["agent"]
    if "pid" not in control_plane:
        found.append(f"{CONTROL_PLANE} was never started")
    elif control_plane.get("stopped"):
        pass  # said by _process_problems, with `kill -CONT`
    elif control_plane.get("notPushed"):
        found.append(f"{CONTROL_PLANE} (pid {control_plane['pid']}) {CONTROL_PLANE_WEDGED} "
                     f"({control_plane['notPushed']}): see {control_plane['log']}")
    elif control_plane["running"] and not control_plane["ready"]:
        found.append(f"{CONTROL_PLANE} (pid {control_plane['pid']}) runs but does not accept "
                     f"connections on unix:{state.xds_socket}: see {control_plane['log']}")
    if "pid" not in agent:
        found.append(f"{NODE_AGENT} was never started")
    elif agent.get("stopped"):
        pass
    elif agent["running"] and not agent["ready"]:
        found.append(f"{NODE_AGENT} (pid {agent['pid']}) runs but is not ready "
                     f"({agent['admin']}/debug/ready): see {agent['log']}")
    for waypoint in report["waypoints"]:
        envoy = waypoint.get("process") or {}
        if envoy.get("stopped"):
            continue
        if envoy.get("running") and waypoint.get("configProblem"):
            found.append(f"{envoy['component']} (pid {envoy['pid']}) runs but serves nothing: "
                         f"{waypoint['configProblem']}: see {envoy['log']}")
        elif envoy.get("running") and not waypoint["ready"]:
            found.append(f"{envoy['component']} (pid {envoy['pid']}) runs but is not ready "
                         f"({waypoint['admin']}/ready): see {envoy['log']}")
    return found


def _service_status(topology: Topology, service: manifests_mod.Service) -> dict[str, Any]:
    waypoint = topology.waypoint_of(service)
    return {
        "name": service.name,
        "namespace": service.namespace,
        "vip": topology.vip(service),
        "ports": [f"{p.port}->{p.target_port}" for p in service.ports],
        "waypoint": f"{waypoint.namespace}/{waypoint.name}" if waypoint else None,
    }


def _waypoint_status(state: SandboxState, waypoint: WaypointInfo, processes: Processes) -> dict[str, Any]:
    admin = EnvoyAdmin(state.envoy_admin_socket(waypoint), timeout=2.0)
    envoy = [h for r, h in processes if r.role == "waypoint" and r.pod == waypoint.pod]
    ready = not (envoy and envoy[-1].stopped) and admin.ready()  # a stopped one would only time out
    result: dict[str, Any] = {
        "name": f"{waypoint.namespace}/{waypoint.name}",
        "pod": waypoint.pod,
        "address": f"{waypoint.ip}:{waypoint.port}",
        "ready": ready,
        "admin": f"unix:{state.envoy_admin_socket(waypoint)}",
        "process": envoy[-1].to_dict() if envoy else None,
    }
    if ready:
        try:
            stats = admin.stats(r"^(listener_manager\.total_listeners_active|cluster_manager\.active_clusters)$")
        except ADMIN_ERRORS:  # stopped or ended since /ready answered: not ready
            result["ready"] = False
            return result
        result["listeners"] = stats.get("listener_manager.total_listeners_active", 0)
        result["clusters"] = stats.get("cluster_manager.active_clusters", 0)
        problem = _listener_problem(admin)
        if problem:
            result["ready"], result["configProblem"] = False, problem
    return result


def _listener_problem(admin: EnvoyAdmin) -> str:
    """Why a live waypoint Envoy serves nothing ('' when it serves its listener)."""
    try:
        problem = listener_problem(admin)
    except ADMIN_ERRORS as err:
        return f"its admin API did not answer the listener check: it {admin.failure_text(err)}"
    except KmeshctlError as err:
        return f"its admin API did not answer the listener check ({err})"
    return "it has no listener (none received from the control plane)" if problem is None else problem


# ---------------------------------------------------------------- exec


def find_pod(state: SandboxState, name: str, namespace: str | None = None) -> Pod:
    """A pod by name, or the first pod of a Deployment (`netutils` -> `netutils-0`);
    with ``namespace``, only a pod of that namespace (as `kubectl exec -n`). Raises
    UsageError (no such pod), KmeshctlError (no IP yet, see pod_of)."""
    return pod_of(find_pod_record(state, name, namespace))


def find_pod_record(state: SandboxState, name: str, namespace: str | None = None) -> PodRecord:
    """The record find_pod finds, whether or not its pod has an IP yet (a `sandbox up`
    records each pod before its CNI ADD). Raises UsageError (no such pod)."""
    pods = [p for p in state.pods if namespace is None or p.namespace == namespace]
    record = next((p for p in pods if p.name == name), None) or next(
        (p for p in pods if p.deployment == name and not p.waypoint), None)
    if record is None:
        where = f" namespace {namespace} of" if namespace is not None else ""
        known = ", ".join(f"{p.namespace}/{p.name}" if namespace is not None else p.name for p in state.pods)
        raise UsageError(f"no pod {name} in{where} sandbox {state.name} (pods: {known})")
    return record


CLUSTER_DOMAIN = "cluster.local"
# Runs in the pod's own mount and UTS namespaces (unshare): its /etc/hosts over the host's,
# the pod's name as hostname (as `kubectl exec POD -- hostname` prints), then the command.
_WITH_HOSTS = 'mount --bind "$0" /etc/hosts && printf %s "$1" > /proc/sys/kernel/hostname && shift && exec "$@"'


def hosts_lines(topology: Topology, namespace: str, pod_ip: str, pod_name: str) -> list[str]:
    """/etc/hosts of a pod: what cluster DNS answers there. Each Service as
    NAME.NS.svc.cluster.local, NAME.NS.svc and NAME.NS, and as NAME in its own namespace
    (the pod's search domain), at its VIP; the pod's own name at its IP."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", f"{pod_ip}\t{pod_name}"]
    for service in topology.manifests.services:
        n, ns = service.name, service.namespace
        names = [f"{n}.{ns}.svc.{CLUSTER_DOMAIN}", f"{n}.{ns}.svc", f"{n}.{ns}"] + ([n] if ns == namespace else [])
        lines.append(f"{topology.vip(service)}\t{' '.join(names)}")
    return lines


def _write_hosts(state: SandboxState, record: PodRecord) -> Path:
    path = state.dir / "pods" / record.name / "hosts"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(hosts_lines(state.topology(), record.namespace, record.ip, record.name)) + "\n")
    return path


def exec_in_pod(name: str, pod_name: str, argv: Sequence[str], namespace: str | None = None) -> int:
    """Run a command inside a pod (its cgroup, then its netns, then a mount namespace of
    its own where /etc/hosts resolves the sandbox's Service names, as cluster DNS would,
    and a UTS namespace with the pod's name as hostname), with our stdin/stdout;
    ``namespace``: the pod's (None: any)."""
    require_root()
    if not argv:
        raise UsageError("give the command to run after `--`")
    check_command(argv[0])
    state = loaded_state(name)
    pod = find_pod(state, pod_name, namespace)
    record = state.pod(pod.name)
    _check_pod_running(state, pod.name, record.namespace if record is not None else namespace)
    command = list(argv)
    if record is not None and state.manifests_file.exists():
        command = ["unshare", "--mount", "--uts", "--propagation", "private", "--", "sh", "-c", _WITH_HOSTS,
                   str(_write_hosts(state, record)), record.name, *argv]
    with _PassingOn() as passing:
        try:
            process = passing.started(pod.popen(command))
        except FileNotFoundError as err:
            raise KmeshctlError(f"{shlex.quote(command[0])}: command not found on this host",
                                EXIT_NOT_FOUND) from err
        except PermissionError as err:
            raise KmeshctlError(f"{shlex.quote(command[0])}: not executable (permission denied)",
                                EXIT_NOT_EXECUTABLE) from err
        code = _wait_forwarding(process)
    if code < 0 and _removed_meanwhile(name):
        print(f"Error: sandbox {name} was removed by 'sandbox down' while the command ran (it "
              f"{health.exit_text(shell_status(code))})", file=sys.stderr, flush=True)
    return shell_status(code)


def _check_pod_running(state: SandboxState, pod: str, namespace: str | None, then: str = "") -> None:
    """KmeshctlError (exit 1) when a process of pod ``pod`` ended (`sandbox status` shows
    it Failed), or its network namespace is gone: as `kubectl exec` refuses a completed
    pod, nothing runs in it (never nsenter's own message). ``then``: the exec as typed, which
    the fix that makes the sandbox again ends with (default: the running command's)."""
    from kmeshctl.sandboxes import rerun_here

    ended = [h for h in (_process_health(state, r) for r in state.processes if r.pod == pod)
             if h.failed and not h.removed]
    record = state.pod(pod)
    if ended:
        why = f"it is Failed ({ended[0].component} (pid {ended[0].pid}) {ended[0].reason})"
    elif record is not None and record in netns_gone(state):
        why = netns_gone_text(record)
    else:
        return
    named = f"{namespace}/{pod}" if namespace else pod
    then = then or rerun_here(state.name)
    raise KmeshctlError(f"cannot exec into pod {named} of sandbox {state.name}: {why}",
                        fix=f"see `kmeshctl sandbox status --name {state.name}`, or make the sandbox again: "
                            f"`{' && '.join(remake_steps(state.name) + ([then] if then else []))}`")


def netns_gone_text(record: PodRecord) -> str:
    return f"its network namespace {NETNS_DIR / record.netns} is gone (was `ip netns del` run on it?)"


def netns_gone(state: SandboxState) -> list[PodRecord]:
    """The pods of ready sandbox ``state`` whose network namespace was removed behind its
    back (`ip netns del`, `ip -all netns delete`): their processes may still run, but
    nothing reaches them, nor can anything be run in them. Only pods with a process of
    the record count (a record alone made no netns); [] when /run/netns cannot be read."""
    if state.phase != PHASE_READY or not NETNS_DIR.is_dir():
        return []
    try:
        present = set(os.listdir(NETNS_DIR))
    except OSError:
        return []
    running = {r.pod for r in state.processes if r.pod}
    return [p for p in state.pods if p.netns and p.name in running and p.netns not in present]


class _PassingOn:
    """Around starting a `sandbox exec` command and waiting for it: a stop signal (SIGINT,
    SIGTERM, SIGHUP) goes to the command as it came (one that came while it was being
    started, once it is), never a stop of kmeshctl's own, so the command decides the exit
    code even when a signal reaches kmeshctl as the command ends (`timeout` signals the
    process, then its whole group: the command may have exited by the second). A signal
    whose handler is not replaceable (SIG_IGN: nohup) is left alone."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.pending: list[int] = []
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "_PassingOn":
        if stopping.on_main_thread():
            for sig in stopping.STOP_SIGNALS:
                handler = signal.getsignal(sig)
                if handler is not None and handler != signal.SIG_IGN:
                    self.previous[sig] = handler
                    signal.signal(sig, self._pass_on)
        return self

    def started(self, process: subprocess.Popen) -> subprocess.Popen:
        self.process = process
        pending, self.pending = self.pending, []
        for signum in pending:
            self._pass_on(signum, None)
        return process

    def _pass_on(self, signum: int, _frame: object) -> None:
        if self.process is None:
            self.pending.append(signum)
        elif self.process.returncode is None:  # unreaped: its pid is still its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signum)

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self.previous.items():  # signal.signal runs a pending handler first: ours
            signal.signal(sig, handler)


def _wait_forwarding(process: subprocess.Popen) -> int:
    """The command's exit status; a signal that stops kmeshctl meanwhile (SIGINT, SIGTERM,
    SIGHUP: kmeshctl.stopping) is passed on as it came, as a shell or `kubectl exec` does,
    and the command decides: its own exit code, or 128+N when the signal kills it."""
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt as err:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(stopping.pass_on(err))  # the command decides the exit code


def _removed_meanwhile(name: str) -> bool:
    """Whether a `sandbox down` is removing sandbox ``name``, or removed it."""
    state = SandboxState.load(name)
    return lock_mod.removed_by(name) is not None or state is None or state.phase == state_mod.PHASE_REMOVING


EXIT_NOT_EXECUTABLE = 126  # the shell's codes, so scripts tell them from the command's own exit status
EXIT_NOT_FOUND = 127


def check_command(program: str) -> None:
    """KmeshctlError with the shell's exit status unless ``program`` (a name looked up in
    PATH, or a path) can run: 127 when there is no such command, 126 when it is not an
    executable file (a directory, no x bit). Pods run the host's programs."""
    if "/" not in program:
        if shutil.which(program) is None:
            raise KmeshctlError(f"{shlex.quote(program)}: command not found on this host (the pods run the host's programs; "
                                "give a command on PATH or its path)", EXIT_NOT_FOUND)
        return
    path = Path(program)
    if not path.exists():
        raise KmeshctlError(f"{shlex.quote(program)}: does not exist on this host (the pods run the host's programs)",
                            EXIT_NOT_FOUND)
    if path.is_dir() or not os.access(path, os.X_OK):
        what = "a directory" if path.is_dir() else "not executable (no x permission)"
        raise KmeshctlError(f"{shlex.quote(program)}: {what}: permission denied; give an executable file",
                            EXIT_NOT_EXECUTABLE)


def shell_status(returncode: int) -> int:
    """A child's exit status as shells and kubectl report it: 128+N when signal N killed it
    (Popen gives -N, which as an exit code would wrap to 256-N)."""
    return 128 - returncode if returncode < 0 else returncode


# ---------------------------------------------------------------- live changes


def set_route_weights(name: str, vs_namespace: str, vs_name: str, weights: list[int],
                      timeout: float = 10.0, route: int = 0) -> None:
    """Change a VirtualService's weights (of http route ``route``, default the first, in
    order) and wait until the waypoint's Envoy routes with them; no restart of anything."""
    state = loaded_state(name)
    documents = list(yaml.safe_load_all(state.manifests_file.read_text()))
    doc = _find_document(documents, "VirtualService", vs_namespace, vs_name)
    current = _virtual_service(manifests_mod.from_documents(documents), vs_namespace, vs_name)
    manifests_mod.with_weights(current, weights, route)  # wrong count or sum: UsageError, nothing changed
    updated = copy.deepcopy(doc)
    for destination, weight in zip(updated["spec"]["http"][route]["route"], weights):
        destination["weight"] = weight
    documents[documents.index(doc)] = updated
    manifests = manifests_mod.from_documents(documents)
    vs = _virtual_service(manifests, vs_namespace, vs_name)
    tmp = state.manifests_file.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    tmp.replace(state.manifests_file)
    log_from = health.log_size(state.logs_dir / "controlplane.log")
    _signal_control_plane(state, signal.SIGHUP)
    _wait_envoy_weights(state, manifests, vs, weights, timeout, route, log_from)


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
    if not records or not in_cgroup(records[-1].pid, state.system_cgroup / "controlplane"):
        raise KmeshctlError(f"the control plane of sandbox {state.name} is not running: "
                            f"make the sandbox again: {remake_text(state.name)}")
    try:
        os.kill(records[-1].pid, sig)
    except ProcessLookupError:  # it ended since the check
        raise KmeshctlError(f"the control plane of sandbox {state.name} is not running: "
                            f"make the sandbox again: {remake_text(state.name)}") from None


def _wait_envoy_weights(state: SandboxState, manifests: manifests_mod.Manifests,
                        vs: manifests_mod.VirtualService, weights: list[int], timeout: float,
                        route: int = 0, log_from: int = 0) -> None:
    current = state.topology()
    topology = Topology(manifests, current.pods, current.vips, current.waypoints)
    service = manifests.service_for_host(vs.hosts[0], vs.namespace)
    assert service is not None
    waypoint = topology.waypoint_of(service)
    if waypoint is None:
        return
    wanted_route, at, expected = _expected_weights(topology, service, route)
    admin = EnvoyAdmin(state.envoy_admin_socket(waypoint))
    deadline = time.monotonic() + timeout
    while True:
        try:
            configs = {c["name"]: c for c in admin.route_configs()}
        except ADMIN_ERRORS as err:
            raise envoy_not_answering(state, waypoint, admin, err) from None
        live = route_weights(configs[wanted_route], at) if wanted_route in configs else None
        if live == expected:
            return
        if time.monotonic() > deadline:
            shown_weights, stopped = "/".join(map(str, weights)), _control_plane_stopped(state)
            if stopped:
                raise KmeshctlError(f"the waypoint did not receive weights {shown_weights} within {timeout:.0f}s "
                                    f"({_routes_now(wanted_route, live)}): the control plane of sandbox "
                                    f"{state.name} (pid {stopped}) is stopped (SIGSTOP)",
                                    fix=f"resume it with `kill -CONT {stopped}`, or see "
                                        f"`kmeshctl sandbox status --name {state.name}`")
            raise KmeshctlError(f"the waypoint did not receive weights {shown_weights} within {timeout:.0f}s "
                                f"({_routes_now(wanted_route, live)}{_control_plane_trouble(state, log_from)}): "
                                f"see {state.logs_dir / 'controlplane.log'}")
        time.sleep(0.05)


def _expected_weights(topology: Topology, service: manifests_mod.Service, route: int = 0
                      ) -> tuple[str, int, dict[str, int]]:
    """(the name of ``service``'s Envoy route configuration, the index of its http route
    ``route`` there, {cluster: weight} the waypoint Envoy must route it with) as the record says."""
    port = service.ports[0]
    plan = route_cluster_keys(topology, service, port)
    # Envoy has one route per match of each planned http route (one without a match)
    at = sum(max(1, len(planned.matches)) for planned, _ in plan[:route]) if route < len(plan) else 0
    expected = {key.name: weight for weight, key in plan[min(route, len(plan) - 1)][1] if weight > 0}
    if len(expected) == 1:
        expected = {name: 100 for name in expected}
    return route_name(service, port), at, expected


def _pushed_behind(state: SandboxState, waypoints: list[dict[str, Any]]) -> str:
    """'' when each ready waypoint Envoy routes every http route with the record's weights
    (what the demo waits for after a change), else what one routes instead: a control
    plane that no longer reloads on SIGHUP (wedged) pushes no change. A record changed
    less than PUSH_GRACE_S ago is a change still on its way, not a fault."""
    try:
        if time.time() - state.manifests_file.stat().st_mtime < PUSH_GRACE_S:
            return ""
        topology = state.topology()
    except (OSError, KmeshctlError):
        return ""
    ready = {w["pod"] for w in waypoints if w["ready"]}
    for service in topology.manifests.services:
        waypoint = topology.waypoint_of(service)
        if waypoint is None or waypoint.pod not in ready or not service.ports:
            continue
        try:
            configs = {c["name"]: c for c in EnvoyAdmin(state.envoy_admin_socket(waypoint), timeout=2.0).route_configs()}
        except ADMIN_ERRORS:
            continue  # stopped or ended since its check: said by that check
        for route in range(len(route_cluster_keys(topology, service, service.ports[0]))):
            wanted, at, expected = _expected_weights(topology, service, route)
            live = route_weights(configs[wanted], at) if wanted in configs else None
            if live is not None and live != expected:
                routes, says = (", ".join(f"{_subset_of(name)} {weight}" for name, weight in weights.items())
                                for weights in (live, expected))
                return (f"the Envoy of waypoint {waypoint.namespace}/{waypoint.name} still routes {routes}, the "
                        f"record says {says}: it does not reload on SIGHUP")
    return ""


# The control plane's loop touches its heartbeat at least once a second; this much older
# and a reload hangs in it (no change would be pushed again, pending or not).
CONTROL_PLANE_LOOP_STALE_S = 15.0


def _loop_hangs(state: SandboxState) -> str:
    """'' unless the control plane's loop has not run for CONTROL_PLANE_LOOP_STALE_S (its
    heartbeat's age; a control plane too old to touch one is not judged)."""
    try:
        age = time.time() - state.controlplane_heartbeat.stat().st_mtime
    except OSError:
        return ""
    if age <= CONTROL_PLANE_LOOP_STALE_S:
        return ""
    return f"its reload loop has not run for {age:.0f} s: a reload hangs"


def _subset_of(cluster: str) -> str:
    """`v1` of Envoy cluster `outbound|80|v1|fortio.default.svc.cluster.local` (its host
    when it names no subset; the name itself when it is no such cluster name)."""
    parts = cluster.split("|")
    return (parts[2] or parts[3]) if len(parts) == 4 else cluster


def envoy_not_answering(state: SandboxState, waypoint: WaypointInfo, admin: EnvoyAdmin,
                        err: BaseException) -> KmeshctlError:
    """The one line for a waypoint Envoy whose admin API did not answer ``err`` (one of
    ADMIN_ERRORS): dead (refused) or hung (no reply in time), with the command that shows
    the sandbox's processes; one stopped (SIGSTOP) is named so, with the command that resumes it."""
    what = f"the waypoint Envoy of sandbox {state.name} ({waypoint.namespace}/{waypoint.name}, pod {waypoint.pod}"
    status = f"`kmeshctl sandbox status --name {state.name}`"
    records = [r for r in state.processes_of("waypoint") if r.pod == waypoint.pod]
    if records and isinstance(err, TimeoutError) and process_stopped(records[-1].pid):
        pid = records[-1].pid
        return KmeshctlError(f"{what}, pid {pid}) is stopped (SIGSTOP: its admin API gives no reply)",
                             fix=f"resume it with `kill -CONT {pid}`, or see {status}")
    return KmeshctlError(f"{what}) {admin.failure_text(err)}", fix=f"see {status}")


def _control_plane_stopped(state: SandboxState) -> int:
    """The pid of sandbox ``state``'s control plane when it is stopped (SIGSTOP: the
    SIGHUP of a change waits), else 0."""
    records = state.processes_of("controlplane")
    return records[-1].pid if records and process_stopped(records[-1].pid) else 0


def _routes_now(route: str, live: dict[str, int] | None) -> str:
    if live is None:
        return f"its Envoy has no route {route}"
    return "its Envoy still routes " + ", ".join(f"{name} {weight}" for name, weight in live.items())


def _control_plane_trouble(state: SandboxState, since: int) -> str:
    """`; the control plane's last warning: ...` (a NACK, a failed reload) among the lines it
    logged past byte ``since`` of its log (this change's), or ''."""
    troubles = [line for line in health.log_tail(state.logs_dir / "controlplane.log", 200, since)
                if " WARNING " in line or " ERROR " in line]
    return f"; the control plane's last warning: {troubles[-1][:300]}" if troubles else ""
