"""The cluster demo's request loop keeps its heartbeat while the demo does not read its
output (stderr blocked: `-v 2>&1 | less`; the guard would end the loop after
LOOP_ORPHAN_S), and a loop stopped by a signal in the pod (128+N: 137 killed, as by an OOM
or the pod deleted; 143 terminated) is one line naming the signal and a fitting fix, never
the exec's argv (the guard and loop scripts) nor a missing sh or curl."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from kmeshctl import demo
from kmeshctl.errors import KmeshctlError
from test_demo_cluster_loop_left_running import _alive, _loop_pid
from test_demo_cluster_sweep_kills_only_its_loops import standin  # noqa: F401 - the fixture

LONGEST_LINE = 400


def test_a_demo_that_stops_reading_for_longer_than_the_orphan_limit_keeps_its_loop(standin) -> None:  # noqa: F811
    _, _, target = standin
    cluster = target()
    cluster.prepare(lambda _: None)
    cluster.loop_orphan_s = 2  # LOOP_ORPHAN_S is 15 s: the same with a 15 s pause
    lines = cluster.run_loop(demo.loop_argv(cluster.service_url(), 1500))
    try:
        assert next(lines).split()[0] == "1"
        loop = _loop_pid(cluster)
        time.sleep(5)  # the demo blocked on its own output: it reads nothing meanwhile
        assert _alive(loop), "the loop's guard ended it while the demo did not read"
        for _ in range(5):
            next(lines)
        assert _alive(loop)
    finally:
        lines.close()


def _stopped_by(standin, number: int) -> KmeshctlError:  # noqa: F811
    _, _, target = standin
    cluster = target()
    cluster.prepare(lambda _: None)
    lines = cluster.run_loop(demo.loop_argv(cluster.service_url(), 1500))
    try:
        next(lines)
        os.kill(_loop_pid(cluster), number)  # in the pod: the container OOM-killed, the pod deleted
        with pytest.raises(KmeshctlError) as caught:
            for _ in lines:
                pass
        return caught.value
    finally:
        lines.close()


def _one_line_without_argv(text: str) -> None:
    assert "\n" not in text and len(text) < LONGEST_LINE, text
    assert "guard_marker" not in text and "END_OF_HEADERS" not in text and "sh and curl" not in text, text


def test_a_loop_killed_in_the_pod_is_one_line_naming_the_signal(standin) -> None:  # noqa: F811
    error = _stopped_by(standin, signal.SIGKILL)
    text = str(error)
    _one_line_without_argv(text)
    pod = re.match(r"the request loop in pod default/(netutils-\S+) was stopped \(signal 9, SIGKILL: killed by "
                   r"the container's memory limit \(OOMKilled\), or the pod deleted or restarted\); ", text)
    assert pod, text
    assert error.fix == f"see `kubectl describe pod -n default {pod.group(1)}`, then run the demo again"


def test_a_loop_its_guard_ended_says_the_heartbeat_stopped(standin) -> None:  # noqa: F811
    error = _stopped_by(standin, signal.SIGTERM)
    text = str(error)
    _one_line_without_argv(text)
    assert re.match(r"the request loop in pod default/netutils-\S+ was stopped \(signal 15, SIGTERM: ended by its "
                    r"guard once the demo's heartbeat stopped for 15s \(the demo suspended, Ctrl-Z", text), text
    assert error.fix.startswith("run the demo again without suspending it; if the pod was stopping, see `kubectl "
                                "describe pod -n default netutils-")


def test_a_short_command_that_fails_names_its_exit_code_not_its_argv(standin) -> None:  # noqa: F811
    _, _, target = standin
    cluster = target()
    cluster.prepare(lambda _: None)
    with pytest.raises(KmeshctlError) as caught:
        cluster._exec(["sh", "-c", "exit 3 # " + "x" * 2000])
    _one_line_without_argv(str(caught.value))
    assert str(caught.value).startswith(f"command sh in pod default/{cluster._client_pod} exited with code 3; see")
