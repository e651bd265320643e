"""Pass 30 (F30-L), local commands (tester t30a findings 3, 5-10): 3 `sandbox up`'s Try line
offers the demo only when the demo would run; 5 `sandbox down` with several up gives a line
per sandbox; 6 the demo's stop line counts every request sent; 7 `--plot -` / /dev/stdout
say stdout is not supported; 8 `sandbox exec -n NS POD` of a pod in another namespace gives
the line for it; 9 `dump config --admin-port` offers leaving it out only when that works,
else a line per sandbox; 10 `sandbox exec` runs with the pod's name as hostname. Records in
a temporary state root (no root needed) except the one marked root."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401 (fixtures)
from test_cli_malformed_answers import serve  # noqa: F401 (fixture)
from test_p26_dump import _agent, _sandbox

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "fortio"
BACKTICKED = re.compile(r"`([^`]*)`")


def _pasted(capsys, line: str) -> tuple[int, str, str]:
    words = shlex.split(line)
    assert words[0] == "kmeshctl", line
    return cli(capsys, *words[1:])


# ------------------------------------------------------------------ 3. the Try line's demo runs


def _fortio_record(name: str, v2_replicas: int) -> state_mod.SandboxState:
    """A ready sandbox record with the demo's manifests, Deployment fortio-v2 at ``v2_replicas``."""
    text = "\n---\n".join(p.read_text() for p in sorted(EXAMPLES.glob("*.yaml")))
    head, v2, tail = text.partition("name: fortio-v2")
    tail = tail.replace("replicas: 1", f"replicas: {v2_replicas}", 1)
    pods = [state_mod.PodRecord(name="netutils-0", namespace="default", deployment="netutils", labels={},
                                ip="10.0.0.9", netns="t30l-default", cgroup="")]
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                                   created_at=time.time() - 300, pods=pods, vips={"default/fortio": "10.96.0.10"})
    state.save()
    state.manifests_file.write_text(head + v2 + tail)
    return state


def test_p30_the_try_line_offers_no_demo_the_demo_refuses(state_root, no_env) -> None:
    from kmeshctl.cli.sandbox import up_hint

    state = _fortio_record("t30l-h", 0)  # subset v2 has weight 10 and no pod: the demo refuses it
    assert up_hint("t30l-h", state) == "Sandbox t30l-h is up. Try: kmeshctl sandbox status; " \
                                       "kmeshctl dump maps --sandbox t30l-h"


def test_p30_the_try_line_still_offers_the_demo_that_runs(state_root, no_env) -> None:
    from kmeshctl.cli.sandbox import up_hint

    state = _fortio_record("t30l-h", 1)
    assert up_hint("t30l-h", state).endswith("; kmeshctl demo traffic-shift"), up_hint("t30l-h", state)


# ------------------------------------------------------------------ 5. `sandbox down`: a line per sandbox


def test_p30_sandbox_down_with_several_gives_a_line_for_each(state_root, capsys, no_env) -> None:
    _record("t30l-a")
    _record("t30l-b")
    code, out, err = cli(capsys, "sandbox", "down", "-q")
    assert code == 2 and not out, err
    lines = BACKTICKED.findall(err)
    assert lines == ["kmeshctl sandbox down --name t30l-a -q", "kmeshctl sandbox down --name t30l-b -q"], err
    assert sorted(p.name for p in state_root.iterdir()) == ["sandbox-t30l-a", "sandbox-t30l-b"]  # none removed


def test_p30_the_docs_show_down_s_lines() -> None:
    text = " ".join((Path(__file__).resolve().parent.parent / "docs" / "sandbox.md").read_text().split())
    assert "pass --name NAME with the one to remove, `kmeshctl sandbox down --name b` or" in text


# ------------------------------------------------------------------ 6. the stop line counts every request


def _stopped_report():
    from kmeshctl import demo
    from kmeshctl.demo import DemoReport, PhaseReport, RequestResult, TrafficCount

    def count(n: int) -> TrafficCount:
        traffic = TrafficCount()
        for i in range(n):
            traffic.add(RequestResult(i + 1, 0, 200, "1"))
        return traffic

    phase = PhaseReport({"v1": 80, "v2": 20}, {"1": 80, "2": 20}, count(175), None, "binomial", change=count(80))
    report = DemoReport("local", 300, [phase], planned=600)
    return demo, report


def test_p30_the_stop_line_counts_the_requests_sent_while_switching(no_env) -> None:
    from kmeshctl.stopping import Stopped

    demo, report = _stopped_report()
    line = demo.stop_text(Stopped(signal.SIGTERM), report)
    assert line == ("stopped by SIGTERM (255 requests sent: 175 of the 600 planned and 80 while switching weights; "
                    "phase 1: 175 of 300 and 80 while switching to its weights)"), line
    assert report.to_json()["totals"]["requests"] == 255  # the line's first number


def test_p30_a_stop_with_only_switching_requests_says_them(no_env) -> None:
    from kmeshctl.stopping import Stopped

    demo, report = _stopped_report()
    report.phases[0].traffic = demo.TrafficCount()
    line = demo.stop_text(Stopped(signal.SIGTERM), report)
    assert line.startswith("stopped by SIGTERM (80 requests sent: 0 of the 600 planned and 80 while "), line


# ------------------------------------------------------------------ 7. --plot to stdout


@pytest.mark.parametrize("value", ["-", "/dev/stdout", "/dev/null"])
def test_p30_plot_to_a_stream_says_so_with_a_file_name(value, state_root, capsys, no_env) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "--plot", value)
    assert code == 2 and not out, err
    assert f"--plot {value}: " in err and "is not supported" in err, err
    assert "e.g. --plot traffic-shift.png" in err and ".png.png" not in err and f"{value}.png" not in err, err


# ------------------------------------------------------------------ 8. exec -n of the wrong namespace


def _two_namespaces(name: str) -> None:
    pods = [state_mod.PodRecord(name="netutils-0", namespace="team-a", deployment="netutils", labels={},
                                ip="10.0.0.9", netns="t30l-a", cgroup=""),
            state_mod.PodRecord(name="waypoint", namespace="team-a", deployment="waypoint", labels={},
                                ip="10.0.0.2", netns="t30l-w", cgroup="", waypoint=True)]
    _record(name, pods=pods, created_at=time.time() - 60)


@pytest.mark.parametrize("pod", ["netutils", "netutils-0", "pod/netutils-0", "deploy/netutils"])
def test_p30_exec_in_the_wrong_namespace_gives_the_line_for_the_right_one(pod, state_root, capsys,
                                                                         no_env) -> None:
    _two_namespaces("t30l-s")
    code, _, err = cli(capsys, "sandbox", "exec", "--name", "t30l-s", "-n", "default", "-q", pod, "--", "true")
    assert code == 1 and "in namespace default of sandbox t30l-s" in err, err
    assert err.rstrip().endswith(f"; it is in namespace team-a: `kmeshctl sandbox exec -n team-a {pod} --name "
                                 "t30l-s -q -- true`"), err


def test_p30_exec_of_a_pod_in_no_namespace_gives_no_line(state_root, capsys, no_env) -> None:
    _two_namespaces("t30l-s")
    code, _, err = cli(capsys, "sandbox", "exec", "--name", "t30l-s", "-n", "default", "nope", "--", "true")
    assert code == 1 and "no pod nope in namespace default" in err and "`" not in err, err


def test_p30_exec_without_name_names_the_one_sandbox_and_namespace(state_root, capsys, no_env) -> None:
    _two_namespaces("t30l-s")
    _record("t30l-t")
    code, _, err = cli(capsys, "sandbox", "exec", "-n", "default", "netutils", "--", "true")
    assert code == 1 and err.rstrip().endswith("; sandbox t30l-s has it in namespace team-a: `kmeshctl sandbox exec "
                                               "-n team-a netutils --name t30l-s -- true`"), err


# ------------------------------------------------------------------ 9. dump config --admin-port


def test_p30_a_dead_admin_port_with_several_up_gives_a_line_each(serve, state_root, capsys,  # noqa: F811
                                                                 no_env) -> None:
    _sandbox("t30l-a", _agent(serve))
    _sandbox("t30l-b", _agent(serve))
    code, _, err = cli(capsys, "dump", "config", "--admin-port", "1")
    assert code == 1 and "nothing answers at 127.0.0.1:1" in err, err
    assert "leave out" not in err and "NAME" not in err, err  # leaving it out: `several sandboxes exist`
    fixes = [f for f in BACKTICKED.findall(err) if f.startswith("kmeshctl dump config")]
    assert fixes == ["kmeshctl dump config --sandbox t30l-a", "kmeshctl dump config --sandbox t30l-b"], err
    code, out, err = _pasted(capsys, fixes[1])
    assert code == 0 and out.strip(), err


def test_p30_a_dead_admin_port_with_one_up_still_offers_leaving_it_out(serve, state_root, capsys,  # noqa: F811
                                                                      no_env) -> None:
    _sandbox("t30l-a", _agent(serve))
    code, _, err = cli(capsys, "dump", "config", "--admin-port", "1")
    assert code == 1 and "or leave out --admin-port to find the agent automatically" in err, err
    code, out, _ = cli(capsys, "dump", "config")  # as said: it works
    assert code == 0 and out.strip()


# ------------------------------------------------------------------ 10. hostname in a pod


@pytest.mark.root
def test_p30_exec_runs_with_the_pod_name_as_hostname() -> None:
    root = Path(__file__).resolve().parent.parent
    kmeshctl = [sys.executable, "-m", "kmeshctl"]
    name = "t30l-u"
    try:
        made = subprocess.run([*kmeshctl, "sandbox", "up", "--name", name, "-q"], capture_output=True, text=True,
                              timeout=300, cwd=root)
        assert made.returncode == 0, made.stderr
        ran = subprocess.run([*kmeshctl, "sandbox", "exec", "--name", name, "netutils", "--", "hostname"],
                             capture_output=True, text=True, timeout=60, cwd=root)
        assert ran.returncode == 0 and ran.stdout.strip() == "netutils-0", ran
        assert subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip() != "netutils-0"
    finally:
        subprocess.run([*kmeshctl, "sandbox", "down", "--name", name, "-q", "--ignore-not-found"],
                       capture_output=True, timeout=300, cwd=root)
