"""Pass-26 new-user findings on `sandbox list` / `sandbox status` (fixer F26-2), in-process
through kmeshctl.cli.main with sandbox records in a temporary state root (no real sandbox):

- 3: a sandbox whose `up` was killed (SIGKILL: it said nothing) is `half-created` in
  `sandbox list` (table and -o json) and `sandbox status`, as status's problem says;
  one whose `up` still runs stays `creating`;
- 6: a process of a ready sandbox that ended (the agent SIGKILLed) comes with the line
  that makes the sandbox again, status's `fix` (JSON) and `Fix:` line (text), accepted
  when pasted; every unready status has its fix said once (none when waiting is the fix);
- 12b: a half-removed sandbox (a `sandbox down` stopped half-way) says so and its fix,
  its ended processes `removed` (not crashes: no FAILED, no log tails, pods `Removed`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401 (fixtures)
from test_p23_command_hints import STUBBED, stubbed  # noqa: F401 (fixture)

DEAD_PID = 2 ** 22 + 7  # above the kernel's pid_max: never a live process


def _killed_up(name: str) -> state_mod.SandboxState:
    """The record a `sandbox up` SIGKILLed while creating left: phase `creating`, its pid gone."""
    state = _record(name)
    state.phase, state.up_pid, state.up_started = state_mod.PHASE_CREATING, DEAD_PID, "1"
    state.save()
    return state


def _list_json(capsys) -> dict[str, dict]:
    code, out, err = cli(capsys, "sandbox", "list", "-o", "json")
    assert code == 0, err
    return {row["name"]: row for row in json.loads(out)}


# ------------------------------------------------------------------ 3. an `up` that is gone


def test_a_sandbox_whose_up_was_killed_is_half_created_in_list_and_status(state_root, capsys, no_env) -> None:
    _killed_up("f262a")
    code, out, _ = cli(capsys, "sandbox", "list")
    assert code == 0 and re.search(r"^f262a\s+half-created\s", out, re.M), out
    row = _list_json(capsys)["f262a"]
    assert row["phase"] == "half-created" and row["problems"][0].startswith("half-created: "), row
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "f262a", "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["phase"] == row["phase"] and report["problems"] == row["problems"], report
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "f262a")
    assert code == 1 and out.startswith("Sandbox f262a: NOT READY (phase half-created)\n"), out


def test_a_sandbox_whose_up_still_runs_is_creating(state_root, capsys, no_env) -> None:
    state = _record("f262b")
    state.phase, state.up_pid = state_mod.PHASE_CREATING, os.getpid()  # this process stands for the `up`
    state.up_started = state_mod.process_start_time(os.getpid())
    state.save()
    row = _list_json(capsys)["f262b"]
    assert row["phase"] == "creating" and "is still creating it" in row["problems"][0], row
    assert state_mod.shown_phase("creating", ["x"]) == "creating"  # no word of the `up`: as recorded


# ------------------------------------------------------------------ 6. a process that ended: the remake line


def _agent(tmp_path: Path, status: int = 137) -> state_mod.ProcessRecord:
    log = tmp_path / "agent.log"
    log.write_text("agent serving\n")
    exit_file = tmp_path / "agent.exit"
    exit_file.write_text(f"{status}\n")
    return state_mod.ProcessRecord("agent", DEAD_PID, log=str(log), exit_file=str(exit_file),
                                   component="the node agent", cgroup="/nonexistent-cgroup")


REMAKE = "kmeshctl sandbox down --name f262k && kmeshctl sandbox up --name f262k"


def test_a_killed_agent_comes_with_the_line_that_makes_the_sandbox_again(state_root, tmp_path: Path, capsys,
                                                                           no_env, request) -> None:
    _record("f262k", processes=[_agent(tmp_path)])
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "f262k", "-o", "json")
    report = json.loads(out)
    assert code == 1 and "killed by SIGKILL" in report["problems"][0] and report["fix"] == REMAKE, report
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "f262k")
    lines = out.splitlines()
    # pass 31: a killed agent's empty bpffs is named too (the data path is gone), with the same line: said once
    assert code == 1 and lines[1].startswith("  - the node agent (pid ") and out.count(REMAKE) == 1, out
    request.getfixturevalue("stubbed")  # from here on each command's own work exits STUBBED
    for command in REMAKE.split(" && "):  # pasted, each step is accepted
        code, _, err = cli(capsys, *shlex.split(command)[1:])
        assert code == STUBBED, (command, err)


def test_every_unready_status_has_its_fix_once(state_root, capsys, no_env) -> None:
    """The fix each problem already names is not said again; waiting has no line to run."""
    _killed_up("f262a")
    (state_root / "failed-up-f262f").mkdir(parents=True)  # the logs a failed `up` kept
    removing = _record("f262r")
    removing.phase = state_mod.PHASE_REMOVING
    removing.save()
    _record("f262ok")
    fixes = {"f262a": "kmeshctl sandbox down --name f262a && kmeshctl sandbox up --name f262a",
             "f262f": "kmeshctl sandbox down --name f262f && kmeshctl sandbox up --name f262f",
             "f262r": "kmeshctl sandbox down --name f262r", "f262ok": None}
    for name, fix in fixes.items():
        code, out, _ = cli(capsys, "sandbox", "status", "--name", name, "-o", "json")
        assert json.loads(out)["fix"] == fix, (name, out)
        code, out, _ = cli(capsys, "sandbox", "status", "--name", name)
        assert out.count(fix or "Fix: ") == (1 if fix else 0), (name, out)


# ------------------------------------------------------------------ 12b. half-removed: removed, not crashed


def _half_removed(tmp_path: Path) -> None:
    pods = [state_mod.PodRecord("fortio-v1-0", "default", "fortio", {}, "10.244.0.2", "ns-fortio-v1-0",
                                "/nonexistent-cgroup")]
    container = state_mod.ProcessRecord("container", DEAD_PID + 1, "fortio-v1-0", str(tmp_path / "fortio.log"),
                                        component="pod fortio-v1-0 (fortio)", cgroup="/nonexistent-cgroup")
    state = _record("f262h", pods=pods, processes=[_agent(tmp_path, 143), container])
    state.phase = state_mod.PHASE_REMOVING  # what a `sandbox down` records first
    state.save()


def test_a_half_removed_sandbox_says_so_without_crashes_or_log_tails(state_root, tmp_path: Path, capsys,
                                                                      no_env) -> None:
    _half_removed(tmp_path)
    fix = "half-removed: a `sandbox down` did not finish: run `kmeshctl sandbox down --name f262h`"
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "f262h", "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["problems"] == [fix], report
    assert [p["state"] for p in report["pods"]] == ["Removed"], report["pods"]
    processes = [report["agent"], *report["pods"][0]["processes"]]
    assert all(p["removed"] and "logTail" not in p for p in processes), processes
    assert _list_json(capsys)["f262h"]["problems"] == [fix]
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "f262h")
    assert code == 1 and out.splitlines()[1] == f"  - {fix}", out
    assert "FAILED" not in out and "Last lines of" not in out and "exited" not in out, out
    assert "Node agent: pid " in out and "removed (stopped by `sandbox down`)" in out, out


def test_a_sandbox_a_down_is_removing_now_says_so(state_root, tmp_path: Path, monkeypatch, capsys,
                                                  no_env) -> None:
    _half_removed(tmp_path)
    remover = lock_mod.Holder(DEAD_PID, "1", lock_mod.DOWN)
    monkeypatch.setattr(lock_mod, "removed_by", lambda name: remover if name == "f262h" else None)
    problems = _list_json(capsys)["f262h"]["problems"]
    assert problems == [f"sandbox f262h is being removed by pid {DEAD_PID}: wait for that `kmeshctl sandbox down` "
                        "to finish"], problems
