"""F19I B: a `sandbox down` run while `sandbox up` still creates the same sandbox stops
that `up` (SIGTERM). The user removed the sandbox on purpose: the stopped `up` keeps no
logs (no /run/kmeshctl/failed-up-NAME, so `sandbox list` shows nothing after the `down`)
and says one line, why it stopped, exit 143 (it used to say that line, then `Error:
stopped by SIGTERM`, and leave the sandbox listed as `failed` until a second `down`).

The in-process tests replace the sandbox's work (no root): `up` writes its record and a
log, then gets a real SIGTERM while a live `sandbox down` (this test's lock holder) removes
it. The root test runs a real `up` and `down`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

NAME = "f19ib"
DOWN_PID = 424242


@pytest.fixture
def down_stops_up(monkeypatch, state_root, no_env) -> None:  # noqa: F811
    """`up`'s creation writes a log, then a `sandbox down` (a live lock holder) sends it
    SIGTERM; teardown removes the record only."""
    holder = lock_mod.Holder(DOWN_PID, "1", lock_mod.DOWN)

    def create(state: state_mod.SandboxState, *_: Any) -> None:
        state.logs_dir.mkdir(parents=True, exist_ok=True)
        (state.logs_dir / "agent.log").write_text("compiling\n")
        monkeypatch.setattr(lock_mod, "removed_by", lambda name: holder if name == NAME else None)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("the SIGTERM did not stop up")

    plan = sandbox_mod.UpPlan(NAME, manifests_mod.load(manifests_mod.default_files()), [], {})
    monkeypatch.setattr(sandbox_mod, "check_up", lambda name, files: plan)
    monkeypatch.setattr(sandbox_mod, "_create", create)
    monkeypatch.setattr(sandbox_mod, "teardown",
                        lambda state, progress: shutil.rmtree(state.dir, ignore_errors=True))


def test_up_stopped_by_down_says_one_line_and_exits_143(down_stops_up, capsys) -> None:
    code, _, err = cli(capsys, "sandbox", "up", "--name", NAME, "-q")
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert code == 143, err
    assert errors == [f"Error: sandbox {NAME} was removed by 'sandbox down' (pid {DOWN_PID}) while it was being "
                      "created"], err


def test_up_stopped_by_down_keeps_no_failed_up_logs_and_is_not_listed(down_stops_up, capsys) -> None:
    cli(capsys, "sandbox", "up", "--name", NAME, "-q")
    assert not state_mod.failed_up_logs(NAME).exists()
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    assert code == 0 and NAME not in out, out


def test_up_stopped_otherwise_still_keeps_its_logs(state_root, no_env, monkeypatch, capsys) -> None:  # noqa: F811
    """A Ctrl-C or a kill of `up` (no `down` removing it) keeps the logs, as before."""
    def create(state: state_mod.SandboxState, *_: Any) -> None:
        state.logs_dir.mkdir(parents=True, exist_ok=True)
        (state.logs_dir / "agent.log").write_text("compiling\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(sandbox_mod, "_create", create)
    monkeypatch.setattr(sandbox_mod, "teardown",
                        lambda state, progress: shutil.rmtree(state.dir, ignore_errors=True))
    plan = sandbox_mod.UpPlan(NAME, manifests_mod.load(manifests_mod.default_files()), [], {})
    with pytest.raises(KeyboardInterrupt):
        sandbox_mod.up(NAME, manifests_mod.default_files(), lambda line: None, plan)
    assert (state_mod.failed_up_logs(NAME) / "agent.log").read_text() == "compiling\n"


def test_down_removes_failed_up_logs_an_up_it_stopped_kept(state_root, no_env, monkeypatch) -> None:  # noqa: F811
    """An `up` that kept its logs while this `down` stopped it (an older kmeshctl's): gone too."""
    state = state_mod.SandboxState(name=NAME)
    state.save()

    def teardown(state: state_mod.SandboxState, progress: Callable[[str], None]) -> None:
        (state_mod.failed_up_logs(NAME)).mkdir(parents=True)
        shutil.rmtree(state.dir)

    monkeypatch.setattr(sandbox_mod, "require_root", lambda: None)
    monkeypatch.setattr(sandbox_mod, "teardown", teardown)
    assert sandbox_mod.down(NAME) is True
    assert not state_mod.failed_up_logs(NAME).exists()


# ------------------------------------------------------------------ a real sandbox

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")


def _wait_for(check: Callable[[], Any], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.root
def test_a_real_down_during_up_leaves_nothing_listed_and_up_says_one_line() -> None:
    name = "f19i-dwu"
    env = {k: v for k, v in os.environ.items() if k not in ("KMESHCTL_SANDBOX_NAME", "COLUMNS")}
    up = subprocess.Popen([KMESHCTL, "sandbox", "up", "--name", name], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)
    try:
        # "starting the node agent": the control plane is up, the agent is being started
        _wait_for(lambda: (state_mod.SandboxState.load(name) or state_mod.SandboxState(name=name)).processes_of(
            "agent"))
        down = subprocess.run([KMESHCTL, "sandbox", "down", "--name", name], capture_output=True, text=True,
                              env=env, timeout=180)
        assert down.returncode == 0 and f"Sandbox {name} removed." in down.stdout + down.stderr, down
        _, err = up.communicate(timeout=120)
        errors = [line for line in err.splitlines() if line.startswith("Error:")]
        assert up.returncode == 143, err
        assert len(errors) == 1 and errors[0].startswith(f"Error: sandbox {name} was removed by 'sandbox down' "
                                                         "(pid "), err
        assert not state_mod.failed_up_logs(name).exists()
        listed = subprocess.run([KMESHCTL, "sandbox", "list", "-o", "json"], capture_output=True, text=True,
                                env=env, timeout=60)
        assert name not in [row["name"] for row in json.loads(listed.stdout or "[]")], listed.stdout
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
        subprocess.run([KMESHCTL, "sandbox", "down", "--name", name], capture_output=True, env=env, timeout=300)
