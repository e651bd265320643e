"""The seed's flow on the real cluster of the e2e tier, through a kmeshctl waypoint:
install -> enable-ns default -> `kmeshctl waypoint apply -n default` -> examples/fortio ->
the guide's 20 curls -> `kmeshctl demo traffic-shift --target cluster` with 90/10, 50/50,
0/100 and 1,000 requests per phase; and opaque TCP (fortio's TCP echo) through the same
waypoint, bytes unchanged.

Everything is real: istiod (it programs the Gateway, marks the waypoint pod's workload
with application_tunnel PROXY/15019 and sends Service.waypoint to the agent), the node
agent's eBPF path, stock Envoy in the waypoint pod and its kmeshctl controller. Runs after
test_cluster_e2e.py (which ends with an uninstall) on the same cluster.
"""

from __future__ import annotations

import json
import re

from pathlib import Path

import pytest
import yaml

from tests.e2e.test_cluster_e2e import (
    XDS_ADDRESS,
    agent_pod,
    kmeshctl_json,
    marked_pods,
    port_forward,
    wait_for,
)
from tests.e2e.tier import Tier

pytestmark = [pytest.mark.e2e, pytest.mark.root]

GUIDE_CURLS = 20
DEMO_REQUESTS = 1000
TCP_ECHO = (Path(__file__).resolve().parents[1] / "manifests" / "tcp-echo.yaml").read_text()
TCP_PAYLOAD = "hello kmesh, not HTTP at all\\001\\002\\377\\n"  # printf(1) escapes


def waypoint_pod(tier: Tier) -> dict:
    pods = tier.kubectl_json("get", "pods", "-n", "default", "-l", "gateway.networking.k8s.io/gateway-name=waypoint")
    running = [p for p in pods["items"] if p["status"].get("phase") == "Running"]
    assert len(running) == 1, [p["metadata"]["name"] for p in pods["items"]]
    return running[0]


def envoy_stats(tier: Tier, pattern: str) -> dict[str, int]:
    """Counters of the waypoint's Envoy (admin on 127.0.0.1:15000 in the pod, by port-forward)."""
    with port_forward(tier, "default", waypoint_pod(tier)["metadata"]["name"], 15000) as local:
        out = tier.exec_in_node(["curl", "-sS", "-m", "10",
                                 f"http://127.0.0.1:{local}/stats?format=json&filter={pattern}"]).stdout
    return {s["name"]: s["value"] for s in json.loads(out)["stats"] if "value" in s}


def test_install_enable_ns_and_waypoint_apply(tier: Tier) -> None:
    # A fresh install, whatever the e2e files before this one left (uninstall is idempotent).
    tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)
    tier.kmeshctl("install", "--xds-address", XDS_ADDRESS, "--cluster-id", tier.cluster_id,
                  "--image", tier.image("kmeshctl-node"), "--timeout", "300", timeout=420)
    tier.kmeshctl("enable-ns", "default")
    dry = tier.kmeshctl("waypoint", "apply", "-n", "default", "--dry-run", "-o", "yaml").stdout
    assert "gatewayClassName: istio-waypoint" in dry and "ambient.istio.io/waypoint-inbound-binding: PROXY/15019" in dry

    result = tier.kmeshctl("waypoint", "apply", "-n", "default", "--image", tier.image("kmeshctl-waypoint"),
                           "--wait", "--timeout", "240", timeout=300)
    assert "Gateway default/waypoint created" in result.stdout, result.stdout
    # istiod runs in manual deployment mode for it: it deployed nothing of its own.
    deployments = tier.kubectl_json("get", "deployments", "-n", "default")["items"]
    assert [d["metadata"]["name"] for d in deployments if d["metadata"]["name"].startswith("waypoint")] == ["waypoint"]
    gateway = tier.kubectl_json("get", "gateway", "-n", "default", "waypoint")
    # istiod reports our Service (its ClusterIP and hostname): the hostname is what it sends agents.
    assert "waypoint.default.svc.cluster.local" in [a["value"] for a in gateway["status"]["addresses"]]
    listed = json.loads(tier.kmeshctl("waypoint", "list", "-n", "default", "-o", "json").stdout)
    assert [(w["name"], w["managed"], w["readyPods"]) for w in listed] == [("waypoint", True, 1)]


def test_waypoint_apply_o_json_and_yaml_print_only_the_document(tier: Tier) -> None:
    """H6: stdout is the document alone (it began with `ServiceAccount default/waypoint
    unchanged` lines before), so a script can parse it; the same apply again changes nothing."""
    image = tier.image("kmeshctl-waypoint")
    as_json = tier.kmeshctl("waypoint", "apply", "-n", "default", "--image", image, "-o", "json")
    document = json.loads(as_json.stdout)
    assert document["waypoint"] == "default/waypoint" and document["changed"] is False, document
    assert {a["action"] for a in document["applied"]} == {"unchanged"} and len(document["applied"]) == 6, document
    as_yaml = tier.kmeshctl("waypoint", "apply", "-n", "default", "--image", image, "-o", "yaml")
    assert yaml.safe_load(as_yaml.stdout) == document, as_yaml.stdout


def test_istiod_marks_the_waypoint_and_the_fortio_service(tier: Tier) -> None:
    tier.kubectl("apply", "-f", str(tier.repo / "examples" / "fortio"))
    tier.kubectl("wait", "--for=condition=Available", "deployment/fortio-v1", "deployment/fortio-v2",
                 "deployment/netutils", "--timeout=180s", timeout=200)
    wp_ip = waypoint_pod(tier)["status"]["podIP"]
    app_pods = {p["metadata"]["name"] for p in tier.kubectl_json("get", "pods", "-n", "default", "-l", "app")["items"]}
    wait_for("the demo pods to be marked", lambda: app_pods <= marked_pods(tier), timeout=60)
    assert waypoint_pod(tier)["metadata"]["name"] not in marked_pods(tier)  # the waypoint is never enrolled

    # The agent's own cache, as istiod sent it: the waypoint pod's workload with
    # application_tunnel PROXY/15019, the fortio Service with the waypoint's hostname.
    def cache() -> str | None:
        dump = json.dumps(kmeshctl_json(tier, "dump", "config", "--pod", agent_pod(tier)["metadata"]["name"]))
        return dump if "waypoint.default.svc.cluster.local" in dump and "PROXY" in dump else None

    dump = wait_for("istiod's waypoint data in the agent's cache", cache, timeout=90, every=2)
    assert "15019" in dump and wp_ip in dump

    # And the kernel's: the fortio VIP now leads to the waypoint pod (curl's peer).
    vip = tier.kubectl_json("get", "service", "fortio")["spec"]["clusterIP"]
    wait_for("curl to the fortio VIP to land on the waypoint pod",
             lambda: tier.kubectl("exec", "deploy/netutils", "--", "curl", "-sS", "-m", "5", "-o", "/dev/null",
                                  "-w", "%{remote_ip}", f"http://{vip}:80/", check=False).stdout == wp_ip,
             timeout=60, every=2)


def test_waypoint_status_and_list_name_the_same_services(tier: Tier) -> None:
    """M1: `waypoint status -o wide|json` said no Service used the waypoint while its pod
    line and `waypoint list` named default/fortio (labelled istio.io/use-waypoint=waypoint)."""
    listed = json.loads(tier.kmeshctl("waypoint", "list", "-n", "default", "-o", "json").stdout)
    assert [w["services"] for w in listed if w["name"] == "waypoint"] == [["default/fortio"]], listed

    def status() -> dict | None:
        doc = json.loads(tier.kmeshctl("waypoint", "status", "-n", "default", "-o", "json", check=False).stdout)
        [pod] = doc["pods"].values()
        return doc if pod.get("services") == ["default/fortio"] else None

    doc = wait_for("the waypoint's controller to serve default/fortio", status, timeout=60, every=2)
    assert doc["waypoint"]["services"] == ["default/fortio"], doc
    wide = tier.kmeshctl("waypoint", "status", "-n", "default", "-o", "wide", check=False).stdout
    assert "made by kmeshctl: yes; used by: default/fortio" in wide and "services: default/fortio" in wide, wide


def test_the_guides_twenty_curls_show_the_server_header_through_the_waypoint(tier: Tier) -> None:
    vip = tier.kubectl_json("get", "service", "fortio")["spec"]["clusterIP"]
    before = envoy_stats(tier, "proxy_proto.versions.v2.found")
    # The guide's loop, verbatim: curl -v ... | grep Server:
    out = tier.kubectl("exec", "deploy/netutils", "--", "sh", "-c",
                       f"for i in $(seq {GUIDE_CURLS}); do curl -sv {vip}:80 2>&1 | grep 'Server:'; done").stdout
    lines = out.split("\n")[:-1]
    assert len(lines) == GUIDE_CURLS and all(re.fullmatch(r"< Server: [12]\r?", line) for line in lines), out
    after = envoy_stats(tier, "proxy_proto.versions.v2.found")
    # Every one of them reached Envoy with the agent's PROXY v2 header.
    assert after["proxy_proto.versions.v2.found"] - before.get("proxy_proto.versions.v2.found", 0) >= GUIDE_CURLS


def test_demo_traffic_shift_on_the_cluster_follows_every_weight_change(tier: Tier) -> None:
    result = tier.kmeshctl("demo", "traffic-shift", "--target", "cluster", "--weights", "90/10,50/50,0/100",
                           "--requests", str(DEMO_REQUESTS), "-o", "json", check=False, timeout=1200)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["passed"], (report, result.stderr[-2000:])
    assert report["target"] == "cluster" and report["failures"] == 0
    phases = report["phases"]
    assert [p["weights"] for p in phases] == [{"v1": 90, "v2": 10}, {"v1": 50, "v2": 50}, {"v1": 0, "v2": 100}]
    for phase in phases:
        assert phase["requests"] == DEMO_REQUESTS and phase["failures"] == 0, phase
        assert phase["p_value"] >= 0.001, phase
    # The `Server:` header of every answer: both versions at 90/10, only v2 at 0/100.
    assert set(phases[0]["counts_by_server"]) == {"1", "2"}
    assert phases[2]["counts_by_server"] == {"2": DEMO_REQUESTS}
    for phase in phases[1:]:  # the requests sent while the weights changed
        assert phase["during_change"]["requests"] > 0 and phase["during_change"]["failures"] == 0, phase
    # The demo restored the example's weights; the waypoint's controller says Envoy applies them.
    restored = {"outbound|80|v1|fortio.default.svc.cluster.local": 90,
                "outbound|80|v2|fortio.default.svc.cluster.local": 10}

    def status() -> dict | None:
        doc = json.loads(tier.kmeshctl("waypoint", "status", "-n", "default", "-o", "json", check=False).stdout)
        [pod] = doc["pods"].values()
        route = pod.get("routes", {}).get("inbound-vip|80|http|fortio.default.svc.cluster.local")
        return doc if route == restored and doc["healthy"] else None

    wait_for("the waypoint to apply the restored 90/10", status, timeout=30)


def test_opaque_tcp_goes_through_the_waypoint_bytes_unchanged(tier: Tier) -> None:
    tier.kubectl("apply", "-f", "-", input=TCP_ECHO)
    vip = tier.kubectl_json("get", "service", "tcp-echo")["spec"]["clusterIP"]
    stat = "tcp.inbound_vip_9000_tcp-echo.default_tcp.downstream_cx_total"

    # nc half-closes one second after sending, not at once: stock Envoy resets a connection
    # whose FIN arrives before its listener filters ran (proxy_protocol here; docs/testing.md,
    # tests/test_sandbox_waypoint_tcp.py pins that race down), and on a quick machine an
    # immediate half-close loses it every time.
    def echoed() -> str | None:
        done = tier.kubectl("exec", "deploy/netutils", "--", "sh", "-c",
                            f"(printf '{TCP_PAYLOAD}'; sleep 1) | nc -q 2 {vip} 9000 | od -An -c", check=False)
        return done.stdout if done.returncode == 0 and done.stdout.strip() else None

    out = wait_for("fortio's TCP echo through the waypoint", echoed, timeout=60, every=2)
    sent = tier.kubectl("exec", "deploy/netutils", "--", "sh", "-c", f"printf '{TCP_PAYLOAD}' | od -An -c").stdout
    assert out == sent  # byte for byte, not Envoy's `HTTP/1.1 400 Bad Request`
    assert envoy_stats(tier, stat).get(stat, 0) >= 1  # it was the waypoint's TCP proxy


GONE_NS = "h92-gone"  # a namespace deleted under its waypoint
GONE_BINDING = f"kmeshctl-waypoint-{GONE_NS}-waypoint"


def leave_a_binding_behind(tier: Tier) -> None:
    """A waypoint in GONE_NS, then the namespace deleted: the real namespace controller
    deletes its namespaced objects only, so the waypoint's ClusterRoleBinding stays."""
    tier.kubectl("create", "namespace", GONE_NS)
    tier.kmeshctl("waypoint", "apply", "-n", GONE_NS, "--image", tier.image("kmeshctl-waypoint"))
    tier.kubectl("delete", "namespace", GONE_NS, "--wait=true", timeout=180)
    assert tier.kubectl_json("get", "clusterrolebinding", GONE_BINDING)["metadata"]["name"] == GONE_BINDING
    listed = tier.kmeshctl("waypoint", "list", "-A")
    assert f"Note: ClusterRoleBinding {GONE_BINDING} was left by deleted namespace {GONE_NS}" in listed.stderr, \
        listed.stderr


def test_waypoint_delete_removes_its_objects(tier: Tier) -> None:
    tier.kubectl("delete", "service", "tcp-echo", "--ignore-not-found")
    try:
        leave_a_binding_behind(tier)
        status = tier.kmeshctl("waypoint", "status", "-n", GONE_NS, check=False)
        dry = json.loads(tier.kmeshctl("waypoint", "delete", "-n", "default", "--dry-run", "-o", "json").stdout)
        out = tier.kmeshctl("waypoint", "delete", "-n", "default").stdout
    finally:
        tier.kubectl("delete", "namespace", GONE_NS, "--ignore-not-found", "--wait=true", check=False, timeout=180)
        tier.kubectl("delete", "clusterrolebinding", GONE_BINDING, "--ignore-not-found", check=False)
    # h102: no Gateway, only the binding: not found, naming it and the delete that removes it
    assert status.returncode == 1 and "has no pods" not in status.stderr, status
    assert f"not found: namespace {GONE_NS} does not exist; leftovers: ClusterRoleBinding {GONE_BINDING}" \
        in status.stderr and f"waypoint delete -n {GONE_NS} --name waypoint` removes it" in status.stderr, status
    assert dry["dryRun"] is True and "Gateway default/waypoint" in dry["deleted"], dry
    assert dry["leftoversRemoved"] == [{"object": f"ClusterRoleBinding {GONE_BINDING}", "namespace": GONE_NS}], dry
    assert "Gateway default/waypoint deleted" in out and "ClusterRole kmeshctl-waypoint deleted" in out, out
    assert f"removed ClusterRoleBinding {GONE_BINDING} left by deleted namespace {GONE_NS}" in out, out
    assert not tier.kubectl_json("get", "gateway,deployment,service,serviceaccount", "-n", "default",
                                 "-l", "kmeshctl.io/waypoint=waypoint")["items"]
    again = tier.kmeshctl("waypoint", "delete", "-n", "default", check=False)
    assert again.returncode == 1 and "not found" in again.stderr and "--ignore-not-found" in again.stderr, again
    ignored = tier.kmeshctl("waypoint", "delete", "-n", "default", "--ignore-not-found")
    assert ignored.returncode == 0 and "Nothing to delete" in ignored.stdout, ignored
    tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)
    tier.kmeshctl("disable-ns", "default")
