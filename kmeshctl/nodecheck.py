"""Node preflight for the eBPF data path: what must be true before the loader can run,
each failure one line naming the fix. Also finds (and when missing mounts) the cgroup v2
and bpffs mounts the loader uses."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kmeshctl.errors import KmeshctlError, UsageError

BPFFS_MOUNT = Path("/sys/fs/bpf")
CGROUP2_DEFAULT_MOUNT = Path("/sys/fs/cgroup/unified")
MIN_KERNEL = (5, 10)
BTF_VMLINUX = Path("/sys/kernel/btf/vmlinux")
# The node image sets this to the kernel headers it carries (Dockerfile).
BUNDLED_HEADERS_ENV = "KMESHCTL_KERNEL_HEADERS"
BCC_KERNEL_SOURCE_ENV = "BCC_KERNEL_SOURCE"

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str  # what was found, or the one-line problem + fix

    def to_dict(self) -> dict:
        """The shape of a `precheck` check: ``{"name", "status": "pass" | "fail", "detail",
        "fix"}`` (a failure's "problem: fix" detail split in two; no fix: null, as every
        empty JSON value)."""
        detail, fix = self.detail, None
        if not self.ok and ": " in self.detail:
            detail, fix = self.detail.split(": ", 1)
        return {"name": self.name, "status": "pass" if self.ok else "fail", "detail": detail, "fix": fix}


def to_json(results: list[CheckResult]) -> dict:
    """`{"ok": bool, "checks": [{"name", "status", "detail", "fix"}]}`, as `precheck -o json`."""
    return {"ok": all(r.ok for r in results), "checks": [r.to_dict() for r in results]}


def _mounts(pid: str = "self") -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount of process ``pid``'s mount namespace (this
    process's by default)."""
    result = []
    for line in Path(f"/proc/{pid}/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3:
            result.append((fields[1].replace("\\040", " "), fields[2]))
    return result


def cgroup2_root() -> Path | None:
    """The cgroup v2 mount point, or None."""
    for point, fstype in _mounts():
        if fstype == "cgroup2":
            return Path(point)
    return None


def resolve_cgroup2_dir(path: Path | str) -> Path:
    """The cgroup v2 directory named by ``path``. On hybrid hosts /sys/fs/cgroup is the v1
    tmpfs and v2 lives at its ``unified/`` child: a DaemonSet that mounts the host's
    /sys/fs/cgroup cannot know which, so the child is taken when ``path`` itself is not v2."""
    path = Path(path)
    # Only cgroup v2 directories carry cgroup.controllers (v1 ones have cgroup.procs too).
    for candidate in (path, path / "unified"):
        if (candidate / "cgroup.controllers").exists():
            return candidate
    raise UsageError(f"--cgroup2-path {path}: is not a cgroup v2 directory; use a directory of "
                     f"the cgroup v2 tree (mounted at {cgroup2_root() or 'nowhere: mount cgroup2'})")


def bpffs_mounted(path: Path = BPFFS_MOUNT) -> bool:
    """Whether ``path`` lies on a bpffs mount: the last mount covering it is one (a bpffs
    hidden by a later mount over a parent does not count: pins there would not reach it)."""
    return fstype_at(path) == "bpf"


def fstype_at(path: Path, pid: str = "self") -> str:
    """The type of the file system ``path`` lies on (`bpf`, `cgroup2`, `sysfs`, ...) as
    process ``pid`` sees the mounts: the last mount covering it (a later one over a parent
    hides it); '' when ``pid``'s mounts cannot be read. In the mount namespace of `ip netns
    exec` /sys is a fresh sysfs: /sys/fs/bpf and the cgroup directories are sysfs's own."""
    path = Path(path).resolve()
    try:
        covering = [kind for point, kind in _mounts(pid) if path == Path(point) or Path(point) in path.parents]
    except OSError:
        return ""
    return covering[-1] if covering else ""


def _mount(source: str, target: Path, fstype: str) -> None:
    try:  # sysfs makes no directories: /sys/fs/cgroup/unified cannot be made where it is missing
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KmeshctlError(f"cannot mount {fstype} at {target}: {target} cannot be made ({err.strerror}): "
                            f"mount {fstype} yourself where it can be (mount -t {fstype} {source} DIR)") from None
    if _libc.mount(source.encode(), str(target).encode(), fstype.encode(), 0, None) != 0:
        err = ctypes.get_errno()
        raise KmeshctlError(f"cannot mount {fstype} at {target}: {os.strerror(err)}: run as root "
                            f"or mount it yourself (mount -t {fstype} {source} {target})")


# ------------------------------------------------------------ mounts hidden from here

HOST_PID = "1"  # the host's namespaces, as this process's /proc shows them
# A mount wanted: (mount point, fs type, what it is in words)
Wanted = tuple[Path, str, str]
BPFFS_WANTED: Wanted = (BPFFS_MOUNT, "bpf", "bpf filesystem")


class MountHidden(KmeshctlError):
    """A mount the host has cannot be seen from this mount namespace (exit 1): `ip netns
    exec` remounts /sys, so the host's bpffs and cgroup2 are not there. Never mounted
    here instead: a bpffs mounted in this namespace would be another one, its pins gone
    with the namespace."""


def hidden_here(wanted: list[Wanted]) -> list[Wanted]:
    """The ``wanted`` mounts this mount namespace lacks: nothing is mounted at the point,
    which is sysfs's own directory (or none), as in the fresh /sys of `ip netns exec`."""
    return [(point, fstype, what) for point, fstype, what in wanted if fstype_at(point) == "sysfs"]


def other_namespace(kind: str, pid: str) -> bool:
    """Whether process ``pid`` (as /proc shows it) is in another ``kind`` namespace than this
    one; False when that cannot be read (pid 1 may be another user namespace's)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}") != os.readlink(f"/proc/self/ns/{kind}")
    except OSError:
        return False


def ancestors() -> list[str]:
    """This process's ancestors, the farthest first (the longest-lived: a pid to give
    nsenter should still be there when the line is pasted); [] when /proc cannot say."""
    found, pid = [], str(os.getppid())
    while pid not in ("0", "1") and pid not in found:
        found.append(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            break
        pid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "0")
    return found[::-1]


def host_pid(missing: list[Wanted], first: Sequence[str] = ()) -> str | None:
    """A process in another mount namespace that has every ``missing`` mount: pid 1, then
    ``first`` (a sandbox's daemons, in the namespace it was made in), then this process's
    ancestors (the shell that ran `ip netns exec`); None when there is none."""
    for pid in dict.fromkeys([HOST_PID, *first, *ancestors()]):
        if other_namespace("mnt", pid) and all(fstype_at(point, pid) == fstype for point, fstype, _ in missing):
            return pid
    return None


def hidden_mounts_text(missing: list[Wanted]) -> str:
    """`no bpf filesystem is mounted at /sys/fs/bpf and no cgroup2 ... here (another mount
    namespace? `ip netns exec` remounts /sys)`."""
    return f"no {_mounted(missing)} here (another mount namespace? `ip netns exec` remounts /sys)"


def _mounted(missing: list[Wanted]) -> str:
    """`bpf filesystem is mounted at /sys/fs/bpf and no cgroup2 filesystem is mounted at ...`."""
    return " and no ".join(f"{what} is mounted at {point}" for point, _, what in missing)


def nsenter_fix(pid: str | None, line: str) -> str:
    """`run it in the host's namespaces: `nsenter --target PID --mount --net LINE`` (its
    network namespace too: an agent's admin address is on that one's loopback); in words
    when no such process is known or no line typed."""
    if pid is None or not line:
        return "run it from the host's namespaces (e.g. outside `ip netns exec`)"
    return f"run it in the host's namespaces: `nsenter --target {pid} --mount --net {line}`"


def typed_line() -> str:
    """The command being run, as typed ('' outside a command)."""
    from kmeshctl.sandboxes import typed_now  # the CLI registers its reader there

    typed = typed_now()
    return (typed.line or typed.command) if typed is not None else ""


def host_cgroup2() -> list[Wanted]:
    """The cgroup2 mount of the first process in another mount namespace (pid 1, else an
    ancestor) that has one; [] when none has (nothing of the host's to miss)."""
    for pid in dict.fromkeys([HOST_PID, *ancestors()]):
        if not other_namespace("mnt", pid):
            continue
        try:
            points = [Path(point) for point, kind in _mounts(pid) if kind == "cgroup2"]
        except OSError:
            continue
        if points:
            return [(points[0], "cgroup2", "cgroup2 filesystem")]
    return []


def _hidden(wanted: list[Wanted]) -> tuple[list[Wanted], str | None]:
    """The ``wanted`` mounts missing here, and a process in another mount namespace that
    has them all (None: none has, so nothing is hidden)."""
    missing = hidden_here(wanted)
    return missing, host_pid(missing) if missing else None


def hidden_problem(subject: str, wanted: list[Wanted], hidden: str = "it is") -> str:
    """`SUBJECT cannot be seen from this mount namespace: no ... here (...), so it is hidden
    from this command, not gone; run it in the host's namespaces: `nsenter ...``, when a
    ``wanted`` mount is missing here while a process in another mount namespace has it
    (the line typed again in that process's namespaces is the fix); else ''."""
    missing, pid = _hidden(wanted)
    if pid is None:
        return ""
    return (f"{subject} cannot be seen from this mount namespace: {hidden_mounts_text(missing)}, so {hidden} "
            f"hidden from this command, not gone; {nsenter_fix(pid, typed_line())}")


def check_host_mounts_seen(subject: str, wanted: list[Wanted] | None = None, hidden: str = "it is") -> None:
    """MountHidden (see hidden_problem) for ``wanted``, by default the host's bpffs and
    cgroup2: what a data path needs, which `ip netns exec` hides."""
    problem = hidden_problem(subject, [BPFFS_WANTED, *host_cgroup2()] if wanted is None else wanted, hidden)
    if problem:
        raise MountHidden(problem)


def check_followable(path: Path, flag: str = "--bpf-fs") -> None:
    """UsageError (one line, exit 2) when ``path`` cannot be looked up at all: a symlink
    loop (pathlib's resolve raises RuntimeError for it), a name too long (stat's OSError)."""
    path = Path(path)
    try:
        path.resolve()
        path.exists()
    except RuntimeError:
        problem = "is a symlink loop"
    except OSError as err:
        problem = "is a symlink loop" if err.errno == errno.ELOOP else (err.strerror or "cannot be looked up").lower()
    else:
        return
    from kmeshctl.params import shown

    raise UsageError(f"{flag} {shown(path)}: {problem}; use a directory under {BPFFS_MOUNT}")


def check_bpffs_dir(bpf_fs: Path, flag: str = "--bpf-fs") -> None:
    """UsageError unless ``bpf_fs`` can hold pinned objects: a directory (or one to be made)
    on a bpf filesystem, or under /sys/fs/bpf where ensure_bpffs mounts one. Changes nothing."""
    path = Path(bpf_fs)
    check_followable(path, flag)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {bpf_fs}: is not a directory; use a directory under {BPFFS_MOUNT}")
    if not bpffs_mounted(path) and BPFFS_MOUNT not in path.resolve().parents and path != BPFFS_MOUNT:
        raise UsageError(f"{flag} {bpf_fs}: is not on a bpf filesystem; use a directory under {BPFFS_MOUNT}")


def ensure_bpffs(bpf_fs: Path) -> None:
    """Mount bpffs at /sys/fs/bpf when ``bpf_fs`` is not on one already."""
    check_bpffs_dir(bpf_fs)
    if not bpffs_mounted(bpf_fs):
        check_host_mounts_seen(f"the host's bpf filesystem ({BPFFS_MOUNT})", [BPFFS_WANTED])
        _mount("bpf", BPFFS_MOUNT, "bpf")


def ensure_cgroup2() -> Path:
    """The cgroup v2 mount point, mounting one at /sys/fs/cgroup/unified when missing."""
    root = cgroup2_root()
    if root is None:
        check_host_mounts_seen("the host's cgroup2 filesystem", host_cgroup2())
        _mount("cgroup2", CGROUP2_DEFAULT_MOUNT, "cgroup2")
        root = CGROUP2_DEFAULT_MOUNT
    return root


def check_root() -> CheckResult:
    if os.geteuid() == 0:
        return CheckResult("root", True, "running as root")
    return CheckResult("root", False, "not root: run the node agent as root (privileged DaemonSet)")


def check_bpf_syscall() -> CheckResult:
    from kmeshctl import bpfsys

    try:
        bpfsys.obj_get("/nonexistent-kmeshctl-probe")
    except bpfsys.BpfError as err:
        if err.errno == errno.ENOSYS:
            return CheckResult("bpf syscall", False,
                               "bpf(2) not available: use a kernel built with CONFIG_BPF_SYSCALL")
        if err.errno == errno.EPERM:
            return CheckResult("bpf syscall", False,
                               "bpf(2) denied: run as root with CAP_BPF/CAP_SYS_ADMIN")
        return CheckResult("bpf syscall", True, f"available on {platform.release()}")
    return CheckResult("bpf syscall", True, f"available on {platform.release()}")


def _hidden_row(name: str, subject: str, wanted: list[Wanted]) -> CheckResult | None:
    """The failing row of a mount this namespace cannot see (see hidden_problem), one
    `problem: fix` line (no ": " in the problem: to_dict splits there); None when it is
    not hidden. Never mounted here in its place: it would be another one."""
    missing, pid = _hidden(wanted)
    if pid is None:
        return None
    return CheckResult(name, False, f"{subject} cannot be seen from this mount namespace, where no {_mounted(missing)} "
                                    f"(`ip netns exec` remounts /sys), so it is hidden, not missing: "
                                    f"{nsenter_fix(pid, typed_line())}")


def check_cgroup2(mount_missing: bool = True) -> CheckResult:
    root = cgroup2_root()
    hidden = _hidden_row("cgroup v2", "the host's cgroup2 filesystem", host_cgroup2()) if root is None else None
    if hidden is not None:
        return hidden
    if root is None and mount_missing:
        try:
            root = ensure_cgroup2()
        except KmeshctlError as err:
            return CheckResult("cgroup v2", False, str(err))
    if root is None:
        return CheckResult("cgroup v2", False, "cgroup v2 not mounted: mount -t cgroup2 cgroup2 "
                           f"{CGROUP2_DEFAULT_MOUNT}")
    return CheckResult("cgroup v2", True, f"mounted at {root}")


def check_bpffs(mount_missing: bool = True) -> CheckResult:
    hidden = _hidden_row("bpffs", f"the host's bpf filesystem ({BPFFS_MOUNT})", [BPFFS_WANTED])
    if hidden is not None:
        return hidden
    if not bpffs_mounted() and mount_missing:
        try:
            _mount("bpf", BPFFS_MOUNT, "bpf")
        except KmeshctlError as err:
            return CheckResult("bpffs", False, str(err))
    if not bpffs_mounted():
        return CheckResult("bpffs", False, f"bpffs not mounted: mount -t bpf bpf {BPFFS_MOUNT}")
    return CheckResult("bpffs", True, f"mounted at {BPFFS_MOUNT}")


def check_bcc() -> CheckResult:
    try:
        import bcc  # noqa: F401
    except ImportError:
        return CheckResult("bcc", False, "bcc not importable: apt-get install python3-bpfcc "
                           "(never the PyPI package named bcc), then rerun scripts/setup.sh")
    return CheckResult("bcc", True, f"bcc {getattr(bcc, '__version__', '?')}")


def host_kernel_build_dir() -> Path:
    return Path("/lib/modules") / platform.release() / "build"


def _complete_headers(path: Path) -> bool:
    # A build dir left behind without its headers has no generated files (bcc checks the same).
    return (path / "include" / "generated").is_dir()


def select_kernel_headers() -> str:
    """Choose the kernel headers bcc compiles with and say which, one line: the host's
    (/lib/modules/<release>/build) when present, else the kernel's own
    /sys/kernel/kheaders.tar.xz, else the ones the node image carries ($KMESHCTL_KERNEL_HEADERS,
    set through BCC_KERNEL_SOURCE: our programs use only the stable BPF uapi, so any
    recent headers do). Raises KmeshctlError naming the fix when there are none."""
    build = host_kernel_build_dir()
    explicit = os.environ.get(BCC_KERNEL_SOURCE_ENV)
    if explicit:
        return f"{explicit} (BCC_KERNEL_SOURCE)"
    if _complete_headers(build):
        return f"the host's, {build}"
    if Path("/sys/kernel/kheaders.tar.xz").exists():
        return "the kernel's own, /sys/kernel/kheaders.tar.xz"
    bundled = os.environ.get(BUNDLED_HEADERS_ENV)
    if bundled and _complete_headers(Path(bundled)):
        os.environ[BCC_KERNEL_SOURCE_ENV] = bundled
        abi = Path(bundled, "DEBIAN_ABI")
        origin = f" (Debian {abi.read_text().strip()})" if abi.exists() else ""
        return f"the node image's, {bundled}{origin}: the host has none at {build}"
    raise KmeshctlError(f"no kernel headers at {build} and none bundled: install linux-headers for "
                        "this kernel, or run the kmeshctl node image (it carries them)")


def check_kernel_headers() -> CheckResult:
    """Which headers bcc compiles with (see select_kernel_headers); compile a trivial program."""
    try:
        which = select_kernel_headers()
    except KmeshctlError as err:
        return CheckResult("kernel headers", False, str(err))
    try:
        import bcc

        bcc.BPF(text=b"int kmeshctl_probe(void *ctx) { return 0; }").cleanup()
    except Exception as err:  # bcc raises plain Exception on compile errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return CheckResult("kernel headers", False,
                           f"bcc cannot compile with {which} ({first}): install headers for this kernel")
    return CheckResult("kernel headers", True, f"bcc compiles with {which}")


def kernel_version(release: str | None = None) -> tuple[int, int] | None:
    parts = (release or platform.release()).split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or "x")
    except (IndexError, ValueError):
        return None


def check_kernel_version(release: str | None = None) -> CheckResult:
    release = release or platform.release()
    found = kernel_version(release)
    wanted = f"{MIN_KERNEL[0]}.{MIN_KERNEL[1]}"
    if found is not None and found >= MIN_KERNEL:
        return CheckResult("kernel version", True, f"{release} (>= {wanted})")
    return CheckResult("kernel version", False, f"kernel {release} is older than {wanted}: the data path "
                       f"needs cgroup connect hooks and sockmap of {wanted}; use a node image with a newer "
                       "kernel (e.g. Alibaba Cloud Linux 3)")


def check_btf(path: Path = BTF_VMLINUX) -> CheckResult:
    """Reported, not required: bcc compiles against headers, not BTF (CO-RE is not used)."""
    if path.exists():
        return CheckResult("BTF", True, f"{path} present")
    return CheckResult("BTF", True, f"{path} absent: not needed (bcc compiles against kernel headers); "
                       "a kernel built with CONFIG_DEBUG_INFO_BTF=y would provide it")


def run_preflight(mount_missing: bool = True) -> list[CheckResult]:
    """Every check, in order; later checks run even when earlier ones fail."""
    results = [check_root(), check_kernel_version(), check_bpf_syscall(), check_btf(),
               check_cgroup2(mount_missing), check_bpffs(mount_missing), check_bcc()]
    if results[-1].ok:
        results.append(check_kernel_headers())
    return results


PROC = Path("/proc")


def agent_pod(pid: int, proc: Path = PROC) -> str | None:
    """`kmesh-system/kmesh-x`: the pod process ``pid`` (a node agent holding a bpffs) runs
    in, by the POD_NAMESPACE / POD_NAME the agent's DaemonSet gives it (downward API) and
    a kubelet's cgroup (`kubepods`); None for a process of no pod, or when unreadable. The
    kubelet restarts a killed container: such an agent is stopped by removing its pod's
    DaemonSet, not by `kill`."""
    try:
        environ = (proc / str(pid) / "environ").read_bytes().split(b"\0")
        cgroups = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        return None
    env = dict(item.decode(errors="replace").partition("=")[::2] for item in environ if b"=" in item)
    name, namespace = env.get("POD_NAME", ""), env.get("POD_NAMESPACE", "")
    if not name or not namespace or "kubepods" not in cgroups:
        return None
    return f"{namespace}/{name}"
