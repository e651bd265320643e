"""The demo's local target: the sandbox. Brings it up when it is not (and down again
afterwards), runs the request loop in the netutils pod, and changes weights through the
sandbox control plane (returning once the waypoint's Envoy routes with them)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Callable, Iterator

from kmeshctl import demo
from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.manifests import Manifests, default_files, load
from kmeshctl.sandbox.state import PHASE_READY, SandboxState

CLIENT_DEPLOYMENT = "netutils"
LOOP_EXIT_TIMEOUT_S = 5.0


def stop_loop(process: subprocess.Popen, kill: bool, timeout: float = LOOP_EXIT_TIMEOUT_S) -> None:
    """Wait for a request loop (its own session: sh and its curl), at most ``timeout``
    seconds; ``kill``: SIGKILL its group first, and close our end of its pipe."""
    if kill:
        _kill_group(process)
    if process.stdout is not None:
        process.stdout.close()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.wait(timeout)


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def remake_command(name: str) -> str:
    """The commands that give sandbox ``name`` the demo's manifests: `sandbox up` refuses
    a sandbox that exists (it adds nothing to one), so it is removed and made again."""
    files = default_files()
    where = f" -f {files[0].parent}/" if files else ""
    return f"kmeshctl sandbox down --name {name} && kmeshctl sandbox up --name {name}{where}"


def demo_missing(state: SandboxState) -> str:
    """What sandbox ``state`` lacks to run the demo (`fortio Service`, `netutils pod`), or ''."""
    if "default/fortio" not in state.vips:
        return "fortio Service"
    if not any(p.deployment == CLIENT_DEPLOYMENT and not p.waypoint for p in state.pods):
        return f"{CLIENT_DEPLOYMENT} pod"
    return ""


def check_demo_ready(state: SandboxState) -> None:
    """KmeshctlError (exit 1) unless sandbox ``state`` can run the demo: it has the fortio
    Service and the netutils client, and every process of it still runs (the cheap,
    process-only part of `sandbox status`: no request is sent). A demo on a sandbox whose
    agent or waypoint died would measure nothing."""
    name = state.name
    missing = demo_missing(state)
    if missing:
        raise KmeshctlError(f"sandbox {name} has no {missing} (it was made without the fortio demo's "
                            f"manifests): run the demo in a new sandbox: `{demo.in_new_sandbox(name)}`, or pass "
                            "--sandbox of a sandbox that has it")
    problems = sb.process_problems(state)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise KmeshctlError(f"sandbox {name} is not ready: {problems[0]}{more}; see "
                            f"`kmeshctl sandbox status --name {name}`, or make it again: "
                            f"`{remake_command(name)} && {demo.rerun_command(name)}`")


class LocalTarget:
    name = "local"

    def __init__(self, sandbox_name: str, subject_vs: tuple[str, str],
                 original_weights: list[int]) -> None:
        self.sandbox_name = sandbox_name
        self.description = f"local sandbox {sandbox_name}"
        self._vs = subject_vs
        self._original = original_weights
        self._started_here = False
        self._changed = False
        self._state: SandboxState | None = None

    @staticmethod
    def manifests() -> Manifests:
        return load(default_files())

    def prepare(self, progress: Callable[[str], None]) -> None:
        """Take the sandbox's lock (one demo at a time: two would change each other's
        weights; released by finish, or stale once this process is gone), then bring
        it up when it is not, or check it can run the demo."""
        sb.require_root()
        lock_mod.acquire(self.sandbox_name, lock_mod.DEMO)
        state = SandboxState.load(self.sandbox_name)
        if state is None:
            progress(f"bringing up sandbox {self.sandbox_name} (it will be removed afterwards)")
            try:
                sb.up(self.sandbox_name, default_files(), progress)
            except KeyboardInterrupt:  # Ctrl-C, SIGTERM: finish removes it whole, the logs `up` keeps too
                self._started_here = True
                raise
            self._started_here = True
        elif state.phase != PHASE_READY:
            raise KmeshctlError(sb.unfinished(state, demo.rerun_command(self.sandbox_name)))
        self._state = SandboxState.load(self.sandbox_name)
        if not self._started_here:
            check_demo_ready(self._state)

    def service_url(self) -> str:
        assert self._state is not None
        return f"http://{self._state.vips['default/fortio']}:80/"

    def run_loop(self, argv: list[str]) -> Iterator[str]:
        """The loop's output lines. Closed early (the demo interrupted), the loop's whole
        process group is killed before it is waited for: a loop left running would block
        writing to a pipe nobody reads, and the wait would never end."""
        assert self._state is not None
        client = sb.find_pod(self._state, CLIENT_DEPLOYMENT)
        process = client.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
        ended = False
        try:
            assert process.stdout is not None
            yield from process.stdout
            ended = True  # end of output: the loop has exited (it removed its stop file)
        finally:
            stop_loop(process, kill=not ended)

    def touch(self, path: str) -> None:
        Path(path).touch()  # pods share the host's filesystem

    def set_weights(self, weights: list[int]) -> None:
        sb.set_route_weights(self.sandbox_name, *self._vs, weights)
        self._changed = True

    def lost(self) -> str:
        """Why the sandbox can no longer serve the demo ('' while it can): a `sandbox
        down` removes or removed it."""
        state = SandboxState.load(self.sandbox_name)
        remover = lock_mod.removed_by(self.sandbox_name)
        if remover is not None or state is None or state.phase != PHASE_READY:
            return f"sandbox {self.sandbox_name} went away during the demo"
        return ""

    def finish(self, progress: Callable[[str], None]) -> None:
        try:
            if self._started_here and not lock_mod.removed_by(self.sandbox_name):
                progress(f"removing sandbox {self.sandbox_name}")
                sb.down(self.sandbox_name)
            elif self._changed and not self.lost():
                progress("restoring the VirtualService's weights")
                sb.set_route_weights(self.sandbox_name, *self._vs, self._original)
        finally:
            lock_mod.release(self.sandbox_name)
