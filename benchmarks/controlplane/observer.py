#!/usr/bin/env python3
"""Watches the pinned maps for the churn part, in its own process so that polling never
competes with the xDS server for the benchmark's interpreter lock.

Protocol on stdin/stdout, one JSON document per line:
  in:  {"bpf_fs": DIR, "changes": [CHANGE, ...], "poll_s": 0.0002}
  out: "ready"                       (maps opened)
  in:  {"t0_ns": T, "interval_ns": I, "timeout_s": S}   (change i is sent at about T + i*I)
  out: {"observed_ns": [monotonic ns or null, ...]}

A CHANGE is observed when every map write it causes is visible:
  update  {"kind": "update", "bid": B, "old_ip": A, "new_ip": N}:
          km_backend[B].addr == N, km_frontend[N] == B, no km_frontend[A]
  add     {"kind": "add", "new_ip": N}: km_frontend[N] = X and km_backend[X].addr == N
  remove  {"kind": "remove", "bid": B, "ip": A}: no km_backend[B], no km_frontend[A]
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

from kmeshctl.maps import BackendKey, DataplaneMaps, FrontendKey


def upstream(maps: DataplaneMaps, ip: Any) -> Optional[int]:
    value = maps.frontend.lookup(FrontendKey(ip))
    return value.upstream_id if value is not None else None


def backend_addr(maps: DataplaneMaps, bid: int) -> Any:
    value = maps.backend.lookup(BackendKey(bid))
    return value.addr if value is not None else None


def visible(maps: DataplaneMaps, change: dict) -> bool:
    kind = change["kind"]
    if kind == "update":
        return (backend_addr(maps, change["bid"]) == change["new_ip"]
                and upstream(maps, change["new_ip"]) == change["bid"]
                and upstream(maps, change["old_ip"]) is None)
    if kind == "add":
        target = upstream(maps, change["new_ip"])
        return target is not None and backend_addr(maps, target) == change["new_ip"]
    if kind == "remove":
        return backend_addr(maps, change["bid"]) is None and upstream(maps, change["ip"]) is None
    raise ValueError(f"unknown change kind {kind!r}")


def parse(change: dict) -> dict:
    """Addresses as ipaddress objects, the way the maps decode them."""
    return {k: ipaddress.ip_address(v) if k.endswith("ip") else v for k, v in change.items()}


def watch(maps: DataplaneMaps, changes: list[dict], t0_ns: int, interval_ns: int,
          timeout_s: float, poll_s: float) -> list[Optional[int]]:
    observed: list[Optional[int]] = [None] * len(changes)
    pending = list(range(len(changes)))
    deadline = time.monotonic_ns() + int(timeout_s * 1e9)
    while pending and time.monotonic_ns() < deadline:
        due = (time.monotonic_ns() - t0_ns) // interval_ns + 1  # changes sent by now
        still = []
        for i in pending:
            if i < due and visible(maps, changes[i]):
                observed[i] = time.monotonic_ns()
            else:
                still.append(i)
        pending = still
        time.sleep(poll_s)
    return observed


def main() -> None:
    config = json.loads(sys.stdin.readline())
    changes = [parse(c) for c in config["changes"]]
    with DataplaneMaps(Path(config["bpf_fs"])) as maps:
        print("ready", flush=True)
        start = json.loads(sys.stdin.readline())
        observed = watch(maps, changes, start["t0_ns"], start["interval_ns"], start["timeout_s"],
                         config.get("poll_s", 0.0002))
    print(json.dumps({"observed_ns": observed}), flush=True)


if __name__ == "__main__":
    main()
