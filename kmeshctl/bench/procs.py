"""Long-running bench processes inside pods: CPU pinning, an unprivileged proxy uid, CPU
time accounting and readiness waits."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from kmeshctl.errors import KmeshctlError
from kmeshctl.podnet import Pod

# Proxies run as this uid, as Istio's sidecars do, so that an nftables rule can exempt the
# proxies' own connections from capture (`meta skuid != 1337`).
PROXY_UID = 1337


class BenchError(KmeshctlError):
    """The benchmark could not be set up or a path did not carry traffic."""


def require_tool(name: str, apt_package: str) -> str:
    """Absolute path of a tool on PATH, or a one-line error naming the package."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise BenchError(f"`{name}` not found: apt-get install {apt_package} "
                         "(or run scripts/setup.sh)")
    return found


# Every process of the benchmark (wrk, nginx, every Envoy: the same for all paths) runs at
# this priority, so that other work on the machine does not land in the middle of a
# measured request. With autogroup scheduling (on by default in most kernels) plain `nice`
# only ranks a process against its own session, so each one gets a session (setsid) whose
# autogroup gets the nice value too; without autogroup the write fails and `nice` applies.
BENCH_NICE = -20
_AUTOGROUP_NICE = 'echo "$0" > /proc/self/autogroup 2>/dev/null; exec "$@"'


def pinned(argv: Sequence[str], cpus: str) -> list[str]:
    """``argv`` restricted to the CPUs ``cpus`` (taskset list syntax) at the bench's
    priority (see BENCH_NICE); threads inherit both. Every wrapper execs in place, so the
    started pid is the program's."""
    nice = str(BENCH_NICE)
    return ["setsid", "sh", "-c", _AUTOGROUP_NICE, nice, "nice", "-n", nice,
            "taskset", "-c", cpus, *argv]


def as_uid(argv: Sequence[str], uid: int) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]


def process_cpu_ns(pid: int) -> int:
    """CPU time (user + system) of every live thread of ``pid``, in nanoseconds
    (/proc/<pid>/task/*/schedstat: finer than the 10 ms ticks of /proc/<pid>/stat)."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return 0
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue  # thread exited while reading
    return total


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               alive: Callable[[], str | None] = lambda: None) -> None:
    """Poll ``check`` until true; ``alive`` returns a reason when waiting is pointless."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        reason = alive()
        if reason:
            raise BenchError(f"{what}: {reason}")
        time.sleep(0.05)
    raise BenchError(f"{what}: not ready within {timeout:.0f}s")


def tcp_port_open(pod: Pod, port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on host:port inside the pod (a real connect from it)."""
    probe = f"import socket; socket.create_connection(('{host}', {port}), timeout=0.5).close()"
    result = pod.run([sys.executable, "-c", probe], timeout=10, check=False)
    return result.returncode == 0


def unix_socket_open(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
            return True
        except OSError:
            return False


@dataclass
class BenchProcess:
    """A process started in a pod for the bench, with its log file."""

    name: str
    pod: Pod
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_ns(self) -> int:
        return process_cpu_ns(self.proc.pid)

    def exit_reason(self) -> str | None:
        """None while running; else the exit code and the log's tail."""
        if self.proc.poll() is None:
            return None
        tail = self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
        return f"{self.name} exited with {self.proc.returncode}: {tail.strip()}"

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)


def start_in_pod(pod: Pod, name: str, argv: Sequence[str], log: Path) -> BenchProcess:
    """Start ``argv`` in ``pod`` with stdout and stderr appended to ``log``."""
    with open(log, "ab") as out:
        proc = pod.popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return BenchProcess(name, pod, proc, log)


def chown_tree(path: Path, uid: int) -> None:
    os.chown(path, uid, uid)
    for child in path.iterdir():
        os.chown(child, uid, uid)
