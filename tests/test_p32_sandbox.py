"""Fixer f32f (pass 32): 1 a stopped (SIGSTOP) control plane, and one that no longer pushes
the record's weights (wedged), is not ready in `sandbox status` and `sandbox list`;
2 a stopped node agent or waypoint Envoy is named stopped, with `kill -CONT PID` (status,
and `dump config`'s pointer); 3 -n's case suggestion offers only a namespace the sandbox
has; 4 a sandbox name in the wrong case offers the sandbox; 5 `--plot FILE/` offers the
file with --force when it exists.

No root: sandbox records in a temporary state root (test_cli_kinds' `state_root`),
processes stood in by a stopped `sleep` in a stand-in cgroup (a directory whose
cgroup.procs lists it), the waypoint Envoy's routes by a stand-in admin client."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl import config_dump, sandboxes
from kmeshctl.cli import sandbox as cli_sandbox
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p31_sandbox import _sandbox, _waypoint


@contextlib.contextmanager
def _process(tmp_path: Path, stopped: bool = True) -> Iterator[tuple[int, str]]:
    """(pid, cgroup) of a `sleep 30`, stopped with SIGSTOP unless ``stopped`` is False,
    in a stand-in cgroup; killed at the end."""
    process = subprocess.Popen(["sleep", "30"])
    cgroup = tmp_path / f"cg-{process.pid}"
    cgroup.mkdir()
    (cgroup / "cgroup.procs").write_text(f"{process.pid}\n")
    try:
        if stopped:
            os.kill(process.pid, signal.SIGSTOP)
            time.sleep(0.1)
        yield process.pid, str(cgroup)
    finally:
        process.kill()
        process.wait()


def _with(state: state_mod.SandboxState, role: str, pid: int, cgroup: str, pod: str = "",
          component: str = "") -> None:
    state.processes.append(state_mod.ProcessRecord(role, pid, pod, f"/tmp/{role}.log", component=component,
                                                   cgroup=cgroup))
    state.save()


@pytest.fixture
def no_daemons(monkeypatch) -> None:
    """`sandbox status` without root and without the kernel's maps."""
    monkeypatch.setattr(sb, "require_root", lambda: None)
    monkeypatch.setattr(sb.agent_mod, "enrolled_pods", lambda state: None)
    monkeypatch.setattr(sb.agent_mod, "enrolled_by", lambda state: {})
    monkeypatch.setattr(sb, "data_path_gone", lambda state: False)


# ------------------------------------------------------------------ 1, 2. stopped processes


def test_a_stopped_control_plane_is_not_ready_in_status_and_list(state_root, tmp_path, no_daemons) -> None:  # noqa: F811
    state = _sandbox("f32fa")
    with _process(tmp_path) as (pid, cgroup):
        _with(state, "controlplane", pid, cgroup, component="the control plane")
        report = sb.status("f32fa")
        said = f"the control plane (pid {pid}) is stopped (SIGSTOP): resume it with `kill -CONT {pid}`"
        assert said in report["problems"], report["problems"]
        assert not report["ready"] and report["phase"] == "not ready"
        assert report["controlplane"]["ready"] is False and report["controlplane"]["stopped"] is True
        assert report["fix"] == f"kill -CONT {pid}"
        assert cli_sandbox._daemon_text(report["controlplane"]).startswith(f"[red]stopped[/red] (pid {pid}, SIGSTOP)")
        row = sandboxes.summary(state_mod.SandboxState.load("f32fa"))
        assert row["phase"] == "not ready" and said in row["problems"], row


def test_a_stopped_agent_and_envoy_are_named_stopped_not_runs_but_not_ready(state_root, tmp_path,  # noqa: F811
                                                                          no_daemons, monkeypatch) -> None:
    state = _sandbox("f32fb")
    state.waypoints = [vars(_waypoint())]
    monkeypatch.setattr(sb.agent_mod, "status", lambda state: pytest.fail("a stopped agent is not asked"))
    with _process(tmp_path) as (agent, agent_cg), _process(tmp_path) as (envoy, envoy_cg):
        _with(state, "agent", agent, agent_cg, component="the node agent")
        _with(state, "waypoint", envoy, envoy_cg, pod="waypoint", component="Envoy in pod waypoint")
        started = time.monotonic()
        report = sb.status("f32fb")
        assert time.monotonic() - started < 1.5  # nothing waits for a stopped process's answer
    problems = "\n".join(report["problems"])
    assert f"the node agent (pid {agent}) is stopped (SIGSTOP): resume it with `kill -CONT {agent}`" in problems
    assert f"Envoy in pod waypoint (pid {envoy}) is stopped (SIGSTOP): resume it with `kill -CONT {envoy}`" in problems
    assert "runs but is not ready" not in problems, problems
    assert report["fix"] == f"kill -CONT {agent} {envoy}"
    assert next(p for p in report["pods"] if p["name"] == "waypoint")["state"] == "Stopped"


def test_dump_configs_pointer_for_a_stopped_agent_says_kill_cont(state_root, tmp_path) -> None:  # noqa: F811
    state = _sandbox("f32fc")
    with _process(tmp_path) as (pid, cgroup):
        _with(state, "agent", pid, cgroup)
        error = config_dump.timeout_error(1, "f32fc")
    assert str(error).endswith(f"(is the agent stopped?); it is: the node agent of sandbox f32fc (pid {pid}) is "
                               f"stopped (SIGSTOP): resume it with `kill -CONT {pid}`"), error
    assert config_dump.agent_check("f32fc") == "check `kmeshctl sandbox status --name f32fc`"  # it ended: no pointer


# ------------------------------------------------------------------ 1. a wedged control plane


def _envoy_routes(monkeypatch, weights: tuple[int, int]) -> None:
    clusters = [{"name": f"outbound|80|{subset}|fortio.default.svc.cluster.local", "weight": weight}
                for subset, weight in zip(("v1", "v2"), weights)]
    config = {"name": "80", "virtual_hosts": [{"routes": [{"route": {"weighted_clusters": {"clusters": clusters}}}]}]}
    monkeypatch.setattr(sb, "route_name", lambda service, port: "80")
    monkeypatch.setattr(sb.EnvoyAdmin, "route_configs", lambda self: [config])


def test_a_control_plane_that_did_not_push_the_records_weights_is_not_ready(state_root, tmp_path, no_daemons,  # noqa: F811
                                                                            monkeypatch) -> None:
    state = _sandbox("f32fd", weights=(50, 50))
    state.waypoints = [vars(_waypoint())]
    state.save()
    _envoy_routes(monkeypatch, (90, 10))
    waypoints = [{"pod": "waypoint", "ready": True}]
    assert sb._pushed_behind(state, waypoints) == ""  # changed just now: on its way
    old = time.time() - sb.PUSH_GRACE_S - 5
    os.utime(state.manifests_file, (old, old))
    behind = sb._pushed_behind(state, waypoints)
    assert behind == ("the Envoy of waypoint default/waypoint still routes v1 90, v2 10, the record says v1 50, "
                      "v2 50: it does not reload on SIGHUP"), behind
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with _process(tmp_path, stopped=False) as (pid, cgroup):
        _with(state, "controlplane", pid, cgroup, component="the control plane")
        os.utime(state.manifests_file, (old, old))
        row = sandboxes.summary(state_mod.SandboxState.load("f32fd"))
        assert row["phase"] == "not ready", row
        assert row["problems"][0].startswith(f"the control plane (pid {pid}) runs but did not push the sandbox's "
                                             "configuration (the Envoy of waypoint default/waypoint still routes")
        _envoy_routes(monkeypatch, (50, 50))
        assert sandboxes.summary(state_mod.SandboxState.load("f32fd"))["phase"] == "ready"


# ------------------------------------------------------------------ 3, 4. names in the wrong case


def test_n_in_the_wrong_case_offers_only_a_namespace_the_sandbox_has(state_root, capsys, no_env) -> None:  # noqa: F811
    _sandbox("f32fe")
    code, _, err = cli(capsys, "sandbox", "exec", "--name", "f32fe", "-n", "Team-A", "netutils", "--", "true")
    assert code == 2
    assert ("and sandbox f32fe has no namespace team-a (its namespace: default); did you mean -n default? "
            "`kmeshctl sandbox exec --name f32fe -n default netutils -- true`") in err, err
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "f32fe", "-n", "Team-A")
    assert code == 2
    assert ("sandbox f32fe has no namespace team-a (the demo's objects are in namespace default); did you mean "
            "-n default? `kmeshctl demo traffic-shift --sandbox f32fe -n default`") in err, err
    code, _, err = cli(capsys, "sandbox", "exec", "--name", "f32fe", "-n", "Default", "netutils", "--", "true")
    assert "did you mean -n default? `kmeshctl sandbox exec --name f32fe -n default netutils -- true`" in err, err
    code, _, err = cli(capsys, "dump", "config", "-n", "Team-A")  # the agent pod's namespace: no sandbox's
    # -n without --pod is refused whatever its name (t45a 7): its mend `dump config -n team-a` would be too
    assert "-n Team-A: -n is the namespace of the agent pod --pod names" in err and "-n default" not in err, err
    assert "`kmeshctl dump config`" in err and "`kmeshctl dump config -n team-a`" not in err, err


def test_a_sandbox_name_in_the_wrong_case_offers_the_sandbox(state_root, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    _sandbox("f32ff")
    for words, line in ((["demo", "traffic-shift", "--sandbox", "F32FF", "-c", "5"],
                         "--sandbox f32ff? `kmeshctl demo traffic-shift --sandbox f32ff -c 5`"),
                        (["dump", "maps", "--sandbox", "F32FF"], "--sandbox f32ff? `kmeshctl dump maps --sandbox f32ff`"),
                        (["sandbox", "status", "--name", "F32FF"],
                         "--name f32ff? `kmeshctl sandbox status --name f32ff`")):
        code, _, err = cli(capsys, *words)
        assert code == 2 and "not a sandbox name (" in err and f"did you mean {line}" in err, err
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "F32FF")
    code, _, err = cli(capsys, "sandbox", "status")
    assert code == 2 and "did you mean sandbox f32ff? `export KMESHCTL_SANDBOX_NAME=f32ff`" in err, err
    monkeypatch.delenv("KMESHCTL_SANDBOX_NAME")
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "XY_Z")  # no such sandbox: the rule, the name fitted
    assert "not a sandbox name; use" in err and "did you mean --sandbox xy-z?" in err, err  # t42b 10 (as the demo)
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "___")  # nothing of it fits: an example
    assert "not a sandbox name; use" in err and "e.g. --sandbox demo" in err, err


# ------------------------------------------------------------------ 5. --plot FILE/


def test_plot_with_a_slash_offers_the_file_with_force_when_it_exists(tmp_path, capsys, no_env) -> None:  # noqa: F811
    (tmp_path / "split.png").write_bytes(b"")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--plot", f"{tmp_path}/split.png/", "-c", "5")
    assert code == 2
    assert (f"pass a file name such as {tmp_path}/split.png (it exists: --force replaces it): "
            f"`kmeshctl demo traffic-shift --plot {tmp_path}/split.png -c 5 --force`") in err, err
    code, _, err = cli(capsys, "demo", "traffic-shift", f"--plot={tmp_path}/new.png/")
    assert f"such as {tmp_path}/new.png: `kmeshctl demo traffic-shift --plot={tmp_path}/new.png`" in err, err
