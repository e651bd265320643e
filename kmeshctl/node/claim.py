"""One node agent per data path: the agent holds an exclusive flock on its --bpf-fs
directory for as long as it runs, taken before anything is loaded.

A second `kmeshctl node run` on the same directory would load over the first one's
programs, move them to its own cgroup and leave the first agent writing maps nobody
reads: it is refused instead. The lock is on the bpffs directory itself, so it holds
across mount namespaces (an agent in a pod and one on the host share the bpffs) and
goes with the process (a killed agent leaves no stale lock behind).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Optional

from kmeshctl import nodecheck
from kmeshctl.errors import KmeshctlError
from kmeshctl.params import DEFAULT_NAMESPACE

PROC_LOCKS = Path("/proc/locks")


class BpffsClaim:
    """The held lock (``release`` drops it; so does the process's exit)."""

    def __init__(self, fd: int, path: Path, created: bool) -> None:
        self.fd = fd
        self.path = path
        self.created = created  # made for the lock: removed again when nothing was pinned

    def release(self, remove_if_empty: bool = False) -> None:
        if self.fd < 0:
            return
        os.close(self.fd)
        self.fd = -1
        if remove_if_empty and self.created:
            try:
                self.path.rmdir()  # fails (and stays) once anything is pinned in it
            except OSError:
                pass


def claim_bpffs(bpf_fs: Path, flag: str = "--bpf-fs") -> BpffsClaim:
    """Lock ``bpf_fs`` (made when missing) for this agent. KmeshctlError (exit 1) naming
    the agent that holds it, when one does."""
    path = Path(bpf_fs)
    if nodecheck.BPFFS_MOUNT in path.resolve().parents and not nodecheck.bpffs_mounted(path):
        nodecheck.ensure_bpffs(path)  # as load would: the lock is on the bpffs directory, not sysfs
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise KmeshctlError(f"{flag} {bpf_fs}: cannot make or open it ({err.strerror}); give a directory on a "
                            f"bpf filesystem, under {nodecheck.BPFFS_MOUNT}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise KmeshctlError(f"{flag} {bpf_fs}: cannot lock it for this agent: {err.strerror}") from None
        raise KmeshctlError(in_use_text(path, flag, holder_pid(path))) from None
    return BpffsClaim(fd, path, created)


def check_unclaimed(bpf_fs: Path, flag: str = "--bpf-fs") -> None:
    """KmeshctlError (exit 1) when a running node agent holds ``bpf_fs`` (`node cleanup`
    under a running agent would leave it writing maps that are gone). Changes nothing."""
    path = Path(bpf_fs)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return  # nothing there to hold
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            pid = holder_pid(path)
            pod = nodecheck.agent_pod(pid) if pid else None
            if pod is not None:  # a kill is undone by the kubelet: its DaemonSet goes, it cleans the node itself
                raise KmeshctlError(f"{flag} {bpf_fs}: in use by the node agent of pod {pod} (pid {pid}): "
                                    f"{pod_agent_stop(pod)}; nothing to clean up while it runs") from None
            stop = f"stop it first (`kill {pid}`), then clean up" if pid else "stop it first, then clean up"
            raise KmeshctlError(f"{flag} {bpf_fs}: in use by a running node agent{f' (pid {pid})' if pid else ''}: "
                                f"{stop}") from None
    finally:
        os.close(fd)  # drops the probe's lock with it


def in_use_text(bpf_fs: Path, flag: str, pid: Optional[int]) -> str:
    """`--bpf-fs DIR: in use by another node agent (pid N): ...`: one agent per data path."""
    pod = nodecheck.agent_pod(pid) if pid else None
    if pod is not None:
        return (f"{flag} {bpf_fs}: in use by the node agent of pod {pod} (pid {pid}): {pod_agent_stop(pod)}, or "
                f"give this agent its own --bpf-fs DIR")
    who = f"pid {pid}" if pid else "another process"
    stop = f"stop it first (`kill {pid}`; its programs stay and this agent takes them over)" if pid else \
        "stop that agent first"
    return (f"{flag} {bpf_fs}: in use by another node agent ({who}): {stop}, or give this agent its own "
            f"--bpf-fs DIR")


def pod_agent_stop(pod: str) -> str:
    """How an agent of a cluster's DaemonSet (pod ``pod``, `NS/NAME`) stops for good: the
    kubelet restarts a killed one; `kmeshctl uninstall` removes the DaemonSet, and each
    agent then removes its node's data path itself."""
    namespace = pod.partition("/")[0]
    line = "kmeshctl uninstall" + (f" -n {namespace}" if namespace != DEFAULT_NAMESPACE else "")
    return (f"the kubelet restarts it when killed; `{line}` stops it for good (its agents remove their "
            "nodes' data paths as they stop)")


def holder_pid(path: Path) -> Optional[int]:
    """The pid holding a flock on ``path`` as /proc/locks lists it (`1: FLOCK ADVISORY
    WRITE PID MAJ:MIN:INODE 0 EOF`, device numbers in hex), None when it cannot tell."""
    try:
        info = path.stat()
        text = PROC_LOCKS.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[0] == "->":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            if (int(major, 16), int(minor, 16), int(inode)) == (os.major(info.st_dev), os.minor(info.st_dev),
                                                                info.st_ino) and fields[4].isdigit():
                return int(fields[4])
        except ValueError:
            continue
    return None


PROC = Path("/proc")
_LISTENING = 0x10000  # /proc/net/unix Flags: __SO_ACCEPTCON, a socket that listen()s


def socket_holder(path: Path) -> Optional[tuple[int, str]]:
    """(pid, command name) of a process listening on the unix socket ``path``: its inode
    as /proc/net/unix lists it (`Num RefCount Protocol Flags Type St Inode Path`), found
    among the /proc/PID/fd links `socket:[INODE]`, as `ss -xlp` finds it. None when it
    cannot tell (the socket in another network namespace, /proc not readable)."""
    try:
        lines = (PROC / "net" / "unix").read_text().splitlines()[1:]
    except OSError:
        return None
    names = {str(path), str(Path(path).resolve())}
    inodes = {fields[6] for fields in (line.split() for line in lines)
              if len(fields) >= 8 and fields[7] in names and int(fields[3], 16) & _LISTENING}
    return _holder_of(inodes)


_TCP_LISTEN = "0A"  # the st column of /proc/net/tcp{,6} for LISTEN


def tcp_port_holder(port: int) -> Optional[tuple[int, str]]:
    """(pid, command name) of a process listening on TCP ``port`` (any address, v4 or v6):
    its socket's inode as /proc/net/tcp{,6} lists it (`sl local_address rem_address st ...
    inode`, the port in hex after the colon), as `ss -tlp` finds it. None when it cannot
    tell (see socket_holder)."""
    inodes = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        inodes |= {fields[9] for fields in (line.split() for line in lines)
                   if len(fields) >= 10 and fields[3] == _TCP_LISTEN and fields[1].rpartition(":")[2] == f"{port:04X}"}
    return _holder_of(inodes)


def holder_text(holder: tuple[int, str]) -> str:
    """`python3 pid 4032 answers on it`: a socket_holder / tcp_port_holder as refusals say it."""
    return f"{holder[1]} pid {holder[0]} answers on it"


def _holder_of(inodes: set[str]) -> Optional[tuple[int, str]]:
    """(pid, command name) of a process with an open socket of ``inodes`` (/proc/PID/fd
    links `socket:[INODE]`); None when none is found."""
    if not inodes:
        return None
    links = {f"socket:[{inode}]" for inode in inodes}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in links for fd in (entry / "fd").iterdir()):
                return int(entry.name), (entry / "comm").read_text().strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return None
