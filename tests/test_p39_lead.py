"""Pass 39 (lead): the agent's start that fails halfway stops what it began, and the
CLI's output streams treat a closed stream object as unwritable (not a traceback).

Real parts: a real XdsClient thread dialling a closed loopback port; the agent's own
start path with its data-plane step made to fail after the client started (the BPF load
itself needs root and is covered by the agent e2e tests)."""

from __future__ import annotations

import io
import os
import socket
import threading
from pathlib import Path

import pytest

from kmeshctl.cli import _NamedStream
from kmeshctl.node.agent import Agent, AgentConfig
from kmeshctl.xds.client import ClientConfig, XdsClient


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _xds_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "xds-client" and t.is_alive()]


def test_a_start_failing_after_the_xds_client_started_stops_it(tmp_path: Path) -> None:
    dead = _dead_address()
    agent = Agent(AgentConfig(xds_address=dead, xds_insecure=True, token_path=None, enrollment="local",
                              bpf_fs=tmp_path / f"bpf-{os.getpid()}", admin_port=_free_port(),
                              metrics_port=_free_port(),
                              metrics_host="127.0.0.1"))
    before = set(_xds_threads())

    def dataplane_that_fails_after_the_client(core_api: object) -> None:
        agent.client = XdsClient(ClientConfig(dead, agent.config.identity, insecure=True, token_path=None),
                                 agent.cache, lambda delta: None)
        agent.client.start()
        raise RuntimeError("the CNI install failed")

    agent._start_dataplane = dataplane_that_fails_after_the_client  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="CNI install failed"):
        agent.start()
    assert [t for t in _xds_threads() if t not in before] == []


def test_a_closed_stream_object_is_unwritable_not_a_traceback() -> None:
    closed = io.StringIO()
    closed.close()
    stream = _NamedStream("stderr", closed)
    failures = list(_NamedStream.failures)
    try:
        assert stream.write("event=xds_ack\n") == len("event=xds_ack\n")
        assert stream.write("later\n") == len("later\n")  # silenced after the first failure
        added = _NamedStream.failures[len(failures):]
        assert len(added) == 1 and "it is closed" in str(added[0]) and "stderr" in str(added[0])
    finally:
        _NamedStream.failures[:] = failures


def test_any_other_value_error_still_raises() -> None:
    class Picky(io.StringIO):
        def write(self, text: str) -> int:
            raise ValueError("not this text")

    with pytest.raises(ValueError, match="not this text"):
        _NamedStream("stdout", Picky()).write("x")


@pytest.mark.parametrize("mounts, expected", [
    ([("/", "ext4"), ("/sys", "sysfs"), ("/sys/fs/bpf", "bpf")], True),
    # `ip netns exec`'s fresh /sys over the host's: the bpffs below it is hidden
    ([("/", "ext4"), ("/sys/fs/bpf", "bpf"), ("/sys", "sysfs")], False),
    ([("/", "ext4"), ("/sys/fs/bpf", "bpf"), ("/sys/fs/bpf/kmesh", "tmpfs")], False),
    ([("/", "ext4")], False),
], ids=["bpffs", "hidden-by-sysfs", "tmpfs-inside", "none"])
def test_bpffs_mounted_reads_the_last_covering_mount(monkeypatch, mounts, expected) -> None:
    from kmeshctl import nodecheck

    monkeypatch.setattr(nodecheck, "_mounts", lambda pid="self": mounts)
    assert nodecheck.bpffs_mounted(Path("/sys/fs/bpf/kmesh/maps")) is expected


def _kmeshctl(*args: str):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME")}
    return subprocess.run([sys.executable, "-m", "kmeshctl", *args], capture_output=True, text=True, env=env,
                          timeout=60, cwd=Path(__file__).resolve().parent.parent)


def test_a_line_built_for_an_unknown_flag_says_the_bad_value_it_still_carries() -> None:
    """s30 leftover: the line offered for `-c` (not a flag of node run) keeps --cluster-id
    'c 1', which no hint can mend: the error says it now, not when the line is pasted."""
    result = _kmeshctl("node", "run", "--xds-address", "istiod", "--cluster-id", "c 1", "-c", "5")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "`kmeshctl node run --xds-address istiod.istio-system.svc:15012 --cluster-id 'c 1'`" in line
    assert "then fix --cluster-id 'c 1': not a cluster id" in line  # in one parenthesis with the notes (t43b 11)


def test_a_line_that_works_gets_no_then_fix() -> None:
    result = _kmeshctl("node", "run", "--xds-address", "istiod", "--cluster-id", "c1", "-c", "5")
    assert result.returncode == 2 and "`kmeshctl node run --xds-address istiod.istio-system.svc:15012 " \
                                      "--cluster-id c1`" in result.stderr
    assert "then fix" not in result.stderr


@pytest.mark.parametrize("dry_run", [False, True], ids=["apply", "dry-run"])
def test_a_stop_while_kmeshctl_loads_waypoint_apply_says_nothing_was_applied(dry_run: bool, tmp_path: Path) -> None:
    """f39e's leftover: a Ctrl-C in waypoint apply's first moments (its modules still load)
    says nothing was applied, with the line to run again, as install's does."""
    import signal

    from test_cli_signal_stop_any_moment import _env, _run_stopped

    args = ["waypoint", "apply", "-n", "team-a", "--name", "wp", *(["--dry-run"] * dry_run)]
    code, out, err = _run_stopped(args, signal.SIGINT, 0.02, _env(tmp_path))
    assert code == 130 and out == "", (code, out, err)
    [line] = err.strip().splitlines()
    if dry_run:
        assert line == "Error: waypoint apply --dry-run stopped by Ctrl-C (SIGINT); nothing was applied (a dry run " \
                       "applies nothing)", line
        return
    assert line == ("Error: waypoint apply stopped by Ctrl-C (SIGINT) before anything was applied; re-run "
                    "`kmeshctl waypoint apply -n team-a --name wp` to apply it"), line


@pytest.mark.parametrize("namespace", ["10", "null", "012", "true", "0x1a", "on"])
def test_waypoint_objects_keep_every_name_a_string(namespace: str) -> None:
    """t40b 1 (High): the waypoint template quoted no value, so `-n 10` rendered
    `namespace: 10` (a number: the API server refuses it) and `-n 012` became 10."""
    from kmeshctl.waypoint.deploy import WaypointParams, render

    objs = render(WaypointParams(namespace=namespace, name="on"))  # YAML 1.1's true; a digit first is refused
    assert len(objs) == 6
    for obj in objs:
        meta = obj["metadata"]
        assert meta["name"] and isinstance(meta["name"], str), obj
        assert meta.get("namespace", namespace) == namespace, obj
        for subject in obj.get("subjects", []):
            assert subject["namespace"] == namespace and subject["name"] == "on", obj
    deployment = next(o for o in objs if o["kind"] == "Deployment")
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert container["args"][container["args"].index("--namespace") + 1] == namespace
        assert all(isinstance(arg, str) for arg in container["args"])


@pytest.mark.parametrize("word, spelled", [("off", "--no-wait"), ("n", "--no-wait"), ("on", "--wait"),
                                           ("y", "--wait")])
def test_click_boolean_words_after_an_on_off_flag_are_its_value(word: str, spelled: str) -> None:
    """t40b 3: `--wait off` offered `--wait` (the opposite) and `enable-ns --wait off default`
    took `off` for a namespace: on/off/y/n are click's boolean words as true/false are."""
    result = _kmeshctl("install", "--cluster-id", "c1", "--wait", word, "--xds-address", "10.0.0.7:15012")
    assert result.returncode == 2
    assert f"--wait {word} is written {spelled}: `kmeshctl install --cluster-id c1 {spelled} --xds-address " \
           "10.0.0.7:15012`" in result.stderr, result.stderr


def test_node_run_as_another_user_says_it_needs_root_before_loading_anything() -> None:
    """t40b 2: as nobody, node run compiled the data path and blamed the kernel headers."""
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env",
                             f"PYTHONPATH={root}", sys.executable, "-P", "-m", "kmeshctl", "node", "run",
                             "--xds-insecure", "--xds-address", "127.0.0.1:1"],
                            capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 1, result
    assert result.stderr.strip() == "Error: node run needs root (it loads, pins and attaches BPF programs): " \
                                    "run it as root: `kmeshctl node run --xds-insecure --xds-address " \
                                    "127.0.0.1:1`", result.stderr
