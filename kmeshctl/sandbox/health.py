"""Health of the sandbox's processes (the control plane, the node agent, each waypoint's
Envoy, each pod's containers).

Every process the sandbox starts runs under a small `/bin/sh` supervisor that waits for
it and writes its exit status to a file of the sandbox record. The kernel gives a
process's exit status only to its parent, and `sandbox up` (the parent) is long gone
when `sandbox status` asks; the supervisor is that parent. The recorded pid is the real
process's (killing it is what a crash looks like), not the supervisor's.
"""

from __future__ import annotations

import os

import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kmeshctl.errors import KmeshctlError

LOG_TAIL_LINES = 10
LOG_LINE_MAX = 300  # characters kept of one log line
_TAIL_BYTES = 64 * 1024
PID_WAIT_S = 5.0

# $1: where to write the process's pid, $2: where to write its exit status, then argv.
# `wait` gives 128+N for a process killed by signal N. The status file is written
# whole (rename) so a reader never sees half of it.
SUPERVISOR = """pid_file=$1 exit_file=$2
shift 2
"$@" &
child=$!
echo "$child" > "$pid_file"
wait "$child"
code=$?
echo "$code" > "$exit_file.tmp" && mv "$exit_file.tmp" "$exit_file"
exit "$code"
"""


def supervised(argv: list[str], pid_file: Path, exit_file: Path) -> list[str]:
    """`argv` wrapped in the supervisor."""
    return ["/bin/sh", "-c", SUPERVISOR, "kmeshctl-supervise", str(pid_file), str(exit_file), *argv]


@dataclass
class Launched:
    """A supervised process as `up` sees it: `pid` is the real process, `poll()` and
    `returncode` its exit status (through the supervisor, which exits with it)."""

    supervisor: subprocess.Popen
    pid: int

    def poll(self) -> int | None:
        return self.supervisor.poll()

    @property
    def returncode(self) -> int | None:
        return self.supervisor.returncode


def launched(supervisor: subprocess.Popen, pid_file: Path, timeout: float = PID_WAIT_S) -> Launched:
    """Wait for the supervisor to name its child. KmeshctlError when it cannot start it."""
    deadline = time.monotonic() + timeout
    while True:
        text = pid_file.read_text().strip() if pid_file.exists() else ""
        if text.isdigit():
            return Launched(supervisor, int(text))
        if supervisor.poll() is not None or time.monotonic() > deadline:
            raise KmeshctlError(f"could not start a process under /bin/sh (exit status "
                                f"{supervisor.poll()}): is /bin/sh a POSIX shell?")
        time.sleep(0.005)


def exit_text(code: int) -> str:
    """`exited with status 1`, `was killed by SIGKILL (exit status 137)`."""
    if code > 128:
        try:
            return f"was killed by {signal.Signals(code - 128).name} (exit status {code})"
        except ValueError:
            pass
    return f"exited with status {code}"


def read_exit_status(exit_file: str) -> tuple[int, float] | None:
    """(exit status, when it was written) or None while the process runs (or unknown)."""
    if not exit_file:
        return None
    path = Path(exit_file)
    try:
        return int(path.read_text().strip()), path.stat().st_mtime
    except (OSError, ValueError):
        return None


# A log line that says what went wrong (fortio's `flag provided but not defined: -x`,
# Go's `panic:`, a Python exception's last line, `bind: address already in use`).
_CAUSE_RE = re.compile(r"error|fatal|panic|not defined|invalid|unknown|failed|cannot|can't|no such|denied|"
                       r"refused|already in use|not found|exception", re.IGNORECASE)


def log_cause(log: str | Path) -> str:
    """The one line of a dead process's log naming why it ended: a Python traceback's
    exception line, else the first error-looking line, else the first line ('' when the
    log is empty). Usage text printed after it (fortio's, click's) is not the cause."""
    try:
        with open(log, "rb") as f:
            text = f.read(_TAIL_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        for tail in log_tail(log, 50)[::-1]:  # the exception: the last line not indented
            if not tail.startswith((" ", "\t")):
                return _cut(tail)
    found = next((line for line in lines if _CAUSE_RE.search(line)), lines[0] if lines else "")
    return _cut(found)


def _cut(line: str) -> str:
    return line if len(line) <= LOG_LINE_MAX else line[:LOG_LINE_MAX] + "..."


def log_size(log: str | Path) -> int:
    """The log file's size in bytes now (0 when there is none): pass it as ``since`` to
    ``log_tail`` to read only what is written after this moment."""
    try:
        return os.path.getsize(log)
    except OSError:
        return 0


def log_tail(log: str | Path, lines: int = LOG_TAIL_LINES, since: int = 0) -> list[str]:
    """The last non-empty lines of a log file written past byte offset ``since`` ([] when
    there is none)."""
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            f.seek(max(since, f.tell() - _TAIL_BYTES))
            data = f.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace").splitlines()
    kept = [line.rstrip() for line in text if line.strip()][-lines:]
    return [line if len(line) <= LOG_LINE_MAX else line[:LOG_LINE_MAX] + "..." for line in kept]


def process_stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped (SIGSTOP, SIGTSTP: state T in /proc/<pid>/stat):
    alive, but it answers nothing until continued (`kill -CONT PID`)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def stopped_text(pid: int) -> str:
    """`is stopped (SIGSTOP): resume it with `kill -CONT PID``: one wording everywhere."""
    return f"is stopped (SIGSTOP): resume it with `kill -CONT {pid}`"


def in_cgroup(pid: int, cgroup: str | Path) -> bool:
    """Whether `pid` is a live member of the cgroup (a reused pid elsewhere is not)."""
    try:
        return str(pid) in (Path(cgroup) / "cgroup.procs").read_text().split()
    except OSError:
        return False


def unix_socket_accepts(path: Path) -> bool:
    """Whether something accepts connections on a unix socket (not just a file there)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


REMOVED_REASON = "removed (stopped by `sandbox down`)"


@dataclass
class ProcessHealth:
    """One process of the sandbox: running, or how it ended."""

    component: str  # "the control plane", "pod fortio-v1-0 (fortio)", ...
    pid: int
    log: str
    running: bool
    exit_status: int | None = None  # None: running, or ended without a recorded status
    exited_at: float | None = None  # time.time() of the exit, when recorded
    # Ended in a sandbox a `sandbox down` was removing: stopped by it, not a crash to look into.
    removed: bool = False
    stopped: bool = False  # running, but stopped by SIGSTOP (state T): it answers nothing

    @property
    def failed(self) -> bool:
        return not self.running

    @property
    def reason(self) -> str:
        if self.running:
            return "stopped (SIGSTOP)" if self.stopped else "running"
        if self.removed:
            return REMOVED_REASON
        if self.exit_status is None:
            return "exited (exit status not recorded)"
        return exit_text(self.exit_status)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"component": self.component, "pid": self.pid,
                                  "running": self.running, "log": self.log}
        if not self.running:
            result["exitStatus"] = self.exit_status
            result["reason"] = self.reason
        if self.stopped:
            result["stopped"] = True
        if self.removed:
            result["removed"] = True
        elif not self.running:
            result["logTail"] = log_tail(self.log)
        return result


def inspect(component: str, pid: int, log: str, exit_file: str, cgroup: str) -> ProcessHealth:
    recorded = read_exit_status(exit_file)
    if recorded is not None:
        return ProcessHealth(component, pid, log, False, recorded[0], recorded[1])
    running = in_cgroup(pid, cgroup)
    return ProcessHealth(component, pid, log, running, stopped=running and process_stopped(pid))


def first_failure(processes: list[ProcessHealth]) -> ProcessHealth | None:
    """The process that ended first (recorded exits by time, then unrecorded ones)."""
    failed = [p for p in processes if p.failed]
    failed.sort(key=lambda p: (p.exited_at is None, p.exited_at or 0.0))
    return failed[0] if failed else None


@dataclass(eq=False)  # eq would make the exception unhashable
class ComponentFailed(KmeshctlError):
    """A component of the sandbox died (or never became ready). The message names it,
    says how it ended, quotes the one log line naming the cause (log_cause) and gives
    the log's path (`tail` keeps the end of the log for `sandbox status -o json`)."""

    component: str
    pid: int
    reason: str
    log: str
    tail: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary)

    @classmethod
    def of(cls, process: ProcessHealth, reason: str = "") -> "ComponentFailed":
        return cls(process.component, process.pid, reason or process.reason, process.log,
                   log_tail(process.log))

    @property
    def summary(self) -> str:
        return f"{self.component} (pid {self.pid}) {self.reason}"

    def __str__(self) -> str:
        cause = log_cause(self.log) or (self.tail[0] if self.tail else "")
        if not cause:
            return f"{self.summary}; its log {self.log} is empty"
        return f"{self.summary}: {cause} (log: {self.log})"


def wait_until(ready: Callable[[], bool], check: Callable[[], None], timeout: float,
               not_ready: Callable[[], KmeshctlError]) -> None:
    """Poll `ready` until true; `check` raises when a component died meanwhile (checked
    first, so a dead component is reported as such, not as a timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        check()
        if ready():
            return
        if time.monotonic() > deadline:
            raise not_ready()
        time.sleep(0.05)
