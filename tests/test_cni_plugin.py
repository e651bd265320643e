"""The kmesh CNI plugin with Debian's real CNI reference plugins (containernetworking-plugins:
/usr/lib/cni bridge, host-local, loopback), each executed as a runtime executes it: env
CNI_COMMAND / CNI_NETNS / CNI_IFNAME / CNI_PATH / CNI_CONTAINERID / CNI_ARGS, the network
config with the previous result on stdin. The test is the runtime (what libcni does for
a config list); the plugin is the installed one (the agent's installer wrote it into a
bin dir and chained it last into a config list), talking to the agent's real CNI socket
server over a real unix socket; the data path is really loaded, km_manage really read.
Named stand-in: the API server (tests/standin; the real one is in tests/e2e/test_cni_e2e.py).

The "node" is a network namespace of this run (the bridge plugin makes its bridge there,
never in the host's), each pod a fresh netns no process ever entered."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl.cni import plugin
from kmeshctl.cni.install import CniInstaller, CniSettings, chained, primary_config
from kmeshctl.cni.server import CniHandler, CniServer
from kmeshctl.podnet import netns_cookie
from kmeshctl.node.podwatch import NetnsEnroller, PodWatcher
from standin_apiserver import StandinApiServer, core_v1_client

REFERENCE = Path("/usr/lib/cni")
NODE = "node-cni"
MODE = "istio.io/dataplane-mode"


def _reference_missing() -> str | None:
    missing = [p for p in ("bridge", "host-local", "loopback") if not (REFERENCE / p).exists()]
    return f"Debian containernetworking-plugins missing ({missing}): run scripts/setup.sh" if missing else None


# ----------------------------------------------------------------- installer (files only)


def settings(tmp_path: Path) -> CniSettings:
    (tmp_path / "net.d").mkdir()
    (tmp_path / "bin").mkdir()
    return CniSettings(tmp_path / "net.d", tmp_path / "bin", tmp_path / "sock" / "cni.sock")


PRIMARY = {"cniVersion": "1.0.0", "name": "k8s", "plugins": [{"type": "bridge", "bridge": "x"},
                                                             {"type": "portmap", "capabilities": {"portMappings": True}}]}


def test_install_chains_last_atomically_and_uninstall_restores(tmp_path: Path) -> None:
    s = settings(tmp_path)
    conf = s.conf_dir / "10-net.conflist"
    conf.write_text(json.dumps(PRIMARY))
    (s.conf_dir / "20-other.conflist").write_text(json.dumps({**PRIMARY, "name": "other"}))
    installer = CniInstaller(s, lambda: None)
    installer.install()
    installer.install()  # idempotent: still one entry of ours
    written = json.loads(conf.read_text())
    assert [p["type"] for p in written["plugins"]] == ["bridge", "portmap", "kmesh-cni"]
    assert written["plugins"][-1] == s.entry()
    assert json.loads((s.conf_dir / "20-other.conflist").read_text())["plugins"] == PRIMARY["plugins"]
    assert os.access(s.plugin_path, os.X_OK) and s.zip_path.is_file()
    assert [p.name for p in s.conf_dir.iterdir() if p.name.startswith(".")] == []  # no temp file left
    # the primary CNI rewrote its config: the refresh chains us again
    conf.write_text(json.dumps(PRIMARY))
    installer._refresh()
    assert json.loads(conf.read_text())["plugins"][-1]["type"] == "kmesh-cni"
    installer.uninstall()
    assert json.loads(conf.read_text()) == PRIMARY
    assert not s.plugin_path.exists() and not s.zip_path.exists()


def test_single_conf_becomes_a_list_and_comes_back(tmp_path: Path) -> None:
    s = settings(tmp_path)
    single = {"cniVersion": "0.4.0", "name": "net", "type": "bridge", "bridge": "b0"}
    (s.conf_dir / "10-net.conf").write_text(json.dumps(single))
    installer = CniInstaller(s, lambda: None)
    installer.install()
    assert primary_config(s.conf_dir) == s.conf_dir / "10-net.conflist"
    listed = json.loads((s.conf_dir / "10-net.conflist").read_text())
    assert [p["type"] for p in listed["plugins"]] == ["bridge", "kmesh-cni"]
    installer.uninstall()
    assert sorted(p.name for p in s.conf_dir.iterdir()) == ["10-net.conf"]
    assert json.loads((s.conf_dir / "10-net.conf").read_text()) == single


def test_no_config_yet_is_chained_when_it_appears(tmp_path: Path) -> None:
    s = settings(tmp_path)
    installer = CniInstaller(s, lambda: None)
    installer.install()
    assert list(s.conf_dir.iterdir()) == []
    (s.conf_dir / "10-net.conflist").write_text(json.dumps(PRIMARY))
    installer._refresh()
    assert json.loads((s.conf_dir / "10-net.conflist").read_text()) == chained(PRIMARY, s.entry())


def test_version_and_bad_input() -> None:
    code, out = plugin.run({"CNI_COMMAND": "VERSION"}, "")
    assert code == 0 and "1.0.0" in json.loads(out)["supportedVersions"]
    code, out = plugin.run({"CNI_COMMAND": "ADD"}, "{not json")
    assert code == 1 and json.loads(out)["code"] == plugin.ERR_DECODE
    code, out = plugin.run({"CNI_COMMAND": "ADD"}, json.dumps({"cniVersion": "9.9.9"}))
    assert code == 1 and json.loads(out)["code"] == plugin.ERR_INCOMPATIBLE_VERSION


# ----------------------------------------------------------------- real plugins, real netns


@dataclass
class Runtime:
    """What libcni does: run each plugin of a list, passing results along."""

    node_netns: str
    bin_dir: Path
    conf: dict
    results: dict[str, dict]

    def exec(self, plugin_conf: dict, command: str, netns: str, container: str, pod: tuple[str, str],
             ifname: str = "eth0", prev: dict | None = None) -> dict | None:
        stdin = {"cniVersion": self.conf["cniVersion"], "name": self.conf["name"], **plugin_conf}
        if prev is not None:
            stdin["prevResult"] = prev
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_NETNS": f"/run/netns/{netns}",
               "CNI_IFNAME": ifname, "CNI_PATH": f"{self.bin_dir}:{REFERENCE}", "PATH": os.environ["PATH"],
               "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={pod[0]};K8S_POD_NAME={pod[1]};"
                           f"K8S_POD_INFRA_CONTAINER_ID={container}"}
        binary = self.bin_dir / plugin_conf["type"]
        binary = binary if binary.exists() else REFERENCE / plugin_conf["type"]
        out = subprocess.run(["nsenter", f"--net=/run/netns/{self.node_netns}", "--", str(binary)],
                             input=json.dumps(stdin), capture_output=True, text=True, env=env, timeout=30)
        assert out.returncode == 0, f"{plugin_conf['type']} {command}: {out.stdout} {out.stderr}"
        return json.loads(out.stdout) if out.stdout.strip() else None

    def add(self, netns: str, container: str, pod: tuple[str, str]) -> list[dict]:
        lo = {"type": "loopback"}
        self.exec(lo, "ADD", netns, container, pod, ifname="lo")
        outputs, prev = [], None
        for p in self.conf["plugins"]:
            prev = self.exec(p, "ADD", netns, container, pod, prev=prev)
            outputs.append(prev)
        self.results[container] = prev
        return outputs

    def check(self, netns: str, container: str, pod: tuple[str, str]) -> None:
        for p in self.conf["plugins"]:
            self.exec(p, "CHECK", netns, container, pod, prev=self.results[container])

    def delete(self, netns: str, container: str, pod: tuple[str, str]) -> None:
        for p in reversed(self.conf["plugins"]):
            self.exec(p, "DEL", netns, container, pod, prev=self.results.get(container))
        self.exec({"type": "loopback"}, "DEL", netns, container, pod, ifname="lo")


@dataclass
class Env:
    runtime: Runtime
    api: StandinApiServer
    core: object
    maps: object
    server: CniServer
    settings: CniSettings
    prefix: str

    def pod(self, name: str, ns: str, labels: dict | None = None) -> tuple[str, str]:
        self.api.put({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
                      "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "x"}]},
                      "status": {"phase": "Pending"}})
        netns = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        return netns, f"{self.prefix}{name}".ljust(64, "0")[:64]

    def annotations(self, name: str, ns: str) -> dict:
        return self.api.get("v1", "Pod", name, ns)["metadata"].get("annotations") or {}

    def log(self) -> str:
        path = self.settings.socket.parent / plugin.LOG_NAME
        return path.read_text() if path.exists() else ""


@pytest.fixture(scope="module")
def loaded(run_id: str):
    from bpf_testlib import loaded_dataplane

    yield from loaded_dataplane(run_id, "cni")


@pytest.fixture
def env(run_id: str, tmp_path: Path, loaded) -> Iterator[Env]:
    reason = _reference_missing()
    if reason:
        pytest.fail(reason)
    prefix = f"kmcni{run_id}"
    node = f"{prefix}-node"
    work = Path(f"/tmp/{prefix}")  # short: unix socket paths are at most 107 bytes
    loaded.maps.manage.clear()
    api = StandinApiServer().start()
    core = core_v1_client(api, tmp_path)
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mesh", "labels": {MODE: "Kmesh"}}})
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain", "labels": {}}})
    subprocess.run(["ip", "netns", "add", node], check=True)
    server = None
    try:
        for d in ("net.d", "bin", "ipam"):
            (work / d).mkdir(parents=True)
        s = CniSettings(work / "net.d", work / "bin", work / "sock" / "cni.sock")
        primary = {"cniVersion": "1.0.0", "name": prefix, "plugins": [
            {"type": "bridge", "bridge": "kmcnibr0", "isGateway": True,
             "ipam": {"type": "host-local", "dataDir": str(work / "ipam"),
                      "ranges": [[{"subnet": "10.78.0.0/24"}]]}}]}
        (s.conf_dir / "10-test.conflist").write_text(json.dumps(primary))
        watcher = PodWatcher(core, NODE, NetnsEnroller(loaded.maps), False, proc_root=Path("/proc"))
        server = CniServer(s.socket, CniHandler(watcher.enroller, watcher, core, False))
        server.start()
        CniInstaller(s, lambda: None).install()
        conf = json.loads((s.conf_dir / "10-test.conflist").read_text())
        yield Env(Runtime(node, s.bin_dir, conf, {}), api, core, loaded.maps, server, s, prefix)
    finally:
        if server is not None:
            server.stop()
        api.stop()
        for name in os.listdir("/run/netns"):
            if name.startswith(f"{prefix}-"):
                subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(work, ignore_errors=True)
        loaded.maps.manage.clear()


def _no_process_in(netns: str) -> bool:
    target = os.stat(f"/run/netns/{netns}")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = os.stat(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            return False
    return True


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.root
def test_add_check_del_enrolls_mesh_pod_before_any_process(env: Env) -> None:
    netns, container = env.pod("web", "mesh")
    outputs = env.runtime.add(netns, container, ("mesh", "web"))
    bridge_result, ours = outputs
    assert ours == bridge_result  # the previous result, unchanged
    assert bridge_result["ips"][0]["address"].startswith("10.78.0.")
    cookie = netns_cookie(Path(f"/run/netns/{netns}"))
    assert _no_process_in(netns)
    assert cookie in env.maps.enrolled()  # enrolled before anything runs in the pod
    assert _wait(lambda: env.annotations("web", "mesh").get("kmesh.net/enrolled-by") == "cni")
    assert env.annotations("web", "mesh")["kmesh.net/redirection"] == "enabled"
    env.runtime.check(netns, container, ("mesh", "web"))
    env.runtime.delete(netns, container, ("mesh", "web"))
    assert cookie not in env.maps.enrolled()
    assert "event=cni_add pod=mesh/web" in env.log() and "enrolled=True" in env.log()
    assert "event=cni_del pod=mesh/web" in env.log()


@pytest.mark.root
def test_pod_outside_the_mesh_is_networked_not_enrolled(env: Env) -> None:
    netns, container = env.pod("plain", "plain")
    env.pod("optout", "mesh", {MODE: "none"})
    outputs = env.runtime.add(netns, container, ("plain", "plain"))
    assert outputs[1] == outputs[0]
    assert netns_cookie(Path(f"/run/netns/{netns}")) not in env.maps.enrolled()
    assert "reason='neither pod nor namespace labelled for Kmesh'" in env.log()
    env.runtime.delete(netns, container, ("plain", "plain"))


@pytest.mark.root
def test_agent_down_never_fails_a_pod_unless_fail_closed(env: Env) -> None:
    netns, container = env.pod("early", "mesh")
    env.server.stop()
    outputs = env.runtime.add(netns, container, ("mesh", "early"))
    assert outputs[1] == outputs[0]  # fail-open: networked, not enrolled (the watch does it later)
    assert netns_cookie(Path(f"/run/netns/{netns}")) not in env.maps.enrolled()
    assert "decision=allowed policy=open" in env.log()
    closed = {**env.runtime.conf["plugins"][-1], "failPolicy": "closed", "kubeconfig": "/nonexistent"}
    stdin = {"cniVersion": "1.0.0", "name": "x", **closed, "prevResult": outputs[0]}
    out = subprocess.run([str(env.settings.plugin_path)], input=json.dumps(stdin), capture_output=True, text=True,
                         env={"CNI_COMMAND": "ADD", "CNI_NETNS": f"/run/netns/{netns}", "CNI_IFNAME": "eth0",
                              "CNI_CONTAINERID": container, "CNI_PATH": str(env.settings.bin_dir),
                              "CNI_ARGS": "K8S_POD_NAMESPACE=mesh;K8S_POD_NAME=early"})
    assert out.returncode == 1 and json.loads(out.stdout)["code"] == plugin.ERR_TRY_AGAIN
    assert "decision=refused policy=closed" in env.log()
    env.runtime.delete(netns, container, ("mesh", "early"))


@pytest.mark.root
def test_warm_add_is_fast(env: Env) -> None:
    """The plugin's own ADD (after the bridge's): a Python start plus one socket round trip."""
    netns, container = env.pod("fast", "mesh")
    bridge_result = env.runtime.add(netns, container, ("mesh", "fast"))[0]
    ours = env.runtime.conf["plugins"][-1]
    stdin = json.dumps({"cniVersion": "1.0.0", "name": "x", **ours, "prevResult": bridge_result})
    run_env = {"CNI_COMMAND": "ADD", "CNI_NETNS": f"/run/netns/{netns}", "CNI_IFNAME": "eth0",
               "CNI_CONTAINERID": container, "CNI_PATH": str(env.settings.bin_dir),
               "CNI_ARGS": "K8S_POD_NAMESPACE=mesh;K8S_POD_NAME=fast"}
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        out = subprocess.run([str(env.settings.plugin_path)], input=stdin, capture_output=True, text=True,
                             env=run_env)
        times.append((time.perf_counter() - t0) * 1000)
        assert out.returncode == 0 and json.loads(out.stdout) == bridge_result
    median = statistics.median(times)
    print(f"warm ADD of kmesh-cni: median {median:.1f} ms, min {min(times):.1f} ms over 10")
    assert median < 100, f"warm ADD takes {median:.1f} ms (median of 10): {sorted(times)}"
    env.runtime.delete(netns, container, ("mesh", "fast"))
