"""Session 28 (issue 14), the lead's fixes of known gaps:

1. a port-forward whose thread dies before `dump config --pod` has noted it (within
   microseconds of its start) still ends the read at once, not at the read's limit;
2. `dump config` of a sandbox whose node agent is stopped (SIGSTOP) says so at once with
   `kill -CONT PID`, not after the read's 10 s limit.

Real parts: the client library's own PortForward and its proxy thread (kubernetes.stream),
over an API-server end that is a named double: a websocket that fails at its first frame
(test_p32_kube's BrokenWebSocket with its frame there at once, as a real server sending an opcode the library refuses);
a stopped `sleep` as a sandbox's agent in a temporary state root (test_p32_sandbox's), a real
listening socket that takes connections and answers nothing, as a stopped agent's."""
from __future__ import annotations

import socket
import threading
import time

import pytest
from kubernetes.stream import ws_client

from kmeshctl import config_dump
from kmeshctl.errors import KmeshctlError
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)
from test_p31_sandbox import _sandbox
from test_p32_sandbox import _process, _with
from test_p32_kube import BrokenWebSocket, _fetch_port_1, _forward_to_closed_port, printed  # noqa: F401


class AtOnceBrokenWebSocket(BrokenWebSocket):
    """BrokenWebSocket with its bad frame there before any request: the thread dies at
    its first look."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self._wake.send(b"x")


def _dead_before_returned(api, pod, ns, ports):
    """The port-forward as the client library makes it, handed back only once its proxy
    thread has died: the earliest a thread can die."""
    before = set(threading.enumerate())
    forward = ws_client.PortForward(AtOnceBrokenWebSocket(int(ports)), [int(ports)])
    for thread in set(threading.enumerate()) - before:
        thread.join(5)
    return forward


def test_1_a_thread_dead_before_it_was_noted_ends_the_read_at_once(monkeypatch, printed, capfd) -> None:  # noqa: F811
    _forward_to_closed_port(monkeypatch)
    monkeypatch.setattr("kubernetes.stream.portforward", _dead_before_returned)
    started = time.monotonic()
    with pytest.raises(KmeshctlError) as err:
        _fetch_port_1()
    assert time.monotonic() - started < config_dump.TIMEOUT_S / 2, "the read waited for its limit"
    assert "(Unexpected websocket opcode: 9)" in str(err.value), err.value
    assert printed == [] and capfd.readouterr().err == ""


def test_2_a_stopped_sandbox_agent_is_said_at_once(state_root, tmp_path) -> None:  # noqa: F811
    state = _sandbox("l34s")
    with _process(tmp_path) as (pid, cgroup), socket.socket() as listener:
        _with(state, "agent", pid, cgroup)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # the kernel takes the connection; nothing answers
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(config_dump.AgentTimeout) as err:
            config_dump.fetch_local(config_dump.CACHE_PATH, port, sandbox="l34s")
        assert time.monotonic() - started < 2, "it waited for the agent's answer"
    assert str(err.value) == (f"the node agent admin endpoint at 127.0.0.1:{port} cannot answer: the node agent "
                              f"of sandbox l34s (pid {pid}) is stopped (SIGSTOP): resume it with `kill -CONT {pid}`")


# -- 3. a control plane whose reload hangs, with no change pending ------------------------------

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

from kmeshctl import sandboxes  # noqa: E402
from kmeshctl.sandbox import sandbox as sb  # noqa: E402
from kmeshctl.sandbox import state as state_mod  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# The control plane's own loop (controlplane.serve_until_stopped) whose reload hangs on a
# lock never released: the process lives, its sockets would accept, nothing is pushed again.
HANGING = textwrap.dedent("""
    import signal, sys, threading
    from pathlib import Path
    from kmeshctl.sandbox.controlplane import serve_until_stopped
    from kmeshctl.signalpipe import SignalPipe

    held = threading.Lock()
    held.acquire()

    class Hanging:
        def reload(self):
            print("reloading", flush=True)
            held.acquire()  # never released
    signals = SignalPipe((signal.SIGHUP, signal.SIGTERM))
    print("ready", flush=True)
    serve_until_stopped(Hanging(), signals, Path(sys.argv[1]))
""")


def test_3_the_loop_touches_its_heartbeat_until_a_reload_hangs(tmp_path: Path) -> None:
    heartbeat = tmp_path / "controlplane.heartbeat"
    process = subprocess.Popen([sys.executable, "-c", HANGING, str(heartbeat)], cwd=ROOT, stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 5
        while not heartbeat.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        first = heartbeat.stat().st_mtime_ns
        time.sleep(1.3)
        assert heartbeat.stat().st_mtime_ns > first, "the idle loop did not touch its heartbeat each second"
        process.send_signal(signal.SIGHUP)
        assert process.stdout.readline().strip() == "reloading"
        hung = heartbeat.stat().st_mtime_ns
        time.sleep(2.3)
        assert heartbeat.stat().st_mtime_ns == hung, "the heartbeat went on under a hung reload"
    finally:
        process.kill()
        process.wait()


def test_3_status_and_list_say_a_stale_heartbeat(state_root, tmp_path, monkeypatch) -> None:  # noqa: F811
    from test_p32_sandbox import _envoy_routes, no_daemons  # noqa: F401

    state = _sandbox("l34w")
    state.run_dir.mkdir(parents=True, exist_ok=True)
    state.controlplane_heartbeat.touch()
    monkeypatch.setattr(sb, "require_root", lambda: None)
    monkeypatch.setattr(sb.agent_mod, "enrolled_pods", lambda state: None)
    monkeypatch.setattr(sb.agent_mod, "enrolled_by", lambda state: {})
    monkeypatch.setattr(sb, "data_path_gone", lambda state: False)
    monkeypatch.setattr(sb.health, "unix_socket_accepts", lambda path: True)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with _process(tmp_path, stopped=False) as (pid, cgroup):
        _with(state, "controlplane", pid, cgroup, component="the control plane")
        assert sb._control_plane_status(state, [(r, sb._process_health(state, r)) for r in state.processes],
                                        [])["ready"] is True  # a loop that just ran
        old = time.time() - sb.CONTROL_PLANE_LOOP_STALE_S - 30
        os.utime(state.controlplane_heartbeat, (old, old))
        report = sb.status("l34w")
        said = (f"the control plane (pid {pid}) runs but did not push the sandbox's configuration (its reload "
                f"loop has not run for 4")  # 45 s, or a second more on a slow machine
        assert any(p.startswith(said) and " s: a reload hangs): see " in p for p in report["problems"]), report
        assert report["controlplane"]["ready"] is False
        assert report["fix"] == sb.remake_line("l34w")
        row = sandboxes.summary(state_mod.SandboxState.load("l34w"))
        assert row["phase"] == "not ready" and any(p.startswith(said) for p in row["problems"]), row


# -- 4. enable-ns / disable-ns of several namespaces: a refusal changes none ---------------------

from standin_apiserver import HttpError, cluster, namespace  # noqa: E402, F401, F811 (fixture)

LABEL = "istio.io/dataplane-mode"


def _labels(cluster, name: str) -> dict:  # noqa: F811
    return cluster.server.get("v1", "Namespace", name)["metadata"].get("labels") or {}


def _namespaces(cluster, *names: str, enrolled: bool = False) -> None:  # noqa: F811
    for name in names:
        cluster.server.put(namespace(name, {LABEL: "Kmesh"} if enrolled else None))


@pytest.mark.parametrize("enable", [True, False], ids=["enable-ns", "disable-ns"])
def test_4_a_namespace_refused_by_admission_changes_none(cluster, enable) -> None:  # noqa: F811
    _namespaces(cluster, "default", "team-a", enrolled=not enable)
    cluster.server.deny_admission("Namespace", "team-a", "l34 policy: namespace team-a is frozen")
    result = cluster.kmeshctl("enable-ns" if enable else "disable-ns", "default", "team-a")
    assert result.code == 1, result
    assert "namespace team-a is frozen" in result.err, result.err
    assert (LABEL in _labels(cluster, "default")) is not enable, "default changed although team-a was refused"
    assert not [r for r in cluster.server.writes() if "namespaces" in r.path], "a real write went out"


def test_4_a_failure_after_the_dry_runs_names_what_changed(cluster) -> None:  # noqa: F811
    _namespaces(cluster, "default", "team-a", "team-b")
    server, real_patch = cluster.server, cluster.server.merge_patch

    def failing(res, key, patch, manager, dry_run=False):
        if res.kind == "Namespace" and key[3] == "team-b" and not dry_run:
            raise HttpError(500, "InternalError", "etcdserver: request timed out")
        return real_patch(res, key, patch, manager, dry_run)

    server.merge_patch = failing
    result = cluster.kmeshctl("enable-ns", "default", "team-a", "team-b")
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert line.startswith("Error: namespace team-b not enrolled: "), line
    assert "(already enrolled: default, team-a)" in line, line
    assert _labels(cluster, "team-a")[LABEL] == "Kmesh" and LABEL not in _labels(cluster, "team-b")


def test_4_one_namespace_is_one_write(cluster) -> None:  # noqa: F811
    _namespaces(cluster, "default")
    assert cluster.kmeshctl("enable-ns", "default").code == 0
    assert not cluster.server.dry_runs(), "a lone change needs no dry run first"


# -- 6. version with kmesh installed and no agent pod ------------------------------------------


def test_6_version_with_an_install_and_no_pods_does_not_say_install(cluster) -> None:  # noqa: F811
    import json

    for key in [k for k in cluster.server.objects if k[1] == "nodes"]:  # a DaemonSet that wants no pod
        cluster.server.delete_object("v1", "Node", key[3], "")
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    result = cluster.kmeshctl("version")
    assert result.code == 0, result
    line = next(ln for ln in result.out.splitlines() if ln.startswith("Agents:"))
    assert line.startswith("Agents: none in namespace kmesh-system (installed, but the DaemonSet has no pods: "
                           "`kmeshctl "), line
    assert "install" not in line.replace("installed", ""), line
    assert json.loads(cluster.kmeshctl("version", "-o", "json").out)["cluster"]["installed"] is True


# -- 7. --name NAMESPACE/NAME (t35a): the line keeps the namespace ------------------------------


@pytest.mark.parametrize("typed,line", [
    (["waypoint", "delete", "--name", "default/east"], "kmeshctl waypoint delete --name east -n default"),
    (["waypoint", "status", "-n", "default", "--name", "default/east"],
     "kmeshctl waypoint status -n default --name east")])
def test_7_a_namespace_before_the_name_moves_to_n(capsys, no_env, typed, line) -> None:  # noqa: F811
    code, _, err = cli(capsys, *typed)
    assert code == 2, err
    assert "takes the name alone and -n the namespace (NAMESPACE/NAME)" in err, err
    assert f"`{line}`" in err, err


@pytest.mark.parametrize("typed,lines", [
    (["waypoint", "status", "-n", "team-a", "--name", "default/east"],
     ["kmeshctl waypoint status -n default --name east", "kmeshctl waypoint status -n team-a --name east"]),
    (["waypoint", "apply", "--namespace=team-b", "--name", "istio-system/waypoint", "-o", "json"],
     ["kmeshctl waypoint apply --namespace=istio-system --name waypoint -o json",
      "kmeshctl waypoint apply --namespace=team-b --name waypoint -o json"])])
def test_7_a_namespace_before_the_name_beside_another_n_offers_both(capsys, no_env, typed, lines) -> None:  # noqa: F811
    # t43b 4: -n typed is never dropped in silence (a delete would act in another namespace)
    code, _, err = cli(capsys, *typed)
    assert code == 2 and "name two namespaces; give one" in err, err
    assert all(f"`{line}`" in err for line in lines), err


def test_7_a_kind_before_the_name_is_still_type_name(capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "waypoint", "delete", "--name", "gateway/east", "-n", "x")
    assert code == 2 and "(kubectl's TYPE/NAME, the name alone)? `kmeshctl waypoint delete --name east -n x`" in err


# -- 8. node run below a live sandbox's bpffs or cgroup (t35a) -----------------------------------

from test_p34_f34d import LOCAL, _live_sandbox, no_load  # noqa: E402, F401 (fixture)


def test_8_node_run_refuses_a_bpffs_inside_a_live_sandboxs(state_root, capsys, no_env, no_load,  # noqa: F811
                                                           monkeypatch) -> None:
    state = _live_sandbox("live", monkeypatch)
    nested = state.bpffs / "l34-nested"
    code, out, err = cli(capsys, "node", "run", *LOCAL, "--bpf-fs", str(nested))
    assert code == 1 and not out, err
    assert err.strip().startswith(f"Error: --bpf-fs {nested}: inside {state.bpffs}, the bpffs of sandbox live (agent "
                                  "pid 4242): use `kmeshctl sandbox down --name live`"), err


def test_8_node_run_refuses_a_cgroup_below_a_live_sandboxs(state_root, tmp_path, capsys, no_env,  # noqa: F811
                                                          no_load, monkeypatch) -> None:
    state = _live_sandbox("live", monkeypatch)
    code, _, err = cli(capsys, "node", "run", *LOCAL, "--bpf-fs", str(tmp_path / "other"),
                       "--cgroup2-path", str(state.cgroup / "pods"))
    assert code == 1, err
    assert f"--cgroup2-path {state.cgroup / 'pods'}: the cgroup of sandbox live's pods" in err, err


# -- 9. -q keeps enable-ns's not-installed warning, which has a fix (t35a) -----------------------


@pytest.mark.parametrize("quiet", [["-q"], ["-q", "-o", "wide"]], ids=["q", "q-wide"])
def test_9_enable_ns_q_still_warns_that_kmesh_is_not_installed(cluster, quiet) -> None:  # noqa: F811
    _namespaces(cluster, "team-a")
    result = cluster.kmeshctl("enable-ns", "team-a", *quiet)
    assert result.code == 0, result
    assert result.err.startswith("Warning: kmesh is not installed (no kmesh DaemonSet in any namespace)"), result.err
    assert "kmeshctl" in result.err and "install" in result.err, result.err


# -- 5. no credentials to an http:// server, as kubectl ----------------------------------------

import http.server  # noqa: E402
import json as json_module  # noqa: E402

import yaml  # noqa: E402

from test_cli_kinds import cli, no_env  # noqa: E402, F401


class _Refusing(http.server.BaseHTTPRequestHandler):
    """An API server at http:// that answers 401 to all, recording each request's headers."""

    seen: list[dict] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append(dict(self.headers))
        body = json_module.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401,
                                  "reason": "Unauthorized", "message": "Unauthorized"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("scheme", ["http://", ""], ids=["http", "no-scheme"])
def test_5_an_http_server_gets_no_credentials_and_no_plugin_runs(tmp_path: Path, capsys, no_env,  # noqa: F811
                                                                 scheme) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ran = tmp_path / "plugin-ran"
    plugin = tmp_path / "plugin.sh"
    plugin.write_text(f"#!/bin/sh\ntouch {ran}\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                      f"\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"from-plugin\"}}}}'\n")
    plugin.chmod(0o755)
    users = {"token-user": {"token": "sekret", "as": "jane"},
             "plugin-user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
                                      "interactiveMode": "Never"}}}
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "token-user",
              "clusters": [{"name": "c", "cluster": {"server": f"{scheme}127.0.0.1:{server.server_port}"}}],
              "users": [{"name": n, "user": u} for n, u in users.items()],
              "contexts": [{"name": n, "context": {"cluster": "c", "user": n}} for n in users]}
    path = tmp_path / "kc.yaml"
    path.write_text(yaml.safe_dump(config))
    try:
        for context in users:
            _Refusing.seen = []
            code, _, err = cli(capsys, "--kubeconfig", str(path), "--context", context, "status")
            assert code == 1, err
            assert "it got no credentials (the server is http://, and kubectl sends user " in err, err
            assert _Refusing.seen and not [h for h in _Refusing.seen if "Authorization" in h], _Refusing.seen
        assert not ran.exists(), "the exec plugin ran for an http:// server"
    finally:
        server.shutdown()
        server.server_close()
