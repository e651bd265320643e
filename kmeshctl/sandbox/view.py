"""Whether this process can see a sandbox at all. Its pins live on the host's bpffs at
/sys/fs/bpf, its processes in cgroups on the host's cgroup2 mount and in the host's pid
namespace. A command run elsewhere (`ip netns exec` remounts /sys: neither mount is there;
`unshare -p`: the processes show as pid 0 in their cgroups) finds no pins and no live
pids; that is "cannot see", never "gone", and never a reason to make the sandbox again."""

from __future__ import annotations

import os
from pathlib import Path

from kmeshctl import nodecheck
from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox.state import SandboxState

HOST_PID = "1"  # the host's namespaces, as this process's /proc shows them


class Unseen(KmeshctlError):
    """Sandbox ``name`` cannot be seen from this command's namespaces (exit 1): the message
    says which view is missing and how to run the command where it is not."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def check_seen(state: SandboxState) -> None:
    """Unseen when this process cannot see sandbox ``state``'s pins or processes."""
    problem = hidden_text(state)
    if problem:
        raise Unseen(state.name, problem)


def hidden_text(state: SandboxState) -> str:
    """What of sandbox ``state`` this process cannot see, with the fix ('' when it sees it all)."""
    missing = missing_mounts(state)
    if missing:
        mounts = " and no ".join(f"{what} is mounted at {point}" for point, _, what in missing)
        return (f"sandbox {state.name} cannot be seen from this mount namespace: no {mounts} here (another mount "
                f"namespace? `ip netns exec` remounts /sys), so its pins and processes are hidden from this "
                f"command, not gone; {_mount_fix(state, missing)}")
    if pids_hidden(state):
        return (f"sandbox {state.name} cannot be seen from this pid namespace: its processes are in another one "
                f"(their cgroups list them as pid 0 here), so they are hidden from this command, not gone; "
                "run it from the pid namespace the sandbox was made in (a process cannot enter its parent's)")
    return ""


def missing_mounts(state: SandboxState) -> list[tuple[Path, str, str]]:
    """(mount point, fs type, what) of the sandbox's bpffs and cgroup2 mounts this process's
    mount namespace lacks: nothing is mounted there, the place is sysfs's own directory."""
    wanted = [(state.bpffs.parent, "bpf", "bpf filesystem"), (cgroup_root(state), "cgroup2", "cgroup2 filesystem")]
    return [(point, fstype, what) for point, fstype, what in wanted if nodecheck.fstype_at(point) == "sysfs"]


def cgroup_root(state: SandboxState) -> Path:
    """Where cgroup2 was mounted when the sandbox was made (its records' cgroups say so:
    /sys/fs/cgroup/unified on hybrid hosts, which another mount namespace may not have)."""
    marker = f"kmeshctl-sandbox-{state.name}"
    for recorded in [r.cgroup for r in state.processes] + [p.cgroup for p in state.pods]:
        parts = Path(recorded).parts
        if marker in parts:
            return Path(*parts[:parts.index(marker)])
    return state.cgroup.parent


def sandbox_cgroup(state: SandboxState) -> Path:
    return cgroup_root(state) / f"kmeshctl-sandbox-{state.name}"


def pids_hidden(state: SandboxState) -> bool:
    """Whether the sandbox's cgroups hold processes this pid namespace cannot name (the
    kernel lists each as 0 in cgroup.procs)."""
    try:
        return any("0" in procs.read_text().split() for procs in sandbox_cgroup(state).rglob("cgroup.procs"))
    except OSError:
        return False


def _mount_fix(state: SandboxState, missing: list[tuple[Path, str, str]]) -> str:
    """The command again in a mount namespace that has the mounts: pid 1's, else the one the
    sandbox's daemons run in; else in words. Their network namespace too: the node agent's
    admin address is on that one's loopback."""
    for pid in [HOST_PID, *_daemon_pids(state)]:
        if _other_namespace("mnt", pid) and all(nodecheck.fstype_at(point, pid) == fstype
                                                for point, fstype, _ in missing):
            return (f"run it in the host's namespaces: "
                    f"`nsenter --target {pid} --mount --net {line_here(state.name)}`")
    return "run it from the host's namespaces, where the sandbox was made"


def _daemon_pids(state: SandboxState) -> list[str]:
    """The sandbox's control plane and node agent (they run in the mount namespace it was made in)."""
    return [str(r.pid) for r in state.processes if r.role in ("controlplane", "agent") and r.pid > 0]


def _other_namespace(kind: str, pid: str) -> bool:
    """Whether process ``pid`` (as /proc shows it) is in another ``kind`` namespace than this
    one; False when that cannot be read (pid 1 may be another user namespace's)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}") != os.readlink(f"/proc/self/ns/{kind}")
    except OSError:
        return False


def line_here(name: str) -> str:
    """The command being run, as typed, naming sandbox ``name`` (`kmeshctl sandbox status
    --name NAME` outside a command)."""
    from kmeshctl.sandboxes import sandbox_flag, typed_now

    typed = typed_now()
    if typed is None:
        return f"kmeshctl sandbox status --name {name}"
    if typed.command.split()[1:3] == ["sandbox", "list"]:
        return typed.line or typed.command
    return typed.rerun(typed.command, sandbox_flag(typed.command), name, "")
