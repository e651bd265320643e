"""Issue 14, pass 34 (f34d): one node agent per data path, and a sandbox whose data path
was moved away is not ready.

1 `node run` refuses what a running agent holds (a live sandbox's --bpf-fs and pods'
cgroup, another agent's --bpf-fs by its lock, the admin port and admin socket) before
loading anything; `node cleanup` refuses a --bpf-fs a running agent holds. 2 `sandbox
status` / `list` say not ready when the data path is not attached at the pods' cgroup.
3 --admin-socket / --cni-socket: missing parents and shared directories are bad input
(exit 2), nothing made or changed. 4 `node run --sandbox NAME` of an existing sandbox
points at `sandbox status`. Sandbox records live in a temporary state root."""

from __future__ import annotations

import fcntl
import os
import socket
import stat
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl.errors import KmeshctlError
from kmeshctl.node import agent as agent_mod
from kmeshctl.node import claim, loader
from kmeshctl.sandbox import agent as sandbox_agent
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.health import ProcessHealth
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)
from test_cli_newuser import _record

LOCAL = ["--xds-insecure", "--enrollment", "local", "--xds-address", "unix:/nonexistent-f34d/xds.sock"]


class Loaded(Exception):
    """Agent.start was reached: the command would have loaded the data path."""


@pytest.fixture
def no_load(monkeypatch) -> None:
    """`node run` in-process never loads: reaching Agent.start raises Loaded."""
    def start(self) -> None:
        raise Loaded()
    monkeypatch.setattr(agent_mod.Agent, "start", start)
    monkeypatch.setattr("kmeshctl.nodecheck.check_bpffs_dir", lambda path, flag="--bpf-fs": None)


def _live_sandbox(name: str, monkeypatch, pid: int = 4242) -> state_mod.SandboxState:
    state = _record(name, processes=[state_mod.ProcessRecord("agent", pid, component="the node agent")])
    state.bpffs.mkdir(parents=True)
    monkeypatch.setattr(sb, "process_alive", lambda st, record: True)
    return state


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Path]:
    """A bpffs-like directory locked as a running agent locks it (another open file)."""
    path = tmp_path / "held"
    path.mkdir()
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    yield path
    os.close(fd)


# ------------------------------------------------------------------ 1. what a running agent holds


def test_node_run_refuses_a_live_sandboxs_bpffs_before_loading(state_root, capsys, no_env, no_load,
                                                               monkeypatch) -> None:
    state = _live_sandbox("live", monkeypatch)
    code, out, err = cli(capsys, "node", "run", *LOCAL, "--bpf-fs", str(state.bpffs))
    assert code == 1 and not out, err
    assert err.strip() == (f"Error: --bpf-fs {state.bpffs}: in use by sandbox live (agent pid 4242): use "
                           "`kmeshctl sandbox down --name live`, or give this agent its own --bpf-fs DIR"), err


def test_node_run_refuses_a_live_sandboxs_cgroup_for_another_bpffs(state_root, tmp_path, capsys, no_env,
                                                                   no_load, monkeypatch) -> None:
    state = _live_sandbox("live", monkeypatch)
    code, _, err = cli(capsys, "node", "run", *LOCAL, "--bpf-fs", str(tmp_path / "other"),
                       "--cgroup2-path", str(state.cgroup))
    assert code == 1, err
    assert f"--cgroup2-path {state.cgroup}: the cgroup of sandbox live's pods" in err, err
    assert "(pid 4242)" in err and "`kmeshctl sandbox down --name live`" in err, err
    assert not (tmp_path / "other").exists()


def test_node_run_refuses_a_live_sandboxs_cni_config(state_root, tmp_path, capsys, no_env, no_load,
                                                     monkeypatch) -> None:
    state = _live_sandbox("live", monkeypatch)
    code, _, err = cli(capsys, "node", "run", *LOCAL, "--bpf-fs", str(tmp_path / "other"), "--proc-root", "/proc",
                       "--cni-conf-dir", str(state.cni_conf_dir), "--local-pods", str(tmp_path),
                       "--cni-socket", str(tmp_path / "run" / "cni.sock"))
    assert code == 1, err
    assert err.strip() == (f"Error: --cni-conf-dir {state.cni_conf_dir}: sandbox live's CNI config, where its node "
                           "agent (pid 4242) chains its plugin: give this agent another --cni-conf-dir, or remove "
                           "the sandbox first with `kmeshctl sandbox down --name live`"), err


def test_the_sandboxs_own_agent_is_not_refused(state_root, capsys, no_env, no_load, monkeypatch) -> None:
    state = _live_sandbox("live", monkeypatch, pid=os.getpid())  # `sandbox up` starts it as `node run`
    with pytest.raises(Loaded):
        cli(capsys, "node", "run", *LOCAL, "--bpf-fs", str(state.bpffs), "--cgroup2-path", str(state.cgroup))


def test_a_second_agent_on_a_locked_bpffs_is_refused_naming_the_holder(held: Path) -> None:
    with pytest.raises(KmeshctlError) as refused:
        claim.claim_bpffs(held)
    assert str(refused.value) == (f"--bpf-fs {held}: in use by another node agent (pid {os.getpid()}): stop it "
                                  f"first (`kill {os.getpid()}`; its programs stay and this agent takes them "
                                  "over), or give this agent its own --bpf-fs DIR")


def test_the_agents_lock_goes_with_it_and_an_unused_dir_it_made(tmp_path: Path) -> None:
    made = tmp_path / "made"
    first = claim.claim_bpffs(made)
    first.release(remove_if_empty=True)
    assert not made.exists()
    again = claim.claim_bpffs(tmp_path)  # an existing directory is never removed
    again.release(remove_if_empty=True)
    assert tmp_path.is_dir()
    claim.claim_bpffs(tmp_path).release()


def test_agent_start_claims_before_binding_anything(held: Path, monkeypatch) -> None:
    bound = []
    monkeypatch.setattr(agent_mod, "AdminServer", lambda *a: bound.append(a))
    config = agent_mod.AgentConfig(xds_insecure=True, token_path=None, enrollment="local", bpf_fs=held,
                                   xds_address="unix:/nonexistent-f34d/xds.sock")
    with pytest.raises(KmeshctlError, match="in use by another node agent"):
        agent_mod.Agent(config).start()
    assert not bound


def test_node_cleanup_refuses_a_bpffs_a_running_agent_holds(held: Path, state_root, capsys, no_env) -> None:
    code, out, err = cli(capsys, "node", "cleanup", "--bpf-fs", str(held))
    assert code == 1 and not out, err
    assert err.strip() == (f"Error: --bpf-fs {held}: in use by a running node agent (pid {os.getpid()}): stop it "
                           f"first (`kill {os.getpid()}`), then clean up"), err


def test_an_admin_port_a_sandboxs_agent_serves_is_one_line_naming_it(state_root, tmp_path, no_env) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = _record("live")
        state.agent = {"admin": f"127.0.0.1:{port}"}
        state.save()
        config = agent_mod.AgentConfig(xds_insecure=True, token_path=None, enrollment="local",
                                       bpf_fs=tmp_path / "bpf", admin_port=port, metrics_port=1,
                                       xds_address="unix:/nonexistent-f34d/xds.sock")
        with pytest.raises(KmeshctlError) as refused:
            agent_mod.Agent(config).start()
    assert str(refused.value) == (f"--admin-port {port}: cannot listen on it (address already in use: sandbox "
                                  "live's node agent serves it); pass another --admin-port")
    assert not (tmp_path / "bpf").exists()  # the lock's directory goes with the refusal


def test_a_sandboxs_live_admin_socket_is_refused_naming_it(state_root, capsys, no_env, no_load,
                                                           tmp_path) -> None:
    state = _record("live")
    path = sandbox_agent.admin_socket(state)
    path.parent.mkdir(mode=0o700, parents=True)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        code, _, err = cli(capsys, "node", "run", *LOCAL, "--bpf-fs", str(tmp_path / "b"), "--admin-socket", str(path))
    assert code == 1, err
    assert err.strip() == (f"Error: --admin-socket {path}: in use (sandbox live's node agent answers on it): pass "
                           "another --admin-socket, or `kmeshctl sandbox down --name live` first"), err


# ------------------------------------------------------------------ 2. a detached data path is not ready


def test_a_sandbox_whose_programs_left_its_cgroup_is_not_ready(state_root, no_env, monkeypatch) -> None:
    state = _live_sandbox("moved", monkeypatch)
    (state.bpffs / sb.PINNED_MAP).touch()
    monkeypatch.setattr(sb, "_process_health", lambda st, r: ProcessHealth(r.component, r.pid, "", running=True))
    monkeypatch.setattr(loader, "unattached", lambda bpf_fs, cgroup: ["km_sockops", "km_connect4"])
    problems = sb.process_problems(state)
    assert problems == [f"the data path is not attached to the pods' cgroup {state.cgroup} (km_sockops, "
                        f"km_connect4 missing: was another `kmeshctl node run --bpf-fs {state.bpffs}` started?), "
                        "so the pods' connections bypass it: run `kmeshctl sandbox down --name moved && "
                        "kmeshctl sandbox up --name moved`"], problems
    assert sb._fix(state, problems, []) == sb.remake_line("moved")
    from kmeshctl import sandboxes

    assert sandboxes.summary(state)["phase"] != "ready"
    monkeypatch.setattr(loader, "unattached", lambda bpf_fs, cgroup: [])
    assert sb.process_problems(state) == []


def test_unattached_asks_the_kernel_only_about_pinned_cgroup_programs(tmp_path: Path) -> None:
    assert loader.unattached(tmp_path, tmp_path) == []  # nothing pinned: nothing to miss


# ------------------------------------------------------------------ 3. socket paths


def test_an_admin_socket_under_missing_directories_is_bad_input_and_nothing_is_made(tmp_path, capsys, no_env,
                                                                                    no_load) -> None:
    path = tmp_path / "no" / "dir" / "x.sock"
    code, _, err = cli(capsys, "node", "run", *LOCAL, "--admin-socket", str(path))
    assert code == 2 and err.count("\n") == 1, err
    assert f"--admin-socket {path}: directory {path.parent} does not exist" in err, err
    assert not (tmp_path / "no").exists()


def test_the_admin_sockets_own_directory_is_still_made(tmp_path, capsys, no_env, no_load) -> None:
    with pytest.raises(Loaded):  # as the DaemonSet's /var/run/kmesh/admin.sock
        cli(capsys, "node", "run", *LOCAL, "--bpf-fs", str(tmp_path / "b"), "--admin-socket",
            str(tmp_path / "kmesh" / "admin.sock"))


@pytest.mark.parametrize("flag,extra", [("--admin-socket", []),
                                        ("--cni-socket", ["--cni-conf-dir", "{tmp}", "--local-pods", "{tmp}"])])
def test_a_socket_in_a_shared_directory_is_bad_input_and_the_directory_is_left_alone(flag, extra, tmp_path, capsys,
                                                                                     no_env, no_load) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # as /tmp
    args = [a.format(tmp=tmp_path) for a in extra]
    code, _, err = cli(capsys, "node", "run", *LOCAL, *args, flag, str(shared / "x.sock"))
    assert code == 2 and err.count("\n") == 1, err
    assert f"{flag} {shared / 'x.sock'}: its directory {shared} is open to other users (mode 1777" in err, err
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # never tightened: it is not ours


# ------------------------------------------------------------------ 4. node run --sandbox


def test_node_run_sandbox_of_an_existing_sandbox_points_at_its_status(state_root, capsys, no_env) -> None:
    _record("here")
    code, _, err = cli(capsys, "node", "run", "--sandbox", "here")
    assert code == 2 and "`kmeshctl sandbox status --name here`" in err and "sandbox up" not in err, err
    code, _, err = cli(capsys, "node", "run", "--sandbox=gone")
    assert code == 2 and "`kmeshctl sandbox up --name gone`" in err, err
