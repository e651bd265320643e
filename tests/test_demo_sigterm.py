"""`kmeshctl demo traffic-shift` stopped by a signal (helper 55): SIGTERM exits 143 and
SIGINT (Ctrl-C) 130, as shells report them; either way the VirtualService's weights are
put back first, then one stderr line (and, with -o json, the report's `error`) says how
many requests each phase sent before the stop.

The real console script runs the cluster demo against the stand-in API server (no root,
no sandbox): the stand-in's Deployment controller makes the pods, and the netutils pod's
`pods/exec` runs a stand-in request loop on this host that prints the loop's result
lines without sending anything (the first loop at once, the later ones slowly, so the
signal comes in phase 2)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from demo_mesh_seed import seed_mesh
from standin import StandinApiServer, istio_crds, namespace, node

VS_API = "networking.istio.io/v1alpha3"
REQUESTS = 400
# `sh -c FAKE sh COUNT STOP DELAY`: the demo's loop contract (kmeshctl.demo.REQUEST_LOOP),
# one result line per request, every tenth answered by v2 (a 90/10 split).
FAKE_LOOP = r"""
count=$1; stop=$2; i=0
while :; do
  if [ "$count" -gt 0 ]; then [ "$i" -ge "$count" ] && break; else [ -e "$stop" ] && break; fi
  i=$((i + 1)); server=1; [ $((i % 10)) -eq 0 ] && server=2
  echo "$i 0 200 $server"
  if [ -n "$3" ]; then sleep "$3"; fi
done
if [ -n "$stop" ]; then rm -f "$stop"; fi
"""


class FakeLoopPod:
    """What runs the netutils pod: the demo's request loop becomes FAKE_LOOP (the first
    one at once, later ones a line per 20 ms); other commands (`touch STOP`) run as given."""

    def __init__(self) -> None:
        self.loops = 0
        self.lock = threading.Lock()

    def exec(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        if argv[:2] == ["sh", "-c"] and "url=$1" in argv[2]:
            with self.lock:
                self.loops += 1
                delay = "" if self.loops == 1 else "0.02"
            argv = ["sh", "-c", FAKE_LOOP, "sh", argv[5], argv[6], delay]
        return subprocess.Popen(argv, **popen)

    def connect(self, port: int) -> Any:
        raise OSError("no port-forward to the stand-in netutils pod")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[StandinApiServer, Path]]:
    api = StandinApiServer(crds=istio_crds())
    api.deployment_controller = "ready"
    api.controller_delay = 0.05
    api.put(namespace("default"))
    api.put(node("node-a"))
    seed_mesh(api)  # what the demo checks first: kmesh ready, the Service's waypoint programmed
    pod = FakeLoopPod()
    api.pod_backend_resolver = lambda p: pod if p["metadata"].get("labels", {}).get("app") == "netutils" else None
    api.start()
    try:
        yield api, api.write_kubeconfig(tmp_path / "kubeconfig")
    finally:
        api.stop()


def _weights(api: StandinApiServer) -> list[int]:
    vs = api.get(VS_API, "VirtualService", "fortio", "default")
    return [route["weight"] for route in vs["spec"]["http"][0]["route"]]


def _wait_for_phase_2(process: subprocess.Popen, err: Path, timeout: float) -> None:
    """Until phase 2 has sent a few requests (its lines are on stderr)."""
    deadline = time.monotonic() + timeout
    while not re.search(r"Phase 2: [^\n]*\n(.*\n)*\s+\[\s*5/" + str(REQUESTS) + r"\]", err.read_text()):
        assert process.poll() is None, err.read_text()
        assert time.monotonic() < deadline, err.read_text()
        time.sleep(0.1)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_demo_restores_the_weights_and_says_what_each_phase_sent(signum, code, cluster,
                                                                           tmp_path: Path) -> None:
    api, kubeconfig = cluster
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME",
                                                            "KUBERNETES_SERVICE_HOST")}
    err = tmp_path / "demo.err"
    with open(err, "w") as stderr:
        # env resets SIGINT (a background CI shell ignores it) without a preexec_fn, which is
        # unsafe in this threaded process
        process = subprocess.Popen(["env", "--default-signal=INT", sys.executable, "-m", "kmeshctl",
                                    "--kubeconfig", str(kubeconfig), "demo", "traffic-shift", "--target",
                                    "cluster", "-c", str(REQUESTS), "--weights", "90/10,0/100", "-o", "json"],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   env={**env, "HOME": str(tmp_path)})
    try:
        _wait_for_phase_2(process, err, 120)
        assert _weights(api) == [0, 100]
        process.send_signal(signum)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = err.read_text()
    assert process.returncode == code, text[-2000:]
    assert _weights(api) == [90, 10]  # put back before the line
    last = text.strip().splitlines()[-1]
    how = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C (SIGINT)"
    found = re.fullmatch(rf"Error: stopped by {re.escape(how)} \((\d+) requests sent: (\d+) of the {2 * REQUESTS} "
                         rf"planned and (\d+) while switching weights; phase 1: {REQUESTS} of {REQUESTS}, phase 2: "
                         rf"(\d+) of {REQUESTS} and (\d+) while switching to its weights\)", last)
    assert found, last
    every, sent, during, second, during_2 = (int(n) for n in found.groups())
    assert every == sent + during and during_2 == during, last  # the first number: every request (p30)
    assert 5 <= second < REQUESTS and sent == REQUESTS + second, last  # the plan's; `during` apart
    assert text.index("restoring the VirtualService's weights") < text.index(last)
    report = json.loads(out)
    assert report["error"] == last[len("Error: "):] and report["passed"] is False
    assert [p["requests"] for p in report["phases"]] == [REQUESTS, second]
    assert report["totals"]["requests"] == sent + during and report["totals"]["during_changes"] == during
