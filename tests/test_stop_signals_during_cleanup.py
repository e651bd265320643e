"""h113: a second signal while a stopped command cleans up does not cut the cleanup short.

H3: two signals ~50 ms apart during `sandbox up` left the sandbox half-made while the line
said `was not created`. M1: a second signal while the demo restores the VirtualService's
weights abandoned the restore, with the second signal's line or code. Now one signal
during a cleanup (kmeshctl.stopping.finishing) waits for its end, the run's line and
code stay the first stop's, and only a further one stops the cleanup at once, the line
then saying what was left. Also M4 (a worker thread's sigterm_stops with no handler to
replace) and a signal while the top-level traceback prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import stopping
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from kmeshctl import sandboxes
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

NAME = "h113c"
ROOT = Path(__file__).resolve().parent.parent


def _signal_self(signum: int) -> None:
    """A real signal to ourselves, its handler run before this returns (or raising)."""
    os.kill(os.getpid(), signum)
    time.sleep(0.05)


# ------------------------------------------------------------------ stopping.finishing


def test_one_signal_waits_for_the_cleanup_then_stops_the_run() -> None:
    done: list[str] = []
    with stopping.sigterm_stops() as run:
        with pytest.raises(stopping.Stopped) as stopped:
            with stopping.finishing("restoring h113"):
                _signal_self(signal.SIGTERM)
                done.append("cleanup finished")
    assert done == ["cleanup finished"]
    assert stopped.value.signum == signal.SIGTERM and run.first().signum == signal.SIGTERM


def test_a_second_signal_during_a_stops_cleanup_is_recorded_and_the_first_one_reported(capsys) -> None:
    done: list[str] = []
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt) as stopped:
            with stopping.finishing("removing what sandbox h113 made", armed=False):
                try:
                    _signal_self(signal.SIGTERM)  # the step's own stop: raises, starts the cleanup
                except KeyboardInterrupt:
                    _signal_self(signal.SIGHUP)  # 50 ms later: waits for the cleanup
                    done.append("cleanup finished")
                    raise
        assert stopping.stopped_by(stopped.value).signum == signal.SIGTERM
        assert stopping.stopped_by(KeyboardInterrupt()).signum == signal.SIGTERM  # the run's first, whatever raised
    assert done == ["cleanup finished"]
    assert "SIGHUP: still removing what sandbox h113 made; a further signal stops at once" in capsys.readouterr().err


def test_a_third_signal_cuts_the_cleanup_short_and_the_line_says_what_is_left(capsys) -> None:
    done: list[str] = []
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt):
            with stopping.finishing("restoring h113", lambda: "the weights were left at 0/100"):
                _signal_self(signal.SIGTERM)  # waits
                _signal_self(signal.SIGINT)  # the user wants out
                done.append("cleanup finished")
        stopping.say(stopping.stop_text(stopping.received()))
    assert done == []
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "Error: stopped by SIGTERM: the weights were left at 0/100"


def test_a_cleanup_cut_short_says_it_in_a_commands_own_wording(capsys) -> None:
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt):
            with stopping.finishing("restoring h113", "the weights were left at 0/100"):
                _signal_self(signal.SIGTERM)
                _signal_self(signal.SIGTERM)
        stopping.say("stopped by SIGTERM (340 of 3000 requests sent)")  # e.g. the demo's own line
    assert capsys.readouterr().err.splitlines()[-1] == ("Error: stopped by SIGTERM (340 of 3000 requests sent); the "
                                                        "weights were left at 0/100")


# ------------------------------------------------------------------ H3: sandbox up


@pytest.fixture
def stopped_create(monkeypatch) -> list[str]:
    """`up`'s creation makes a cgroup-like leftover (its record's directory), then SIGTERM."""

    def create(state: state_mod.SandboxState, *_: Any) -> None:
        (state.dir / "objects").mkdir()
        _signal_self(signal.SIGTERM)
        raise AssertionError("the signal did not stop `up`")

    monkeypatch.setattr(sb, "_create", create)
    monkeypatch.setattr(sb, "check_up", lambda name, files: _plan(name))
    return []


def _plan(name: str) -> sb.UpPlan:
    return sb.UpPlan(name, manifests_mod.load(manifests_mod.default_files()), [], {})


def _teardown_signalled(monkeypatch, signals: list[int], steps: list[str]) -> None:
    """teardown with ``signals`` arriving in its middle (the real one's record removal)."""
    real = sb._remove_record

    def teardown(state: state_mod.SandboxState, progress: Any) -> None:
        steps.append("processes stopped")
        for signum in signals:
            _signal_self(signum)
        real(state)
        steps.append("removed")

    monkeypatch.setattr(sb, "teardown", teardown)


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["TERM-TERM", "TERM-INT"])
def test_up_stopped_twice_still_removes_what_it_made_and_says_not_created(second, state_root, no_env, stopped_create,
                                                                          monkeypatch, capsys) -> None:
    steps: list[str] = []
    _teardown_signalled(monkeypatch, [second], steps)
    code, _, err = cli(capsys, "sandbox", "up", "--name", NAME, "-q")
    assert steps == ["processes stopped", "removed"]
    assert not state_mod.state_dir(NAME).exists() and sb.leftovers(NAME) == []
    assert code == 143, err
    assert err.strip().splitlines()[-1] == f"Error: stopped by SIGTERM: sandbox {NAME} was not created", err
    assert f"still removing what sandbox {NAME} made" in err


def test_up_stopped_three_times_says_it_is_half_created_and_status_says_so(state_root, no_env, stopped_create,
                                                                           monkeypatch, capsys) -> None:
    steps: list[str] = []
    _teardown_signalled(monkeypatch, [signal.SIGHUP, signal.SIGINT], steps)
    code, _, err = cli(capsys, "sandbox", "up", "--name", NAME, "-q")
    assert steps == ["processes stopped"]  # cut short: the record is still there
    assert code == 143, err
    assert err.strip().splitlines()[-1] == (f"Error: stopped by SIGTERM: sandbox {NAME} is half-created; remove it "
                                            f"with `kmeshctl sandbox down --name {NAME}`"), err
    monkeypatch.setattr(state_mod.SandboxState, "up_is_running", lambda self: False)  # that `up` has exited
    state = state_mod.SandboxState.load(NAME)
    assert state is not None and state.phase == state_mod.PHASE_CREATING  # not `removing`: a `down` never ran
    assert NAME in sandboxes.names() and NAME not in sandboxes.failed_up_names()
    problems = sb.process_problems(state)
    assert problems and problems[0].startswith("half-created: a `sandbox up` did not finish"), problems
    assert "only its logs" not in " ".join(problems)


def test_a_half_removed_records_files_keep_their_state_json_to_the_end(state_root, no_env) -> None:
    state = state_mod.SandboxState(name=NAME)
    state.save()
    for name in ("cni", "objects"):
        (state.dir / name).mkdir()
        (state.dir / name / "x").write_text("x")
    seen: list[bool] = []
    real_rmtree = sb.shutil.rmtree

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(state_mod.record_path(NAME).exists())
        real_rmtree(path, *args, **kwargs)

    sb.shutil.rmtree = rmtree  # type: ignore[assignment]
    try:
        sb._remove_record(state)
    finally:
        sb.shutil.rmtree = real_rmtree  # type: ignore[assignment]
    assert seen[:2] == [True, True] and not state.dir.exists()


def test_failed_up_logs_beside_leftovers_are_not_called_all_that_is_left(state_root, no_env) -> None:
    logs = state_mod.failed_up_logs(NAME)
    logs.mkdir(parents=True)
    (logs / sb.UP_END_FILE).write_text("interrupted\n")
    state_mod.state_dir(NAME).mkdir(parents=True)  # no state.json: not a sandbox `list` names
    problem = sandboxes.failed_up_problem(NAME)
    assert "only its logs" not in problem and str(state_mod.state_dir(NAME)) in problem, problem
    assert problem.endswith(f"`kmeshctl sandbox down --name {NAME}` removes it all")
    state_mod.state_dir(NAME).rmdir()
    assert "only its logs are left" in sandboxes.failed_up_problem(NAME)


# ------------------------------------------------------------------ M1: the demo's restore


def test_the_demos_restore_finishes_despite_a_second_signal(monkeypatch, tmp_path, capsys) -> None:
    from kmeshctl.sandbox import demo_target

    pushed: list[list[int]] = []

    def push(sandbox: str, vs: Any, weights: list[int], route: int) -> None:
        _signal_self(signal.SIGHUP)  # 10-50 ms after the SIGTERM that stopped the run
        pushed.append(list(weights))

    target = _restoring_target(monkeypatch, tmp_path, demo_target, push)
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt) as stopped:
            try:
                _signal_self(signal.SIGTERM)
            finally:
                target.finish(lambda line: None)
        assert stopping.stopped_by(stopped.value).signum == signal.SIGTERM
    assert pushed == [[50, 50]] and not demo_target.weights_record(target._state).exists()


def test_the_demos_restore_cut_short_says_the_weights_left(monkeypatch, tmp_path, capsys) -> None:
    from kmeshctl.sandbox import demo_target

    def push(sandbox: str, vs: Any, weights: list[int], route: int) -> None:
        _signal_self(signal.SIGHUP)
        _signal_self(signal.SIGTERM)
        raise AssertionError("a third signal did not cut the restore short")

    target = _restoring_target(monkeypatch, tmp_path, demo_target, push)
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt):
            try:
                _signal_self(signal.SIGTERM)
            finally:
                target.finish(lambda line: None)
        stopping.say(f"stopped by {stopping.received().how} (340 of 3000 requests sent)")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("Error: stopped by SIGTERM (340 of 3000 requests sent); the VirtualService's weights "
                           "were left at 0/100; the next demo puts back 50/50"), line
    assert demo_target.weights_record(target._state).exists()  # what the next demo puts back


def _restoring_target(monkeypatch, tmp_path: Path, demo_target: Any, push: Any) -> Any:
    """A LocalTarget whose demo set 0/100 and whose finish restores 50/50 through ``push``."""
    state = state_mod.SandboxState(name="h113d", phase=state_mod.PHASE_READY)
    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path)
    state.dir.mkdir(parents=True)
    demo_target.weights_record(state).write_text('{"virtualService": "default/fortio", "weights": [50, 50]}')
    monkeypatch.setattr(demo_target, "_push", push)
    monkeypatch.setattr(demo_target.lock_mod, "release", lambda *a, **k: None)
    monkeypatch.setattr(demo_target.lock_mod, "removed_by", lambda *a, **k: None)
    in_force = type("Subject", (), {"default_weights": (0, 100)})()
    monkeypatch.setattr(demo_target, "_in_force", lambda *a, **k: in_force)
    target = demo_target.LocalTarget("h113d", ("default", "fortio"), [50, 50])
    target._ready, target._state = True, state
    monkeypatch.setattr(target, "lost", lambda: "")
    return target


# ------------------------------------------------------------------ M4, and the top level


def test_a_worker_threads_block_with_no_handler_to_replace_is_no_run() -> None:
    previous = {sig: signal.getsignal(sig) for sig in stopping.STOP_SIGNALS}
    errors: list[BaseException] = []
    open_before = list(stopping._open)

    def worker() -> None:
        try:
            with stopping.sigterm_stops() as block:
                assert not block._main_thread and stopping._open == open_before
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    try:
        for sig in stopping.STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)  # nohup, a background job: nothing replaceable
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert all(signal.getsignal(sig) is signal.SIG_IGN for sig in stopping.STOP_SIGNALS)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert errors == [] and stopping._open == open_before


def test_a_signal_while_the_top_level_traceback_prints_exits_with_the_runs_code() -> None:
    script = textwrap.dedent("""
        import os, signal, time
        from kmeshctl import stopping
        stopping.own_process()

        class Loud(Exception):
            def __str__(self):
                os.kill(os.getpid(), signal.SIGHUP)  # while the traceback prints
                time.sleep(0.05)
                return "loud"

        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except KeyboardInterrupt:
            pass
        raise Loud()
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 143, done.stderr
    assert "Error in sys.excepthook" not in done.stderr
    assert done.stderr.rstrip().endswith("Error: stopped by SIGTERM"), done.stderr  # after the cut traceback
