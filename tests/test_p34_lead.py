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
from test_cli_kinds import state_root  # noqa: F401 (fixture)
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
