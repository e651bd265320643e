"""Part (c): connect() cost with few vs many services in the maps, measured by
benchmarks/bpf_connect.py (real TCP between two network namespaces; the client times
the connect() system call; the kernel's BPF run-time statistics give the hook's own
cost). This module only runs it and derives the ratios."""

from __future__ import annotations

import math
from typing import Any

from benchmarks import bpf_connect

SCENARIO = "hook, Service VIP"
BASELINE = "baseline (no hook), pod IP"


def connect_cost(connects: int, rounds: int, small: int, large: int, endpoints: int) -> dict[str, Any]:
    results = bpf_connect.run(connects, rounds, counts=(small, large), per_service=endpoints)
    few, many = results[small], results[large]
    return {"services_small": small, "services_large": large, "endpoints_per_service": endpoints,
            "connects_per_scenario_per_round": connects, "rounds": rounds,
            "scenarios": {str(count): r for count, r in results.items()},
            "vip_median_us": {"small": few[SCENARIO]["median"], "large": many[SCENARIO]["median"]},
            "vip_p99_us": {"small": few[SCENARIO]["p99"], "large": many[SCENARIO]["p99"]},
            "no_hook_median_us": {"small": few[BASELINE]["median"], "large": many[BASELINE]["median"]},
            "prog_ns_per_run": {"small": few["_prog"]["ns_per_run"], "large": many["_prog"]["ns_per_run"]},
            "ratio_vip_median": _ratio(many[SCENARIO]["median"], few[SCENARIO]["median"]),
            "ratio_vip_p99": _ratio(many[SCENARIO]["p99"], few[SCENARIO]["p99"]),
            "ratio_prog_ns": _ratio(many["_prog"]["ns_per_run"], few["_prog"]["ns_per_run"])}


def _ratio(a: float, b: float) -> float | None:
    if not b or math.isnan(a) or math.isnan(b):
        return None
    return round(a / b, 3)
