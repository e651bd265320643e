"""New-user pass 24's findings, one test each (the real command tree in-process through
kmeshctl.cli.main; HOME a temporary directory, so no kubeconfig or sandbox of the machine
is read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_env: None) -> Path:  # noqa: F811
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_demo_waypoint_without_a_cluster_names_the_waypoint_flag_not_target(capsys, no_cluster: Path) -> None:
    """`demo traffic-shift --waypoint wp` (no --target typed) with no cluster: the line named
    `--target cluster`, a flag never typed; it names --waypoint and how to run locally."""
    code, out, err = cli(capsys, "demo", "traffic-shift", "--waypoint", "wp")
    [line] = err.strip().splitlines()
    assert code != 0 and out == ""
    assert line.startswith("Error: --waypoint wp runs the demo on a cluster: no cluster configured: "), line
    assert f"{no_cluster}/.kube/config does not exist" in line and "--target" not in line, line
    assert line.endswith("or leave --waypoint out to run it in a local sandbox"), line


def test_demo_target_cluster_without_a_cluster_still_names_target(capsys, no_cluster: Path) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--waypoint", "wp", "--target", "cluster")
    assert code != 0 and err.strip().startswith("Error: --target cluster: no cluster configured: "), err


def test_dump_maps_with_an_admin_port_no_agent_answers_names_the_flag(capsys, monkeypatch, tmp_path: Path,
                                                                      state_root, no_env) -> None:  # noqa: F811
    """`dump maps --admin-port 1 --map km_manage`: the note said only that the agent at
    127.0.0.1:1 did not answer; it names the flag typed and what to do, as dump config's
    line does (pinned maps and their tables stubbed: no bpffs needed)."""
    from test_p21_tester_fixes import _closed_port, _maps_with_cookies

    port = _closed_port()
    _maps_with_cookies(monkeypatch, {7})
    code, _, err = cli(capsys, "dump", "maps", "--bpf-fs", str(tmp_path), "--admin-port", str(port), "--map",
                       "km_manage")
    assert code == 0, err
    [note] = [line for line in err.splitlines() if line.startswith("Pods not named")]
    assert note == (f"Pods not named: the node agent at 127.0.0.1:{port} did not answer (connection refused); "
                    f"--admin-port {port} names no agent that answers: leave it out (port 15200 is asked then) "
                    "or give an agent's port (`kmeshctl sandbox list -o wide`)"), note
