"""Pass 32 (issue 14), tester t32a finding 1: a burst of SIGHUPs (one per weight change the
demo makes) deadlocked the sandbox control plane, whose handler set a threading.Event
while the main thread was inside that Event's wait(); `sandbox status` still said ready and
no weight change reached the waypoint again. Handlers now only write to a pipe
(kmeshctl.signalpipe). Real processes and real signals; no root needed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kmeshctl.signalpipe import SignalPipe

ROOT = Path(__file__).resolve().parent.parent

# The control plane's own loop (controlplane.serve_until_stopped) with a reload that takes
# a while, as a real one does: prints each reload, exits on SIGTERM.
# Busy threads stand for the gRPC servers' (the old Event loop wedged 2 times in 3 so).
LOOP = textwrap.dedent("""
    import logging, signal, sys, threading, time
    from kmeshctl.sandbox.controlplane import serve_until_stopped
    from kmeshctl.signalpipe import SignalPipe

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)

    def busy():
        n = 0
        while True:
            n += 1
            if n % 1000 == 0:
                time.sleep(0)

    class Reloading:
        reloads = 0
        def reload(self):
            logging.info("reloading")
            time.sleep(0.01)
            self.reloads += 1
            print("reload", self.reloads, flush=True)

    for _ in range(4):
        threading.Thread(target=busy, daemon=True).start()
    plane = Reloading()
    signals = SignalPipe((signal.SIGHUP, signal.SIGTERM))
    print("ready", flush=True)
    serve_until_stopped(plane, signals)
    print("stopped after", plane.reloads, flush=True)
""")


def _loop() -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", LOOP], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def _reloads_seen(process: subprocess.Popen, at_least: int, limit_s: float) -> int:
    """Lines `reload N` read until N >= at_least (the loop answers) or the limit."""
    assert process.stdout is not None
    deadline = time.monotonic() + limit_s
    seen = 0
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline and seen < at_least:
        line = process.stdout.readline()
        if line.startswith("reload"):
            seen = int(line.split()[1])
        elif not line:
            time.sleep(0.01)
    return seen


def test_a_burst_of_reload_signals_never_wedges_the_loop() -> None:
    process = _loop()
    try:
        for _ in range(20):  # bursts, as t32a sent them (kill -HUP in a loop), then one more change
            for _ in range(2000):
                os.kill(process.pid, signal.SIGHUP)
            time.sleep(0.02)
        before = _reloads_seen(process, 1, 10)
        os.kill(process.pid, signal.SIGHUP)  # the next weight change still gets its reload
        assert _reloads_seen(process, before + 1, 10) >= before + 1
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_signals_coalesce_and_come_back_once_each_in_order() -> None:
    pipe = SignalPipe((signal.SIGUSR1, signal.SIGUSR2))
    try:
        assert pipe.wait(0) == []
        for signum in (signal.SIGUSR2, signal.SIGUSR1, signal.SIGUSR2, signal.SIGUSR2):
            os.kill(os.getpid(), signum)
        assert pipe.wait(1) == [signal.SIGUSR2, signal.SIGUSR1]
        assert pipe.wait(0) == []
    finally:
        pipe.close()
    assert signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, signal.default_int_handler)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_the_node_agent_stops_on_its_signal_with_its_exit_code(signum: int, code: int, monkeypatch) -> None:
    """Agent.run_until_signalled on the same pipe: the first signal decides the exit status."""
    from kmeshctl.node import agent as agent_mod

    calls: list[str] = []
    fake = agent_mod.Agent.__new__(agent_mod.Agent)
    monkeypatch.setattr(agent_mod.Agent, "start", lambda self: os.kill(os.getpid(), signum))
    monkeypatch.setattr(agent_mod.Agent, "shutdown_decision",
                        lambda self: type("Decision", (), {"kind": "restart", "reason": "test"})())
    monkeypatch.setattr(agent_mod.Agent, "stop", lambda self, uninstall=False: calls.append(f"stop {uninstall}"))
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert fake.run_until_signalled() == code
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert calls == ["stop False"]
