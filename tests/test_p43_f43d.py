"""Fixer f43d, findings 1, 2, 3, 8, 11 and 13 of tester t43a.

1: under `ip netns exec` (a fresh /sys: neither the host's bpffs nor its cgroup2) `sandbox
up`, `node preflight` and `node run` said a traceback (sysfs makes no
/sys/fs/cgroup/unified) or would mount a bpffs of that namespace's own; now one line says the
host's mounts cannot be seen, with the line typed in the host's namespaces (preflight: its
rows fail so). 2: that line is the one typed, nothing added (`node cleanup` has no
--sandbox). 3: `dump maps|config` and `node cleanup` with no place named say this node's
data path cannot be seen, not that there is none. 8: COLUMNS=0 or not a number sizes no
console. 11: an --admin-port typed that is not the one the agent pod serves is bad input
(exit 2), as `--sandbox S --admin-port N`. 13: `sandbox list` says the sandboxes one
namespace hides in one warning."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import types
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl import config_dump, nodecheck, sandboxes
from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox import view
from kmeshctl.sandbox.state import SandboxState

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("KMESHCTL_SANDBOX_NAME", "COLUMNS")}


def _kmeshctl(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "kmeshctl", *args], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, timeout=120)


# ---------------------------------------------------------------- under `ip netns exec`, for real


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root (ip netns)")
    if nodecheck.fstype_at(nodecheck.BPFFS_MOUNT) != "bpf":
        pytest.skip("the host has no bpffs at /sys/fs/bpf: nothing to hide")
    name = f"f43d-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def _in_netns(netns: str, *args: str) -> subprocess.CompletedProcess:
    return _kmeshctl(*args, prefix=("ip", "netns", "exec", netns))


def _one_error(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.returncode == 1 and len(lines) == 1, (result.returncode, result.stdout, result.stderr)
    return lines[0]


def _nsenter_line(text: str) -> str:
    return text.rsplit("`nsenter ", 1)[1].split("`", 1)[0]


def _pasted(line: str, netns: str) -> subprocess.CompletedProcess:
    """The backticked nsenter line of ``line``, run from ``netns``, kmeshctl as this test runs it."""
    words = shlex.split(_nsenter_line(line))
    at = words.index("kmeshctl")
    return subprocess.run(["ip", "netns", "exec", netns, "nsenter", *words[:at], sys.executable, "-m", "kmeshctl",
                           *words[at + 1:]], capture_output=True, text=True, env=_env(), timeout=120, cwd=ROOT)


def test_sandbox_up_under_ip_netns_exec_is_one_line_and_makes_nothing(netns: str) -> None:
    name = f"f43d{os.getpid() % 100000}"
    try:
        line = _one_error(_in_netns(netns, "sandbox", "up", "--name", name, "-q"))
        assert "cannot be seen from this mount namespace" in line and "/sys/fs/bpf" in line, line
        assert "--mount --net kmeshctl sandbox up --name " + name + " -q`" in line, line
        assert not Path(f"/run/kmeshctl/sandbox-{name}").exists()
        assert SandboxState.load(name) is None
    finally:
        _kmeshctl("sandbox", "down", "--name", name, "--ignore-not-found")


def test_a_demo_making_its_own_sandbox_under_ip_netns_exec_is_one_line(netns: str) -> None:
    name = f"f43e{os.getpid() % 100000}"
    result = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m", "kmeshctl", "demo",
                             "traffic-shift", "-q"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**_env(), "KMESHCTL_SANDBOX_NAME": name})
    try:
        line = _one_error(result)
        assert "cannot be seen from this mount namespace" in line and "kmeshctl demo traffic-shift -q`" in line
    finally:
        _kmeshctl("sandbox", "down", "--name", name, "--ignore-not-found")


def test_node_preflight_under_ip_netns_exec_fails_its_rows_with_the_line(netns: str) -> None:
    result = _in_netns(netns, "node", "preflight", "-o", "json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    for row in ("cgroup v2", "bpffs"):
        assert checks[row]["status"] == "fail", checks[row]
        assert "cannot be seen from this mount namespace" in checks[row]["detail"], checks[row]
        assert checks[row]["fix"].startswith("run it in the host's namespaces: `nsenter --target "), checks[row]
        assert checks[row]["fix"].endswith("--mount --net kmeshctl node preflight -o json`"), checks[row]
    pasted = _pasted(checks["bpffs"]["fix"], netns)
    assert "cannot be seen" not in pasted.stdout + pasted.stderr, pasted.stdout


@pytest.mark.parametrize("args", [("dump", "maps", "--map", "km_manage"), ("dump", "config"), ("node", "cleanup"),
                                  ("node", "cleanup", "--ignore-not-found"),
                                  ("dump", "maps", "--bpf-fs", "/sys/fs/bpf/kmesh", "-o", "json")])
def test_the_nodes_own_data_path_under_ip_netns_exec_cannot_be_seen(netns: str, args: tuple[str, ...]) -> None:
    line = _one_error(_in_netns(netns, *args))
    assert line.startswith("Error: this node's data path (/sys/fs/bpf/kmesh) cannot be seen from this mount "
                           "namespace: no bpf filesystem is mounted at /sys/fs/bpf here"), line
    assert "no data path" not in line and "nothing to clean up" not in line and "--sandbox" not in line, line
    assert _nsenter_line(line).endswith(f"--mount --net {shlex.join(['kmeshctl', *args])}"), line


def test_an_admin_port_under_ip_netns_exec_is_another_loopback_not_nothing(netns: str) -> None:
    line = _one_error(_in_netns(netns, "dump", "config", "--admin-port", "15200"))
    assert line.startswith("Error: this node's agents (127.0.0.1:15200 here is another network namespace's "
                           "loopback) and sandboxes cannot be seen from this mount namespace"), line
    assert "nothing answers" not in line and "--sandbox" not in line, line
    assert _nsenter_line(line).endswith("--mount --net kmeshctl dump config --admin-port 15200"), line


def test_the_nodes_own_line_works_when_pasted(netns: str) -> None:
    line = _one_error(_in_netns(netns, "dump", "maps", "--map", "km_manage"))
    pasted = _pasted(line, netns)
    assert "cannot be seen" not in pasted.stdout + pasted.stderr and "Traceback" not in pasted.stderr, pasted


# ---------------------------------------------------------------- the pure parts


def test_a_mount_point_sysfs_cannot_make_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(KmeshctlError) as err:
        nodecheck._mount("cgroup2", blocker / "unified", "cgroup2")
    assert str(err.value).startswith(f"cannot mount cgroup2 at {blocker / 'unified'}: ")


def test_preflight_rows_of_hidden_mounts_fail_with_the_line_and_mount_nothing(monkeypatch) -> None:
    missing = [(Path("/sys/fs/bpf"), "bpf", "bpf filesystem")]
    monkeypatch.setattr(nodecheck, "_hidden", lambda wanted: (missing, "4242"))
    monkeypatch.setattr(nodecheck, "typed_line", lambda: "kmeshctl node preflight")
    monkeypatch.setattr(nodecheck, "_mount", lambda *a: pytest.fail("mounted in a namespace that hides the host's"))
    row = nodecheck.check_bpffs(mount_missing=True).to_dict()
    assert row["status"] == "fail" and "cannot be seen from this mount namespace" in row["detail"], row
    assert row["fix"] == ("run it in the host's namespaces: "
                          "`nsenter --target 4242 --mount --net kmeshctl node preflight`")


def test_nothing_hidden_on_the_host_itself() -> None:
    if nodecheck.fstype_at(nodecheck.BPFFS_MOUNT) != "bpf":
        pytest.skip("the host has no bpffs at /sys/fs/bpf")
    assert nodecheck.hidden_here([nodecheck.BPFFS_WANTED, *nodecheck.host_cgroup2()]) == []
    nodecheck.check_host_mounts_seen("x")  # raises nothing
    assert nodecheck.check_bpffs(mount_missing=False).ok


def test_ancestors_are_this_process_parents_farthest_first() -> None:
    found = nodecheck.ancestors()
    assert found and found[-1] == str(os.getppid()) and "1" not in found


def _typed(monkeypatch, command: str, line: str) -> None:
    monkeypatch.setattr(sandboxes, "_typed_readers", [lambda: sandboxes.Typed(command, None, sandboxes.rerun_line,
                                                                                line)])


def test_the_sandbox_line_is_the_one_typed_with_nothing_added(monkeypatch) -> None:
    typed = "kmeshctl node cleanup --bpf-fs /sys/fs/bpf/kmeshctl-sandbox-s1"
    _typed(monkeypatch, "kmeshctl node cleanup", typed)
    assert view.line_here("s1") == typed


def test_sandbox_list_says_the_hidden_sandboxes_once(monkeypatch) -> None:
    _typed(monkeypatch, "kmeshctl sandbox list", "kmeshctl sandbox list -o name")
    missing = [(Path("/sys/fs/bpf"), "bpf", "bpf filesystem")]
    monkeypatch.setattr(view, "missing_mounts", lambda state: missing)
    monkeypatch.setattr(nodecheck, "host_pid", lambda missing, first=(): "4242")
    lines = view.hidden_lines([SandboxState(name="s1"), SandboxState(name="s2")])
    assert len(lines) == 1 and lines[0].startswith("sandboxes s1, s2 cannot be seen from this mount namespace"), lines
    assert lines[0].count("nsenter") == 1
    assert lines[0].endswith("`nsenter --target 4242 --mount --net kmeshctl sandbox list -o name`"), lines
    one = view.hidden_lines([SandboxState(name="s1")])
    assert len(one) == 1 and one[0].startswith("sandbox s1 cannot be seen"), one


@pytest.mark.parametrize("columns", ["0", "abc", "", "-4"])
def test_a_columns_that_sizes_nothing_is_as_none(monkeypatch, columns: str) -> None:
    from kmeshctl.cli.tables import PipeFriendlyConsole, sized_environ

    monkeypatch.setenv("COLUMNS", columns)
    assert "COLUMNS" not in sized_environ()
    assert PipeFriendlyConsole(force_terminal=True).width > 0


def test_a_columns_that_sizes_is_kept(monkeypatch) -> None:
    from kmeshctl.cli.tables import PipeFriendlyConsole

    monkeypatch.setenv("COLUMNS", "57")
    assert PipeFriendlyConsole(force_terminal=True).width == 57


def _forward_refused(monkeypatch, served: int) -> None:
    """A port-forward whose pod side refuses, to a pod whose agent serves port ``served``."""
    from kmeshctl import kube

    pod = {"spec": {"containers": [{"name": "kmesh", "args": ["node", "run", f"--admin-port={served}"]}]}}

    class Forward:
        def socket(self, port: int) -> None:
            raise ConnectionRefusedError(111, "Connection refused")

        def close(self) -> None:
            pass

        def error(self, port: int) -> str:
            return "connection refused"

    monkeypatch.setattr(kube, "core_v1_api", lambda target: types.SimpleNamespace(
        connect_get_namespaced_pod_portforward=None, read_namespaced_pod=lambda name, namespace: pod,
        api_client=types.SimpleNamespace(sanitize_for_serialization=lambda found: found)))
    monkeypatch.setattr("kubernetes.stream.portforward", lambda api, pod, ns, ports: Forward())


@pytest.mark.parametrize("line, code", [("kmeshctl dump config --pod kmesh-a --admin-port 1", 2),
                                        ("kmeshctl dump config --pod kmesh-a", 1)])
def test_an_admin_port_typed_that_the_pod_does_not_serve_is_bad_input(monkeypatch, line: str, code: int) -> None:
    _forward_refused(monkeypatch, 15200)
    _typed(monkeypatch, "kmeshctl dump config", line)
    with pytest.raises(KmeshctlError) as err:
        config_dump.fetch_from_pod(config_dump.CACHE_PATH, "kmesh-a", "kmesh-system", 1,
                                   None)  # type: ignore[arg-type]
    assert err.value.exit_code == code, err.value
    assert "the agent serves port 15200" in str(err.value)


def test_no_name_given_and_every_sandbox_hidden_says_so_not_several(monkeypatch) -> None:
    _typed(monkeypatch, "kmeshctl sandbox status", "kmeshctl sandbox status -o json")
    monkeypatch.setattr(sandboxes, "existing", lambda: {"s1": sandboxes.PHASE_UNKNOWN, "s2": sandboxes.PHASE_UNKNOWN})
    monkeypatch.setattr(sandboxes, "load", lambda name: SandboxState(name=name))
    monkeypatch.setattr(view, "missing_mounts", lambda state: [(Path("/sys/fs/bpf"), "bpf", "bpf filesystem")])
    monkeypatch.setattr(nodecheck, "host_pid", lambda missing, first=(): "4242")
    with pytest.raises(view.Unseen) as err:
        sandboxes.pick("kmeshctl sandbox status")
    assert str(err.value).startswith("sandboxes s1, s2 cannot be seen from this mount namespace"), err.value
    assert "--name" not in str(err.value) and err.value.exit_code == 1
    monkeypatch.setattr(sandboxes, "existing", lambda: {"s1": sandboxes.PHASE_UNKNOWN, "s2": sandboxes.PHASE_READY})
    with pytest.raises(KmeshctlError) as several:
        sandboxes.pick("kmeshctl sandbox status")
    assert str(several.value).startswith("several sandboxes exist"), several.value


def test_unseen_rewraps_as_every_kmeshctl_error() -> None:
    err = view.Unseen("sandbox s1 cannot be seen", name="s1")
    again = type(err)(f"so a local sandbox, but {err}", err.exit_code)  # the demo's rewording of a pick's error
    assert str(again) == "so a local sandbox, but sandbox s1 cannot be seen" and again.exit_code == 1
