"""Helper f19g, kind "a stopped demo's document, promised whenever the stop comes":
`demo traffic-shift -o json` stopped in its first second printed nothing on stdout, while
docs/usage.md said the report comes "whenever the stop comes: during the start ...".

Two moments before the demo's own handler:
- kmeshctl still loading its modules and reading its command line (the first second or
  so): it does not know yet which command it runs, so there is no document to print, only
  `Error: stopped by SIGTERM` (exit 143); docs/usage.md now says exactly that;
- the demo's own first import (kmeshctl.demo_cluster, tens of ms) came before its handler:
  a stop there printed no document. It is inside the handler now.

Real parts: the real console script in a child process signalled while it loads (its
handler seen in /proc/PID/status first), real kill(2); kmeshctl.cli.main in-process with
a real import stopped by a Stopped, for the moment a child cannot time. No root, no cluster."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

from kmeshctl import demo, stopping
from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_signal_stop_any_moment import _env, _run_stopped

USAGE = Path(__file__).resolve().parents[1] / "docs" / "usage.md"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_stop_while_kmeshctl_loads_is_the_stop_line_only(signum: int, tmp_path: Path) -> None:
    args = ["demo", "traffic-shift", "--target", "local", "-o", "json"]
    code, out, err = _run_stopped(args, signum, 0.05, _env(tmp_path))  # 50 ms: its modules still load
    assert code == 128 + signum and out == "", (code, out, err)
    assert err.strip().splitlines() == [f"Error: stopped by {stopping.Stopped(signum).how}"], err


def test_usage_says_a_stop_while_loading_prints_no_document() -> None:
    text = " ".join(USAGE.read_text().split())
    assert "while kmeshctl still loads and reads its command line (the first second or so), before the demo " \
           "has begun, prints only the stop line" in text


class _StoppedImport:
    """A finder that stops (SIGTERM) the first import of ``name``, as a signal would."""

    def __init__(self, name: str) -> None:
        self.name, self.fired = name, False

    def find_spec(self, fullname: str, _path: Any = None, _target: Any = None) -> Optional[Any]:
        if fullname == self.name and not self.fired:
            self.fired = True
            raise stopping.Stopped(signal.SIGTERM)
        return None


def test_a_stop_in_the_demo_s_first_import_prints_the_document(capsys, monkeypatch, no_env) -> None:  # noqa: F811
    monkeypatch.delitem(sys.modules, "kmeshctl.demo_cluster", raising=False)
    finder = _StoppedImport("kmeshctl.demo_cluster")
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    code, out, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "-o", "json")
    assert finder.fired and code == 143, (code, err)
    assert err.strip().splitlines() == ["Error: stopped by SIGTERM before any request was sent"], err
    data = json.loads(out)
    assert data["schema"] == demo.SCHEMA and data["passed"] is False and data["phases"] == [], data
    assert data["error"] == "stopped by SIGTERM before any request was sent" and data["target"] == "local", data
