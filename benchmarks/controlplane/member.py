"""Part `member`: one endpoint change in a big Service. The test xDS server holds one
Service with N endpoints; once the agent has synced it, the server sends K single-workload
changes (cycling: a pod moves to a new address, a pod joins, a pod moves, a pod leaves;
each touches a pod no other change touches), one at a time: change i+1 is sent after the
agent ACKed change i and a short pause.

Per change:
- latency = the server queued the change -> every map write of it is visible in the
  pinned maps (observer.py in its own process, told as each change is sent);
- send -> ACK from the server's records.
Over the K changes:
- agent CPU per change = (agent CPU time from just before the first change to the last
  ACK, minus its idle CPU rate measured just before x that span) / K. CPU time is the
  process CPU clock of the agent (every thread, in ns).
The work of a change should not grow with N; the table puts N = 1,000 and 10,000 side by
side for each code version. Afterwards the maps are compared with the server's state.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from benchmarks.controlplane.agentproc import AgentProcess, Code
from benchmarks.controlplane.churn import Change, Observer, percentiles, observer_view, plan_changes, publish
from benchmarks.controlplane.mesh import mesh
from benchmarks.controlplane.scratch import Scratch
from benchmarks.controlplane.verify import expected_state, unpack_addresses, verify
from benchmarks.controlplane.xdstiming import TimedXdsServer, running_server
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE

READY_TIMEOUT_S = 900
ACK_TIMEOUT_S = 60
IDLE_S = 1.0  # how long the idle CPU rate is measured
PAUSE_S = 0.01  # between an ACK and the next change: each change starts from an idle agent


def member_changes(scratch: Scratch, code: Code, endpoints: int, count: int) -> dict[str, Any]:
    """K = ``count`` changes in one Service of ``endpoints`` endpoints, run by ``code``."""
    changes = plan_changes(1, endpoints, count)
    with scratch.slot(f"member{endpoints}-{code.label}") as slot, running_server() as server:
        server.set_resources(WORKLOAD_ADDRESS_TYPE, mesh(1, endpoints))
        with AgentProcess(scratch, code, server.address, slot) as agent:
            load_s = (agent.wait_ready(READY_TIMEOUT_S) - agent.started_at) / 1e9
            if not server.wait_acked(WORKLOAD_ADDRESS_TYPE, 120):
                raise RuntimeError(f"member {endpoints}: the agent did not ACK the Service; log: {agent.log}")
            observer = Observer(scratch, slot.bpf_fs, [observer_view(c) for c in changes], code)
            idle_ns_per_s = _idle_rate(agent)
            observer.start(time.monotonic_ns(), 0, timeout_s=count * (ACK_TIMEOUT_S + 1))
            cpu = _cpu_span(agent, lambda: one_at_a_time(server, observer, changes))
            observer.finish()
            observed = observer.result()
            final = expected_state(unpack_addresses(server.resources(WORKLOAD_ADDRESS_TYPE)))
            checked = verify(slot.bpf_fs, final, code.is_checkout)
            nacks = server.nack_count()
            sent = [server.sent[n] for n in cpu["nonces"]]
            ack_walls = [server.ack_wall_time(n) for n in cpu["nonces"]]
    return summarize(code, endpoints, changes, sent, observed, ack_walls, cpu, idle_ns_per_s) | {
        "load_start_to_ready_s": round(load_s, 3), "nacks": nacks,
        "maps_match_server": checked["maps_match_server"] if nacks == 0 and cpu["all_acked"] else False,
        "verification": checked["verification"], "problems": checked["problems"]}


def one_at_a_time(server: TimedXdsServer, observer: Observer, changes: list[Change]) -> tuple[list[str], bool]:
    """Send each change once the previous one was ACKed; the nonces, and whether every
    change was ACKed in time."""
    nonces, all_acked = [], True
    for change in changes:
        nonces.append(publish(server, change))
        observer.announce()
        all_acked &= server.wait_acked(WORKLOAD_ADDRESS_TYPE, ACK_TIMEOUT_S)
        time.sleep(PAUSE_S)
    return nonces, all_acked


def _idle_rate(agent: AgentProcess) -> float:
    """The agent's CPU use (ns per s) while nothing changes."""
    start_cpu, start = agent.cpu_ns(), time.monotonic_ns()
    time.sleep(IDLE_S)
    return (agent.cpu_ns() - start_cpu) / ((time.monotonic_ns() - start) / 1e9)


def _cpu_span(agent: AgentProcess, run) -> dict[str, Any]:
    start_cpu, start = agent.cpu_ns(), time.monotonic_ns()
    nonces, all_acked = run()
    end_cpu, end = agent.cpu_ns(), time.monotonic_ns()
    return {"nonces": nonces, "all_acked": all_acked, "cpu_ns": end_cpu - start_cpu, "span_s": (end - start) / 1e9}


def summarize(code: Code, endpoints: int, changes: list[Change], sent: list, observed: list[Optional[int]],
              ack_walls: list, cpu: dict[str, Any], idle_ns_per_s: float) -> dict[str, Any]:
    count = len(changes)
    latencies = [(o - s.monotonic_ns) / 1e6 for s, o in zip(sent, observed) if o is not None]
    acks = [(a - s.wall) * 1000 for s, a in zip(sent, ack_walls) if a is not None]
    idle_ns = idle_ns_per_s * cpu["span_s"]
    return {"code": code.label, "endpoints": endpoints, "changes": count,
            "change_kinds": {k: sum(c.kind == k for c in changes) for k in sorted({c.kind for c in changes})},
            "observed": len(latencies), "lost": count - len(latencies),
            "latency_ms": percentiles(latencies), "send_to_ack_ms": percentiles(acks),
            "span_s": round(cpu["span_s"], 3), "agent_cpu_ms": round(cpu["cpu_ns"] / 1e6, 3),
            "agent_idle_cpu_ms_per_s": round(idle_ns_per_s / 1e6, 3),
            "agent_cpu_ms_per_change": round(max(0.0, cpu["cpu_ns"] - idle_ns) / 1e6 / count, 3),
            "agent_cpu_ms_per_change_gross": round(cpu["cpu_ns"] / 1e6 / count, 3),
            "changes_detail": [{"kind": c.kind, "uid": c.uid,
                                "latency_ms": round((o - s.monotonic_ns) / 1e6, 3) if o else None}
                               for c, s, o in zip(changes, sent, observed)]}
