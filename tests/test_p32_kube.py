"""Pass 32: a port-forward's thread that fails as it closes prints nothing (finding 1);
`status` lists an object once, its pods from the same look (finding 2); an exec
credential plugin that is there but cannot run is told apart from a missing one (finding 3)."""

from __future__ import annotations

import socket
import ssl
import threading
import types
from typing import Any

import pytest
from kubernetes.stream import ws_client

from kmeshctl import config_dump
from kmeshctl.errors import KmeshctlError

# -- finding 1: the port-forward's thread ---------------------------------------------------


class ClosingWebSocket:
    """The API server's end of a port-forward to a pod port nothing listens on, as the
    client library's PortForward sees it: the request goes out, the error channel says the
    port refused, and the TLS socket fails as the forward's thread closes it."""

    def __init__(self, port: int) -> None:
        self._ready, self._wake = socket.socketpair()
        self.connected = True
        self.sock = self  # PortForward writes with websocket.sock.send
        low, high = bytes((port % 256,)), bytes((port // 256,))
        self._frames = [b"\x00" + low + high, b"\x01" + low + high,
                        b"\x01" + f"error forwarding port {port} to pod: connection refused".encode()]

    def fileno(self) -> int:
        return self._ready.fileno()

    def send(self, data: bytes) -> int:
        self._wake.send(b"x")  # the answer frames arrive once the request went out
        return len(data)

    def recv_data_frame(self, _control: bool) -> tuple[int, Any]:
        frame = self._frames.pop(0)
        if not self._frames:
            self._ready.recv(1)
        return ws_client.ABNF.OPCODE_BINARY, types.SimpleNamespace(data=frame)

    def close(self) -> None:
        self.connected = False
        self._ready.close()
        self._wake.close()
        raise ssl.SSLEOFError(8, "EOF occurred in violation of protocol")


@pytest.fixture
def printed(monkeypatch) -> list[str]:
    """Python's own thread excepthook (it prints `Exception in thread ...` and the
    traceback on stderr), recording the names of the threads it would print."""
    names: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: names.append(args.thread.name))
    return names


def _forward_to_closed_port(monkeypatch) -> None:
    from kmeshctl import kube

    monkeypatch.setattr(kube, "core_v1_api", lambda target: types.SimpleNamespace(
        connect_get_namespaced_pod_portforward=None))
    monkeypatch.setattr("kubernetes.stream.portforward",
                        lambda api, pod, ns, ports: ws_client.PortForward(ClosingWebSocket(int(ports)), [int(ports)]))


def _fetch_port_1() -> None:
    config_dump.fetch_from_pod(config_dump.CACHE_PATH, "kmesh-xdhq6", "kmesh-system", 1, None)  # type: ignore[arg-type]


def _proxies() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(config_dump.PROXY_THREAD)]


def test_a_port_forward_thread_failing_as_it_closes_prints_nothing(monkeypatch, printed, capfd) -> None:
    _forward_to_closed_port(monkeypatch)
    with pytest.raises(KmeshctlError) as err:
        _fetch_port_1()
    assert str(err.value).startswith("no agent admin endpoint at port 1 of kmesh-system/kmesh-xdhq6 "
                                     "(error forwarding port 1 to pod: connection refused)")
    assert not _proxies()  # ended before kmeshctl says its error (and exits)
    assert printed == []
    assert capfd.readouterr().err == ""


def test_other_threads_exceptions_still_reach_the_previous_hook(monkeypatch, printed) -> None:
    _forward_to_closed_port(monkeypatch)
    with pytest.raises(KmeshctlError):
        _fetch_port_1()
    worker = threading.Thread(target=lambda: 1 / 0, name="p32-worker")
    worker.start()
    worker.join()
    assert printed == ["p32-worker"]




class BrokenWebSocket(ClosingWebSocket):
    """The API server's end sending a frame the client library does not take: its thread
    dies at the first frame, with the request sent and no answer to come."""

    def recv_data_frame(self, _control: bool) -> tuple[int, Any]:
        raise RuntimeError("Unexpected websocket opcode: 9")

    def close(self) -> None:
        self.connected = False


def test_a_port_forward_thread_dying_early_ends_the_read_at_once(monkeypatch, printed, capfd) -> None:
    import time

    _forward_to_closed_port(monkeypatch)
    monkeypatch.setattr("kubernetes.stream.portforward",
                        lambda api, pod, ns, ports: ws_client.PortForward(BrokenWebSocket(int(ports)), [int(ports)]))
    started = time.monotonic()
    with pytest.raises(KmeshctlError) as err:
        _fetch_port_1()
    assert time.monotonic() - started < config_dump.TIMEOUT_S / 2  # not the read's whole limit
    assert "(Unexpected websocket opcode: 9)" in str(err.value), err.value
    assert printed == [] and capfd.readouterr().err == ""


# -- finding 2: status while the uninstall finishes under it ----------------------------------

import json  # noqa: E402

from kmeshctl import status as status_module  # noqa: E402
from kmeshctl.uninstall import installed_objects  # noqa: E402
from standin_apiserver import cluster  # noqa: E402, F401 (fixture)

NS = "kmesh-system"
DS = "DaemonSet kmesh-system/kmesh"


def _finish_uninstall_after_the_daemonset_is_read(cluster, monkeypatch) -> None:  # noqa: F811
    """The DaemonSet read being deleted (foreground, with its pods), and right after that read
    the cluster finishes the deletion: the DaemonSet, its pods and the EnvoyFilters go."""
    server = cluster.server
    with server.lock:
        meta = server.objects[("apps", "daemonsets", NS, "kmesh")]["metadata"]
        meta["deletionTimestamp"] = "2026-12-04T08:00:00Z"
        meta["finalizers"] = ["foregroundDeletion"]
    read = status_module.status_daemonset

    def then_gone(client, namespace):
        ds = read(client, namespace)
        for obj in installed_objects(NS, "istio-system"):
            if obj["kind"] in ("DaemonSet", "EnvoyFilter"):
                meta = obj["metadata"]
                server.delete_object(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))
        for pod in client.list("v1", "Pod", namespace=NS):
            server.delete_object("v1", "Pod", pod["metadata"]["name"], NS)
        return ds

    monkeypatch.setattr(status_module, "status_daemonset", then_gone)


def _installed_with_ready_pods(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c-p32", "--timeout", "20", "-q").code == 0


def test_2_an_object_read_being_deleted_then_gone_is_in_one_list(cluster, monkeypatch) -> None:  # noqa: F811
    _installed_with_ready_pods(cluster)
    _finish_uninstall_after_the_daemonset_is_read(cluster, monkeypatch)
    shown = cluster.kmeshctl("status")
    assert shown.code == 1, shown
    [last] = [ln for ln in shown.out.splitlines() if ln.startswith("Being uninstalled:")]
    assert f"{DS} being deleted" in last, last
    gone = last.partition("already gone: ")[2]
    assert gone and DS not in gone and "EnvoyFilter" in gone, last
    # the counts above the pods are those of the pods read: none
    [header] = [ln for ln in shown.out.splitlines() if ln.startswith(f"DaemonSet {NS}/kmesh:")]
    assert "desired 0  updated 0  ready 0" in header and "Agent pods: (none)" in shown.out, shown.out


def test_2_json_says_the_same(cluster, monkeypatch) -> None:  # noqa: F811
    _installed_with_ready_pods(cluster)
    _finish_uninstall_after_the_daemonset_is_read(cluster, monkeypatch)
    document = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert document["beingDeleted"] == [DS], document
    assert DS not in document["missingObjects"], document
    assert (document["daemonset"]["desired"], document["daemonset"]["ready"], document["pods"]) == (0, 0, []), document


def test_2_pods_still_there_are_counted_from_themselves(cluster) -> None:  # noqa: F811
    _installed_with_ready_pods(cluster)
    with cluster.server.lock:
        meta = cluster.server.objects[("apps", "daemonsets", NS, "kmesh")]["metadata"]
        meta["deletionTimestamp"] = "2026-12-04T08:00:00Z"
        meta["finalizers"] = ["foregroundDeletion"]
    document = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert document["beingDeleted"] == [DS] and document["missingObjects"] == [], document
    assert len(document["pods"]) == 2 and document["daemonset"]["desired"] == document["daemonset"]["ready"] == 2, \
        document


# -- finding 3: an exec plugin that is there but cannot run ---------------------------------

from pathlib import Path  # noqa: E402

from test_cli_kinds import cli, no_env  # noqa: E402, F401
from test_p30_kubeconfig import kubeconfig, one_line  # noqa: E402


def _exec_user(command: str) -> dict:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command, "interactiveMode": "Never"}}


@pytest.mark.parametrize("args", [["status"], ["dump", "maps", "--pod", "kmesh-xdhq6", "--admin-port", "1"]])
def test_3_a_plugin_file_without_execute_permission_is_permission_denied(tmp_path: Path, capsys, no_env,
                                                                         args) -> None:
    script = tmp_path / "p32-noexec.sh"
    script.write_text("#!/bin/sh\necho {}\n")
    script.chmod(0o644)
    config = kubeconfig(tmp_path / "kc", _exec_user(str(script)))
    code, _, err = cli(capsys, "--kubeconfig", str(config), *args)
    line = one_line(err)
    assert code == 2, line
    assert line.startswith(f"Error: exec: {script} is not executable (permission denied) (user me in kubeconfig "), line
    assert f"; make it executable: `chmod +x {script}` (see " in line, line  # its only context: no other to pass
    assert "not found" not in line


def test_3_a_directory_as_the_plugin_is_named_so(tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", _exec_user(str(tmp_path)))
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2, line
    assert line.startswith(f"Error: exec: {tmp_path} is a directory, not an executable (permission denied) "), line
    assert "; point the user's exec command at the credential plugin's file (see " in line, line  # one context


def test_3_a_missing_path_or_name_is_still_not_found(tmp_path: Path, capsys, no_env) -> None:
    for command in (str(tmp_path / "p32-gone.sh"), "p32-no-such-plugin"):
        config = kubeconfig(tmp_path / "kc", _exec_user(command))
        code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
        line = one_line(err)
        assert code == 2 and line.startswith(f"Error: exec: executable {command} not found ("), line
        assert "install the credential plugin or put it on PATH" in line, line
