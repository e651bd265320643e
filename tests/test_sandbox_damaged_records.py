"""M1 (h88): a damaged sandbox record (/run/kmeshctl/sandbox-NAME/state.json) never gives a
traceback. Records are parsed once, every field checked (kmeshctl.sandbox.state.parse);
`sandbox list` shows an unreadable one as `damaged` beside the others, `sandbox status`
says so in one line with the fix, and that fix, `sandbox down --name NAME`, removes it
(what of the record reads is used, the names derived from NAME find the rest). Fuzzed
over many malformed JSON shapes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import sandboxes
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

NAME = "h88junk"
GOOD = state_mod.SandboxState(
    name=NAME, phase=state_mod.PHASE_READY, up_pid=1, created_at=1.5,
    pods=[state_mod.PodRecord("web-0", "default", "web", {"app": "web"}, "10.244.0.3", "ksbh88junk-web-0", "/cg")],
    waypoints=[{"name": "waypoint", "namespace": "default", "pod": "waypoint", "ip": "10.244.0.2", "port": 15008}],
    processes=[state_mod.ProcessRecord("agent", 2, log="/x.log")], agent={"admin": "127.0.0.1:1"})


def _good() -> dict[str, Any]:
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(GOOD)))


def _with(**changes: Any) -> dict[str, Any]:
    raw = _good()
    raw.update(changes)
    return raw


def _pod(**changes: Any) -> dict[str, Any]:
    raw = _good()
    raw["pods"][0].update(changes)
    return raw


# Each: state.json's text. All but the last few are damaged (not JSON, not an object, a
# field of another type, another sandbox's name, a value the code cannot use); the last
# ones are another version's layout (fields missing or unknown).
DAMAGED = [
    "", "{", "not json", "[]", "null", "5", '"text"', "true", "[{}]",
    json.dumps({"name": 5}), json.dumps({"name": None}), json.dumps({"name": ["a"]}), json.dumps({"name": "other"}),
    json.dumps({"name": NAME, "pods": 5}), json.dumps({"name": NAME, "pods": "x"}),
    json.dumps({"name": NAME, "pods": [5]}), json.dumps({"name": NAME, "pods": [None]}),
    json.dumps({"name": NAME, "processes": {"a": 1}}), json.dumps({"name": NAME, "vips": []}),
    json.dumps({"name": NAME, "agent": "x"}), json.dumps({"name": NAME, "waypoints": [1]}),
    json.dumps(_with(name="other")), json.dumps(_with(pods=5)), json.dumps(_with(pods=[[]])),
    json.dumps(_with(processes=["x"])), json.dumps(_with(processes=[{"role": 1, "pid": "x"}])),
    json.dumps(_with(vips={"default/web": 5})), json.dumps(_with(vips=None)), json.dumps(_with(agent=None)),
    json.dumps(_with(agent={"admin": 5})), json.dumps(_with(agent={"admin": ["127.0.0.1:1"]})),
    json.dumps(_with(waypoints=[{"name": 1}])), json.dumps(_with(waypoints=[{}])), json.dumps(_with(waypoints={})),
    json.dumps(_with(phase=5)), json.dumps(_with(phase="bogus")), json.dumps(_with(phase=None)),
    json.dumps(_with(up_pid="1")), json.dumps(_with(up_pid=1.5)), json.dumps(_with(up_pid=True)),
    json.dumps(_with(created_at="yesterday")), json.dumps(_with(pods_ready="yes")),
    json.dumps(_with(up_started=5)),
    json.dumps(_pod(labels=[])), json.dumps(_pod(labels={"a": 1})), json.dumps(_pod(ip=None)),
    json.dumps(_pod(waypoint="no")), json.dumps(_pod(name={"x": 1})),
]
OTHER_VERSION = [
    "{}", json.dumps({"name": NAME}), json.dumps({"name": NAME, "pods": []}),
    json.dumps(_with(layout=2)), json.dumps({k: v for k, v in _good().items() if k != "agent"}),
    json.dumps(_pod(extra="x")),
]
ALL = DAMAGED + OTHER_VERSION


def _write(text: str, name: str = NAME) -> Path:
    path = state_mod.state_dir(name) / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_shapes_are_what_they_say() -> None:
    for text in DAMAGED:
        with pytest.raises(state_mod.RecordError) as caught:
            state_mod.parse(NAME, json.loads(text)) if _is_json(text) else _raise_not_json()
        assert caught.value.damaged, text
    for text in OTHER_VERSION:
        with pytest.raises(state_mod.RecordError) as caught:
            state_mod.parse(NAME, json.loads(text))
        assert not caught.value.damaged, text
    assert state_mod.parse(NAME, _good()) == GOOD


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _raise_not_json() -> None:
    raise state_mod.RecordError("not JSON", damaged=True)


@pytest.mark.parametrize("text", ALL)
def test_load_for_removal_never_fails_and_keeps_the_directorys_name(text: str, state_root, no_env) -> None:
    _write(text)
    state = state_mod.SandboxState.load(NAME)
    assert state is not None and state.name == NAME
    assert state.netns_prefix == "ksbh88junk" and state.waypoint_infos() is not None
    assert all(isinstance(p, state_mod.PodRecord) for p in state.pods)
    assert all(isinstance(p, state_mod.ProcessRecord) for p in state.processes)
    assert sandboxes.agent_port(state) in (None, 1)


def test_what_reads_of_a_damaged_record_is_kept_for_removal(state_root, no_env) -> None:
    raw = _with(vips=5)
    raw["processes"].append({"role": 7})
    _write(json.dumps(raw))
    state = state_mod.SandboxState.load(NAME)
    assert state.pods == GOOD.pods and state.processes == GOOD.processes and state.vips == {}
    assert state.up_pid == 1 and state.agent == GOOD.agent


@pytest.mark.parametrize("text", ALL)
def test_list_shows_every_sandbox_and_the_bad_record_as_damaged_or_other_version(text: str, state_root, capsys,
                                                                                 no_env) -> None:
    GOOD_OTHER = state_mod.SandboxState(name="h88good", phase=state_mod.PHASE_READY)
    GOOD_OTHER.save()
    _write(text)
    code, out, err = cli(capsys, "sandbox", "list")
    assert code == 0 and "Traceback" not in err, (code, err)
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(rows) == {"h88good", NAME}, out
    assert ("damaged" if text in DAMAGED else "other version") in rows[NAME], out
    if text in DAMAGED:
        assert f"`kmeshctl sandbox down --name {NAME}`" in err, err
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows[NAME]["ready"] is False and rows["h88good"]["phase"] == "ready"
    assert f"kmeshctl sandbox down --name {NAME}" in rows[NAME]["problems"][0] or text in OTHER_VERSION, rows


@pytest.mark.parametrize("text", ALL)
@pytest.mark.parametrize("named", [True, False], ids=["named", "the-only-one"])
def test_status_says_so_in_one_line_with_the_fix(text: str, named: bool, state_root, capsys, no_env) -> None:
    _write(text)
    code, out, err = cli(capsys, "sandbox", "status", *(["--name", NAME] if named else []))
    lines = [line for line in err.splitlines() if not line.startswith("Using sandbox")]
    assert code == 1 and not out and len(lines) == 1 and "Traceback" not in err, (code, err)
    assert lines[0].startswith(f"Error: sandbox {NAME}"), err
    assert ("record is damaged" if text in DAMAGED else "made by another kmeshctl version") in err, err
    assert f"`kmeshctl sandbox down --name {NAME}`" in err, err


@pytest.fixture
def fake_teardown(monkeypatch) -> list[state_mod.SandboxState]:
    """`down` as it runs, but teardown only records what it was given and removes the record."""
    import shutil

    given: list[state_mod.SandboxState] = []

    def teardown(state: state_mod.SandboxState, progress: Any) -> None:
        given.append(state)
        shutil.rmtree(state.dir, ignore_errors=True)

    monkeypatch.setattr(sb, "require_root", lambda: None)
    monkeypatch.setattr(sb, "teardown", teardown)
    return given


@pytest.mark.parametrize("text", ALL)
@pytest.mark.parametrize("named", [True, False], ids=["named", "the-only-one"])
def test_down_removes_a_record_it_cannot_read(text: str, named: bool, state_root, capsys, no_env,
                                              fake_teardown) -> None:
    _write(text)
    code, out, err = cli(capsys, "sandbox", "down", *(["--name", NAME] if named else []))
    assert code == 0 and out.strip() == f"Sandbox {NAME} removed." and "Traceback" not in err, (code, out, err)
    assert [s.name for s in fake_teardown] == [NAME] and not sandboxes.names()


def test_a_record_naming_another_sandbox_does_not_send_down_there(state_root, capsys, no_env,
                                                                 fake_teardown) -> None:
    state_mod.SandboxState(name="h88victim", phase=state_mod.PHASE_READY).save()
    _write(json.dumps(_with(name="h88victim")))
    code, _, err = cli(capsys, "sandbox", "down", "--name", NAME)
    assert code == 0, err
    assert [s.name for s in fake_teardown] == [NAME] and sandboxes.names() == ["h88victim"]


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a real netns and cgroup to remove")
def test_real_down_of_a_damaged_record_removes_what_it_finds_by_name(state_root, capsys, no_env) -> None:
    """The real teardown: a netns with the sandbox's prefix and its cgroup are removed."""
    name = "h88dmg"
    state = state_mod.SandboxState(name=name)
    netns = f"{state.netns_prefix}-web-0"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        state.cgroup.mkdir(exist_ok=True)
        _write("[]", name)
        code, out, err = cli(capsys, "sandbox", "down", "--name", name)
        assert code == 0 and f"Sandbox {name} removed." in out and "Traceback" not in err, (code, err)
        assert not state.cgroup.exists() and netns not in subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert not state.dir.exists()
    finally:
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True)
        if state.cgroup.exists():
            state.cgroup.rmdir()
