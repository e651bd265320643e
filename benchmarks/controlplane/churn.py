"""Part (b): endpoint churn. With N services x E endpoints in the maps, the test xDS
server publishes C endpoint changes at a fixed rate (open loop: change i is sent at
t0 + i/rate whatever happened to the earlier ones). Changes cycle through: a pod moves to
a new address, a pod joins a service, a pod moves, a pod leaves; each touches a pod no
other change touches.

Latency = the server queued the change's response -> every map write of the change is
visible in the pinned maps, seen by a separate observer process polling them
(observer.py). No update lost = every change observed, and at the end the maps equal the
server's final state (verify.py) with no NACK.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from benchmarks.controlplane.agentproc import AgentProcess, Code
from benchmarks.controlplane.mesh import mesh, pod, pod_ip, pod_uid, spare_ips
from benchmarks.controlplane.scratch import Scratch
from benchmarks.controlplane.verify import expected_state, unpack_addresses, verify
from benchmarks.controlplane.xdstiming import TimedXdsServer, running_server
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.protos import workload_pb2

OBSERVER = Path(__file__).with_name("observer.py")
KINDS = ("update", "add", "update", "remove")
READY_TIMEOUT_S = 900
START_DELAY_S = 0.3  # observer settles before the first change


@dataclass(frozen=True)
class Change:
    kind: str
    service: int
    uid: str
    old_ip: Optional[str]
    new_ip: Optional[str]


def plan_changes(services: int, endpoints: int, count: int) -> list[Change]:
    """``count`` changes, round-robin over services; moved and removed pods are distinct."""
    next_endpoint = [0] * services
    fresh = spare_ips()
    changes = []
    for i in range(count):
        kind, s = KINDS[i % len(KINDS)], i % services
        if kind == "add":
            changes.append(Change(kind, s, f"Kubernetes//Pod/bench/svc-{s}-new-{i}", None, next(fresh)))
            continue
        e = next_endpoint[s]
        if e >= endpoints:
            raise SystemExit(f"{count} changes touch more pods than {services} x {endpoints} has: "
                             "use fewer --churn-changes or a bigger --churn-services")
        next_endpoint[s] += 1
        old = pod_ip(s, e, endpoints)
        changes.append(Change(kind, s, pod_uid(s, e), old, next(fresh) if kind == "update" else None))
    return changes


def observer_view(change: Change) -> dict[str, Any]:
    """What the observer checks for ``change`` (it looks existing pods up in km_idreg)."""
    if change.kind == "add":
        return {"kind": "add", "new_ip": change.new_ip}
    if change.kind == "update":
        return {"kind": "update", "uid": change.uid, "old_ip": change.old_ip, "new_ip": change.new_ip}
    return {"kind": "remove", "uid": change.uid, "ip": change.old_ip}


def publish(server: TimedXdsServer, change: Change) -> str:
    """Send one change; the nonce of the response that carries it."""
    if change.kind == "remove":
        server.remove_resources(WORKLOAD_ADDRESS_TYPE, [change.uid])
    else:
        server.set_resources(WORKLOAD_ADDRESS_TYPE, {change.uid: _address(change)})
    return server.last_nonce(WORKLOAD_ADDRESS_TYPE)


def _address(change: Change) -> workload_pb2.Address:
    return workload_pb2.Address(workload=pod(change.uid, change.new_ip, change.service))


class Observer:
    """observer.py in its own process, reading the maps with ``code``'s kmeshctl."""

    def __init__(self, scratch: Scratch, bpf_fs: Path, views: list[dict], code: Code) -> None:
        self.scratch = scratch
        self.proc = scratch.popen([sys.executable, str(OBSERVER)], cwd=code.root, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(code.root)))
        self._send({"bpf_fs": str(bpf_fs), "changes": views})
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the map observer did not start")

    def _send(self, doc: dict) -> None:
        self.proc.stdin.write(json.dumps(doc) + "\n")
        self.proc.stdin.flush()

    def start(self, t0_ns: int, interval_ns: int, timeout_s: float) -> None:
        """Watch change i from t0 + i * interval; interval 0: from its ``announce``."""
        self._send({"t0_ns": t0_ns, "interval_ns": interval_ns, "timeout_s": timeout_s})

    def announce(self) -> None:
        """The next change was sent (only with interval 0)."""
        self._line("sent")

    def finish(self) -> None:
        """Every change was sent and ACKed (only with interval 0): the observer gives up on
        what it has not seen within a few seconds."""
        self._line("done")

    def _line(self, text: str) -> None:
        try:
            self.proc.stdin.write(text + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it already finished (all seen, or timed out): result() has its answer

    def result(self) -> list[Optional[int]]:
        line = self.proc.stdout.readline()
        self.scratch.stop(self.proc, timeout=5)
        if not line:
            raise RuntimeError("the map observer exited without a result")
        return json.loads(line)["observed_ns"]


def churn(scratch: Scratch, code: Code, services: int, endpoints: int, count: int, rate: float) -> dict[str, Any]:
    changes = plan_changes(services, endpoints, count)
    interval_ns = int(1e9 / rate)
    with scratch.slot(f"churn{services}-{code.label}") as slot, running_server() as server:
        server.set_resources(WORKLOAD_ADDRESS_TYPE, mesh(services, endpoints))
        with AgentProcess(scratch, code, server.address, slot) as agent:
            agent.wait_ready(READY_TIMEOUT_S)
            server.wait_acked(WORKLOAD_ADDRESS_TYPE, 120)
            observer = Observer(scratch, slot.bpf_fs, [observer_view(c) for c in changes], code)
            t0_ns = time.monotonic_ns() + int(START_DELAY_S * 1e9)
            observer.start(t0_ns, interval_ns, timeout_s=count / rate + 30)
            nonces = pace(server, changes, t0_ns, interval_ns)
            observed = observer.result()
            acked = server.wait_acked(WORKLOAD_ADDRESS_TYPE, 30)
            final = expected_state(unpack_addresses(server.resources(WORKLOAD_ADDRESS_TYPE)))
            checked = verify(slot.bpf_fs, final, code.is_checkout)
            nacks = server.nack_count()
            sent = [server.sent[n] for n in nonces]
            ack_walls = [server.ack_wall_time(n) for n in nonces]
    return summarize(changes, sent, observed, ack_walls, t0_ns, interval_ns, rate, services, endpoints) | {
        "final_state_matches_server": _final_ok(acked, nacks, checked["maps_match_server"]), "nacks": nacks,
        "verification": checked["verification"], "problems": checked["problems"]}


def _final_ok(acked: bool, nacks: int, maps_match: Optional[bool]) -> Optional[bool]:
    """ACKed, no NACK and maps = server; None when the maps could not be checked."""
    if not acked or nacks:
        return False
    return maps_match


def pace(server: TimedXdsServer, changes: list[Change], t0_ns: int, interval_ns: int) -> list[str]:
    nonces = []
    for i, change in enumerate(changes):
        delay = (t0_ns + i * interval_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)
        nonces.append(publish(server, change))
    return nonces


def summarize(changes: list[Change], sent: list, observed: list[Optional[int]], ack_walls: list,
              t0_ns: int, interval_ns: int, rate: float, services: int, endpoints: int) -> dict[str, Any]:
    latencies = [(o - s.monotonic_ns) / 1e6 for s, o in zip(sent, observed) if o is not None]
    acks = [(a - s.wall) * 1000 for s, a in zip(sent, ack_walls) if a is not None]
    lags = [(s.monotonic_ns - (t0_ns + i * interval_ns)) / 1e6 for i, s in enumerate(sent)]
    span_s = (sent[-1].monotonic_ns - sent[0].monotonic_ns) / 1e9 if len(sent) > 1 else 0.0
    by_kind = {kind: percentiles([(o - s.monotonic_ns) / 1e6 for c, s, o in zip(changes, sent, observed)
                                   if c.kind == kind and o is not None]) for kind in sorted(set(KINDS))}
    return {"services": services, "endpoints_per_service": endpoints, "changes": len(changes),
            "rate_per_s": rate, "achieved_rate_per_s": round((len(sent) - 1) / span_s, 1) if span_s else None,
            "max_send_lag_ms": round(max(lags), 2) if lags else None,
            "observed": len(latencies), "lost": len(changes) - len(latencies),
            "latency_ms": percentiles(latencies), "latency_ms_by_kind": by_kind,
            "send_to_ack_ms": percentiles(acks),
            "change_kinds": {k: sum(c.kind == k for c in changes) for k in sorted(set(KINDS))},
            "changes_detail": [asdict(c) | {"latency_ms": round((o - s.monotonic_ns) / 1e6, 3) if o else None}
                               for c, s, o in zip(changes, sent, observed)]}


def percentiles(values: list[float]) -> dict[str, Optional[float]]:
    if not values:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return {"p50": round(statistics.median(ordered), 3), "p99": round(p99, 3), "max": round(ordered[-1], 3),
            "n": len(ordered)}
