"""The node agent's least privilege and open surfaces on the real cluster of the e2e tier
(runs after test_cluster_e2e.py, on the same cluster, which that file left uninstalled).

The node's kernel headers are hidden first (empty tmpfs over /lib/modules/$(uname -r) and
/usr/src in the node's private mount namespace), as on a stock cloud node without them:
the agent must load the data path with the headers its image carries, as a container
that is not privileged and holds only the listed capabilities, and still enroll pods and
balance their connect() calls in the kernel.
"""

from __future__ import annotations

import json
import platform
import re
import sys

import pytest

from tests.e2e.test_cluster_e2e import (AGENT_NAMESPACE, XDS_ADDRESS, agent_pod, curl_remote_ip,
                                        kmeshctl_json, marked_pods, wait_for)
from tests.e2e.tier import Tier

pytestmark = [pytest.mark.e2e, pytest.mark.root]

CAPABILITY_BITS = {"NET_ADMIN": 12, "SYS_PTRACE": 19, "SYS_ADMIN": 21, "PERFMON": 38, "BPF": 39}
HIDDEN = (f"/lib/modules/{platform.release()}", "/usr/src")


@pytest.fixture(scope="module")
def no_host_headers(tier: Tier):
    """The node without kernel headers: tmpfs over them in the node's own mount namespace
    (the host's mounts are untouched), removed at the end."""
    for path in HIDDEN:
        tier.exec_in_node(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "kmeshctl-e2e-no-headers", path])
    try:
        assert tier.exec_in_node(["ls", "-A", *HIDDEN]).stdout.split() == [f"{p}:" for p in HIDDEN]
        yield
    finally:
        for path in HIDDEN:
            tier.exec_in_node(["umount", path], check=False)


@pytest.fixture(scope="module")
def installed(tier: Tier, no_host_headers):
    result = tier.kmeshctl("install", "--xds-address", XDS_ADDRESS, "--cluster-id", tier.cluster_id,
                           "--image", tier.image("kmeshctl-node"), "--timeout", "300", timeout=420)
    assert "DaemonSet kmesh-system/kmesh is ready" in result.stdout + result.stderr, result.stderr
    yield
    tier.kmeshctl("uninstall", "--timeout", "120", check=False, timeout=180)
    # The agent stopped while its DaemonSet still existed (the last test) kept the data
    # path, as a restart does: removed by hand, as an operator would.
    tier.exec_in_node([sys.executable, "-m", "kmeshctl", "node", "cleanup"], check=False,
                      env={"PYTHONPATH": str(tier.repo)})


def agent_log(tier: Tier) -> str:
    return tier.kubectl("logs", "-n", AGENT_NAMESPACE, agent_pod(tier)["metadata"]["name"]).stdout


def test_agent_loads_with_the_image_headers_when_the_node_has_none(tier: Tier, installed) -> None:
    log = agent_log(tier)
    assert re.search(r"event=kernel_headers using=\"the node image's, /opt/kernel-headers \(Debian [^)]+\): "
                     r"the host has none", log), log[-3000:]
    assert "event=dataplane_loaded" in log


def test_agent_is_not_privileged_and_holds_only_the_listed_capabilities(tier: Tier, installed) -> None:
    pod = agent_pod(tier)
    context = pod["spec"]["containers"][0]["securityContext"]
    assert context["privileged"] is False and context["capabilities"]["drop"] == ["ALL"]
    assert set(context["capabilities"]["add"]) == set(CAPABILITY_BITS)
    # The kernel's view of the running container (a process exec'd into it has its caps).
    status = tier.kubectl("exec", "-n", AGENT_NAMESPACE, pod["metadata"]["name"], "--",
                          "cat", "/proc/self/status").stdout
    effective = int(re.search(r"^CapEff:\s+([0-9a-f]+)$", status, re.MULTILINE).group(1), 16)
    assert effective == sum(1 << bit for bit in CAPABILITY_BITS.values()), hex(effective)
    assert re.search(r"^Seccomp:\s+2$", status, re.MULTILINE), status  # RuntimeDefault filter on


def test_with_those_capabilities_pods_are_enrolled_and_balanced_in_the_kernel(tier: Tier, installed) -> None:
    tier.kmeshctl("enable-ns", "default")
    tier.kubectl("apply", "-f", str(tier.repo / "examples" / "fortio"))
    tier.kubectl("wait", "--for=condition=Available", "deployment/fortio-v1", "deployment/fortio-v2",
                 "deployment/netutils", "--timeout=180s", timeout=200)
    pods = {p["metadata"]["name"] for p in tier.kubectl_json("get", "pods", "-n", "default")["items"]}
    # setns() into each pod's netns through /host/proc (SYS_ADMIN, SYS_PTRACE) worked:
    wait_for("every pod of default to be annotated", lambda: marked_pods(tier) == pods, timeout=90)
    vip = tier.kubectl_json("get", "service", "fortio")["spec"]["clusterIP"]
    fortio_ips = {p["status"]["podIP"] for p in tier.kubectl_json("get", "pods", "-l", "app=fortio")["items"]}
    # connect() rewritten by the programs the unprivileged agent loaded and attached:
    assert wait_for("a curl to the ClusterIP to reach a pod directly",
                    lambda: curl_remote_ip(tier, vip) in fortio_ips, timeout=60, every=2)


def test_probes_each_mean_what_their_name_says(tier: Tier, installed) -> None:
    pod = agent_pod(tier)
    container = pod["spec"]["containers"][0]
    paths = {kind: container[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert paths == {"startupProbe": "/debug/live", "livenessProbe": "/debug/live", "readinessProbe": "/debug/ready"}
    [status] = pod["status"]["containerStatuses"]
    assert status["started"] is True and status["ready"] is True and status["restartCount"] == 0
    live = tier.exec_in_node(["curl", "-sS", "-m", "5", "http://127.0.0.1:15200/debug/live"]).stdout
    assert json.loads(live)["live"] is True


def test_admin_port_is_read_only_and_metrics_listen_on_the_node_address(tier: Tier, installed) -> None:
    refused = tier.exec_in_node(["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                 "http://127.0.0.1:15200/debug/loggers?name=kmeshctl&level=debug"]).stdout
    assert refused == "403"
    # The same change on the root-only socket inside the agent's container works.
    pod = agent_pod(tier)["metadata"]["name"]
    change = ("import http.client, socket; c = http.client.HTTPConnection('x'); "
              "c.sock = socket.socket(socket.AF_UNIX); c.sock.connect('/var/run/kmesh/admin.sock'); "
              "c.request('POST', '/debug/loggers?name=kmeshctl.admin&level=debug'); "
              "print(c.getresponse().status)")
    assert tier.kubectl("exec", "-n", AGENT_NAMESPACE, pod, "--", "python3", "-c", change).stdout.strip() == "200"
    mode = tier.kubectl("exec", "-n", AGENT_NAMESPACE, pod, "--", "stat", "-c", "%a %U",
                        "/var/run/kmesh/admin.sock", "/var/run/kmesh").stdout.split("\n")
    assert mode[:2] == ["600 root", "700 root"], mode
    # Metrics: on the node's own address (the pod IP on the host network), not on loopback.
    node_ip = agent_pod(tier)["status"]["podIP"]
    metrics = tier.exec_in_node(["curl", "-sS", "-m", "5", f"http://{node_ip}:15020/status/metric"]).stdout
    assert "kmesh_xds_connected 1.0" in metrics
    loopback = tier.exec_in_node(["curl", "-sS", "-m", "5", "http://127.0.0.1:15020/status/metric"], check=False)
    assert loopback.returncode == 7, loopback  # connection refused: nothing listens there


def test_the_agent_may_patch_pods_on_its_own_node_only(tier: Tier, installed) -> None:
    """Issue 12 item 7: RBAC grants `patch pods` cluster-wide; the install's
    ValidatingAdmissionPolicy refuses the agent's patch of a pod bound to another node
    (the node-name claim of its pod-bound token), and lets it patch pods on its own."""
    elsewhere = {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "kmeshctl-e2e-elsewhere", "namespace": "default"},
                 "spec": {"nodeName": "kmeshctl-e2e-other-node",  # bound, never runs: no such kubelet
                          "containers": [{"name": "c", "image": tier.image("netutils")}]}}
    tier.kubectl("apply", "-f", "-", input=json.dumps(elsewhere))
    agent = agent_pod(tier)["metadata"]["name"]
    try:
        token = tier.kubectl("exec", "-n", AGENT_NAMESPACE, agent, "--", "cat",
                             "/var/run/secrets/kubernetes.io/serviceaccount/token").stdout.strip()
        as_agent = [tier.bin("kubectl"), "--kubeconfig=/dev/null", f"--server=https://{tier.node_ip}:6443",
                    "--insecure-skip-tls-verify", f"--token={token}"]
        touch = ["--type=merge", "-p", json.dumps({"metadata": {"annotations": {"kmeshctl-e2e/touched": "yes"}}})]
        refused = tier.exec_in_node([*as_agent, "patch", "pod", "-n", "default", "kmeshctl-e2e-elsewhere", *touch],
                                    check=False)
        assert refused.returncode != 0, refused.stdout
        assert "may patch only pods on its own node" in refused.stderr, refused.stderr
        allowed = tier.exec_in_node([*as_agent, "patch", "pod", "-n", AGENT_NAMESPACE, agent, *touch], check=False)
        assert allowed.returncode == 0, allowed.stderr
    finally:
        tier.kubectl("delete", "pod", "-n", "default", "kmeshctl-e2e-elsewhere", "--grace-period=0", "--force",
                     check=False)


def test_status_is_not_healthy_when_the_daemonset_wants_no_pod(tier: Tier, installed) -> None:
    assert kmeshctl_json(tier, "status")["healthy"] is True
    tier.kubectl("patch", "daemonset", "-n", AGENT_NAMESPACE, "kmesh", "--type=merge", "-p",
                 json.dumps({"spec": {"template": {"spec": {"nodeSelector": {"kmeshctl-e2e/no-such-node": "x"}}}}}))
    wait_for("the DaemonSet to want 0 pods", lambda: tier.kubectl_json(
        "get", "daemonset", "-n", AGENT_NAMESPACE, "kmesh")["status"].get("desiredNumberScheduled") == 0)
    wait_for("the agent pod to be gone", lambda: not tier.kubectl_json(
        "get", "pods", "-n", AGENT_NAMESPACE, "-l", "app=kmesh")["items"], timeout=90)
    result = tier.kmeshctl("status", "-o", "json", check=False)
    assert result.returncode == 1, result.stdout
    state = json.loads(result.stdout)
    assert state["healthy"] is False
    assert "the DaemonSet wants 0 pods" in state["problems"][0], state["problems"]
    table = tier.kmeshctl("status", check=False)
    assert table.returncode == 1 and "Not healthy: the DaemonSet wants 0 pods" in table.stdout, table.stdout
