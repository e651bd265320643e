#!/usr/bin/env python3
"""Watches the pinned maps for the churn part, in its own process so that polling never
competes with the xDS server for the benchmark's interpreter lock.

Protocol on stdin/stdout, one JSON document per line:
  in:  {"bpf_fs": DIR, "changes": [CHANGE, ...], "poll_s": 0.0002}
  out: "ready"                       (maps opened)
  in:  {"t0_ns": T, "interval_ns": I, "timeout_s": S}   (change i is sent at about T + i*I)
  in:  "sent"                        (only when I is 0: one line per change, as it is sent)
  in:  "done"                        (only when I is 0: all sent; wait DONE_GRACE_S at most)
  out: {"observed_ns": [monotonic ns or null, ...]}

A CHANGE is observed when every map write it causes is visible:
  update  {"kind": "update", "bid": B, "old_ip": A, "new_ip": N}:
          km_backend[B].addr == N, km_frontend[N] == B, no km_frontend[A]
  add     {"kind": "add", "new_ip": N}: km_frontend[N] = X and km_backend[X].addr == N
  remove  {"kind": "remove", "bid": B, "ip": A}: no km_backend[B], no km_frontend[A]
Instead of "bid" a change may name the workload ("uid": U); its backend uid is then read
from the id registry (km_idreg) once the maps are open.

It reads the maps with whichever kmeshctl is first on its path: the benchmark starts it
with the code under test (PYTHONPATH), so an older commit's map layout is read with that
commit's own kmeshctl.maps.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from pathlib import Path
from typing import Any, Optional

try:
    from kmeshctl.node.ids import IdRegistry
except ImportError:  # a commit from before the node agent's package (the baseline of a comparison)
    from kmeshctl.ids import IdRegistry  # type: ignore[no-redef]
from kmeshctl.maps import BackendKey, DataplaneMaps, FrontendKey, IdKind

DONE_GRACE_S = 5.0


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


def resolve(maps: DataplaneMaps, changes: list[dict]) -> list[dict]:
    """Changes that name a workload ("uid") get its backend uid ("bid")."""
    if not any("uid" in c and "bid" not in c for c in changes):
        return changes
    ids = IdRegistry(maps)
    out = []
    for change in changes:
        if "uid" in change and "bid" not in change:
            bid = ids.lookup(IdKind.BACKEND, change["uid"])
            if bid is None:
                raise SystemExit(f"observer: workload {change['uid']} has no id in km_idreg")
            change = {k: v for k, v in change.items() if k != "uid"} | {"bid": bid}
        out.append(change)
    return out


class Stdin:
    """Lines from fd 0 without Python's read-ahead buffering, so that the "sent" lines
    can be counted without blocking while polling."""

    def __init__(self) -> None:
        self.buffer = b""

    def line(self) -> str:
        while b"\n" not in self.buffer:
            chunk = os.read(0, 65536)
            if not chunk:
                raise SystemExit("observer: stdin closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def new_lines(self) -> list[str]:
        """Complete lines arrived since the last call (never blocks)."""
        os.set_blocking(0, False)
        try:
            self.buffer += os.read(0, 65536)
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(0, True)
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line.decode() for line in lines]


def watch(maps: DataplaneMaps, changes: list[dict], t0_ns: int, interval_ns: int,
          timeout_s: float, poll_s: float, stdin: Stdin) -> list[Optional[int]]:
    observed: list[Optional[int]] = [None] * len(changes)
    pending = list(range(len(changes)))
    deadline = time.monotonic_ns() + int(timeout_s * 1e9)
    announced = 0
    while pending and time.monotonic_ns() < deadline:
        if interval_ns:
            due = (time.monotonic_ns() - t0_ns) // interval_ns + 1  # changes sent by now
        else:
            for line in stdin.new_lines():
                if line == "sent":
                    announced += 1
                elif line == "done":  # everything was sent and ACKed: a short grace, then give up
                    deadline = min(deadline, time.monotonic_ns() + int(DONE_GRACE_S * 1e9))
            due = announced
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
    stdin = Stdin()
    config = json.loads(stdin.line())
    changes = [parse(c) for c in config["changes"]]
    with DataplaneMaps(Path(config["bpf_fs"])) as maps:
        changes = resolve(maps, changes)
        print("ready", flush=True)
        start = json.loads(stdin.line())
        observed = watch(maps, changes, start["t0_ns"], start["interval_ns"], start["timeout_s"],
                         config.get("poll_s", 0.0002), stdin)
    print(json.dumps({"observed_ns": observed}), flush=True)


if __name__ == "__main__":
    main()
