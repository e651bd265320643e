"""The kmesh CNI plugin with Debian's real CNI reference plugins (containernetworking-plugins:
/usr/lib/cni bridge, host-local, loopback), each executed as a runtime executes it: env
CNI_COMMAND / CNI_NETNS / CNI_IFNAME / CNI_PATH / CNI_CONTAINERID / CNI_ARGS, the network
config with the previous result on stdin. The runtime side is the product's
(kmeshctl.cni.runtime, what libcni does for a config list; the sandbox creates its pods
with it); the plugin is the installed one (the agent's installer wrote it into a bin dir
and chained it last into a config list), talking to the agent's real CNI socket server
over a real unix socket; the data path is really loaded, km_manage really read.
Named stand-in: the API server (tests/standin; the real one is in tests/e2e/test_cni_e2e.py).

The "node" is a network namespace of this run (the bridge plugin makes its bridge there,
never in the host's), each pod a fresh netns no process ever entered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl.cni import plugin
from kmeshctl.cni.install import CniInstaller, CniSettings, chained, primary_config
from kmeshctl.cni.runtime import REFERENCE_BIN_DIR, CniError, CniPod, CniRuntime, missing_reference_plugins
from kmeshctl.cni.server import CniHandler, CniServer
from kmeshctl.podnet import netns_cookie
from kmeshctl.node.podwatch import NetnsEnroller, PodWatcher
from bpf_testlib import processes_in
from standin_apiserver import StandinApiServer, core_v1_client

NODE = "node-cni"
MODE = "istio.io/dataplane-mode"


def _reference_missing() -> str | None:
    missing = missing_reference_plugins()
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


def test_runtime_names_a_missing_plugin_and_how_to_install_it(tmp_path: Path) -> None:
    (tmp_path / "10-net.conflist").write_text(json.dumps(PRIMARY))
    runtime = CniRuntime(tmp_path, [tmp_path / "bin"], tmp_path / "cache")
    pod = CniPod("c" * 64, "/run/netns/none", "ns", "p")
    with pytest.raises(CniError) as err:
        runtime.add(pod)
    assert str(err.value).startswith("CNI plugin loopback not found in ")
    assert "apt-get install containernetworking-plugins" in str(err.value)
    assert missing_reference_plugins(tmp_path) == ["bridge", "host-local", "loopback"]
    assert pod.cni_args() == f"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID={'c' * 64}"


# ----------------------------------------------------------------- real plugins, real netns


@dataclass
class Env:
    runtime: CniRuntime
    api: StandinApiServer
    core: object
    maps: object
    server: CniServer
    settings: CniSettings
    prefix: str

    def pod(self, name: str, ns: str, labels: dict | None = None) -> CniPod:
        self.api.put({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
                      "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "x"}]},
                      "status": {"phase": "Pending"}})
        netns = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        return CniPod(f"{self.prefix}{name}".ljust(64, "0")[:64], f"/run/netns/{netns}", ns, name)

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
        runtime = CniRuntime(s.conf_dir, [s.bin_dir, REFERENCE_BIN_DIR], work / "cache",
                             Path(f"/run/netns/{node}"))
        yield Env(runtime, api, core, loaded.maps, server, s, prefix)
    finally:
        if server is not None:
            server.stop()
        api.stop()
        for name in os.listdir("/run/netns"):
            if name.startswith(f"{prefix}-"):
                subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(work, ignore_errors=True)
        loaded.maps.manage.clear()




def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.root
def test_add_check_del_enrolls_mesh_pod_before_any_process(env: Env) -> None:
    pod = env.pod("web", "mesh")
    outputs = env.runtime.add(pod)
    bridge_result, ours = outputs
    assert ours == bridge_result  # the previous result, unchanged
    assert bridge_result["ips"][0]["address"].startswith("10.78.0.")
    cookie = netns_cookie(Path(pod.netns))
    assert not processes_in(pod.netns)
    assert cookie in env.maps.enrolled()  # enrolled before anything runs in the pod
    assert _wait(lambda: env.annotations("web", "mesh").get("kmesh.net/enrolled-by") == "cni")
    assert env.annotations("web", "mesh")["kmesh.net/redirection"] == "enabled"
    env.runtime.check(pod)
    env.runtime.delete(pod)
    assert cookie not in env.maps.enrolled()
    assert env.runtime.cached_pods() == []
    assert "event=cni_add pod=mesh/web" in env.log() and "enrolled=True" in env.log()
    assert "event=cni_del pod=mesh/web" in env.log()


@pytest.mark.root
def test_pod_outside_the_mesh_is_networked_not_enrolled(env: Env) -> None:
    pod = env.pod("plain", "plain")
    env.pod("optout", "mesh", {MODE: "none"})
    outputs = env.runtime.add(pod)
    assert outputs[1] == outputs[0]
    assert netns_cookie(Path(pod.netns)) not in env.maps.enrolled()
    assert "reason='neither pod nor namespace labelled for Kmesh'" in env.log()
    env.runtime.delete(pod)


@pytest.mark.root
def test_agent_down_never_fails_a_pod_unless_fail_closed(env: Env) -> None:
    pod = env.pod("early", "mesh")
    env.server.stop()
    outputs = env.runtime.add(pod)
    assert outputs[1] == outputs[0]  # fail-open: networked, not enrolled (the watch does it later)
    assert netns_cookie(Path(pod.netns)) not in env.maps.enrolled()
    assert "decision=allowed policy=open" in env.log()
    closed = {**env.runtime.network()["plugins"][-1], "failPolicy": "closed", "kubeconfig": "/nonexistent"}
    stdin = {"cniVersion": "1.0.0", "name": "x", **closed, "prevResult": outputs[0]}
    out = subprocess.run([str(env.settings.plugin_path)], input=json.dumps(stdin), capture_output=True, text=True,
                         env={"CNI_COMMAND": "ADD", "CNI_NETNS": pod.netns, "CNI_IFNAME": "eth0",
                              "CNI_CONTAINERID": pod.container_id, "CNI_PATH": str(env.settings.bin_dir),
                              "CNI_ARGS": "K8S_POD_NAMESPACE=mesh;K8S_POD_NAME=early"})
    assert out.returncode == 1 and json.loads(out.stdout)["code"] == plugin.ERR_TRY_AGAIN
    assert "decision=refused policy=closed" in env.log()
    env.runtime.delete(pod)


@pytest.mark.root
def test_a_warm_add_repeated_returns_the_bridge_result(env: Env) -> None:
    """The plugin's own ADD run again (after the chain's): each exits 0 and hands back the
    previous plugin's result unchanged. Its speed is measured in benchmarks/cni_add.py."""
    pod = env.pod("warm", "mesh")
    bridge_result = env.runtime.add(pod)[0]
    ours = env.runtime.network()["plugins"][-1]
    stdin = json.dumps({"cniVersion": "1.0.0", "name": "x", **ours, "prevResult": bridge_result})
    run_env = {"CNI_COMMAND": "ADD", "CNI_NETNS": pod.netns, "CNI_IFNAME": "eth0",
               "CNI_CONTAINERID": pod.container_id, "CNI_PATH": str(env.settings.bin_dir),
               "CNI_ARGS": "K8S_POD_NAMESPACE=mesh;K8S_POD_NAME=warm"}
    for _ in range(3):
        out = subprocess.run([str(env.settings.plugin_path)], input=stdin, capture_output=True, text=True,
                             env=run_env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert json.loads(out.stdout) == bridge_result
    assert netns_cookie(Path(pod.netns)) in env.maps.enrolled()
    env.runtime.delete(pod)


@pytest.mark.root
def test_a_failed_add_is_undone_and_named(env: Env, tmp_path: Path) -> None:
    """host-local out of addresses (a /30 holds the gateway and one pod): the runtime
    reports the plugin's own error and runs DEL, so the pod keeps no interface, no
    address and no cache entry."""
    conf_dir = tmp_path / "small"
    conf_dir.mkdir()
    ipam = tmp_path / "ipam"
    (conf_dir / "10-small.conflist").write_text(json.dumps({"cniVersion": "1.0.0", "name": "small", "plugins": [
        {"type": "bridge", "bridge": "kmcnibr1", "isGateway": True,
         "ipam": {"type": "host-local", "dataDir": str(ipam), "ranges": [[{"subnet": "10.77.0.0/30"}]]}}]}))
    runtime = CniRuntime(conf_dir, [REFERENCE_BIN_DIR], tmp_path / "cache", env.runtime.node_netns)
    first, second = env.pod("one", "plain"), env.pod("two", "plain")
    assert runtime.add(first)[-1]["ips"][0]["address"] == "10.77.0.2/30"
    with pytest.raises(CniError, match=r"^CNI ADD of pod plain/two: plugin bridge failed: .*no IP addresses"):
        runtime.add(second)
    links = subprocess.run(["ip", "-n", Path(second.netns).name, "-o", "link"], capture_output=True, text=True,
                           check=True).stdout
    assert "eth0" not in links
    assert runtime.cached_pods() == [first]
    runtime.delete(first)
    assert runtime.cached_pods() == []
    assert not (ipam / "small" / "10.77.0.2").exists()
