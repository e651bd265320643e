"""Findings of a new-user tester (helper h103):

1. a stop (SIGTERM) during `sandbox up` left /run/kmeshctl/sandbox-NAME (`sandbox list`:
   `NAME creating 0 3s`) when it came while `up` wrote the record, before the cleanup's
   `try`: now the record is written inside it, and a stop at any moment leaves no record;
2. `sandbox down` counted only the processes SIGKILL found (`stopped 4 processes`), not
   those SIGTERM ended first: it counts every process seen in the sandbox's cgroups;
3. the copy a rebuild fix makes (/run/kmeshctl/manifests-NAME.yaml) stayed after a later
   `down`: the `down` of the sandbox made from it removes it, not the `down` in the fix's
   own chain (the copy is newer than that sandbox);
4. `demo traffic-shift` on a damaged record said `has no netutils pod`: it says the record
   is damaged, with the fix, as `status` and `dump`; `sandbox list` keeps the AGE column;
5. a stop once `down`'s work is done says `Sandbox NAME removed.`, then the stop's line;
6. (test_cli_table_width, test_cli_map_key_columns_at_80, test_cli_paths_kept_whole) map
   tables keep id and name columns whole at any width; here, COLUMNS=20 through a pty.

Real parts: the record on disk (under a temporary STATE_ROOT), sandbox.up / down /
remake_steps, the CLI in-process, the demo's LocalTarget; root tests: real `sandbox up`
processes stopped by a real SIGTERM at several moments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from kmeshctl import stopping
from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.pods import plan_pods, plan_vips
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

NAME = "h103-a"


def _plan(name: str = NAME) -> sb.UpPlan:
    manifests = manifests_mod.load(manifests_mod.default_files())
    return sb.UpPlan(name, manifests, plan_pods(manifests), plan_vips(manifests))


@pytest.fixture
def no_host(monkeypatch) -> None:
    """up / down without root and without touching the host (nothing of it is made here)."""
    monkeypatch.setattr(sb, "require_root", lambda: None)
    for module, attr in ((sb.pods_mod, "remove_pods"), (sb.agent_mod, "cleanup"), (sb.pods_mod, "destroy_network")):
        monkeypatch.setattr(module, attr, lambda *_a, **_k: None)


def _stop(*_a: Any, **_k: Any) -> None:
    raise stopping.Stopped(signal.SIGTERM)


def _stop_at_call(real: Callable[..., Any], number: int, after: bool = False) -> Callable[..., Any]:
    """``real``, whose ``number``-th call (1-based) is stopped by SIGTERM (before it does
    anything, or ``after`` it did its work)."""
    calls = [0]

    def step(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == number and not after:
            _stop()
        result = real(*args, **kwargs)
        if calls[0] == number and after:
            _stop()
        return result
    return step


# ------------------------------------------------------------------ 1. a stop during up


def _host_untouched(*_a: Any) -> None:
    raise AssertionError("the stop did not come before up began making the sandbox")


_REPLACE = os.replace
_LINK = os.link


@pytest.mark.parametrize("where", ["record-rename", "after-record", "manifests", "sources", "create",
                                   "check", "ready-save"])
def test_a_stop_at_any_moment_of_up_leaves_no_record(where: str, state_root, no_host, monkeypatch) -> None:
    monkeypatch.setattr(sb, "_create", _host_untouched)  # a stop that did not come: nothing made on the host
    if where == "record-rename":  # inside the claim (the first record): its temporary file made, not linked yet
        monkeypatch.setattr(state_mod.os, "link", _stop_at_call(_LINK, 1))
    elif where == "after-record":  # the record claimed, nothing else yet (the finding's window): the step after it
        monkeypatch.setattr(sb.shutil, "rmtree", _stop_at_call(sb.shutil.rmtree, 1))
    elif where == "manifests":
        monkeypatch.setattr(sb.yaml, "safe_dump_all", _stop)
    elif where == "sources":
        monkeypatch.setattr(sb, "_write_sources", _stop)
    elif where == "create":
        monkeypatch.setattr(sb, "_create", _stop)
    else:
        monkeypatch.setattr(sb, "_create", lambda *_a: None)
        if where == "check":
            monkeypatch.setattr(sb, "_check_not_stopped", _stop)
        else:  # the save that records the sandbox ready (the first after the claim), stopped after its rename
            monkeypatch.setattr(state_mod.os, "replace", _stop_at_call(_REPLACE, 1, after=True))
    with pytest.raises(KeyboardInterrupt):
        sb.up(NAME, manifests_mod.default_files(), plan=_plan())
    assert not state_mod.state_dir(NAME).exists(), list(state_mod.state_dir(NAME).rglob("*"))
    assert NAME not in [row["name"] for row in sb_list()], sb_list()


def sb_list() -> list[dict]:
    from kmeshctl import sandboxes

    return [r for r in sandboxes.list_all() if r["phase"] != sandboxes.PHASE_FAILED]


def test_a_finished_up_is_recorded_ready(state_root, no_host, monkeypatch) -> None:
    monkeypatch.setattr(sb, "_create", lambda *_a: None)
    state = sb.up(NAME, manifests_mod.default_files(), plan=_plan())
    assert state.phase == state_mod.PHASE_READY
    assert state_mod.SandboxState.read(NAME).phase == state_mod.PHASE_READY


# ------------------------------------------------------------------ 2. down counts every process


def test_down_counts_every_process_of_the_sandboxs_cgroups(state_root, no_host, monkeypatch) -> None:
    """12 in the cgroups (6 processes, 6 supervisors); SIGTERM ends the pods' 8 before the
    SIGKILLs count: `stopped 12 processes`, as the docs say."""
    seen = iter([list(range(100, 112)), list(range(108, 112)), list(range(108, 112)), []])
    monkeypatch.setattr(sb, "_tree_pids", lambda _cgroup: next(seen, []))
    monkeypatch.setattr(sb, "_terminate_tree", lambda *_a: None)
    monkeypatch.setattr(sb, "kill_cgroup_tree", lambda *_a: 4)
    monkeypatch.setattr(sb, "remove_cgroup_tree", lambda *_a: None)
    lines: list[str] = []
    sb.teardown(state_mod.SandboxState(name=NAME), lines.append)
    assert "stopped 12 processes" in lines, lines
    docs = (Path(__file__).resolve().parent.parent / "docs" / "sandbox.md").read_text()
    assert "stopped 12 processes" in docs and "each supervisor too" in docs


# ------------------------------------------------------------------ 3. the fix's copy of the manifests


def _record_from(sources: list[str], created_at: float, name: str = NAME) -> state_mod.SandboxState:
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, created_at=created_at)
    state.save()
    documents = manifests_mod.load(manifests_mod.default_files()).documents
    import yaml

    state.manifests_file.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    (state.dir / sb.SOURCES_FILE).write_text(json.dumps({"files": sources}))
    return state


def _run(step: str) -> None:
    """One step of a fix as pasted: the `cp`, or a `down` (up is simulated by _record_from)."""
    if step.startswith("cp "):
        _, source, target = step.split()
        Path(target).write_bytes(Path(source).read_bytes())
    else:
        assert step.startswith("kmeshctl sandbox down --name "), step
        assert sb.down(step.split()[-1])


def test_the_fixs_copy_survives_its_chain_and_goes_with_the_sandbox_made_from_it(state_root, no_host,
                                                                                 monkeypatch) -> None:
    monkeypatch.setattr(sb, "teardown", lambda state, _p: __import__("shutil").rmtree(state.dir))
    _record_from(["-"], time.time() - 60)  # made from stdin: the fix copies the record's manifests
    steps = sb.remake_steps(NAME)
    kept = sb.kept_manifests(NAME)
    assert steps[0].startswith("cp ") and steps[-1].endswith(f"-f {kept}"), steps
    for step in steps[:-1]:
        _run(step)
    assert kept.exists()  # the chain's own `down` kept it: its `up` reads it next
    time.sleep(0.01)
    _record_from([str(kept)], time.time())  # that `up`
    steps = sb.remake_steps(NAME)  # made from the copy: copied again (fresh), never `down` then `-f copy` alone
    assert steps[0].startswith("cp ") and len(steps) == 3, steps
    _run(steps[0])
    _run(steps[1])
    assert kept.exists(), "a fix's own copy outlives its down"
    time.sleep(0.01)
    _record_from([str(kept)], time.time())
    assert sb.down(NAME)  # a later down of the sandbox made from the copy
    assert not kept.exists() and not state_mod.state_dir(NAME).exists()


def test_a_copy_not_made_from_is_left_alone(state_root, no_host, monkeypatch) -> None:
    monkeypatch.setattr(sb, "teardown", lambda state, _p: __import__("shutil").rmtree(state.dir))
    kept = sb.kept_manifests(NAME)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text("kind: Service\n")
    time.sleep(0.01)
    _record_from([], time.time())  # the default manifests
    assert sb.down(NAME)
    assert kept.exists()


def test_the_docs_say_down_removes_the_copy() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "sandbox.md").read_text()
    assert "its `sandbox down` removes it with the record" in " ".join(docs.split())


# ------------------------------------------------------------------ 4. a damaged record: the demo and list


def _damage(name: str = NAME) -> None:
    path = state_mod.record_path(name)
    raw = json.loads(path.read_text())
    raw["pods"] = "junk"
    path.write_text(json.dumps(raw))


def test_the_demo_on_a_damaged_record_says_it_is_damaged_with_the_fix(state_root, no_env, monkeypatch) -> None:
    from kmeshctl.sandbox.demo_target import LocalTarget

    _record_from([], time.time())
    _damage()
    monkeypatch.setattr(sb, "require_root", lambda: None)
    target = LocalTarget(NAME, ("default", "fortio"), [90, 10])
    for step in (lambda: target.subject(None), lambda: target.prepare(lambda _l: None)):  # type: ignore[arg-type]
        with pytest.raises(KmeshctlError) as raised:
            step()
        message = str(raised.value)
        assert f"sandbox {NAME}'s record is damaged (" in message and "netutils" not in message, message
        assert f"run `kmeshctl sandbox down --name {NAME}`" in message, message
    from kmeshctl.sandbox import lock as lock_mod

    lock_mod.release(NAME)


def test_the_demo_cli_says_the_record_is_damaged(state_root, no_env, capsys, monkeypatch) -> None:
    _record_from([], time.time())
    _damage()
    monkeypatch.setattr(sb, "require_root", lambda: None)
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", NAME)
    assert code == 1 and f"sandbox {NAME}'s record is damaged (" in err and "netutils" not in err, (code, out, err)


def test_list_keeps_every_column_for_a_damaged_record(state_root, no_env, capsys) -> None:
    _record_from([], time.time() - 125)
    _damage()
    code, out, err = cli(capsys, "sandbox", "list")
    header, row = out.splitlines()[:2]
    assert code == 0 and header.split() == ["NAME", "PHASE", "PODS", "AGE"], out
    assert row.split() == [NAME, "damaged", "0", "2m"], out
    rows = json.loads(cli(capsys, "sandbox", "list", "-o", "json")[1])
    assert rows[0]["age"] == "2m" and rows[0]["created"], rows


def test_list_ages_a_record_whose_creation_time_is_damaged_by_its_up(state_root, no_env, capsys) -> None:
    _record_from([], time.time())
    path = state_mod.record_path(NAME)
    raw = json.loads(path.read_text())
    raw["created_at"] = "yesterday"
    path.write_text(json.dumps(raw))
    code, out, _ = cli(capsys, "sandbox", "list")
    assert code == 0 and out.splitlines()[0].split() == ["NAME", "PHASE", "PODS", "AGE"], out
    assert out.splitlines()[1].split()[-1].endswith("s"), out


# ------------------------------------------------------------------ 5. a stop once down's work is done


def test_a_stop_after_downs_work_says_removed_then_the_stop(state_root, no_env, no_host, capsys,
                                                           monkeypatch) -> None:
    _record_from([], time.time())
    real_down = sb.down

    def down_then_stopped(name: str, progress: Any, force: bool = False) -> bool:
        real_down(name, progress, force)
        raise stopping.Stopped(signal.SIGTERM)  # e.g. while the lock is released

    monkeypatch.setattr(sb, "teardown", lambda state, _p: __import__("shutil").rmtree(state.dir))
    monkeypatch.setattr(sb, "down", down_then_stopped)
    code, out, err = cli(capsys, "sandbox", "down", "--name", NAME)
    assert code == 143 and out.strip() == f"Sandbox {NAME} removed.", (out, err)
    # pass 29: the line says the work was done (a script reading 143 knows it is removed)
    assert err.strip().splitlines()[-1] == f"Error: stopped by SIGTERM: sandbox {NAME} was removed", err
    assert "half-removed" not in err, err


def test_a_stop_before_downs_work_is_done_still_says_half_removed(state_root, no_env, no_host, capsys,
                                                                 monkeypatch) -> None:
    _record_from([], time.time())

    def marked_then_stopped(state: Any, progress: Any) -> None:  # its first step done (f38d: else nothing was)
        sb._mark_removing(state)
        _stop()

    monkeypatch.setattr(sb, "teardown", marked_then_stopped)
    code, out, err = cli(capsys, "sandbox", "down", "--name", NAME)
    assert code == 143 and "removed." not in out, (out, err)
    assert f"sandbox {NAME} is half-removed" in err, err


# ------------------------------------------------------------------ 6. COLUMNS=20 through a pty


def test_map_tables_at_20_columns_keep_names_whole_in_a_terminal(monkeypatch) -> None:
    """`dump maps` at COLUMNS=20: BACKEND names were split (`Kubernetes//Pod/` /
    `default/fortio-v3-0`); each name is whole on its row, the line wider than 20."""
    import io

    from kmeshctl import dump
    from kmeshctl.cli.tables import PipeFriendlyConsole
    from test_cli_table_width import _dumps, _Ids

    monkeypatch.setenv("COLUMNS", "20")
    buffer = io.StringIO()
    dump.render_tables(_dumps(), _Ids(), PipeFriendlyConsole(file=buffer, force_terminal=True, color_system=None))
    lines = buffer.getvalue().splitlines()
    for name in _Ids.names.values():
        assert sum(name in line for line in lines) >= 1, (name, lines)
    assert not any(line.strip() in ("default/fortio-v1-0", "default/fortio-v2-0") for line in lines), lines
    assert any(line.split()[:4] == ["SERVICE", "PRIO", "INDEX", "BACKEND"] for line in lines), lines


def test_dump_help_says_what_is_left_out(capsys, no_env) -> None:
    code, out, _ = cli(capsys, "dump", "maps", "--help")
    text = " ".join(out.split())
    assert code == 0 and "are never cut" in text and "left out from the right" in text, out


# ------------------------------------------------------------------ 1, real: SIGTERM to a real `sandbox up`


KMESHCTL = [sys.executable, "-m", "kmeshctl"]


@pytest.mark.root
@pytest.mark.parametrize("delay", [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0])
def test_sigterm_at_several_moments_of_a_real_up_leaves_no_record(delay: float, run_id: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    name = f"h103-{run_id}"
    env = {k: v for k, v in os.environ.items() if k != "KMESHCTL_SANDBOX_NAME"}
    process = subprocess.Popen([*KMESHCTL, "sandbox", "up", "--name", name], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
        if process.returncode == 143:  # before `up` began (Python loading, its checks): the plain line
            kept = (f"; its logs are kept in {state_mod.failed_up_logs(name)} (remove them with `kmeshctl sandbox "
                    f"down --name {name}`)") if state_mod.failed_up_logs(name).is_dir() else ""
            made = (f"Error: stopped by SIGTERM: sandbox {name} is up; remove it with `kmeshctl sandbox down --name "
                    f"{name}`")  # the signal came once `up` was done (a fast machine), before the process ended
            assert err.strip().splitlines()[-1] in ("Error: stopped by SIGTERM", made,
                                                    f"Error: stopped by SIGTERM: sandbox {name} was not created{kept}"), err
        else:  # refused or done before the signal (a fast machine): then it is a whole sandbox
            assert process.returncode in (0, 1), (process.returncode, err)
        if process.returncode != 0 and not err.rstrip().endswith(f"--name {name}`"):
            assert not state_mod.state_dir(name).exists(), (delay, err, list(state_mod.state_dir(name).rglob("*")))
            assert sb._leftovers(state_mod.SandboxState(name=name)) == [], err
            listed = subprocess.run([*KMESHCTL, "sandbox", "list", "-o", "json"], capture_output=True, text=True,
                                    env=env)
            rows = {r["name"]: r for r in json.loads(listed.stdout or "[]")}
            assert name not in rows or rows[name]["phase"] == "failed", rows  # only the logs, as documented
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        subprocess.run([*KMESHCTL, "sandbox", "down", "--name", name, "--ignore-not-found"], capture_output=True,
                       env=env)
