"""Issue 14, a sandbox used by two commands at once (helper 51). One kind each:

1 a demo whose sandbox `sandbox down --force` removes fails, naming it (never PASS); `down`
  of a sandbox a demo uses is refused without --force, naming the demo's pid;
2 a second demo on a sandbox in use is refused up front (one lock per sandbox, released on
  exit, a dead holder's lock taken over);
3 `node cleanup` of a live sandbox's bpffs is refused; a sandbox whose data path is gone is
  not ready, and `dump maps --sandbox` says so naming the sandbox, not a --bpf-fs never
  typed; `node cleanup` with nothing installed says so (exit 1, as `sandbox down`);
4 during a `sandbox down`, other commands say `being removed by pid N`, a second `down` too;
5 `down` stops a `sandbox up` with SIGTERM first (SIGKILL after a grace period), and a
  `sandbox exec` command it stops ends with a line;
6 a failed or interrupted `up`'s name: `status` shows the phase and the fix, `down --name
  <TAB>` offers it, the problem says `interrupted` after Ctrl-C.

Records in a temporary state root (test_cli_kinds' `state_root`) where no real sandbox is
needed; the real ones (marked root) are named h51-... and always removed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from kmeshctl import demo, sandboxes
from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files
from test_cli_kinds import KMESHCTL, cli, no_env, state_root  # noqa: F401
from test_cli_newuser import _complete, _record


def _holder(name: str, command: str) -> subprocess.Popen:
    """A live process recorded as holding sandbox ``name``'s lock for ``command``."""
    process = subprocess.Popen(["sleep", "60"])
    time.sleep(0.05)
    holder = {"pid": process.pid, "started": state_mod.process_start_time(process.pid), "command": command}
    lock_mod.lock_path(name).parent.mkdir(parents=True, exist_ok=True)
    lock_mod.lock_path(name).write_text(json.dumps(holder))
    return process


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


# ------------------------------------------------------------------ 2, 4: the lock, refusals naming the pid


def test_a_second_demo_is_refused_up_front_naming_the_first(state_root, capsys, no_env, holders) -> None:
    _record("busy")
    holders.append(_holder("busy", lock_mod.DEMO))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--name", "busy", "-q")
    pid = holders[0].pid
    assert code == 1 and not out, err
    # no other sandbox: the demo in a new one (t41a 6), the sandbox flag as typed
    assert err.strip().endswith(f"Error: sandbox busy is in use by demo pid {pid}; wait for it or run the demo in "
                                "a new sandbox, `kmeshctl sandbox up --name busy-demo && kmeshctl demo traffic-shift "
                                "--name busy-demo -q`"), err
    assert lock_mod.holder("busy").pid == pid  # the refused demo left the lock alone


def test_a_dead_holders_lock_is_taken_over_and_released(state_root) -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    lock_mod.lock_path("gone").parent.mkdir(parents=True, exist_ok=True)
    lock_mod.lock_path("gone").write_text(json.dumps({"pid": process.pid, "started": "1", "command": "demo"}))
    assert lock_mod.holder("gone") is None
    assert lock_mod.acquire("gone", lock_mod.DEMO) is True
    assert lock_mod.holder("gone").pid == os.getpid()
    assert lock_mod.acquire("gone", lock_mod.DOWN) is False  # ours already: not taken twice
    lock_mod.release("gone")
    assert not lock_mod.lock_path("gone").exists()


def test_down_of_a_sandbox_a_demo_uses_is_refused_unless_force(state_root, capsys, no_env, holders) -> None:
    _record("shared")
    holders.append(_holder("shared", lock_mod.DEMO))
    code, out, err = cli(capsys, "sandbox", "down", "--name", "shared")
    assert code == 1 and not out, err
    assert (f"sandbox shared is in use by demo pid {holders[0].pid}: wait for it, or remove it anyway (the demo then "
            "fails): `kmeshctl sandbox down --name shared --force`") in err, err
    assert state_mod.SandboxState.load("shared") is not None  # nothing removed
    code, out, err = cli(capsys, "sandbox", "down", "--name", "shared", "--force")
    assert code == 0 and "Sandbox shared removed." in out, err
    assert not lock_mod.lock_path("shared").exists()


def test_during_a_down_every_command_names_its_pid(state_root, capsys, no_env, holders) -> None:
    _record("leaving", pods=(("netutils-0", False),))
    holders.append(_holder("leaving", lock_mod.DOWN))
    wanted = f"sandbox leaving is being removed by pid {holders[0].pid}: wait for that `kmeshctl sandbox down"
    for args in (["sandbox", "exec", "netutils", "--name", "leaving", "--", "true"],
                 ["sandbox", "down", "--name", "leaving"],
                 ["demo", "traffic-shift", "--name", "leaving", "-q"]):
        code, _, err = cli(capsys, *args)
        assert code == 1 and wanted in err, (args, err)
        assert "half-removed" not in err and "&&" not in err, err


# ------------------------------------------------------------------ 1: a demo whose sandbox went away


class _ShortTarget:
    """A target whose request loop stops after ``sent`` lines, its sandbox gone."""

    name = "local"
    description = "local sandbox s"
    sandbox_name = "s"

    def __init__(self, sent: int) -> None:
        self.sent = sent

    def service_url(self) -> str:
        return "http://10.96.0.10:80/"

    def run_loop(self, argv: list[str]) -> Iterator[str]:
        yield from (f"{i} 0 200 1" for i in range(1, self.sent + 1))

    def lost(self) -> str:
        return "sandbox s went away during the demo"


def test_a_demo_whose_sandbox_went_away_fails_naming_it() -> None:
    _, subject = demo.fortio_demo()
    report = demo.run_traffic_shift(_ShortTarget(317), subject, 3000, [list(subject.default_weights)],
                                    on_request=lambda *_: None, on_phase=lambda *_: None)
    data = report.to_json()
    assert not report.passed and data["passed"] is False
    assert data["error"] == "sandbox s went away during the demo (317 of 3000 requests sent)"
    assert data["requests"] == 3000 and data["totals"]["requests"] == 317


# ------------------------------------------------------------------ 3: node cleanup, a lost data path


def test_node_cleanup_refuses_a_live_sandboxs_bpffs(state_root, capsys, no_env, monkeypatch) -> None:
    state = _record("live", processes=[state_mod.ProcessRecord("agent", 4242, component="the node agent")])
    state.bpffs.mkdir(parents=True)
    monkeypatch.setattr(sb, "process_alive", lambda st, record: True)
    code, out, err = cli(capsys, "node", "cleanup", "--bpf-fs", str(state.bpffs))
    assert code == 1 and not out, err
    assert err.strip() == (f"Error: --bpf-fs {state.bpffs}: in use by sandbox live (agent pid 4242): use "
                           "`kmeshctl sandbox down --name live`"), err
    assert state.bpffs.is_dir()


def test_dump_of_a_sandbox_without_its_data_path_names_the_sandbox(state_root, capsys, no_env,
                                                                   monkeypatch) -> None:
    _record("bare", processes=[state_mod.ProcessRecord("agent", 4242, component="the node agent")])
    monkeypatch.setattr(sb, "process_alive", lambda st, record: True)  # its agent runs
    code, out, err = cli(capsys, "dump", "maps", "--sandbox", "bare")
    assert code == 1 and not out, err
    assert "sandbox bare has no data path" in err and "kmeshctl sandbox down --name bare" in err, err
    assert "--bpf-fs" not in err, err


@pytest.mark.skipif(Path("/sys/fs/bpf/kmesh").exists(), reason="this node has a kmesh data path")
def test_node_cleanup_with_nothing_installed_says_so(capsys, no_env) -> None:
    code, out, err = cli(capsys, "node", "cleanup")
    assert code == 1 and not out, err
    assert err.startswith("Error: nothing to clean up: no kmesh data path at /sys/fs/bpf/kmesh; "
                          "`kmeshctl node cleanup --ignore-not-found` makes this exit 0"), err
    code, out, err = cli(capsys, "node", "cleanup", "--ignore-not-found")
    assert code == 0 and "nothing to clean up" in out, err


# ------------------------------------------------------------------ 5: SIGTERM first


def _child(ignore_term: bool) -> subprocess.Popen:
    handler = "signal.SIG_IGN" if ignore_term else "signal.SIG_DFL"
    process = subprocess.Popen([sys.executable, "-c", f"import signal, time; signal.signal(signal.SIGTERM, "
                                                      f"{handler}); print(1, flush=True); time.sleep(60)"],
                               stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline()
    return process


@pytest.mark.parametrize("ignore_term,signum", [(False, signal.SIGTERM), (True, signal.SIGKILL)])
def test_down_stops_an_up_with_sigterm_then_sigkill(ignore_term: bool, signum: int) -> None:
    process = _child(ignore_term)
    try:
        state = state_mod.SandboxState(name="h51x", up_pid=process.pid,
                                       up_started=state_mod.process_start_time(process.pid))
        sb._stop_up_process(state, grace=1.0)
        assert process.wait(5) == -signum
    finally:
        process.kill()
        process.wait()


# ------------------------------------------------------------------ 7: a failed `up`'s name


def test_status_of_an_interrupted_up_shows_the_phase_and_the_fix(state_root, capsys, no_env, monkeypatch) -> None:
    logs = state_mod.failed_up_logs("cut")
    logs.mkdir(parents=True)
    (logs / sb.UP_END_FILE).write_text("interrupted\n")
    code, out, err = cli(capsys, "sandbox", "status", "--name", "cut", "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["phase"] == "failed" and not report["ready"], err
    assert report["problems"] == [f"`sandbox up` was interrupted; only its logs are left, in {logs}: "
                                  "`kmeshctl sandbox down --name cut` removes them"]
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "cut")
    assert code == 1 and "NOT READY (phase failed)" in out and "kmeshctl sandbox down --name cut" in out, out
    rows = json.loads(cli(capsys, "sandbox", "list", "-o", "json")[1])
    assert rows[0]["problems"] == report["problems"]
    assert "cut" in _complete(capsys, monkeypatch, "kmeshctl sandbox down --name ")[1]


# ------------------------------------------------------------------ the real kinds (root, real sandboxes)


def _run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run([KMESHCTL, *args], capture_output=True, text=True, timeout=300, **kwargs)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("KMESHCTL_SANDBOX_NAME", "KUBECONFIG", "COLUMNS")}


def _wait_for(check: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _remove(name: str) -> None:
    sb.down(name, force=True)
    shutil.rmtree(state_mod.failed_up_logs(name), ignore_errors=True)


@pytest.mark.root
def test_a_sandbox_in_use_refuses_a_second_demo_a_plain_down_and_node_cleanup(run_id: str) -> None:
    name = f"h51a{run_id}"
    env = _env()
    sb.up(name, default_files())
    demo_run = None
    exec_run = None
    try:
        state = state_mod.SandboxState.load(name)
        agent = state.processes_of("agent")[-1].pid
        cleanup = _run("node", "cleanup", "--bpf-fs", str(state.bpffs), env=env)
        assert cleanup.returncode == 1 and (f"in use by sandbox {name} (agent pid {agent}): use "
                                            f"`kmeshctl sandbox down --name {name}`") in cleanup.stderr, cleanup
        assert (state.bpffs / sb.PINNED_MAP).exists()
        demo_run = subprocess.Popen([KMESHCTL, "demo", "traffic-shift", "--name", name, "-c", "3000", "-q",
                                     "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env)
        _wait_for(lambda: lock_mod.holder(name) is not None)
        second = _run("demo", "traffic-shift", "--name", name, "-c", "1", "-q", env=env)
        assert second.returncode == 1 and (f"sandbox {name} is in use by demo pid {demo_run.pid}; wait for it or "
                                           ) in second.stderr, second
        # another sandbox the demo fits when this machine has one, else a new one (t41a 6)
        assert "pass --name of another sandbox" in second.stderr or \
            f"run the demo in a new sandbox, `kmeshctl sandbox up --name {name}-demo && " in second.stderr, second
        plain = _run("sandbox", "down", "--name", name, env=env)
        assert plain.returncode == 1 and f"in use by demo pid {demo_run.pid}" in plain.stderr, plain
        exec_run = subprocess.Popen([KMESHCTL, "sandbox", "exec", "netutils", "--name", name, "--", "sleep", "30"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(1.0)
        forced = _run("sandbox", "down", "--name", name, "--force", env=env)
        assert forced.returncode == 0, forced
        out, err = demo_run.communicate(timeout=120)
        assert demo_run.returncode == 1, err
        data = json.loads(out)
        assert data["passed"] is False and data["requests"] == 3000
        sent = data["totals"]["requests"]
        assert data["error"] == f"sandbox {name} went away during the demo ({sent} of 3000 requests sent)"
        assert f"Error: {data['error']}" in err, err
        _, exec_err = exec_run.communicate(timeout=60)
        assert exec_run.returncode == 143 and (f"sandbox {name} was removed by 'sandbox down' while the command "
                                               "ran (it was killed by SIGTERM") in exec_err, exec_err
    finally:
        for process in (demo_run, exec_run):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate()
        _remove(name)


@pytest.mark.root
def test_a_sandbox_whose_data_path_was_removed_is_not_ready(run_id: str, capsys, monkeypatch) -> None:
    from kmeshctl.node import loader

    name = f"h51b{run_id}"
    for var in ("KMESHCTL_SANDBOX_NAME", "KUBECONFIG", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    sb.up(name, default_files())
    try:
        state = state_mod.SandboxState.load(name)
        loader.cleanup(state.bpffs, state.cgroup)  # what an unguarded `node cleanup` did
        rows = {r["name"]: r for r in json.loads(cli(capsys, "sandbox", "list", "-o", "json")[1])}
        assert rows[name]["phase"] == "not ready" and any("the data path is gone" in p
                                                         for p in rows[name]["problems"]), rows[name]
        code, out, _ = cli(capsys, "sandbox", "status", "--name", name)
        assert code == 1 and "the data path is gone" in out, out
        code, out, err = cli(capsys, "dump", "maps", "--sandbox", name)
        assert code == 1 and f"sandbox {name} has no data path" in err and "--bpf-fs" not in err, err
    finally:
        _remove(name)


@pytest.mark.root
def test_down_during_up_stops_it_with_sigterm_and_it_says_why(run_id: str) -> None:
    name = f"h51c{run_id}"
    env = _env()
    up = subprocess.Popen([KMESHCTL, "sandbox", "up", "--name", name], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for(lambda: (state_mod.SandboxState.load(name) or state_mod.SandboxState(name=name)).processes_of(
            "controlplane"))
        down = _run("sandbox", "down", "--name", name, env=env)
        assert down.returncode == 0, down
        _, err = up.communicate(timeout=120)
        assert up.returncode == 143, err
        assert f"Error: sandbox {name} was removed by 'sandbox down' (pid " in err, err
        assert "while it was being created" in err and "Killed" not in err, err
        assert sb._leftovers(state_mod.SandboxState(name=name)) == []
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
        _remove(name)
