"""Review 21's findings 4, 5, 7 and 8 (the demo), one test each at least.

4   the start-up sweep's `waiting up to 15s ...` note comes from the sweep's own line
    (SWEEP_WAITING, printed once its wait for a loop's heartbeat has gone on), never from
    a timer that also counts opening the exec: a slow exec with no loop says nothing;
5   with several sandboxes and the demo given no -n, one without the demo's objects is
    unfit: when none has them the fix is the demo in a new sandbox, which works pasted;
7   a weights record stamped more than OTHER_HOST_RUN_S ahead of this host's clock is no
    run going on (a smaller lead is clock skew of a record just written), and when the
    record is settled the line says how far ahead it was stamped;
8   a failed run's reason never points at the logs of a sandbox that is removed, and says
    "the demo's own" only of a sandbox this run made (_started_here)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from typing import Any

import pytest

from kmeshctl.demo_cluster import (OTHER_HOST_RUN_S, ORIGINAL_WEIGHTS, SWEEP, SWEEP_WAITING, ClusterTarget,
                                   WeightsRecord, running_elsewhere, weights_record)
from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 - fixtures
from test_cli_newuser import _record
from test_demo_cluster_loop_left_running import _markers
from test_demo_cluster_sweep_kills_only_its_loops import standin  # noqa: F401 - the fixture
from test_demo_cluster_sweep_waits_orphan_limit_f20d import GuardedLoop
from test_sandbox_fixes_g1 import _backticked, _demo_record

# ------------------------------------------------------------------ 4


def test_a_slow_exec_with_no_loop_left_says_no_wait(standin, monkeypatch) -> None:  # noqa: F811
    _, _, target = standin
    cluster = target()
    cluster.prepare(lambda _: None)
    assert _markers(cluster) == []
    opened = ClusterTarget._open_exec

    def slow(self: ClusterTarget, argv: list[str], stdin: bool = False) -> Any:
        time.sleep(1.5)  # a real cluster's exec (WebSocket upgrade, kubelet) is often this slow
        return opened(self, argv, stdin)

    monkeypatch.setattr(ClusterTarget, "_open_exec", slow)
    said: list[str] = []
    cluster._end_left_loops(said.append)
    assert not [line for line in said if line.startswith("waiting up to")], said


def test_the_note_comes_once_from_the_sweeps_line_while_a_loop_stands_still(standin) -> None:  # noqa: F811
    _, _, target = standin
    cluster = target()
    cluster.prepare(lambda _: None)
    cluster.loop_orphan_s = 4
    loop = GuardedLoop(cluster, 600)
    try:
        loop.pause(3600)
        said: list[str] = []
        cluster._end_left_loops(said.append)
        waits = [line for line in said if line.startswith("waiting up to 4s for the heartbeat")]
        assert len(waits) == 1 and said.index(waits[0]) == 0, said
        assert [line for line in said if line.startswith("ended 1 request loop")], said
    finally:
        loop.stop()


def test_the_sweep_script_prints_its_wait_line_and_stays_posix() -> None:
    assert f"echo {SWEEP_WAITING}\n" in SWEEP
    for shell in [s for s in ("dash", "busybox") if shutil.which(s)]:  # POSIX shells a pod may have
        argv = [shell, "-n", "-c", SWEEP] if shell == "dash" else [shell, "sh", "-n", "-c", SWEEP]
        assert subprocess.run(argv, capture_output=True).returncode == 0, shell


# ------------------------------------------------------------------ 5


def test_several_sandboxes_none_with_the_demos_objects_give_the_new_sandbox_fix(state_root, capsys,  # noqa: F811
                                                                               no_env) -> None:
    _record("p21a")
    _record("p21b")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local")
    assert code == 2 and "none can be used now" in err, err
    assert "p21a: no fortio Service with a netutils pod in any namespace" in err, err
    fix = _backticked(err)[-1]
    assert fix.startswith("kmeshctl sandbox up --name ") and " && kmeshctl demo traffic-shift --sandbox " in fix, fix
    assert "--sandbox p21a" not in fix and "--sandbox p21b" not in fix, fix
    assert "--target local" in fix, fix


def test_several_sandboxes_the_example_is_one_with_the_demos_objects(state_root, capsys, no_env) -> None:  # noqa: F811
    _record("p21a")
    _demo_record("p21z")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local")
    assert code == 2 and "none can be used now" not in err, err
    assert _backticked(err)[-1].startswith("kmeshctl demo traffic-shift --sandbox p21z"), err


def test_sandboxes_of_another_version_are_unfit_in_one_balanced_line(state_root, capsys, no_env) -> None:  # noqa: F811
    for name in ("p21v", "p21w"):
        (state_root / f"sandbox-{name}").mkdir(parents=True)
        (state_root / f"sandbox-{name}" / "state.json").write_text("{}")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local")
    assert code == 2 and "(p21v: made by another kmeshctl version; p21w: made by another kmeshctl version)" in err, err
    assert err.count("(") == err.count(")") and "kmeshctl sandbox up --name " in _backticked(err)[-1], err


# ------------------------------------------------------------------ 7

ROUTES = [{"route": [{"destination": {"host": "fortio", "subset": "v1"}, "weight": 100}]}]


def _read_back(at: float) -> WeightsRecord:
    written = WeightsRecord(ROUTES, ROUTES, "another-host-p21", 4242, at)
    read = weights_record({"metadata": {"annotations": {ORIGINAL_WEIGHTS: written.to_json()}}})
    assert read is not None
    return read


def test_a_record_stamped_far_ahead_of_this_hosts_clock_is_no_run_going_on() -> None:
    assert running_elsewhere(_read_back(time.time() + 30 * 86400)) == ""
    assert running_elsewhere(_read_back(time.time() + OTHER_HOST_RUN_S + 60)) == ""


def test_a_small_lead_is_a_record_just_written_and_says_so() -> None:
    who = running_elsewhere(_read_back(time.time() + 30))
    assert who.startswith("pid 4242 on host another-host-p21, stamped "), who
    assert who.endswith("s ahead of this host's clock"), who


class _Client:
    """The VirtualService a settle reads, and the patches it sends."""

    def __init__(self, vs: dict) -> None:
        self.vs, self.patches = vs, []

    def get(self, *_: Any) -> dict:
        return self.vs

    def merge_patch(self, *args: Any) -> None:
        self.patches.append(args)


def test_settling_a_record_stamped_far_ahead_says_how_far() -> None:
    record = WeightsRecord(ROUTES, [{"route": [{"destination": {"host": "fortio", "subset": "v1"}, "weight": 50}]}],
                           "another-host-p21", 4242, time.time() + 30 * 86400)
    vs = {"metadata": {"name": "fortio", "namespace": "default", "uid": "u1", "resourceVersion": "7"},
          "spec": {"http": record.set}}
    cluster = ClusterTarget.__new__(ClusterTarget)
    cluster.client, cluster._vs_name, cluster._vs_namespace = _Client(vs), "fortio", "default"
    said: list[str] = []
    cluster._settle_record(record, "restore", said.append)
    assert len(said) == 1 and "putting back" in said[0], said
    assert "stamped 720h ahead of this host's clock, more than 10m: not taken for a run going on" in said[0], said


def test_a_record_of_this_host_is_judged_by_its_pid_not_its_stamp() -> None:
    mine = WeightsRecord(ROUTES, ROUTES, socket.gethostname(), os.getpid(), time.time() + 30 * 86400)
    assert running_elsewhere(mine) == ""


# ------------------------------------------------------------------ 8


def _failed_sandbox(name: str) -> tuple[state_mod.SandboxState, str]:
    """A ready sandbox record whose fortio-v2 ended (its log written): (its state, the log)."""
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, created_at=1.0)
    state.save()
    state.logs_dir.mkdir(parents=True, exist_ok=True)
    log = state.logs_dir / "fortio-v2-0.log"
    log.write_text("boom\n")
    exit_file = state.dir / "fortio-v2-0.exit"
    exit_file.write_text("143\n")
    state.processes.append(state_mod.ProcessRecord("container", 999999, "fortio-v2-0", str(log), str(exit_file),
                                                   "pod fortio-v2-0: built-in echo server", "/nonexistent-cg", 1.0))
    state.save()
    return state, str(log)


def _target(name: str, started_here: bool) -> demo_target.LocalTarget:
    target = demo_target.LocalTarget.__new__(demo_target.LocalTarget)
    target.sandbox_name, target._started_here = name, started_here
    return target


@pytest.mark.parametrize("started_here,gone", [(True, "was the demo's own and is removed"),
                                               (False, "was removed during the demo")])
def test_the_reason_of_a_removed_sandbox_points_at_no_removed_log(state_root, started_here, gone) -> None:  # noqa: F811
    state, log = _failed_sandbox("p21own")
    target = _target("p21own", started_here)
    target._problems = sb.process_problems(state)  # what finish() keeps before the sandbox goes
    assert log in target._problems[0]
    shutil.rmtree(state.dir)  # its `sandbox down`
    reason = target.fail_reason(None)  # type: ignore[arg-type]
    assert reason.startswith("likeliest reason: pod fortio-v2-0: built-in echo server (pid 999999) was killed"), reason
    assert reason.endswith(f"; sandbox p21own {gone}"), reason
    assert log not in reason and "see " not in reason, reason


def test_the_reason_of_a_sandbox_still_there_keeps_its_pointers(state_root) -> None:  # noqa: F811
    state, log = _failed_sandbox("p21kept")
    target = _target("p21kept", False)
    target._problems = sb.process_problems(state)
    reason = target.fail_reason(None)  # type: ignore[arg-type]
    assert log in reason and reason.endswith("see `kmeshctl sandbox status --name p21kept`"), reason
