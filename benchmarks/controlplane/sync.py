"""Part (a): xDS -> maps. The test xDS server holds N services x E endpoints before the
agent starts; the agent compiles and loads the data path, connects, receives everything
in its first push and writes the maps.

Times (monotonic clock of the benchmark process):
- start -> ready: agent process started -> first 200 from its /debug/ready (polled every 50 ms);
- push -> ready: the server queued the first Address response -> ready;
- stream -> ACK: the agent's stream opened -> the server got the ACK of that response
  (the agent ACKs once the maps are written);
- push -> ACK: the server queued that response -> it got its ACK (both the server's own
  records, so not rounded to the 50 ms of the ready polls).
Map entries: frontend + service + endpoint + backend entries of the mesh (the id registry
gets one more per service and workload); entries/s = map entries / (push -> ready).
After each run the maps are compared with the server's state (not timed; maps of an older
commit's layout are "not checked", see verify.py).
"""

from __future__ import annotations

from typing import Any

from benchmarks.controlplane.agentproc import AgentProcess, Code
from benchmarks.controlplane.mesh import mesh
from benchmarks.controlplane.scratch import Scratch
from benchmarks.controlplane.verify import expected_state, verify
from benchmarks.controlplane.xdstiming import running_server
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE

READY_TIMEOUT_S = 900


def first_sync(scratch: Scratch, code: Code, services: int, endpoints: int, run: int) -> dict[str, Any]:
    resources = mesh(services, endpoints)
    expected = expected_state(resources)
    label = f"sync{services}-{code.label}-{run}"
    with scratch.slot(label) as slot, running_server() as server:
        server.set_resources(WORKLOAD_ADDRESS_TYPE, resources)
        del resources
        with AgentProcess(scratch, code, server.address, slot) as agent:
            ready_ns = agent.wait_ready(READY_TIMEOUT_S)
            if not server.wait_acked(WORKLOAD_ADDRESS_TYPE, 120):
                raise RuntimeError(f"{label}: the agent did not ACK its first push; log: {agent.log}")
            memory = agent.memory_mib()
            apply_s = agent.last_apply_seconds(WORKLOAD_ADDRESS_TYPE)
            push = server.first_push(WORKLOAD_ADDRESS_TYPE)
            (stream,) = server.streams()
            ack_wall = server.ack_wall_time(push.nonce)
            checked = verify(slot.bpf_fs, expected, code.is_checkout)
        memory["tree_max_mib"] = round((agent.tree_max_kib or 0) / 1024, 1)
    entries = sum(expected.entry_counts().values())
    push_to_ready = (ready_ns - push.monotonic_ns) / 1e9
    return {"code": code.label, "services": services, "endpoints_per_service": endpoints, "run": run,
            "map_entries": entries, "id_registry_entries": len(expected.services) + len(expected.workloads),
            "start_to_ready_s": round((ready_ns - agent.started_at) / 1e9, 3),
            "push_to_ready_s": round(push_to_ready, 3),
            "stream_to_ack_s": round(ack_wall - stream.opened_at, 3) if ack_wall else None,
            "push_to_ack_s": round(ack_wall - push.wall, 3) if ack_wall else None,
            "entries_per_s": round(entries / push_to_ready) if push_to_ready > 0 else None,
            "agent_apply_s": apply_s,
            **memory, **checked}
