"""Pass 26 (F26-4): the demo's namespace in a sandbox whose demo objects are elsewhere, and
`node cleanup DIR` (a path typed as a word).

2. A sandbox made from the demo's route manifest moved to team-a, without the netutils
   client, was said to have "no fortio Service" when no -n was typed: its team-a/fortio
   exists. The demo now looks where the fortio Service is and names what that namespace
   lacks (the netutils pod), as `-n team-a` does (kmeshctl/sandbox/demo_target.py).
5. `node cleanup DIR`: a DIR that does not exist was followed by the default's line
   (`--bpf-fs /sys/fs/bpf/kmesh`), which fails the same way where there is no data path; a
   sandbox's directory got `sandbox down` and then that line, contradicting it. Now such a
   refusal stands alone; a DIR cleanup takes is offered as --bpf-fs DIR, pasteable.

Sandbox records live in a temporary state root (test_cli_kinds' `state_root`); no root."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from kmeshctl.cli import node as node_cli
from kmeshctl.demo_cluster import in_namespace
from kmeshctl.node import loader
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, load
import local_demo_doubles
from local_demo_doubles import stand_ins  # noqa: F401 - the fixture
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401

BACKTICKED = re.compile(r"`([^`]+)`")


def _line(code: int, err: str, expected: int = 2) -> str:
    assert code == expected, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------ 2. the demo's objects in team-a


def _route_only_in_team_a(name: str) -> state_mod.SandboxState:
    """A ready sandbox from fortio-route.yaml moved to team-a: its Service, fortio pods and
    waypoint, and no netutils pod anywhere."""
    route = [f for f in default_files() if f.name == "fortio-route.yaml"]
    docs = in_namespace(load(route).documents, "team-a")
    pods = [state_mod.PodRecord(pod, "team-a", deployment, {}, f"10.244.0.{i + 2}", f"ns-f264-{pod}",
                                "/nonexistent-cgroup", waypoint=deployment == "waypoint")
            for i, (pod, deployment) in enumerate((("waypoint-0", "waypoint"), ("fortio-v1-0", "fortio-v1"),
                                                    ("fortio-v2-0", "fortio-v2")))]
    return local_demo_doubles.save_ready(name, docs, pods, {"team-a/fortio": "10.96.0.10"})


@pytest.mark.parametrize("namespace", [[], ["-n", "team-a"]], ids=["without -n", "-n team-a"])
def test_a_fortio_service_in_another_namespace_is_never_said_missing(namespace, state_root, capsys, no_env,
                                                                      stand_ins) -> None:
    _route_only_in_team_a("f264b")
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "f264b", "-q", *namespace)
    line = _line(code, err, expected=1)
    assert not out and "no fortio Service" not in line, line
    assert line.startswith("Error: sandbox f264b has no netutils pod in namespace team-a (the demo sends its "
                           "requests from that pod); run the demo in a new sandbox, "), line
    assert "`kmeshctl sandbox up --name f264b-demo && kmeshctl demo traffic-shift --sandbox f264b-demo -q " \
           "-n default`" in line, line


# ------------------------------------------------------------------ 5. node cleanup DIR


@pytest.fixture
def no_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data path at the default directory (as on a machine without kmesh)."""
    missing = tmp_path / "no-kmesh"
    monkeypatch.setattr(node_cli, "DEFAULT_BPF_FS", missing)
    monkeypatch.setattr(loader, "DEFAULT_BPF_FS", missing)
    return missing


def test_a_missing_dir_word_is_said_missing_with_no_default_line(tmp_path, no_default, state_root, capsys,
                                                                 no_env) -> None:
    missing = tmp_path / "x"
    line = _line(*cli(capsys, "node", "cleanup", str(missing))[::2])
    assert f"; this command takes no positional arguments, and {missing} does not exist; " in line, line
    assert f"(there is none at the default, {no_default})" in line, line
    assert not [c for c in BACKTICKED.findall(line) if c.startswith("kmeshctl node cleanup")], line
    assert "with its default" not in line, line


def test_a_sandboxs_dir_word_gets_sandbox_down_alone(no_default, state_root, capsys, no_env,
                                                     monkeypatch) -> None:
    state = _record("f264c", processes=[state_mod.ProcessRecord("agent", 4242, component="the node agent")])
    state.bpffs.mkdir(parents=True)
    monkeypatch.setattr(sb, "process_alive", lambda st, record: True)
    line = _line(*cli(capsys, "node", "cleanup", str(state.bpffs))[::2])
    assert "in use by sandbox f264c (agent pid 4242)" in line, line
    assert BACKTICKED.findall(line) == ["kmeshctl sandbox down --name f264c"], line
    assert state.bpffs.is_dir()


def test_a_missing_dir_word_with_ignore_not_found_is_offered_as_bpf_fs(tmp_path, no_default, state_root, capsys,
                                                                      no_env) -> None:
    missing = tmp_path / "gone"
    line = _line(*cli(capsys, "node", "cleanup", str(missing), "--ignore-not-found")[::2])
    fixes = BACKTICKED.findall(line)
    assert fixes == [f"kmeshctl node cleanup --bpf-fs {missing} --ignore-not-found"], line
    code, out, err = cli(capsys, *shlex.split(fixes[0])[1:])  # pasted: accepted
    assert code == 0 and out.strip() == f"nothing to clean up under {missing}", err


def test_a_typed_missing_bpf_fs_names_no_default_without_a_data_path(tmp_path, no_default, state_root, capsys,
                                                                     no_env) -> None:
    missing = tmp_path / "y"
    line = _line(*cli(capsys, "node", "cleanup", "--bpf-fs", str(missing))[::2])
    assert line.startswith(f"Error: --bpf-fs {missing}: does not exist; use the directory the agent (kmeshctl "
                           f"node run) was given as --bpf-fs (there is none at the default, {no_default}), or add "
                           "--ignore-not-found"), line  # t39a 11: no command fragment in backticks


def test_a_word_not_on_bpffs_names_no_default_without_a_data_path(tmp_path, no_default, state_root, capsys,
                                                                  no_env) -> None:
    line = _line(*cli(capsys, "node", "cleanup", str(tmp_path))[::2])
    assert f", and {tmp_path} is not on a bpf filesystem; use the bpffs directory of the pinned data path (there " \
           f"is none at the default, {no_default})" in line, line
    assert not BACKTICKED.findall(line), line


def test_the_default_is_named_when_it_holds_a_data_path(tmp_path, state_root, capsys, no_env,
                                                                   monkeypatch) -> None:
    here = tmp_path / "kmesh"
    here.mkdir()  # empty: cleanup takes it (nothing to do)
    monkeypatch.setattr(node_cli, "DEFAULT_BPF_FS", here)
    monkeypatch.setattr(loader, "DEFAULT_BPF_FS", here)
    monkeypatch.setattr(loader.nodecheck, "bpffs_mounted", lambda path: path == here)
    line = _line(*cli(capsys, "node", "cleanup", str(tmp_path / "x"))[::2])
    # t39a 11: no command fragment in backticks
    assert f"does not exist; use the directory the agent (kmeshctl node run) was given as --bpf-fs " \
           f"(default {here})" in line, line
