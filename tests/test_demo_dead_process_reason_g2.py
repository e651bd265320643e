"""Fixer G2, finding 7 of tester 124: a local run whose requests failed because a
process of the sandbox died mid-run (a fortio server, the waypoint's Envoy) said no
reason (`FAIL: target local t124e, 120 failed requests, ...`, JSON "reason": null) and
printed every one of 232 identical `FAILED (HTTP 503)` lines. Now the FAIL line and
`reason` name the process that ended, in the pre-run check's words, and `kmeshctl
sandbox status --name NAME`; failure lines of one reason past 20 a phase are counted,
not shown (unless -v), on one line saying how many and why.

No root, no processes: the record is the sandbox, the netutils pod's loop a stand-in
whose answers fail (HTTP 503) from the 6th request on, as when fortio-v2-0 is killed."""

from __future__ import annotations

import json
import subprocess
from typing import Any, Optional

import pytest

from kmeshctl import demo
from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import state as state_mod
import local_demo_doubles
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_demo_fix_names_env_sandbox_g2 import _sandbox

DYING_LOOP = r"""
count=$1; i=0
while [ "$i" -lt "$count" ]; do
  i=$((i + 1)); if [ "$i" -le 5 ]; then echo "$i 0 200 1"; else echo "$i 0 503 -"; fi
done
"""
DEAD = "pod fortio-v2-0: built-in echo server (pid 4242) was killed by SIGTERM (exit status 143): see /x/v2.log"


class DyingClientPod:
    def popen(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        return subprocess.Popen(["sh", "-c", DYING_LOOP, "sh", argv[5]], **popen)


@pytest.fixture
def dying(monkeypatch) -> dict[str, bool]:
    """The stand-ins, with the loop above; fortio-v2-0 counts as dead once a loop ran."""
    local_demo_doubles.install(monkeypatch)
    seen = {"ran": False}

    def find_pod(state: state_mod.SandboxState, name: str, namespace: Optional[str] = None) -> DyingClientPod:
        seen["ran"] = True
        return DyingClientPod()

    monkeypatch.setattr(demo_target.sb, "find_pod", find_pod)
    monkeypatch.setattr(demo_target.sb, "process_problems", lambda state: [DEAD] if seen["ran"] else [])
    return seen


def test_the_fail_line_and_reason_name_the_process_that_ended(state_root, capsys, no_env, dying) -> None:
    _sandbox("g2da")
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "g2da", "-c", "30", "-q")
    assert code == 1, err
    line = out.strip().splitlines()[-1]
    assert line.startswith("FAIL: target local g2da, 25 failed requests"), line
    assert line.endswith(f"; likeliest reason: {DEAD}; see `kmeshctl sandbox status --name g2da`"), line
    dying["ran"] = False  # alive again for the next run's pre-run check
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "g2da", "-c", "30", "-o", "json")
    data = json.loads(out)
    assert code == 1 and data["reason"] == f"likeliest reason: {DEAD}; see `kmeshctl sandbox status --name g2da`"
    assert data["fix"] is None


def test_a_run_whose_processes_all_run_says_no_such_reason(state_root, capsys, no_env, dying, monkeypatch) -> None:
    _sandbox("g2db")
    monkeypatch.setattr(demo_target.sb, "process_problems", lambda state: [])
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "g2db", "-c", "30", "-o", "json")
    assert code == 1 and json.loads(out)["reason"] is None, err


def test_identical_failures_past_20_are_counted_on_one_line(state_root, capsys, no_env, dying) -> None:
    _sandbox("g2dc")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "g2dc", "-c", "300")
    assert code == 1
    failed = [line for line in err.splitlines() if "FAILED" in line]
    assert len(failed) == 20 and failed[-1].startswith("  [ 25/300] FAILED (HTTP 503)"), failed
    assert "  ... 275 more failed requests of this phase not shown, like those above: 275 x HTTP 503 " \
           "(-v shows each)" in err.splitlines(), err
    assert "failures are always shown" not in err
    dying["ran"] = False
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "g2dc", "-c", "300", "-v")
    assert code == 1 and sum("FAILED" in line for line in err.splitlines()) == 295 and "not shown" not in err


def test_the_printer_counts_each_reason_on_its_own() -> None:
    from kmeshctl.cli.demo import RequestPrinter

    _, subject = demo.fortio_demo()
    lines: list[str] = []
    printer = RequestPrinter(100, subject, verbose=False, quiet=False, echo=lines.append)
    printer.phase(1, [90, 10])
    for i in range(1, 101):
        printer.request(1, demo.RequestResult(i, 7 if i % 2 else 0, 0 if i % 2 else 503, "-"), None)
    assert sum("FAILED" in line for line in lines) == 40, lines  # 20 of each reason
    assert lines[-1] == ("  ... 60 more failed requests of this phase not shown, like those above: "
                         "30 x HTTP 503, 30 x curl exit 7 (connection refused) (-v shows each)"), lines[-1]
