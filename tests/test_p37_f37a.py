"""Pass 37 findings of t37a (fixer f37a). Sandbox records in a temporary state root
(test_cli_kinds' state_root): no root, no sandbox."""

from __future__ import annotations

import errno
import io
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.node import agent as agent_mod
from kmeshctl.node import claim as claim_mod
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import pods as pods_mod
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401


def _record(name: str, ips: dict[str, str], creating: bool = False) -> None:
    records = [state_mod.PodRecord(name=p, namespace="default", deployment=p.rsplit("-", 1)[0], labels={},
                                   ip=ip, netns=f"f37a-{p}", cgroup="") for p, ip in ips.items()]
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_CREATING if creating else state_mod.PHASE_READY,
                                   agent={"admin": "127.0.0.1:1"}, created_at=time.time() - 300, pods=records)
    if creating:  # its `sandbox up` runs: this process stands in for it
        state.up_pid, state.up_started = os.getpid(), state_mod.process_start_time(os.getpid())
    state.save()


# ---------------------------------------------------------------- 1 (High)


@pytest.mark.parametrize("flags", [[], ["-n", "default"]])
def test_1_a_pod_recorded_before_its_cni_add_is_no_traceback(state_root, capsys, no_env, flags) -> None:
    _record("f37a-a", {"netutils-0": "10.0.0.9", "web-0": "10.0.0.10"})
    _record("f37a-b", {"netutils-0": "10.0.0.9", "web-0": ""}, creating=True)
    code, out, err = cli(capsys, "sandbox", "exec", "web-0", *flags, "--", "true")
    assert code == 2 and not out and "Traceback" not in err, err
    assert err.startswith("Error: several sandboxes have pod ") and "--name f37a-a" in err, err


def test_1_only_the_sandbox_being_made_has_it_says_wait(state_root, capsys, no_env) -> None:
    _record("f37a-a", {"netutils-0": "10.0.0.9"})
    _record("f37a-b", {"fortio-0": ""}, creating=True)
    code, _, err = cli(capsys, "sandbox", "exec", "fortio-0", "--", "true")
    assert code == 1 and "Traceback" not in err and "sandbox f37a-b is being created" in err, err


def test_1_a_pod_record_with_no_ip_is_a_clear_error() -> None:
    record = state_mod.PodRecord(name="web-0", namespace="default", deployment="web", labels={}, ip="",
                                 netns="f37a-web-0", cgroup="")
    with pytest.raises(KmeshctlError, match="pod default/web-0 has no IP yet"):
        pods_mod.pod_of(record)
    state = state_mod.SandboxState(name="f37a-c", pods=[record])
    assert sandbox_mod.find_pod_record(state, "web") is record
    with pytest.raises(KmeshctlError, match="no IP yet"):
        sandbox_mod.find_pod(state, "web-0")


# ---------------------------------------------------------------- 3


class _BytesStdin(io.TextIOWrapper):
    """stdin as a pipe of ``data`` (bytes under a text reader that escapes bad bytes, as Python's own)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")


@pytest.mark.parametrize("flag", ["-f", "--filename"])
def test_3_bad_yaml_on_stdin_names_the_flag_once(monkeypatch, state_root, capsys, no_env, flag) -> None:
    monkeypatch.setattr(manifests_mod, "_stdin_text", [])
    monkeypatch.setattr(sys, "stdin", _BytesStdin(b"a: [b\n"))
    code, out, err = cli(capsys, "sandbox", "up", "--name", "f37a-x", flag, "-")
    assert code == 2 and not out, err
    assert err.startswith(f"Error: {flag} -: not valid YAML at -:2:1 ("), err


def test_3_non_utf8_stdin_is_said_as_for_a_file(monkeypatch, state_root, capsys, no_env) -> None:
    monkeypatch.setattr(manifests_mod, "_stdin_text", [])
    monkeypatch.setattr(sys, "stdin", _BytesStdin(b"\xff\n"))
    code, out, err = cli(capsys, "sandbox", "up", "--name", "f37a-x", "-f", "-")
    assert code == 2 and err.startswith("Error: -f - is not UTF-8 text (byte 0): "), err


# ---------------------------------------------------------------- 4


def test_4_status_all_namespaces_with_several_sandboxes_names_them(state_root, capsys, no_env) -> None:
    _record("f37a-a", {"netutils-0": "10.0.0.9"})
    _record("f37a-b", {"netutils-0": "10.0.0.9"})
    code, out, err = cli(capsys, "sandbox", "status", "-A", "-o", "json")
    assert code == 2 and not out, err
    assert "leave out -A and name the sandbox (`kmeshctl sandbox list` shows every sandbox; several exist): " \
           "`kmeshctl sandbox status -o json --name f37a-a` or `kmeshctl sandbox status -o json --name f37a-b`" \
           in err, err
    code, out, err = cli(capsys, "sandbox", "exec", "-A", "netutils-0", "--", "true")
    assert code == 2 and "`kmeshctl sandbox exec netutils-0 --name f37a-a -- true` or " in err, err


# ---------------------------------------------------------------- 5


@pytest.mark.parametrize("family,host", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_5_a_port_another_process_listens_on_names_it(family, host, state_root) -> None:
    with socket.socket(family) as taken:
        taken.bind((host, 0))
        taken.listen()
        port = taken.getsockname()[1]
        comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
        assert claim_mod.tcp_port_holder(port) == (os.getpid(), comm)
        err = OSError(errno.EADDRINUSE, "Address already in use")
        for flag in ("--admin-port", "--metrics-port"):
            assert str(agent_mod.listen_error(flag, port, err)) == (
                f"{flag} {port}: cannot listen on it (address already in use: {comm} pid {os.getpid()} answers on "
                f"it); pass another {flag}, or stop pid {os.getpid()} first")
    assert claim_mod.tcp_port_holder(port) is None


# ---------------------------------------------------------------- 8


def test_8_a_flag_that_took_the_separator_is_said_so(state_root, capsys, no_env) -> None:
    code, out, err = cli(capsys, "sandbox", "status", "--name", "--", "f37a-x")
    assert code == 2 and not out, err
    assert "is given already" not in err and "--name took the `--` after it as its value, so f37a-x was read as " \
           "an argument: without the `--`, `kmeshctl sandbox status --name f37a-x`" in err, err


# ---------------------------------------------------------------- 9


@pytest.mark.parametrize("typed,line", [
    (["exec", "netutils-0", "--", "true"], "kubectl's exec is `kmeshctl sandbox exec netutils-0 -- true`"),
    (["exec", "-n", "default", "netutils-0", "--", "curl", "-s", "x"],
     "kubectl's exec is `kmeshctl sandbox exec netutils-0 -n default -- curl -s x`"),
    (["sandbox", "ssh", "netutils-0"], "a shell in a pod is `kmeshctl sandbox exec netutils-0 -- sh`"),
    (["sandbox", "shell", "netutils-0"], "a shell in a pod is `kmeshctl sandbox exec netutils-0 -- sh`"),
])
def test_9_kubectls_exec_and_a_shell_point_at_sandbox_exec(state_root, capsys, no_env, typed, line) -> None:
    _record("f37a-a", {"netutils-0": "10.0.0.9"})
    code, out, err = cli(capsys, *typed)
    assert code == 2 and not out and line in err, err


def test_9_with_several_sandboxes_the_line_names_one(state_root, capsys, no_env) -> None:
    _record("f37a-a", {"netutils-0": "10.0.0.9"})
    _record("f37a-b", {"netutils-0": "10.0.0.9"})
    code, _, err = cli(capsys, "exec", "netutils-0", "--", "true")
    assert code == 2 and "`kmeshctl sandbox exec netutils-0 --name f37a-a -- true`" in err, err


# ---------------------------------------------------------------- 6

_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: hwchiu/netutils}]}
"""


@pytest.mark.parametrize("replicas,said", [
    ('"2"', "spec.replicas is the text '2', not an integer (Kubernetes refuses it too): write `replicas: 2`, "
            "without quotes"),
    ("true", "spec.replicas is the boolean true, not an integer"),
])
def test_6_replicas_not_an_integer_is_said_so(tmp_path: Path, replicas: str, said: str) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(_DEPLOYMENT.replace("REPLICAS", replicas))
    with pytest.raises(UsageError) as refused:
        manifests_mod.load([path])
    assert said in str(refused.value)


def test_6_a_headless_service_is_said_so(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                    "spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}\n")
    with pytest.raises(UsageError, match=r"a headless Service \(spec.clusterIP: None\) is not supported"):
        manifests_mod.load([path])


# ---------------------------------------------------------------- 10


@pytest.mark.parametrize("typed,port", [("127.0.0.1:39223", "39223"), ("localhost:39223", "39223"),
                                        ("http://127.0.0.1:39223/", "39223"), (":39223", "39223")])
def test_10_an_address_for_a_port_flag_offers_its_port(state_root, capsys, no_env, typed, port) -> None:
    code, out, err = cli(capsys, "dump", "config", "--admin-port", typed)
    assert code == 2 and not out, err
    assert f"Error: --admin-port {typed}: not an integer (--admin-port takes a port, not an address); did you mean " \
           f"--admin-port {port}? `kmeshctl dump config --admin-port {port}`" in err, err


def test_10_another_hosts_address_is_said_without_a_line(state_root, capsys, no_env) -> None:
    code, _, err = cli(capsys, "dump", "config", "--admin-port", "10.0.0.5:39223")
    assert code == 2 and "(--admin-port takes a port, not an address); use an integer from 1 to 65535" in err, err
