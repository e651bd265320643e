#!/usr/bin/env python3
"""Warm CNI ADD of the kmesh-cni plugin vs a bare interpreter start and the bridge plugin's ADD.

The node is set up as tests/test_cni_plugin.py sets it up, with the product's own code: a
network namespace of this run as the node, a config list of Debian's reference `bridge`
(host-local IPAM) with `kmesh-cni` chained last by the agent's installer
(`kmeshctl.cni.install`), the agent's CNI socket server (`kmeshctl.cni.server`) enrolling
into a data path loaded at a private cgroup and bpffs dir. Pods and namespaces come from a
local-pods directory (`kmeshctl.cni.localpods`, as in the sandbox) instead of the API server.
One mesh pod gets its network through the whole chain (`kmeshctl.cni.runtime`); then, in
rounds that alternate the scenarios so that machine noise hits all of them alike:

  interpreter   `/usr/bin/python3 -IS -c pass`: the plugin's interpreter starting and exiting
  kmesh-cni     the plugin's warm ADD of that pod, with the bridge's result as prevResult
                (an interpreter start plus one socket round trip with the enrollment)
  bridge        the bridge plugin's ADD of a fresh pod (veth, bridge port, host-local address);
                its DEL and the pod's netns are outside the timed part

Each is one execution as the runtime makes it (`nsenter --net=<node>`, the runtime's
environment), timed around the process from start to exit; each sample also has the
process's user + system CPU time, which varies less with the machine's load than the
wall time. Reports median and p90 per scenario and the ratios of medians, checks the
target (kmesh-cni warm ADD median < 100 ms; exit 1 only with --strict) and writes
cni_add.json to --out. Needs root; everything it creates is removed at the end, also on
failure or Ctrl-C.

    sudo .venv/bin/python benchmarks/cni_add.py [--runs 30] [--warmup 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # kmeshctl from this checkout when run as a script

from kmeshctl.cni.install import HOST_PYTHON, CniInstaller, CniSettings  # noqa: E402
from kmeshctl.cni.localpods import LocalPods  # noqa: E402
from kmeshctl.cni.runtime import REFERENCE_BIN_DIR, CniPod, CniRuntime, missing_reference_plugins  # noqa: E402
from kmeshctl.cni.server import CniHandler, CniServer  # noqa: E402
from kmeshctl.maps import DataplaneMaps  # noqa: E402
from kmeshctl.node import loader  # noqa: E402
from kmeshctl.node.podwatch import NetnsEnroller  # noqa: E402
from kmeshctl.nodecheck import ensure_cgroup2  # noqa: E402
from kmeshctl.podnet import entering, netns_cookie, remove_cgroup_tree  # noqa: E402

TARGET_MS = 100.0
MESH_NS = "mesh"
MODE = "istio.io/dataplane-mode"
SUBNET = "10.81.0.0/16"  # inside the run's node netns only; room for one address per bridge run
SCENARIOS = ("interpreter", "kmesh-cni", "bridge")
RUN_ID = re.compile(r"^[a-z0-9]{1,8}$")


class Node:
    """The run's node: its netns, data path, CNI socket server, installed plugin and runtime."""

    def __init__(self, run_id: str) -> None:
        self.prefix = f"kmcnib-{run_id}"
        self.work = Path(f"/tmp/{self.prefix}")  # short: unix socket paths are at most 107 bytes
        self.netns = Path(f"/run/netns/{self.prefix}-node")
        self.bpf_fs = Path(f"/sys/fs/bpf/{self.prefix}")
        self.cgroup = ensure_cgroup2() / self.prefix
        self.bridge_name = f"kmcb{run_id}"
        self.settings = CniSettings(self.work / "net.d", self.work / "bin", self.work / "sock" / "cni.sock")
        self.pods = LocalPods(self.work / "pods")
        self.runtime = CniRuntime(self.settings.conf_dir, [self.settings.bin_dir, REFERENCE_BIN_DIR],
                                  self.work / "cache", self.netns)
        self.maps: DataplaneMaps | None = None
        self.server: CniServer | None = None

    def create(self) -> None:
        for d in ("net.d", "bin", "ipam"):
            (self.work / d).mkdir(parents=True)
        self.cgroup.mkdir()
        loader.load(self.bpf_fs, self.cgroup).close()
        self.maps = DataplaneMaps(self.bpf_fs)
        subprocess.run(["ip", "netns", "add", self.netns.name], check=True)
        (self.settings.conf_dir / "10-bench.conflist").write_text(json.dumps(
            {"cniVersion": "1.0.0", "name": self.prefix, "plugins": [self.bridge_conf()]}))
        self.pods.put_namespace(MESH_NS, {MODE: "Kmesh"})
        handler = CniHandler(NetnsEnroller(self.maps), None, None, False, self.pods)
        self.server = CniServer(self.settings.socket, handler)
        self.server.start()
        CniInstaller(self.settings, lambda: None).install()

    def bridge_conf(self) -> dict:
        return {"type": "bridge", "bridge": self.bridge_name, "isGateway": True,
                "ipam": {"type": "host-local", "dataDir": str(self.work / "ipam"), "ranges": [[{"subnet": SUBNET}]]}}

    def pod(self, name: str) -> CniPod:
        """A mesh pod: its object in the local-pods directory and a fresh netns."""
        self.pods.put_pod(MESH_NS, name, str(uuid.uuid4()), {}, ["app"], "bench-node")
        netns = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        return CniPod(f"{self.prefix}{name}".replace("-", "").ljust(64, "0")[:64], f"/run/netns/{netns}",
                      MESH_NS, name)

    def drop_pod(self, pod: CniPod) -> None:
        subprocess.run(["ip", "netns", "del", Path(pod.netns).name], check=False)
        self.pods.delete_pod(pod.namespace, pod.name)

    def destroy(self) -> None:
        if self.server is not None:
            self.server.stop()
        if Path("/run/netns").is_dir():
            for name in os.listdir("/run/netns"):
                if name.startswith(f"{self.prefix}-"):
                    subprocess.run(["ip", "netns", "del", name], check=False)
        if self.maps is not None:
            self.maps.close()
        if self.bpf_fs.exists():
            loader.cleanup(self.bpf_fs, self.cgroup)
        if self.cgroup.exists():
            remove_cgroup_tree(self.cgroup)
        shutil.rmtree(self.work, ignore_errors=True)


def plugin_env(node: Node, pod: CniPod, command: str = "ADD") -> dict[str, str]:
    """What the runtime gives every plugin (kmeshctl.cni.runtime)."""
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": pod.container_id, "CNI_NETNS": pod.netns,
            "CNI_IFNAME": pod.ifname, "CNI_ARGS": pod.cni_args(),
            "CNI_PATH": os.pathsep.join(str(d) for d in node.runtime.bin_dirs),
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}


Sample = tuple[float, float]  # (wall ms, CPU ms) of one execution


def _children_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def timed_run(node: Node, argv: list[str], stdin: str, env: dict[str, str]) -> tuple[Sample, str]:
    """((wall ms from start to exit, user + system CPU ms), stdout) of one execution in the
    node's netns. The CPU time is the process's own (the agent's side runs in this process
    and is not in it); it varies less with the machine's load than the wall time."""
    cpu_before, start = _children_cpu_ms(), time.perf_counter()
    done = subprocess.run(entering(argv, netns=node.netns), input=stdin, capture_output=True, text=True, env=env)
    elapsed = ((time.perf_counter() - start) * 1000, _children_cpu_ms() - cpu_before)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}: {(done.stdout + done.stderr).strip()[-300:]}")
    return elapsed, done.stdout


def scenarios(node: Node, warm: CniPod, bridge_result: dict) -> dict[str, Callable[[], Sample]]:
    """One timed execution per scenario; each checks its own outcome."""
    network = node.runtime.network()
    ours = {"cniVersion": network["cniVersion"], "name": network["name"], **network["plugins"][-1],
            "prevResult": bridge_result}
    bridge = {"cniVersion": network["cniVersion"], "name": network["name"], **node.bridge_conf()}
    counter = iter(range(1_000_000))

    def interpreter() -> Sample:
        return timed_run(node, [HOST_PYTHON, "-IS", "-c", "pass"], "", plugin_env(node, warm))[0]

    def kmesh_cni() -> Sample:
        ms, out = timed_run(node, [str(node.settings.plugin_path)], json.dumps(ours), plugin_env(node, warm))
        if json.loads(out) != bridge_result:
            raise RuntimeError(f"kmesh-cni changed the previous result: {out[:300]}")
        return ms

    def bridge_add() -> Sample:
        pod = node.pod(f"b{next(counter)}")
        try:
            ms, out = timed_run(node, [str(REFERENCE_BIN_DIR / "bridge")], json.dumps(bridge), plugin_env(node, pod))
            if not json.loads(out).get("ips"):
                raise RuntimeError(f"bridge gave no address: {out[:300]}")
            timed_run(node, [str(REFERENCE_BIN_DIR / "bridge")], json.dumps(bridge), plugin_env(node, pod, "DEL"))
            return ms
        finally:
            node.drop_pod(pod)

    return {"interpreter": interpreter, "kmesh-cni": kmesh_cni, "bridge": bridge_add}


def measure(node: Node, runs: int, warmup: int) -> dict[str, list[Sample]]:
    """Samples per scenario; the scenarios' order rotates every round."""
    warm = node.pod("warm")
    results = node.runtime.add(warm)
    if results[-1] != results[0] or netns_cookie(Path(warm.netns)) not in node.maps.enrolled():
        raise RuntimeError(f"the first ADD through the chain did not enroll the pod: {results}")
    steps = scenarios(node, warm, results[0])
    samples: dict[str, list[Sample]] = {name: [] for name in SCENARIOS}
    for i in range(warmup + runs):
        shift = i % len(SCENARIOS)
        for name in SCENARIOS[shift:] + SCENARIOS[:shift]:
            sample = steps[name]()
            if i >= warmup:
                samples[name].append(sample)
    node.runtime.delete(warm)
    return samples


def summarize(samples: list[Sample]) -> dict[str, float]:
    wall = sorted(s[0] for s in samples)
    cpu = sorted(s[1] for s in samples)
    return {"median_ms": round(statistics.median(wall), 2), "p90_ms": round(p90(wall), 2),
            "min_ms": round(wall[0], 2), "max_ms": round(wall[-1], 2),
            "cpu_median_ms": round(statistics.median(cpu), 2), "cpu_p90_ms": round(p90(cpu), 2), "runs": len(wall)}


def p90(ordered: list[float]) -> float:
    return ordered[math.ceil(len(ordered) * 0.9) - 1]  # nearest rank


def report(samples: dict[str, list[Sample]]) -> dict[str, Any]:
    summary = {name: summarize(s) for name, s in samples.items()}
    ours = summary["kmesh-cni"]["median_ms"]
    ratios = {f"kmesh-cni / {name}": {"wall": round(ours / summary[name]["median_ms"], 2),
                                      "cpu": round(summary["kmesh-cni"]["cpu_median_ms"]
                                                   / summary[name]["cpu_median_ms"], 2)}
              for name in ("interpreter", "bridge")}
    met = ours < TARGET_MS
    target = {"target": f"kmesh-cni warm ADD median < {TARGET_MS:.0f} ms", "measured": f"{ours:.1f} ms",
              "met": met, "shortfall": "" if met else f"{ours - TARGET_MS:.1f} ms over"}
    return {"summary": summary, "ratios_of_medians": ratios, "targets": [target],
            "samples_ms": {name: {"wall": [round(w, 2) for w, _ in s], "cpu": [round(c, 2) for _, c in s]}
                           for name, s in samples.items()}}


def print_report(result: dict[str, Any]) -> None:
    print(f"{'scenario':<14}{'median ms':>10}{'p90 ms':>9}{'min ms':>9}{'ratio':>8}  |"
          f"{'CPU median ms':>14}{'p90 ms':>9}{'ratio':>8}")
    base = result["summary"]["interpreter"]
    for name, s in result["summary"].items():
        print(f"{name:<14}{s['median_ms']:>10.1f}{s['p90_ms']:>9.1f}{s['min_ms']:>9.1f}"
              f"{s['median_ms'] / base['median_ms']:>7.2f}x  |{s['cpu_median_ms']:>14.1f}{s['cpu_p90_ms']:>9.1f}"
              f"{s['cpu_median_ms'] / base['cpu_median_ms']:>7.2f}x")
    for name, ratio in result["ratios_of_medians"].items():
        print(f"{name} (medians): {ratio['wall']:.2f} wall, {ratio['cpu']:.2f} CPU")
    for t in result["targets"]:
        print(f"target: {t['target']}: {'PASS' if t['met'] else 'FAIL'} ({t['measured']}"
              f"{', ' + t['shortfall'] if t['shortfall'] else ''})")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def meta(args: argparse.Namespace, load_start: float, started: float) -> dict[str, Any]:
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": shlex.join(["sudo", ".venv/bin/python", "benchmarks/cni_add.py", *args.argv]),
            "machine": f"Linux {platform.release()}, {os.cpu_count()} CPUs, Python {platform.python_version()} "
                       f"(plugin: {HOST_PYTHON} -IS)",
            "load_start": load_start, "load_end": load_average(), "runs": args.runs, "warmup": args.warmup,
            "wall_time_s": round(time.monotonic() - started, 1), "note": args.note,
            "how": "Scenarios alternate within each round, order rotated every round; each sample is one "
                   "process from start to exit (perf_counter around subprocess.run through nsenter into the "
                   "node netns, as kmeshctl.cni.runtime runs plugins). kmesh-cni: warm ADD of an enrolled "
                   "mesh pod (local-pods decision, km_manage write, annotation file) with the bridge's "
                   "result as prevResult; bridge: ADD of a fresh pod, DEL untimed. Ratios compare medians "
                   "of this one run; absolute times depend on the machine's load (load_start, load_end). CPU = "
                   "user + system time of the executed process (RUSAGE_CHILDREN around it; the agent's "
                   "side of kmesh-cni runs in the benchmark process and is not in it)."}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30, help="timed executions per scenario")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    p.add_argument("--out", type=Path, help="results directory (default benchmarks/results/<today>)")
    p.add_argument("--run-id", default=secrets.token_hex(3), help="suffix of every name this run creates")
    p.add_argument("--note", default="", help="free text for the result (e.g. what else ran)")
    p.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be at least 1 and --warmup at least 0")
    if not RUN_ID.match(args.run_id):
        p.error(f"--run-id {args.run_id!r}: use 1 to 8 lower-case letters or digits")
    args.out = args.out or REPO_ROOT / "benchmarks" / "results" / date.today().isoformat()
    args.argv = argv
    return args


def preflight(out_file: Path) -> None:
    """Exit 2 before creating anything when the run cannot succeed or would overwrite."""
    if os.geteuid() != 0:
        raise SystemExit("cni_add.py needs root (BPF, network namespaces, cgroups): run it with sudo")
    missing = missing_reference_plugins()
    if missing:
        raise SystemExit(f"Debian containernetworking-plugins missing ({missing}): run scripts/setup.sh")
    if out_file.exists():
        raise SystemExit(f"{out_file} exists: pass another --out directory")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out_file = args.out / "cni_add.json"
    try:
        preflight(out_file)
    except SystemExit as err:
        print(err, file=sys.stderr)
        return 2
    load_start, started = load_average(), time.monotonic()
    node = Node(args.run_id)
    try:
        node.create()
        samples = measure(node, args.runs, args.warmup)
    finally:
        node.destroy()
    result = {"meta": meta(args, load_start, started), **report(samples)}
    args.out.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result, indent=2) + "\n")
    print(f"warm CNI ADD, {args.runs} runs per scenario (after {args.warmup} warm-up rounds), "
          f"load average {load_start} -> {result['meta']['load_end']}; ratio = median / interpreter median")
    print_report(result)
    print(f"wrote {out_file}")
    return 1 if args.strict and not all(t["met"] for t in result["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
