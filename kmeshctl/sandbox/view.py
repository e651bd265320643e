"""Whether this process can see a sandbox at all. Its pins live on the host's bpffs at
/sys/fs/bpf, its processes in cgroups on the host's cgroup2 mount and in the host's pid
namespace. A command run elsewhere (`ip netns exec` remounts /sys: neither mount is there;
`unshare -p`: the processes show as pid 0 in their cgroups) finds no pins and no live
pids; that is "cannot see", never "gone", and never a reason to make the sandbox again."""

from __future__ import annotations

from pathlib import Path

from kmeshctl import nodecheck
from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox.state import SandboxState


class Unseen(KmeshctlError):
    """Sandbox ``name`` cannot be seen from this command's namespaces (exit 1): the message
    says which view is missing and how to run the command where it is not."""

    def __init__(self, message: str, exit_code: int | None = None, *, name: str = "") -> None:
        super().__init__(message, exit_code)  # KmeshctlError's: a caller may rewrap it as type(err)(text, code)
        self.name = name


def check_seen(state: SandboxState) -> None:
    """Unseen when this process cannot see sandbox ``state``'s pins or processes."""
    problem = hidden_text(state)
    if problem:
        raise Unseen(problem, name=state.name)


def hidden_text(state: SandboxState) -> str:
    """What of sandbox ``state`` this process cannot see, with the fix ('' when it sees it all)."""
    missing = missing_mounts(state)
    if missing:
        return (f"sandbox {state.name} cannot be seen from this mount namespace: "
                f"{nodecheck.hidden_mounts_text(missing)}, so its pins and processes are hidden from this "
                f"command, not gone; {_mount_fix(state, missing)}")
    if pids_hidden(state):
        return (f"sandbox {state.name} cannot be seen from this pid namespace: its processes are in another one "
                f"(their cgroups list them as pid 0 here), so they are hidden from this command, not gone; "
                "run it from the pid namespace the sandbox was made in (a process cannot enter its parent's)")
    return ""


def hidden_lines(states: list[SandboxState]) -> list[str]:
    """What of ``states`` this process cannot see, as few lines as it takes (`sandbox
    list`): one for those a mount namespace hides, with one line to run, one for those
    a pid namespace hides; a sandbox alone as hidden_text says it."""
    mount = [s for s in states if missing_mounts(s)]
    pid = [s for s in states if s not in mount and pids_hidden(s)]
    if len(mount) + len(pid) == 1:
        return [hidden_text((mount + pid)[0])]
    lines = []
    if len(mount) == 1:
        lines.append(hidden_text(mount[0]))
    elif mount:
        missing = list(dict.fromkeys(m for s in mount for m in missing_mounts(s)))
        daemons = [daemon for s in mount for daemon in _daemon_pids(s)]
        fix = nodecheck.nsenter_fix(nodecheck.host_pid(missing, daemons), line_here(mount[0].name))
        lines.append(f"sandboxes {_names(mount)} cannot be seen from this mount namespace: "
                     f"{nodecheck.hidden_mounts_text(missing)}, so their pins and processes are hidden from this "
                     f"command, not gone; {fix}")
    if len(pid) == 1:
        lines.append(hidden_text(pid[0]))
    elif pid:
        lines.append(f"sandboxes {_names(pid)} cannot be seen from this pid namespace: their processes are in "
                     "another one (their cgroups list them as pid 0 here), so they are hidden from this command, "
                     "not gone; run it from the pid namespace the sandboxes were made in")
    return lines


def _names(states: list[SandboxState]) -> str:
    return ", ".join(s.name for s in states)


def missing_mounts(state: SandboxState) -> list[tuple[Path, str, str]]:
    """(mount point, fs type, what) of the sandbox's bpffs and cgroup2 mounts this process's
    mount namespace lacks: nothing is mounted there, the place is sysfs's own directory."""
    return nodecheck.hidden_here([(state.bpffs.parent, "bpf", "bpf filesystem"),
                                  (cgroup_root(state), "cgroup2", "cgroup2 filesystem")])


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
    sandbox's daemons run in (it was made there), else an ancestor's; else in words."""
    return nodecheck.nsenter_fix(nodecheck.host_pid(missing, _daemon_pids(state)), line_here(state.name))


def _daemon_pids(state: SandboxState) -> list[str]:
    """The sandbox's control plane and node agent (they run in the mount namespace it was made in)."""
    return [str(r.pid) for r in state.processes if r.role in ("controlplane", "agent") and r.pid > 0]


def line_here(name: str) -> str:
    """The command being run, as typed: in the host's namespaces it finds sandbox ``name``
    as it did here, and a flag added might be one it refuses (`node cleanup --sandbox`);
    `kmeshctl sandbox status --name NAME` outside a command."""
    return nodecheck.typed_line() or f"kmeshctl sandbox status --name {name}"
