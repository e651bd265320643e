"""The kmesh CNI plugin on the real cluster of the e2e tier: the agent installs it into the
node's CNI config (the tier's containerd reads /etc/cni/net.d and /opt/cni/bin, as a real
node's), and the real kubelet and containerd call it for every pod sandbox. A pod whose
very first action is a connect() to a Service VIP goes through the eBPF path: the agent's
BPF decision log shows that connect rewritten to an endpoint. Uninstall restores the
node's CNI config. The tests run in file order and share one install.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.test_cluster_e2e import AGENT_NAMESPACE, XDS_ADDRESS, agent_pod, kmeshctl_json, wait_for
from tests.e2e.tier import Tier

pytestmark = [pytest.mark.e2e, pytest.mark.root]

NS = "cni-e2e"
SERVICE_KEY = f"{NS}/echo.{NS}.svc.cluster.local"
CONFLIST = "/etc/cni/net.d/10-kt.conflist"


def agent_log(tier: Tier) -> str:
    return tier.kubectl("logs", "-n", AGENT_NAMESPACE, agent_pod(tier)["metadata"]["name"]).stdout


def node_conflist(tier: Tier) -> dict:
    return json.loads(tier.exec_in_node(["cat", CONFLIST]).stdout)


def manifests(tier: Tier) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": NS, "labels": {"istio.io/dataplane-mode": "Kmesh"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo", "namespace": NS},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "echo"}},
                  "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {"containers": [
                      {"name": "fortio", "image": tier.image("fortio"), "imagePullPolicy": "IfNotPresent",
                       "args": ["server", "-http-port", "8080"], "ports": [{"containerPort": 8080}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": NS},
         "spec": {"selector": {"app": "echo"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
    ]})


def first_connect_pod(tier: Tier, vip: str) -> str:
    """A pod whose only process starts with a connect() to the VIP (curl, no DNS)."""
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "first", "namespace": NS},
                       "spec": {"restartPolicy": "Never", "containers": [
                           {"name": "curl", "image": tier.image("netutils"), "imagePullPolicy": "IfNotPresent",
                            "command": ["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{remote_ip}",
                                        f"http://{vip}:80/"]}]}})


def test_install_chains_the_plugin_into_the_node_cni_config(tier: Tier) -> None:
    tier.kmeshctl("install", "--xds-address", XDS_ADDRESS, "--cluster-id", tier.cluster_id,
                  "--image", tier.image("kmeshctl-node"), "--enable-bpf-log", "--timeout", "300", timeout=420)
    log = wait_for("the agent's CNI install steps", lambda: (lambda t: t if "event=cni_config_written" in t
                                                             else None)(agent_log(tier)), timeout=60)
    for step in ("event=cni_plugin_copied path=/opt/cni/bin/kmesh-cni",
                 "event=cni_kubeconfig_written path=/etc/cni/net.d/kmesh-cni-kubeconfig",
                 f"event=cni_config_written path={CONFLIST} chained_after=bridge,portmap",
                 "event=cni_socket_listening path=/var/run/kmesh-cni/cni.sock"):
        assert step in log, log[-3000:]
    plugins = node_conflist(tier)["plugins"]
    assert [p["type"] for p in plugins] == ["bridge", "portmap", "kmesh-cni"]
    assert plugins[-1]["failPolicy"] == "open"
    mode = tier.exec_in_node(["stat", "-c", "%a", "/etc/cni/net.d/kmesh-cni-kubeconfig"]).stdout.strip()
    assert mode == "600"
    # The plugin the node runs answers VERSION (its interpreter is the node's python3).
    out = tier.exec_in_node(["env", "CNI_COMMAND=VERSION", "/opt/cni/bin/kmesh-cni"]).stdout
    assert "1.0.0" in json.loads(out)["supportedVersions"]


def test_first_connect_of_a_new_pod_goes_through_the_ebpf_path(tier: Tier) -> None:
    tier.kubectl("apply", "-f", "-", input=manifests(tier))
    tier.kubectl("wait", "-n", NS, "--for=condition=Available", "deployment/echo", "--timeout=180s", timeout=200)
    vip = tier.kubectl_json("get", "service", "-n", NS, "echo")["spec"]["clusterIP"]
    echo_ip = tier.kubectl_json("get", "pods", "-n", NS, "-l", "app=echo")["items"][0]["status"]["podIP"]

    def in_maps() -> bool:
        maps = kmeshctl_json(tier, "dump", "maps", "--pod", agent_pod(tier)["metadata"]["name"],
                             "--map", "km_frontend")
        return any(e["value"].get("upstreamName") == SERVICE_KEY and str(e["key"]["addr"]) == vip
                   for e in maps["km_frontend"])

    wait_for("the Service's VIP in km_frontend", in_maps, timeout=90, every=2)
    tier.kubectl("apply", "-f", "-", input=first_connect_pod(tier, vip))
    wait_for("pod first to finish", lambda: tier.kubectl_json("get", "pod", "-n", NS, "first")["status"].get(
        "phase") in ("Succeeded", "Failed"), timeout=120, every=1)
    pod = tier.kubectl_json("get", "pod", "-n", NS, "first")
    output = tier.kubectl("logs", "-n", NS, "first").stdout.strip()
    assert pod["status"]["phase"] == "Succeeded", output
    assert output == echo_ip  # connect() went to the pod itself, not to the ClusterIP (kube-proxy)

    log = agent_log(tier)
    add = re.search(rf"event=cni_add pod={NS}/first container=\S+ enroll=True enrolled=True "
                    rf"reason='namespace labelled istio.io/dataplane-mode=Kmesh' ms=([\d.]+)", log)
    assert add, log[-3000:]
    enrolled = re.search(rf"event=pod_enrolled pod={NS}/first netns=\S+ cookie=(\d+) via=cni", log)
    assert enrolled, log[-3000:]
    cookie = enrolled.group(1)
    # The kernel's account: the pod's first connect, from its netns, rewritten to the endpoint.
    decisions = re.findall(rf"event=bpf_connect netns={cookie} {re.escape(vip)}:80 -> (\S+):8080 \(endpoint\)", log)
    assert decisions == [echo_ip], log[-3000:]
    annotations = wait_for("the CNI path's annotations", lambda: (lambda a: a if a.get("kmesh.net/enrolled-by")
                           else None)(tier.kubectl_json("get", "pod", "-n", NS, "first")["metadata"]
                                      .get("annotations") or {}), timeout=30)
    assert annotations["kmesh.net/redirection"] == "enabled" and annotations["kmesh.net/enrolled-by"] == "cni"
    # The plugin's own decision log on the node.
    plugin_log = tier.exec_in_node(["cat", "/run/kmesh-cni/plugin.log"]).stdout
    assert re.search(rf"event=cni_add pod={NS}/first .* enrolled=True", plugin_log), plugin_log[-2000:]
    # DEL releases the netns when the pod goes.
    tier.kubectl("delete", "pod", "-n", NS, "first", "--wait=true", "--timeout=60s", timeout=90)
    wait_for("the CNI DEL of pod first", lambda: re.search(rf"event=cni_del pod={NS}/first .*reason='released'",
                                                           agent_log(tier)), timeout=60)


def test_uninstall_restores_the_node_cni_config(tier: Tier) -> None:
    tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)
    plugins = node_conflist(tier)["plugins"]
    assert [p["type"] for p in plugins] == ["bridge", "portmap"]
    listing = tier.exec_in_node(["ls", "-a", "/etc/cni/net.d", "/opt/cni/bin"]).stdout
    assert "kmesh-cni" not in listing, listing
    tier.kubectl("delete", "namespace", NS, "--wait=false", check=False)
