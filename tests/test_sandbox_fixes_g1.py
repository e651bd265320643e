"""Tester 124's findings 1, 3, 6, 8, 11b, 11c, one kind each: every command a sandbox
message suggests works when pasted. Records in a temporary state root (test_cli_kinds'
`state_root`): no real sandbox is made.

1   a fix that runs the command again names the sandbox when the name came from
    $KMESHCTL_SANDBOX_NAME (pasted alone it would act on another one);
3   a half-created sandbox's fix keeps the user's own `up` (its -f, -q, the name);
    other commands' fixes make it again from its own manifests;
6   with several sandboxes up, the example is one that fits (the demo: has the namespace
    asked for), or the message says none does;
8   a failed `up`'s leftovers: one chain (down, up with its manifests, the command again),
    saying `interrupted` when it was;
11b the example is never a sandbox a demo holds;
11c `pass --force` is a command to paste."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_newuser import _record
from test_sandbox_concurrent_use import holders  # noqa: F401 - the fixture

DEMO_PODS = (("netutils-0", False), ("fortio-v1-0", False))


def _backticked(err: str) -> list[str]:
    return err.split("`")[1::2]




def _hold(name: str, holders: list[subprocess.Popen]) -> int:
    """A live process recorded as the demo holding sandbox ``name``."""
    process = subprocess.Popen(["sleep", "60"])
    holders.append(process)
    time.sleep(0.05)
    lock_mod.lock_path(name).parent.mkdir(parents=True, exist_ok=True)
    lock_mod.lock_path(name).write_text(json.dumps(
        {"pid": process.pid, "started": state_mod.process_start_time(process.pid), "command": lock_mod.DEMO}))
    return process.pid


def _demo_record(name: str, namespace: str = "default") -> state_mod.SandboxState:
    state = _record(name, DEMO_PODS, vips={f"{namespace}/fortio": "10.96.0.10"})
    for pod in state.pods:
        pod.namespace = namespace
    state.save()
    return state


# ------------------------------------------------------------------ 1


@pytest.mark.parametrize("extra", [[], ["-q"]])
def test_down_of_a_missing_env_sandbox_names_it_in_its_fix(extra, state_root, capsys, no_env, monkeypatch) -> None:
    _record("t124a")
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "t124zz")
    code, _, err = cli(capsys, "sandbox", "down", *extra)
    assert code == 1 and "sandbox t124zz (from $KMESHCTL_SANDBOX_NAME) not found" in err, err
    fix = _backticked(err)[-1]
    assert fix.startswith("kmeshctl sandbox down") and "--ignore-not-found" in fix, err
    assert "--name t124zz" in fix and all(e in fix.split() for e in extra), err
    monkeypatch.delenv("KMESHCTL_SANDBOX_NAME")  # pasted in another shell: still about t124zz, exits 0
    code, _, err = cli(capsys, *fix.split()[1:])
    assert code == 0 and state_mod.SandboxState.load("t124a") is not None, err


# ------------------------------------------------------------------ 3


def _half_created(name: str, files: list[str]) -> None:
    state = state_mod.SandboxState(name=name, phase="creating", agent={}, created_at=time.time())
    state.save()
    (state.dir / sb.SOURCES_FILE).write_text(json.dumps({"files": files}))


def test_up_of_a_half_created_sandbox_keeps_its_own_flags(state_root, capsys, no_env, monkeypatch,
                                                         tmp_path: Path) -> None:
    from kmeshctl.sandbox.manifests import default_files

    for check in ("require_root", "envoy_binary"):
        monkeypatch.setattr(sb, check, lambda: None)
    monkeypatch.setattr(sb.pods_mod, "check_cni_plugins", lambda: None)
    monkeypatch.setattr(sb.agent_mod, "preflight", lambda: None)
    manifests = tmp_path / "m"
    manifests.mkdir()
    for path in default_files():
        (manifests / path.name).write_text(path.read_text())
    _half_created("t124n", [])
    code, _, err = cli(capsys, "sandbox", "up", "--name", "t124n", "-q", "-f", str(manifests))
    assert code == 1 and "half-created" in err, err
    fix = _backticked(err)[-1]
    assert fix.startswith("kmeshctl sandbox down --name t124n && kmeshctl sandbox up "), err
    up = fix.split(" && ")[1].split()
    assert "--name" in up and "t124n" in up and "-q" in up and str(manifests) in up, err
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "t124n")  # the name from the variable: on the line too
    code, _, err = cli(capsys, "sandbox", "up", "-f", str(manifests))
    assert "kmeshctl sandbox up --name t124n -f " in _backticked(err)[-1], err


def test_up_reading_stdin_is_not_chained_after_the_down(state_root) -> None:
    _half_created("t124s", [])
    text = sb.unfinished(state_mod.SandboxState.load("t124s"), "kmeshctl sandbox up --name t124s -f -")
    assert "run `kmeshctl sandbox down --name t124s`, then pipe the manifests to " \
           "`kmeshctl sandbox up --name t124s -f -` again" in text, text


def test_the_library_default_is_the_up_with_the_files_given(state_root, tmp_path: Path) -> None:
    assert sb.up_line("x", [tmp_path / "m"]) == f"kmeshctl sandbox up --name x -f {tmp_path / 'm'}"
    assert sb.up_line("x", sb.manifests_mod.default_files()) == "kmeshctl sandbox up --name x"


def test_exec_in_a_half_created_sandbox_makes_it_from_its_own_manifests(state_root, capsys, no_env,
                                                                       tmp_path: Path) -> None:
    from kmeshctl.sandbox.manifests import default_files

    manifests = tmp_path / "m.yaml"
    manifests.write_text("".join(p.read_text() + "\n---\n" for p in default_files()))
    _half_created("t124x", [str(manifests)])
    state = state_mod.SandboxState.load("t124x")
    state.manifests_file.write_text(manifests.read_text())
    state.pods = _record("tmp", DEMO_PODS).pods
    state.save()
    code, _, err = cli(capsys, "sandbox", "exec", "netutils-0", "--name", "t124x", "--", "true")
    assert code == 1 and "half-created" in err, err
    steps = _backticked(err)[-1].split(" && ")
    assert f"-f {manifests}" in steps[1], err
    assert steps[-1] == "kmeshctl sandbox exec netutils-0 --name t124x -- true", err


# ------------------------------------------------------------------ 6, 11b


def test_the_demo_suggests_a_sandbox_with_the_namespace_asked_for(state_root, capsys, no_env) -> None:
    _demo_record("t124a")
    _demo_record("t124m")
    _demo_record("t124e", "team-a")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "-n", "team-a")
    assert code == 2 and "several sandboxes exist" in err, err
    assert "--sandbox t124e" in _backticked(err)[-1] and "-n team-a" in _backticked(err)[-1], err


def test_the_demo_suggests_no_busy_sandbox(state_root, capsys, no_env, holders) -> None:
    _demo_record("t124a")
    _demo_record("t124e")
    _hold("t124a", holders)
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local")
    assert code == 2 and "--sandbox t124e" in _backticked(err)[-1], err


def test_when_none_fits_the_demo_says_why_each_does_not(state_root, capsys, no_env, holders) -> None:
    _demo_record("t124a")
    _demo_record("t124e")
    pid = _hold("t124a", holders)
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "-n", "team-a")
    assert code == 2 and "none can be used now" in err, err
    assert f"t124a: in use by demo pid {pid}" in err and "t124e: no fortio Service in namespace team-a" in err, err
    new = _backticked(err)[-1]
    assert new.startswith("kmeshctl sandbox up --name ") and "--sandbox" in new and "-n default" in new, err


def test_down_suggests_no_sandbox_a_demo_holds(state_root, capsys, no_env, holders) -> None:
    _record("t124a")
    _record("t124b")
    _hold("t124a", holders)
    code, _, err = cli(capsys, "sandbox", "down")  # destructive: a line for each it can remove, the holder named
    assert code == 2 and "`kmeshctl sandbox down --name t124b`" in err and "t124a: in use by demo pid" in err, err
    assert "--name t124a`" not in err, err


# ------------------------------------------------------------------ 8


def _failed_up(name: str, how: str, files: list[str]) -> None:
    logs = state_mod.failed_up_logs(name)
    logs.mkdir(parents=True)
    (logs / sb.UP_END_FILE).write_text(how + "\n")
    (logs / sb.SOURCES_FILE).write_text(json.dumps({"files": files}))


def test_a_failed_up_gets_one_chain_with_its_manifests(state_root, capsys, no_env, tmp_path: Path) -> None:
    from kmeshctl.sandbox.manifests import default_files

    manifests = tmp_path / "m.yaml"
    manifests.write_text("".join(p.read_text() + "\n---\n" for p in default_files()))
    _record("t124a")
    _failed_up("t124f", "interrupted", [str(manifests)])
    (state_mod.failed_up_logs("t124f") / "manifests.yaml").write_text(manifests.read_text())
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "t124f", "-c", "3")
    assert code == 1 and "sandbox t124f failed (its up was interrupted)" in err, err
    steps = _backticked(err)[-1].split(" && ")
    assert steps[0] == "kmeshctl sandbox down --name t124f", err
    assert steps[1] == f"kmeshctl sandbox up --name t124f -f {manifests}", err
    # -c 3 is too few to judge 90/10: the line carries the -c that is enough (f38d), as `sandbox up`'s Try line
    assert steps[2].startswith("kmeshctl demo traffic-shift --sandbox t124f") and steps[2].endswith("-c 12"), err


def test_a_failed_up_keeps_what_it_was_given(state_root) -> None:
    state = state_mod.SandboxState(name="t124k", created_at=time.time())
    state.save()
    state.logs_dir.mkdir(parents=True, exist_ok=True)
    (state.dir / sb.SOURCES_FILE).write_text(json.dumps({"files": ["/x.yaml"]}))
    state.manifests_file.write_text("kind: Service\n")
    kept = sb._keep_logs(state, "failed")
    assert json.loads((kept / sb.SOURCES_FILE).read_text()) == {"files": ["/x.yaml"]}
    assert (kept / "manifests.yaml").read_text() == "kind: Service\n"


# ------------------------------------------------------------------ 11c


def test_down_of_a_held_sandbox_gives_the_forced_command(state_root, capsys, no_env, holders) -> None:
    _record("t124a")
    pid = _hold("t124a", holders)
    code, _, err = cli(capsys, "sandbox", "down", "--name", "t124a", "-q")
    assert code == 1 and f"in use by demo pid {pid}" in err and "pass --force" not in err, err
    fix = _backticked(err)[-1].split()
    assert fix[:3] == ["kmeshctl", "sandbox", "down"] and "--force" in fix and "-q" in fix, err
    assert fix[fix.index("--name") + 1] == "t124a", err


def test_exec_fixes_name_the_sandbox_of_the_variable(state_root, capsys, no_env, monkeypatch) -> None:
    _demo_record("t124a")
    _demo_record("t124e")
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "t124e")
    code, _, err = cli(capsys, "sandbox", "exec", "--", "netutils-0", "true")
    assert code == 2 and _backticked(err)[-1] == "kmeshctl sandbox exec netutils-0 --name t124e -- true", err
    code, _, err = cli(capsys, "sandbox", "exec", "default/netutils-0", "--", "true")
    assert code == 2 and _backticked(err)[-1] == \
        "kmeshctl sandbox exec -n default netutils-0 --name t124e -- true", err


def test_a_busy_named_sandbox_points_at_one_the_demo_can_use(state_root, capsys, no_env, holders) -> None:
    _demo_record("t124a")
    _record("t124b")  # no demo objects: not suggested
    _demo_record("t124e")
    pid = _hold("t124a", holders)
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "t124a", "-c", "3")
    assert code == 1 and f"sandbox t124a is in use by demo pid {pid}" in err, err
    fix = _backticked(err)[-1]
    assert fix.startswith("kmeshctl demo traffic-shift --sandbox t124e") and "-c 3" in fix, err
