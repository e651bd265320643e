"""Fixer f31d (pass 31): 1 a dead or hung waypoint Envoy is one line, never a traceback:
in the demo (with -o json its document still comes; the restore fails in one line, the
record of weights goes once the sandbox's record has them back) and in `set_route_weights`;
2 a record of weights equal to those in force is no note and no put-back; 3 `sandbox exec`
gives the command's code even when kmeshctl's signal comes as the command ends; 4 `sandbox
exec` refuses a Failed pod; 5 `sandbox down` says what it waits for; 6 a lost data path is
a problem with the agent dead too.

No root: sandbox records in a temporary state root (test_cli_kinds' `state_root`), the
request loop and the pushes to the waypoint stood in (local_demo_doubles); real unix
sockets for the Envoy admin client; real signals for exec."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

import local_demo_doubles
from local_demo_doubles import stand_ins  # noqa: F401 - the fixture
from kmeshctl import demo, stopping
from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import health
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, load
from kmeshctl.sandbox.topology import WaypointInfo
from kmeshctl.waypoint.envoy import ADMIN_ERRORS, EnvoyAdmin
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

def _waypoint() -> WaypointInfo:
    return WaypointInfo("waypoint", "default", "waypoint", "10.244.0.2", 15008)


def _sandbox(name: str, weights: tuple[int, int] = (90, 10)) -> state_mod.SandboxState:
    docs = load(default_files()).documents
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    for route, weight in zip(vs["spec"]["http"][0]["route"], weights):
        route["weight"] = weight
    pods = [state_mod.PodRecord(pod, "default", pod.split("-")[0], {}, f"10.244.0.{i + 2}", f"ns-{name}-{pod}",
                                "/nonexistent-cgroup", waypoint=pod == "waypoint")
            for i, pod in enumerate(("waypoint", "fortio-v1-0", "fortio-v2-0", "netutils-0"))]
    return local_demo_doubles.save_ready(name, docs, pods, {"default/fortio": "10.96.0.10"})


def _route(name: str) -> list[int]:
    state = state_mod.SandboxState.load(name)
    return [d.weight for d in load([state.manifests_file]).virtual_services[0].http[0].destinations]


def _dead_envoy(state: state_mod.SandboxState) -> KmeshctlError:
    admin = EnvoyAdmin(state.dir / "no-such-admin.sock")
    try:
        admin.route_configs()
    except ADMIN_ERRORS as err:
        return sb.envoy_not_answering(state, _waypoint(), admin, err)
    raise AssertionError("a missing socket answered")


@pytest.fixture
def envoy_dies(monkeypatch, stand_ins):  # noqa: F811
    """Pushes write the sandbox's record (as set_route_weights does first) and then meet a
    waypoint Envoy that is not running, from push number ``envoy_dies["from"]`` on."""
    control = {"from": 1, "made": 0}

    def push(name: str, namespace: str, vs_name: str, weights: list[int], timeout: float = 10.0,
             route: int = 0) -> None:
        state = state_mod.SandboxState.load(name)
        docs = list(yaml.safe_load_all(state.manifests_file.read_text()))
        vs = next(d for d in docs if d and d["kind"] == "VirtualService")
        for destination, weight in zip(vs["spec"]["http"][route]["route"], weights):
            destination["weight"] = weight
        state.manifests_file.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        control["made"] += 1
        if control["made"] >= control["from"]:
            raise _dead_envoy(state)

    monkeypatch.setattr(demo_target.sb, "set_route_weights", push)
    return control


# ------------------------------------------------------------------ 1. a dead or hung Envoy: one line


def test_the_admin_client_names_a_dead_and_a_hung_envoy(tmp_path: Path) -> None:
    missing = EnvoyAdmin(tmp_path / "gone.sock")
    with pytest.raises(ADMIN_ERRORS) as gone:
        missing.route_configs()
    assert "is not running (its admin socket unix:" in missing.failure_text(gone.value)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "hung.sock"))
    server.listen(1)  # accepts, never answers: a stopped Envoy
    try:
        hung = EnvoyAdmin(tmp_path / "hung.sock", timeout=0.2)
        with pytest.raises(ADMIN_ERRORS) as silent:
            hung.route_configs()
        assert hung.failure_text(silent.value).startswith("is not answering (no reply from its admin API unix:")
        assert "within 0.2s" in hung.failure_text(silent.value)
    finally:
        server.close()


def test_set_route_weights_with_a_dead_envoy_is_one_line_naming_the_sandbox(state_root, monkeypatch) -> None:  # noqa: F811
    state = _sandbox("f31da")
    monkeypatch.setattr(sb, "_signal_control_plane", lambda state, sig: None)
    monkeypatch.setattr(state_mod.SandboxState, "topology", lambda self: _topology_with_waypoint(self))
    monkeypatch.setattr(state_mod.SandboxState, "envoy_admin_socket", lambda self, w: self.dir / "gone.sock")
    with pytest.raises(KmeshctlError) as error:
        sb.set_route_weights("f31da", "default", "fortio", [50, 50])
    assert str(error.value) == (
        f"the waypoint Envoy of sandbox f31da (default/waypoint, pod waypoint) is not running (its admin socket "
        f"unix:{state.dir / 'gone.sock'} refuses connections); see `kmeshctl sandbox status --name f31da`")


def _topology_with_waypoint(state: state_mod.SandboxState):  # type: ignore[no-untyped-def]
    from kmeshctl.sandbox.topology import PodInfo, Topology

    manifests = load([state.manifests_file])
    pods = [PodInfo(p.name, p.namespace, p.deployment, p.labels, p.ip) for p in state.pods if not p.waypoint]
    vips = {tuple(k.split("/", 1)): v for k, v in state.vips.items()}
    return Topology(manifests, pods, vips, [_waypoint()])  # type: ignore[arg-type]


def test_a_hung_envoy_that_is_stopped_is_named_with_the_command_that_resumes_it(state_root) -> None:  # noqa: F811
    state = _sandbox("f31db")
    with _stopped_process() as sleeper:
        state.processes.append(state_mod.ProcessRecord("waypoint", sleeper.pid, "waypoint", ""))
        error = sb.envoy_not_answering(state, _waypoint(), EnvoyAdmin(Path("/x.sock")), TimeoutError())
        assert f"pod waypoint, pid {sleeper.pid}) is stopped (SIGSTOP" in str(error), error
        assert error.fix == f"resume it with `kill -CONT {sleeper.pid}`, or see `kmeshctl sandbox status --name f31db`"


@contextlib.contextmanager
def _stopped_process() -> Iterator[subprocess.Popen]:
    """A `sleep 30` stopped with SIGSTOP (as `kill -STOP`), killed at the end."""
    process = subprocess.Popen(["sleep", "30"])
    try:
        os.kill(process.pid, signal.SIGSTOP)
        time.sleep(0.1)
        yield process
    finally:
        process.kill()
        process.wait()


def test_the_demo_with_a_dead_envoy_prints_its_json_and_one_error_line(state_root, capsys, no_env,  # noqa: F811
                                                                        envoy_dies) -> None:
    _sandbox("f31dc")
    envoy_dies["from"] = 2  # phase 1's push goes through; the switch to 10/90 meets the dead Envoy
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "f31dc", "-c", "20",
                         "--weights", "90/10,10/90", "-o", "json")
    assert code == 1, err
    assert "Traceback" not in err and "ConnectionRefusedError" not in err, err
    data = json.loads(out)
    assert data["error"].startswith("the waypoint Envoy of sandbox f31dc (default/waypoint, pod waypoint) is not "
                                    "running"), data["error"]
    assert data["error"].endswith("; see `kmeshctl sandbox status --name f31dc`")
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {data['error']}"], err
    assert "the VirtualService's weights 90/10 are back in sandbox f31dc's record, but the waypoint Envoy" in err
    state = state_mod.SandboxState.load("f31dc")
    assert _route("f31dc") == [90, 10]
    assert not demo_target.weights_record(state).exists()  # nothing left to put back
    assert demo_target.weights_note(state) == ""


def test_a_restore_that_meets_a_dead_envoy_after_a_full_run_is_the_runs_error(state_root, capsys, no_env,  # noqa: F811
                                                                               envoy_dies) -> None:
    _sandbox("f31dd")
    envoy_dies["from"] = 3  # phase 1 and the switch go through; the restore meets it
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "f31dd", "-c", "20",
                         "--weights", "90/10,10/90", "-o", "json")
    assert code == 1 and "Traceback" not in err, err
    data = json.loads(out)
    assert data["error"].startswith("the VirtualService's weights 90/10 are back in sandbox f31dd's record, but "
                                    "the waypoint Envoy of sandbox f31dd"), data["error"]
    assert [line for line in err.splitlines() if line.startswith("Error:")] == [f"Error: {data['error']}"], err
    assert not demo_target.weights_record(state_mod.SandboxState.load("f31dd")).exists()


# ------------------------------------------------------------------ 2. a record equal to the weights in force


def test_a_record_equal_to_the_weights_in_force_is_no_note_and_no_put_back(state_root, stand_ins) -> None:  # noqa: F811
    state = _sandbox("f31de")
    demo_target._record_weights(state, ("default", "fortio"), [90, 10])
    assert demo_target.weights_note(state) == ""
    _, default = demo.fortio_demo()
    target = demo_target.LocalTarget("f31de", ("default", "fortio"), list(default.default_weights))
    lines: list[str] = []
    target.subject(default)
    target.prepare(lines.append)
    try:
        assert not any("putting back" in line for line in lines), lines
        assert stand_ins["pushes"] == []
        assert not demo_target.weights_record(state).exists()
    finally:
        target.finish(lines.append)


# ------------------------------------------------------------------ 3. exec: the command's code, whenever the signal comes


def test_a_signal_as_the_command_ends_is_still_the_commands_code(tmp_path: Path, monkeypatch) -> None:
    """The command exits 9 on its own as kmeshctl gets SIGTERM (timeout's second signal,
    to the group): the code is 9, not a stop of kmeshctl's (143)."""
    sleeper = subprocess.Popen(["sleep", "5"])  # a real pid, never signalled: the command has ended

    class Ending:
        pid, returncode = sleeper.pid, None

        def wait(self) -> int:
            self.returncode = 9
            os.kill(os.getpid(), signal.SIGTERM)  # handled as wait returns, before anything else
            time.sleep(0.05)
            return 9

    with stopping.sigterm_stops():
        with sb._PassingOn() as passing:
            process = passing.started(Ending())  # type: ignore[arg-type]
            code = sb._wait_forwarding(process)  # type: ignore[arg-type]
        time.sleep(0.05)
        assert stopping.received() is None
    sleeper.kill()
    assert sleeper.wait() == -signal.SIGKILL  # it got no SIGTERM
    assert code == 9


def test_a_signal_while_the_command_starts_reaches_it_once_started() -> None:
    """Passed on once the command is there (it decides: here SIGTERM kills it, 128+15),
    not a stop of kmeshctl's own."""
    with stopping.sigterm_stops():
        with sb._PassingOn() as passing:
            os.kill(os.getpid(), signal.SIGTERM)  # before the command is there
            time.sleep(0.05)
            process = passing.started(subprocess.Popen(["sleep", "5"]))
            code = sb._wait_forwarding(process)
        assert stopping.received() is None
    assert sb.shell_status(code) == 143


# ------------------------------------------------------------------ 4. exec into a Failed pod


def test_exec_into_a_pod_whose_process_ended_is_refused(state_root, monkeypatch) -> None:  # noqa: F811
    state = _sandbox("f31df")
    state.processes.append(state_mod.ProcessRecord("container", 4242, "netutils-0", "/tmp/n.log",
                                                   component="pod netutils-0: sleep"))
    state.save()
    monkeypatch.setattr(sb, "require_root", lambda: None)
    monkeypatch.setattr(sb, "_process_health", lambda state, record: health.ProcessHealth(
        record.component, record.pid, record.log, False, 137, 0.0))
    with pytest.raises(KmeshctlError) as error:
        sb.exec_in_pod("f31df", "netutils", ["true"])
    assert str(error.value).startswith("cannot exec into pod default/netutils-0 of sandbox f31df: it is Failed "
                                       "(pod netutils-0: sleep (pid 4242) was killed by SIGKILL (exit status 137))")
    assert "see `kmeshctl sandbox status --name f31df`" in str(error.value)


# ------------------------------------------------------------------ 5. down: what it waits for


def test_down_says_what_it_waits_for(tmp_path: Path, monkeypatch) -> None:
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 3 & wait; sleep 3"])
    time.sleep(0.1)
    monkeypatch.setattr(sb, "_tree_pids", lambda cgroup: [stubborn.pid] if stubborn.poll() is None else [])
    lines: list[str] = []
    try:
        sb._terminate_tree(tmp_path, grace=1.0, progress=lines.append)
    finally:
        stubborn.kill()
        stubborn.wait()
    assert lines == ["waiting up to 1s for 1 pod process to end after SIGTERM (SIGKILL then)"], lines


def test_down_continues_a_stopped_agent_for_the_cni_del(state_root, monkeypatch) -> None:  # noqa: F811
    state = _sandbox("f31dg")
    with _stopped_process() as agent:
        state.processes.append(state_mod.ProcessRecord("agent", agent.pid, "", ""))
        monkeypatch.setattr(sb, "process_alive", lambda state, record: True)
        lines: list[str] = []
        sb._agent_for_cni_del(state, lines.append)
        assert lines == [f"the node agent (pid {agent.pid}) was stopped (SIGSTOP): continued it for the pods' "
                         "CNI DEL"], lines
        assert not sb.process_stopped(agent.pid)
        monkeypatch.setattr(sb.agent_mod, "ready", lambda state: False)
        lines.clear()
        sb._agent_for_cni_del(state, lines.append)
        assert lines == [f"the node agent (pid {agent.pid}) does not answer: each pod's CNI DEL waits up to 5s for "
                         "it (4 pods)"], lines


# ------------------------------------------------------------------ 6. the data path gone, the agent dead


def test_a_lost_data_path_is_a_problem_with_the_agent_dead_too(state_root, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    state = _sandbox("f31dh")
    state.processes.append(state_mod.ProcessRecord("agent", 4243, "", ""))
    monkeypatch.setattr(state_mod.SandboxState, "bpffs", property(lambda self: tmp_path / "bpf-gone"))
    monkeypatch.setattr(sb, "process_alive", lambda state, record: False)
    assert sb.data_path_gone(state)


def test_a_stopped_control_plane_is_named_with_the_command_that_resumes_it(state_root) -> None:  # noqa: F811
    state = _sandbox("f31di")
    control_plane = subprocess.Popen(["sleep", "30"])
    try:
        state.processes.append(state_mod.ProcessRecord("controlplane", control_plane.pid))
        assert sb._control_plane_stopped(state) == 0
        os.kill(control_plane.pid, signal.SIGSTOP)
        time.sleep(0.1)
        assert sb._control_plane_stopped(state) == control_plane.pid
    finally:
        control_plane.kill()
        control_plane.wait()
