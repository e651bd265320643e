#!/usr/bin/env python3
"""Where a first sync's time and memory go, phase by phase, in one process.

The agent's own receive path (``XdsClient._handle`` -> cache -> ``MapSync``) runs
in-process on one serialized DeltaDiscoveryResponse of N services x E endpoints (the
mesh of ``mesh.py``), writing real pinned maps (loaded by the agent's own child process,
so the compiler's memory is not in this process). gRPC and the network are left out;
``run.py --parts sync`` measures the whole agent. Needs root.

    sudo .venv/bin/python benchmarks/controlplane/profile_sync.py --services 5000
    sudo .venv/bin/python benchmarks/controlplane/profile_sync.py --services 5000 --cprofile 30
    sudo .venv/bin/python benchmarks/controlplane/profile_sync.py --services 5000 --objects

Prints, per phase, wall and CPU seconds (this process) and its VmRSS / VmHWM (MiB) after it;
``--objects`` also the memory the agent's long-lived structures hold after the sync (each
object counted once, in the first structure that reaches it, in the order listed).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from typing import Any, Callable  # noqa: E402


def _status_mib() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def _response_bytes(services: int, endpoints: int) -> bytes:
    """Built in a child process, so building it leaves nothing in this one."""
    code = ("import sys\n"
            "from envoy.service.discovery.v3 import discovery_pb2\n"
            "from benchmarks.controlplane.mesh import mesh\n"
            "from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE\n"
            "r = discovery_pb2.DeltaDiscoveryResponse(type_url=WORKLOAD_ADDRESS_TYPE, nonce='1')\n"
            f"for name, address in mesh({services}, {endpoints}).items():\n"
            "    added = r.resources.add(name=name, version='1')\n"
            "    added.resource.Pack(address)\n"
            "sys.stdout.buffer.write(r.SerializeToString())\n")
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=REPO_ROOT).stdout


def _deep_size(root: Any, seen: set[int]) -> int:
    """Bytes of ``root`` and everything it reaches that ``seen`` does not hold yet
    (classes, modules and functions are left out)."""
    total, stack = 0, [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType, types.MethodType)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _structures(client: Any, cache: Any, sync: Any) -> list[tuple[str, Any]]:
    """The agent's long-lived state after a sync, by owner."""
    parts = [(f"cache.{k}", v) for k, v in vars(cache).items() if not k.startswith("_lock")]
    parts += [(f"mirror.{k}", v) for k, v in vars(sync.mirror).items()]
    parts += [(f"ids.{k}", v) for k, v in vars(sync.ids).items() if k != "_map"]
    parts += [(f"owners.{k}", v) for k, v in vars(sync.owners).items() if k != "_rank"]
    parts += [(f"translator.{k}", v) for k, v in vars(sync.translator).items() if k not in ("cache", "ids")]
    return parts + [(f"client.{k}", v) for k, v in vars(client).items() if k in ("held", "_awaiting_waypoint")]


def _print_objects(client: Any, cache: Any, sync: Any) -> None:
    gc.collect()
    seen = {id(sync.maps), id(sync.ids._map), id(cache._lock)}
    sizes = [(name, _deep_size(value, seen)) for name, value in _structures(client, cache, sync)]
    for name, size in sizes:
        if size >= 1 << 20:
            print(f"{name:<40} {size / 2**20:7.1f} MiB")
    print(f"{'all of the above':<40} {sum(s for _, s in sizes) / 2**20:7.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--cprofile", type=int, default=0, help="print the top N functions by cumulative time")
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative",
                        help="order of --cprofile's functions")
    parser.add_argument("--objects", action="store_true",
                        help="print the memory of the agent's long-lived structures after the sync")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rows: list[dict[str, Any]] = []

    def phase(label: str, fn: Callable[[], Any]) -> Any:
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        rows.append({"phase": label, "seconds": round(time.perf_counter() - started, 3),
                     "cpu_seconds": round(time.process_time() - cpu, 3), **_status_mib()})
        return result

    from kmeshctl.node.agent import load_in_child
    from kmeshctl.node.ids import IdRegistry
    from kmeshctl.node.mapsync import MapSync
    from kmeshctl.node.translate import NodeInfo
    from kmeshctl.node.workload_cache import WorkloadCache
    from kmeshctl.maps import DataplaneMaps
    from kmeshctl.node import loader
    from kmeshctl.nodecheck import ensure_cgroup2
    from kmeshctl.xds import wire
    from kmeshctl.xds.client import ClientConfig, Identity, XdsClient

    phase("imports", lambda: None)
    raw = phase("response bytes (as gRPC hands them over)", lambda: _response_bytes(args.services, args.endpoints))
    tag = secrets.token_hex(3)
    bpf_fs = Path(f"/sys/fs/bpf/kmprof-{tag}")
    cgroup = ensure_cgroup2() / f"kmprof-{tag}"
    cgroup.mkdir()
    try:
        phase("load data path (child process)", lambda: load_in_child(bpf_fs, cgroup))
        maps = DataplaneMaps(bpf_fs)
        cache = WorkloadCache()
        sync = MapSync(maps, IdRegistry(maps), cache, NodeInfo(node_name="node-a"))
        client = XdsClient(ClientConfig("127.0.0.1:1", Identity("10.0.0.1", "agent", "kmesh-system"),
                                        insecure=True), cache, sync)
        response = phase("deserialize (kmeshctl.xds.wire, as the stream does)", lambda: wire.deserialize(raw))
        del raw
        if args.cprofile:
            import cProfile
            import pstats
            profiler = cProfile.Profile()
            reply = phase("handle (profiled)", lambda: profiler.runcall(client._handle, response))
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.cprofile)
        else:
            reply = phase("handle: check, convert, cache, plan, write", lambda: client._handle(response))
        del response
        phase("response freed", lambda: None)
        if reply.HasField("error_detail"):
            raise SystemExit(f"NACK: {reply.error_detail.message[:500]}")
        if args.objects:
            _print_objects(client, cache, sync)
        maps.close()
    finally:
        loader.cleanup(bpf_fs, cgroup)
        cgroup.rmdir()
    if args.json:
        print(json.dumps(rows))
        return
    for row in rows:
        print(f"{row['phase']:<52} {row['seconds']:7.3f} s  CPU {row['cpu_seconds']:7.3f} s  RSS {row['VmRSS']:7.1f} MiB  HWM {row['VmHWM']:7.1f} MiB")


if __name__ == "__main__":
    main()
