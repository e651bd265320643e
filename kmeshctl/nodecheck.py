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

from kmeshctl.errors import KmeshctlError, UsageError

BPFFS_MOUNT = Path("/sys/fs/bpf")
CGROUP2_DEFAULT_MOUNT = Path("/sys/fs/cgroup/unified")

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str  # what was found, or the one-line problem + fix


def _mounts() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount of this process."""
    result = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
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
    raise UsageError(f"--cgroup2-path {path} is not a cgroup v2 directory: pass a directory of "
                     f"the cgroup v2 tree (mounted at {cgroup2_root() or 'nowhere: mount cgroup2'})")


def bpffs_mounted(path: Path = BPFFS_MOUNT) -> bool:
    """Whether ``path`` lies on a bpffs mount."""
    path = Path(path).resolve()
    points = [Path(p) for p, fstype in _mounts() if fstype == "bpf"]
    return any(path == p or p in path.parents for p in points)


def _mount(source: str, target: Path, fstype: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if _libc.mount(source.encode(), str(target).encode(), fstype.encode(), 0, None) != 0:
        err = ctypes.get_errno()
        raise KmeshctlError(f"cannot mount {fstype} at {target}: {os.strerror(err)}: run as root "
                            f"or mount it yourself (mount -t {fstype} {source} {target})")


def ensure_bpffs(bpf_fs: Path) -> None:
    """Mount bpffs at /sys/fs/bpf when ``bpf_fs`` is not on one already."""
    if not bpffs_mounted(bpf_fs):
        if BPFFS_MOUNT not in Path(bpf_fs).resolve().parents and Path(bpf_fs) != BPFFS_MOUNT:
            raise KmeshctlError(f"{bpf_fs} is not on a bpf filesystem: pick a directory "
                                f"under {BPFFS_MOUNT}")
        _mount("bpf", BPFFS_MOUNT, "bpf")


def ensure_cgroup2() -> Path:
    """The cgroup v2 mount point, mounting one at /sys/fs/cgroup/unified when missing."""
    root = cgroup2_root()
    if root is None:
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


def check_cgroup2(mount_missing: bool = True) -> CheckResult:
    root = cgroup2_root()
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


def check_kernel_headers() -> CheckResult:
    """bcc compiles against /lib/modules/<release>/build; compile a trivial program."""
    build = Path("/lib/modules") / platform.release() / "build"
    if not (build / "include").exists() and not Path("/sys/kernel/kheaders.tar.xz").exists():
        return CheckResult("kernel headers", False,
                           f"no kernel headers at {build}: install linux-headers for this "
                           "kernel (scripts/setup.sh links Debian's generic ones)")
    try:
        import bcc

        bcc.BPF(text=b"int kmeshctl_probe(void *ctx) { return 0; }").cleanup()
    except Exception as err:  # bcc raises plain Exception on compile errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return CheckResult("kernel headers", False,
                           f"bcc cannot compile with the headers at {build} ({first}): "
                           "install headers matching this kernel")
    return CheckResult("kernel headers", True, f"bcc compiles against {build}")


def run_preflight(mount_missing: bool = True) -> list[CheckResult]:
    """Every check, in order; later checks run even when earlier ones fail."""
    results = [check_root(), check_bpf_syscall(), check_cgroup2(mount_missing),
               check_bpffs(mount_missing), check_bcc()]
    if results[-1].ok:
        results.append(check_kernel_headers())
    return results
